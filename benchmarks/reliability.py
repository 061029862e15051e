"""Repeated real transfers into real receivers, counting the runs that go wrong.

    python benchmarks/reliability.py [--peers storescp,dcmrecv,orthanc,dicomtui]
        [--runs 10] [--count 300] [--timeout 120] [--dimse-timeout S]
        [--sender dicomtui|pynetdicom|dcmsend]

A race that shows in the tenth run and not the first needs many runs to be seen. For
each receiver chosen (DCMTK's storescp and dcmrecv, Orthanc, dicomtui's own headless
storescp) this starts it once on a free port, then sends one corpus of small CT objects
(made once in benchmarks/out/corpus) --runs times with the sender, each run under a
hard --timeout so that a stall counts as a failure instead of hanging. After each run it
checks the sender's exit code, reads its summary line and counts what arrived (files in
the receiver's folder, or Orthanc's instances through its REST API), then empties the
receiver for the next run.

A run fails when the sender exits non-zero, stalls, reports a failed or not-attempted
object, or fewer objects arrived than were sent. One line per run, a table per peer at
the end: runs, failures, stalls, objects lost (not at the receiver after the run) and
unconfirmed (at the receiver, though the sender did not report them sent: a response
lost on the way). The exit status is 1 if any run failed. Each run's sender output is kept in
benchmarks/out/reliability/logs, each receiver's in benchmarks/out/reliability.
DCMTK runs with TCP_NODELAY=1, as in run.py: without it DCMTK answers too slowly to
show timing bugs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from corpus import TINY, Corpus, build  # noqa: E402
from run import (  # noqa: E402
    NODELAY,
    OUT,
    free_port,
    fresh_folder,
    native,
    receiver_command,
    send_command,
    stop,
    wait_port,
)

WORK = OUT / "reliability"


def corpus_of(count: int) -> Corpus:
    """``count`` of the benchmarks' tiny CT objects: 64x64, 16-bit (8 KB of pixels each)."""
    return Corpus(f"reliability-{count}", count, TINY.rows, TINY.columns, 1)


# --- receivers ---------------------------------------------------------------------------


def count_files(folder: Path) -> int:
    """Finished objects in a receiver's folder (dot files are partial ones)."""
    return sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def empty_folder(folder: Path) -> None:
    """Removes what arrived, leaving the receiver's own dot files (its spare partial files)."""
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def dcmtk_config() -> str:
    """DCMTK's sample association profiles, which hold dcmrecv's accept-all profile."""
    for path in ("/etc/dcmtk/storescp.cfg", "/usr/share/dcmtk/storescp.cfg"):
        if Path(path).is_file():
            return path
    raise SystemExit("DCMTK's storescp.cfg (for dcmrecv's AllDICOM profile) was not found")


@dataclass
class Receiver:
    """One peer, started on a free port and stopped by its process id."""

    name: str
    key: str
    called_ae: str | None = None
    port: int = 0
    http_port: int = 0
    folder: Path = field(default_factory=Path)
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    def command(self) -> tuple[list[str], dict[str, str]]:
        if self.key == "dcmrecv":
            return [
                native("dcmrecv"),
                "-xf",
                dcmtk_config(),
                "AllDICOM",
                "-od",
                str(self.folder),
                str(self.port),
            ], NODELAY
        if self.key == "orthanc":
            config = WORK / "orthanc.json"
            config.write_text(
                json.dumps(
                    {
                        "Name": "dicomtui-reliability",
                        "DicomAet": self.called_ae,
                        "DicomPort": self.port,
                        "HttpPort": self.http_port,
                        "StorageDirectory": str(self.folder / "storage"),
                        "IndexDirectory": str(self.folder / "index"),
                        "RemoteAccessAllowed": False,
                        "AuthenticationEnabled": False,
                        "DicomAlwaysAllowStore": True,
                        "Plugins": [],
                    },
                    indent=2,
                )
            )
            orthanc = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
            return [orthanc, str(config)], dict(os.environ)
        return receiver_command(self.name, self.port, self.folder)

    def start(self) -> None:
        self.port = free_port()
        self.http_port = free_port() if self.key == "orthanc" else 0
        self.folder = fresh_folder(WORK / self.key)
        command, env = self.command()
        self.log = (WORK / f"{self.key}.log").open("ab")
        self.proc = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_port(self.port, 60)
        if self.key == "orthanc":
            self.rest("GET", "/system")
        time.sleep(1.0)  # as run.py: starting up is not receiving

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rest(self, method: str, path: str) -> Any:
        url = f"http://127.0.0.1:{self.http_port}{path}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(url, method=method), timeout=30
                ) as r:
                    body = r.read()
                return json.loads(body) if body else None
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def arrived(self) -> int:
        if self.key == "orthanc":
            return len(self.rest("GET", "/instances"))
        return count_files(self.folder)

    def empty(self) -> None:
        if self.key == "orthanc":
            for patient in self.rest("GET", "/patients"):
                self.rest("DELETE", f"/patients/{patient}")
        else:
            empty_folder(self.folder)


