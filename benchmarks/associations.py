"""One send over 1 and over N associations (``dicomtui storescu --associations``).

    python benchmarks/associations.py [--count 320] [--runs 3] [--associations 4]

Sends ``--count`` tiny objects (~10 KB, the tiny corpus's kind) into Orthanc as
Debian ships it, into Orthanc with ``TCP_NODELAY=1`` (its DCMTK network layer
then answers each object at once instead of after a delayed ACK) and into
dicomtui's own storescp, each with one association and with N. Prints objects/s
(the send's own duration, from its summary line, and the whole process), the
medians of ``--runs`` runs, and the ratio N : 1.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from corpus import Corpus, build  # noqa: E402
from orthanc_peer import ORTHANC_AET, Orthanc, launch_orthanc, orthanc_executable  # noqa: E402

PY = sys.executable
SUMMARY = re.compile(r"(\d+) sent, .* in ([\d.]+) (ms|s)\b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send(
    port: int, called: str, folder: Path, associations: int, count: int
) -> tuple[float, float]:
    """Objects/s of one send: over its own duration, and over the whole process."""
    started = time.monotonic()
    result = subprocess.run(
        [
            *(PY, "-m", "dicomtui", "storescu", "-aec", called, "127.0.0.1", str(port)),
            *(str(folder), "--associations", str(associations)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.monotonic() - started
    found = SUMMARY.search(result.stdout + result.stderr)
    if result.returncode != 0 or found is None or int(found.group(1)) != count:
        raise RuntimeError(f"the send failed ({result.returncode}): {result.stderr[-2000:]}")
    seconds = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
    return count / seconds, count / wall


@contextmanager
def orthanc(work: Path, nodelay: bool) -> Iterator[Orthanc]:
    executable = orthanc_executable()
    if executable is None:
        raise SystemExit("Orthanc is needed: apt-get install orthanc")
    before = os.environ.get("TCP_NODELAY")
    if nodelay:
        os.environ["TCP_NODELAY"] = "1"
    try:
        peer = launch_orthanc(executable, work / f"orthanc-{time.monotonic_ns()}")
    finally:
        if before is None:
            os.environ.pop("TCP_NODELAY", None)
    try:
        yield peer
    finally:
        peer.stop()


@contextmanager
def our_storescp(work: Path) -> Iterator[int]:
    port = free_port()
    inbox = work / f"inbox-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        [PY, "-m", "dicomtui", "storescp", str(port), "-od", str(inbox), "-q"],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("dicomtui storescp did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def measure(label: str, one_send: Callable[[int], tuple[float, float]], runs: int, n: int) -> None:
    figures: dict[int, list[tuple[float, float]]] = {1: [], n: []}
    for _ in range(runs):
        for associations in (1, n):
            figures[associations].append(one_send(associations))
    medians = {
        k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v))
        for k, v in figures.items()
    }
    (one, one_wall), (many, many_wall) = medians[1], medians[n]
    print(
        f"  {label:28} 1: {one:6.0f} obj/s ({one_wall:4.0f} whole)"
        f"   {n}: {many:6.0f} obj/s ({many_wall:4.0f} whole)"
        f"   {n}:1 = {many / one:.2f}x ({many_wall / one_wall:.2f}x whole)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=320)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--associations", type=int, default=4)
    args = parser.parse_args()
    folder = build(Corpus(f"tiny-{args.count}", args.count, 64, 64, 1), OUT / "corpus")
    work = OUT / "work" / "associations"
    work.mkdir(parents=True, exist_ok=True)
    n, count = args.associations, args.count
    print(f"{count} tiny objects, 1 vs {n} associations, medians of {args.runs}:")

    for label, nodelay in (("Orthanc", False), ("Orthanc, TCP_NODELAY=1", True)):
        with orthanc(work, nodelay) as peer:

            def into_orthanc(k: int, peer: Orthanc = peer) -> tuple[float, float]:
                for patient in peer.get("/patients"):  # the same work every run
                    peer.request("DELETE", f"/patients/{patient}")
                return send(peer.dicom_port, ORTHANC_AET, folder, k, count)

            measure(label, into_orthanc, args.runs, n)
    with our_storescp(work) as port:
        measure(
            "dicomtui storescp",
            lambda k: send(port, "ANY-SCP", folder, k, count),
            args.runs,
            n,
        )


if __name__ == "__main__":
    main()
