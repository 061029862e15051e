"""Sending N objects into DCMTK's storescp: dicomtui storescu on its own C-STORE
path, on pynetdicom's (``--no-fast-path``) and DCMTK's dcmsend, in turns.

    python benchmarks/send_paths.py FOLDER [--runs 3]

Each sender's start-up is the time it takes to send one object of FOLDER (start,
associate, send, release, exit); "minus start-up" is (N - 1) / (T(N) - T(1)).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from run import NODELAY, PY, free_port, native, serving  # noqa: E402


def command(name: str, port: int, folder: Path) -> tuple[list[str], dict[str, str]]:
    ours = [PY, "-m", "dicomtui", "storescu", "127.0.0.1", str(port), str(folder)]
    if name == "dicomtui storescu":
        return ours, dict(os.environ)
    if name == "dicomtui --no-fast-path":
        return [*ours, "--no-fast-path"], dict(os.environ)
    return [native("dcmsend"), "+sd", "127.0.0.1", str(port), str(folder)], NODELAY


def once(name: str, folder: Path, work: Path) -> float:
    inbox = work / "inbox"
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir()
    port = free_port()
    with serving([native("storescp"), "+xa", "-od", str(inbox), str(port)], NODELAY, port):
        cmd, env = command(name, port, folder)
        started = time.monotonic()
        done = subprocess.run(cmd, env=env, capture_output=True)
        seconds = time.monotonic() - started
    if done.returncode != 0 or len(os.listdir(inbox)) != len(os.listdir(folder)):
        raise RuntimeError(f"{name} failed: {done.stderr.decode()[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    names = ["dicomtui storescu", "dicomtui --no-fast-path", "DCMTK dcmsend"]
    count = len(os.listdir(args.folder))
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        one = work / "one"
        one.mkdir()
        first = sorted(args.folder.iterdir())[0]
        shutil.copy(first, one / first.name)
        full: dict[str, list[float]] = {n: [] for n in names}
        start: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(args.runs):
            for name in names:  # in turns: a busy moment of the machine hits each alike
                full[name].append(once(name, args.folder, work))
                start[name].append(once(name, one, work))
    print(f"{count} objects of {args.folder} into DCMTK storescp, medians of {args.runs}:")
    for name in names:
        seconds, startup = statistics.median(full[name]), statistics.median(start[name])
        print(
            f"  {name:26} {seconds:7.3f} s  {count / seconds:8.1f} obj/s raw"
            f"  start-up {startup:6.3f} s  {(count - 1) / (seconds - startup):8.1f} obj/s minus it"
        )


if __name__ == "__main__":
    main()