#: --peers name: (row name, called AE title the sender uses, or None for the default).
PEERS: dict[str, tuple[str, str | None]] = {
    "storescp": ("DCMTK storescp", None),
    "dcmrecv": ("DCMTK dcmrecv", None),
    "orthanc": ("Orthanc", "ORTHANC"),
    "dicomtui": ("dicomtui storescp", None),
}

#: --sender name: run.py's sender row.
SENDERS = {
    "dicomtui": "dicomtui storescu",
    "pynetdicom": "pynetdicom storescu",
    "dcmsend": "DCMTK dcmsend",
}


@contextlib.contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    try:
        receiver.start()
        yield receiver
    finally:
        receiver.stop()


# --- one run -----------------------------------------------------------------------------

SUMMARY = re.compile(
    r"(\d+) sent, (\d+) with warnings, (\d+) failed, (\d+) skipped(?:, (\d+) not attempted)?"
)


@dataclass
class Run:
    peer: str
    number: int
    code: int | None  # None: stopped at the timeout
    seconds: float
    arrived: int
    expected: int
    summary: tuple[int, int, int] | None  # sent (with warnings too), failed, not attempted
    first_error: str = ""

    @property
    def stalled(self) -> bool:
        return self.code is None

    @property
    def failed(self) -> bool:
        if self.code != 0 or self.arrived != self.expected:
            return True
        return self.summary is not None and (self.summary[1] > 0 or self.summary[2] > 0)

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.arrived)

    @property
    def unconfirmed(self) -> int:
        """Objects the receiver holds that the sender did not report as sent."""
        return 0 if self.summary is None else max(0, self.arrived - self.summary[0])

    def line(self, runs: int) -> str:
        code = "stall" if self.code is None else f"exit {self.code}"
        if self.summary is None:
            told = "sent ?/failed ?"
        else:
            sent, failed, not_attempted = self.summary
            told = f"sent {sent}/failed {failed}"
            if not_attempted:
                told += f" ({not_attempted} not attempted)"
        verdict = "FAIL" if self.failed else "ok"
        text = (
            f"  {self.peer:18} run {self.number:>3}/{runs}  {code:7} {self.seconds:7.1f} s"
            f"  {told:38} arrived {self.arrived}/{self.expected}  {verdict}"
        )
        if self.failed and self.first_error:
            text += f"\n      {self.first_error}"
        return text


def sender_command(
    sender: str, receiver: Receiver, folder: Path, dimse_timeout: int | None
) -> tuple[list[str], dict[str, str]]:
    command, env = send_command(SENDERS[sender], receiver.port, folder)
    if sender in ("dicomtui", "pynetdicom"):
        command.append("-r")
    else:
        command.append("+r")
    if receiver.called_ae:
        command += ["-aec", receiver.called_ae]
    if dimse_timeout is not None:
        command += ["-td", str(dimse_timeout)]
    return command, env


def settled(count: Callable[[], int], expected: int) -> int:
    """What arrived, once the receiver has finished the objects still on their way."""
    last = count()
    deadline = time.monotonic() + 10
    while last < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        now = count()
        if now == last:
            break
        last = now
    return last


def first_error(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("E:", "F:")) or "rror" in line or "failed:" in line:
            return line.strip()[:200]
    return ""


def run_once(
    receiver: Receiver,
    number: int,
    command: list[str],
    env: dict[str, str],
    expected: int,
    timeout: float,
) -> Run:
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{receiver.key}-{number:03d}.log"
    started = time.monotonic()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    code: int | None
    try:
        out, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = None
        stop(proc)
        out, _ = proc.communicate()
    finally:
        stop(proc)  # also on Ctrl-C
    seconds = time.monotonic() - started
    output = out.decode(errors="replace")
    log.write_text(" ".join(command) + "\n" + output)
    match = SUMMARY.search(output)
    summary = None
    if match:
        sent, warned, failed, _skipped, not_attempted = match.groups()
        summary = (int(sent) + int(warned), int(failed), int(not_attempted or 0))
    arrived = settled(receiver.arrived, expected)
    return Run(
        receiver.name, number, code, seconds, arrived, expected, summary, first_error(output)
    )


# --- reporting ---------------------------------------------------------------------------


def table(results: dict[str, list[Run]]) -> str:
    lines = [
        f"{'peer':18} {'runs':>5} {'failures':>9} {'stalls':>7} {'objects lost':>13}"
        f" {'unconfirmed':>12} {'median s':>9}",
    ]
    for peer, runs in results.items():
        if not runs:
            continue
        lines.append(
            f"{peer:18} {len(runs):5} {sum(r.failed for r in runs):9}"
            f" {sum(r.stalled for r in runs):7} {sum(r.lost for r in runs):13}"
            f" {sum(r.unconfirmed for r in runs):12}"
            f" {statistics.median(r.seconds for r in runs):9.1f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"receivers, comma-separated, from {', '.join(PEERS)} (default: all)",
    )
    parser.add_argument("--runs", type=int, default=10, help="runs per peer (default: 10)")
    parser.add_argument("--count", type=int, default=300, help="objects per run (default: 300)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120,
        help="seconds a run may take before it counts as a stall (default: 120)",
    )
    parser.add_argument(
        "--dimse-timeout",
        type=int,
        metavar="S",
        help="the sender's -td (DIMSE timeout; dicomtui's default is 30 s)",
    )
    parser.add_argument(
        "--sender",
        choices=list(SENDERS),
        default="dicomtui",
        help="dicomtui storescu (default), pynetdicom's storescu or DCMTK's dcmsend",
    )
    args = parser.parse_args()
    keys = [k for k in args.peers.split(",") if k]
    unknown = [k for k in keys if k not in PEERS]
    if unknown:
        parser.error(f"unknown peer {', '.join(unknown)}: choose from {', '.join(PEERS)}")

    WORK.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(WORK / "logs", ignore_errors=True)
    corpus = corpus_of(args.count)
    folder = build(corpus, OUT / "corpus")
    print(
        f"{SENDERS[args.sender]}: {corpus.label} x {args.runs} runs into each of"
        f" {', '.join(PEERS[k][0] for k in keys)} (timeout {args.timeout:.0f} s per run)",
        flush=True,
    )
    results: dict[str, list[Run]] = {PEERS[k][0]: [] for k in keys}
    interrupted = False
    try:
        for key in keys:
            name, called_ae = PEERS[key]
            receiver = Receiver(name, key, called_ae)
            with running(receiver):
                for number in range(1, args.runs + 1):
                    if not receiver.alive:
                        print(f"  {name} had exited; started again", flush=True)
                        receiver.stop()
                        receiver.start()
                    command, env = sender_command(args.sender, receiver, folder, args.dimse_timeout)
                    run = run_once(receiver, number, command, env, corpus.count, args.timeout)
                    results[name].append(run)
                    print(run.line(args.runs), flush=True)
                    receiver.empty()
                    left = receiver.arrived()
                    if left:
                        raise SystemExit(f"{name} still holds {left} objects after emptying it")
    except KeyboardInterrupt:
        interrupted = True
        print("\nInterrupted: the receiver and sender were stopped.", flush=True)

    print("\n" + table(results))
    print(f"\nSender output of each run: {WORK / 'logs'}")
    if interrupted:
        return 130
    return 1 if any(r.failed for runs in results.values() for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
