"""Speed and memory of dicomtui against DCMTK and pynetdicom, measured in one run.

    python benchmarks/run.py [--quick] [--runs 3] [--only tiny,small,large]
    python benchmarks/run.py --associations 4    # into Orthanc over 1 and 4 associations

Makes its corpora once (benchmarks/out/corpus), then for each corpus times whole
processes over 127.0.0.1:

- receive: DCMTK's dcmsend into dicomtui storescp, into the TUI (receiver running,
  log at verbose, driven headless), into pynetdicom's storescp and DCMTK's storescp;
- send: dicomtui storescu and the TUI's sender into DCMTK's storescp, against
  pynetdicom's storescu and DCMTK's dcmsend.

DCMTK always runs with TCP_NODELAY=1. Each figure is the median of --runs runs; the
receiver's peak RSS is sampled every 20 ms. It prints every figure, ours as ratios to
each peer, and writes benchmarks/out/results.md for the README.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from corpus import LARGE, SMALL, TINY, Corpus, build, total_bytes  # noqa: E402

PY = sys.executable
NODELAY = {**os.environ, "TCP_NODELAY": "1"}
#: Our headless commands print where their time went (core/stream/stage_counters.py).
STAGES = {**os.environ, "DICOMTUI_STAGES": "1"}
STAGES_FILE = OUT / "stages.txt"


def native(name: str) -> str:
    """DCMTK's tool, not pynetdicom's Python script of the same name."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder, name)
        if path.is_file() and path.open("rb").read(4) == b"\x7fELF":
            return str(path)
    raise SystemExit(f"{name} (DCMTK) is needed: apt-get install dcmtk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class PeakRss:
    """Samples a process tree's resident memory until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        try:
            procs = [self.process, *self.process.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs)
        except psutil.Error:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.now()
            self.peak = max(self.peak, rss)
            self.samples.append((time.monotonic(), rss))
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def fresh_folder(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


#: Every receiver is given this long after its port opens before anything is
#: sent: the app is still laying out its screen and listing its browse folder
#: then, which is startup, not what receiving costs (it was a quarter of the
#: app's time on the 100 MB corpus). DCMTK and pynetdicom wait the same.
SETTLE_SECONDS = 1.0


@contextlib.contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """A process that listens on ``port``, ended by its id afterwards."""
    OUT.mkdir(exist_ok=True)
    with STAGES_FILE.open("wb") as stderr:
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
        try:
            wait_port(port)
            time.sleep(SETTLE_SECONDS)
            yield proc
        finally:
            stop(proc)


def dcmsend(port: int, folder: Path, *options: str) -> None:
    subprocess.run(
        [native("dcmsend"), *options, "+sd", "127.0.0.1", str(port), str(folder)],
        env=NODELAY,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- receivers ---------------------------------------------------------------------------


def receiver_command(name: str, port: int, inbox: Path) -> tuple[list[str], dict[str, str]]:
    if name == "dicomtui storescp":
        return [PY, "-m", "dicomtui", "storescp", str(port), "-od", str(inbox)], dict(STAGES)
    if name == "dicomtui TUI":
        return [PY, str(HERE / "tui_driver.py"), "receive", str(port), str(inbox)], dict(os.environ)
    if name == "pynetdicom storescp":
        return [PY, "-m", "pynetdicom", "storescp", str(port), "-od", str(inbox)], dict(os.environ)
    if name == "DCMTK storescp":
        return [native("storescp"), "+xa", "-od", str(inbox), str(port)], NODELAY
    raise ValueError(name)


RECEIVERS = ["dicomtui storescp", "dicomtui TUI", "pynetdicom storescp", "DCMTK storescp"]
SENDERS = ["dicomtui storescu", "dicomtui TUI", "pynetdicom storescu", "DCMTK dcmsend"]


def chosen(variable: str, names: list[str]) -> list[str]:
    """The names that ``$variable`` lists (comma-separated), or all of them."""
    wanted = os.environ.get(variable)
    return names if wanted is None else [n for n in names if n in wanted.split(",")]


LATENCY_FILE = OUT / "key-latency.json"


def receive_once(name: str, folder: Path, work: Path) -> tuple[float, int]:
    inbox = fresh_folder(work / "inbox")
    port = free_port()
    command, env = receiver_command(name, port, inbox)
    env["BENCH_LATENCY_FILE"] = str(LATENCY_FILE)
    LATENCY_FILE.unlink(missing_ok=True)
    with serving(command, env, port) as proc:
        rss = PeakRss(proc.pid)
        started = time.monotonic()
        dcmsend(port, folder, "-aec", "BENCH")
        seconds = time.monotonic() - started
        peak = rss.stop()
    stored = sum(1 for p in inbox.rglob("*") if p.is_file() and not p.name.startswith("."))
    expected = len(os.listdir(folder))
    if stored != expected:
        raise RuntimeError(f"{name} stored {stored} of {expected}")
    return seconds, peak


def send_command(name: str, port: int, folder: Path) -> tuple[list[str], dict[str, str]]:
    if name == "dicomtui storescu":
        return [PY, "-m", "dicomtui", "storescu", "127.0.0.1", str(port), str(folder)], dict(STAGES)
    if name == "dicomtui TUI":
        return [PY, str(HERE / "tui_driver.py"), "send", str(port), str(folder)], dict(os.environ)
    if name == "pynetdicom storescu":
        return [PY, "-m", "pynetdicom", "storescu", "127.0.0.1", str(port), str(folder)], dict(
            os.environ
        )
    if name == "DCMTK dcmsend":
        return [native("dcmsend"), "+sd", "127.0.0.1", str(port), str(folder)], NODELAY
    raise ValueError(name)


def send_once(name: str, folder: Path, work: Path) -> tuple[float, int]:
    inbox = fresh_folder(work / "dcmtk-inbox")
    port = free_port()
    with serving([native("storescp"), "+xa", "-od", str(inbox), str(port)], NODELAY, port):
        command, env = send_command(name, port, folder)
        started = time.monotonic()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        rss = PeakRss(proc.pid)
        out, err = proc.communicate()
        seconds = time.monotonic() - started
        peak = rss.stop()
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed ({proc.returncode}): {err.decode()[-2000:]}")
        STAGES_FILE.write_bytes(err)
        if name == "dicomtui TUI":
            # The driver prints the send's own duration: the app's start-up is not sending.
            seconds = float(out.decode().split()[-1])
    stored = len(os.listdir(inbox))
    if stored != len(os.listdir(folder)):
        raise RuntimeError(f"{name} delivered {stored} of {len(os.listdir(folder))}")
    return seconds, peak


# --- reporting ---------------------------------------------------------------------------


def stages_per_object(count: int) -> list[str]:
    """The last run's stage counters (ours only), as microseconds per object."""
    lines = []
    text = STAGES_FILE.read_text(errors="replace") if STAGES_FILE.exists() else ""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "stage":
            seconds = float(parts[-2])
            lines.append(f"{parts[1]} {seconds / count * 1e6:.0f} us/object")
    return lines


def rate(corpus: Corpus, folder: Path, seconds: float) -> tuple[float, float]:
    return corpus.count / seconds, total_bytes(folder) / seconds / 1e6


def measure(
    kind: str, names: list[str], corpus: Corpus, folder: Path, runs: int
) -> dict[str, Result]:
    results: dict[str, Result] = {}
    work = OUT / "work"
    for name in names:
        result = Result()
        latencies: list[float] = []
        for _ in range(runs):
            once = receive_once if kind == "receive" else send_once
            seconds, peak = once(name, folder, work)
            result.seconds.append(seconds)
            result.rss.append(peak)
            if kind == "receive" and name == "dicomtui TUI" and LATENCY_FILE.exists():
                latencies += json.loads(LATENCY_FILE.read_text())
        results[name] = result
        stages = stages_per_object(corpus.count) if name.startswith("dicomtui ") else []
        objs, mbs = rate(corpus, folder, result.median)
        keys = ""
        if latencies:
            latencies.sort()
            result.extra["key_median_ms"] = statistics.median(latencies) * 1000
            result.extra["key_p95_ms"] = latencies[int(len(latencies) * 0.95)] * 1000
            keys = (
                f"  keys: median {result.extra['key_median_ms']:.0f} ms,"
                f" p95 {result.extra['key_p95_ms']:.0f} ms ({len(latencies)} presses)"
            )
        print(
            f"  {kind:8} {corpus.label:>12}  {name:22} {objs:8.1f} obj/s {mbs:8.1f} MB/s"
            f"  peak RSS {max(result.rss) / 1e6:6.0f} MB{keys}",
            flush=True,
        )
        if stages:
            print("      where the time went: " + ", ".join(stages), flush=True)
        if kind == "send":
            startup = statistics.median(
                send_once(name, one_object(folder), work)[0] for _ in range(runs)
            )
            result.extra["startup_s"] = startup
            net_objs = (corpus.count - 1) / max(result.median - startup, 1e-6)
            result.extra["objs_without_startup"] = net_objs
            print(
                f"  {'':8} {'':>12}  {'':22} {net_objs:8.1f} obj/s without its start-up"
                f" ({startup:.3f} s to send one object)",
                flush=True,
            )
    return results


def one_object(folder: Path) -> Path:
    """A folder with the corpus's first object: a sender's start-up, association and exit."""
    one = OUT / "corpus" / f"{folder.name}-one"
    if not one.is_dir():
        one.mkdir(parents=True)
        first = sorted(folder.iterdir())[0]
        shutil.copy(first, one / first.name)
    return one


def associations(count: int, runs: int, most: int) -> None:
    """Our storescu into Orthanc (which takes associations in parallel) with one and
    with ``most`` associations, and dcmsend beside them; each a median of ``runs``."""
    from reliability import Receiver

    corpus = Corpus(f"tiny-{count}", count, TINY.rows, TINY.columns, TINY.frames)
    folder = build(corpus, OUT / "corpus")
    orthanc = Receiver("Orthanc", "orthanc", called_ae="ORTHANC")
    orthanc.start()
    print(f"Into Orthanc, {corpus.label}:", flush=True)
    try:
        rates: dict[str, float] = {}
        for label, command in (
            ("DCMTK dcmsend", [native("dcmsend"), "-aec", "ORTHANC", "+sd"]),
            (
                "dicomtui storescu, 1 association",
                [PY, "-m", "dicomtui", "storescu", "-aec", "ORTHANC"],
            ),
            (
                f"dicomtui storescu, {most} associations",
                [PY, "-m", "dicomtui", "storescu", "-aec", "ORTHANC", "--associations", str(most)],
            ),
        ):
            seconds = []
            for _ in range(runs):
                orthanc.empty()
                started = time.monotonic()
                subprocess.run(
                    [*command, "127.0.0.1", str(orthanc.port), str(folder)],
                    env=NODELAY,
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=600,
                )
                seconds.append(time.monotonic() - started)
                if orthanc.arrived() != count:
                    raise RuntimeError(f"{label}: Orthanc has {orthanc.arrived()} of {count}")
            rates[label] = count / statistics.median(seconds)
            print(f"  {label:36} {rates[label]:8.1f} obj/s", flush=True)
        one, many = list(rates.values())[1:]
        print(f"  {most} associations / 1: {many / one:.2f}x", flush=True)
    finally:
        orthanc.stop()


def soak(rounds: int) -> None:
    """RSS of each receiver after the 1,000th and after the last object of one run."""
    folder = build(TINY, OUT / "corpus")
    print(f"Soak: the {TINY.label} corpus sent {rounds} times into one receiver")
    for name in os.environ.get("BENCH_SOAK", "dicomtui storescp,dicomtui TUI").split(","):
        inbox = fresh_folder(OUT / "work" / "soak")
        port = free_port()
        command, env = receiver_command(name, port, inbox)
        with serving(command, env, port) as proc:
            sampler = PeakRss(proc.pid)
            after: list[int] = []
            for _ in range(rounds):
                dcmsend(port, folder)
                time.sleep(1.0)  # let the app take in the last events
                after.append(sampler.now())
            sampler.stop()
        count = TINY.count
        print(
            "  " + name + " RSS (MB) after each 1,000: " + " ".join(f"{r / 1e6:.0f}" for r in after)
        )
        print(
            f"  {name:20} RSS after {count} objects {after[0] / 1e6:.0f} MB, after {count * rounds}"
            f" {after[-1] / 1e6:.0f} MB (growth {(after[-1] - after[0]) / 1e6:+.1f} MB)",
            flush=True,
        )
        shutil.rmtree(inbox, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller corpora, one run each")
    parser.add_argument("--only", default="tiny,small,large")
    parser.add_argument(
        "--soak", type=int, metavar="ROUNDS", help="only the memory soak: ROUNDS x 1,000 objects"
    )
    parser.add_argument(
        "--associations",
        type=int,
        metavar="N",
        help="only: 300 tiny objects into Orthanc over 1 and over N associations",
    )
    args = parser.parse_args()
    if args.soak:
        soak(args.soak)
        return
    if args.associations:
        associations(300, args.runs, args.associations)
        return
    corpora = [c for c in (TINY, SMALL, LARGE) if c.name in args.only.split(",")]
    receivers = chosen("BENCH_RECEIVERS", RECEIVERS)
    senders = chosen("BENCH_SENDERS", SENDERS)
    if args.quick:
        corpora = [
            Corpus(c.name + "-quick", max(3, c.count // 5), c.rows, c.columns, c.frames)
            for c in corpora
        ]
        args.runs = 1
    table: list[tuple[str, str, dict[str, Result], Corpus, Path]] = []
    for corpus in corpora:
        folder = build(corpus, OUT / "corpus")
        print(f"{corpus.label} ({total_bytes(folder) / 1e6:.0f} MB in all):", flush=True)
        table.append(
            (
                "receive",
                corpus.name,
                measure("receive", receivers, corpus, folder, args.runs),
                corpus,
                folder,
            )
        )
        table.append(
            (
                "send",
                corpus.name,
                measure("send", senders, corpus, folder, args.runs),
                corpus,
                folder,
            )
        )

    lines = [
        "| | " + " | ".join(f"{c.label}" for c in corpora) + " |",
        "|---|" + "---|" * len(corpora),
    ]
    print("\nRatios (ours / peer, objects per second):")
    for kind, names in (("receive", receivers), ("send", senders)):
        for name in names:
            cells = []
            for entry_kind, _, results, corpus, folder in table:
                if entry_kind != kind:
                    continue
                objs, mbs = rate(corpus, folder, results[name].median)
                cell = f"{objs:.0f}/s ({mbs:.0f} MB/s)"
                if kind == "receive":
                    cell += f", {max(results[name].rss) / 1e6:.0f} MB RSS"
                cells.append(cell)
            lines.append(f"| {kind}: {name} | " + " | ".join(cells) + " |")
        ours = [n for n in names if n.startswith("dicomtui")]
        # The app is also compared with our own headless command.
        peers = [n for n in names if n not in ours or (n != "dicomtui TUI" and len(ours) > 1)]
        for entry_kind, corpus_name, results, _corpus, _folder in table:
            if entry_kind != kind:
                continue
            for mine in ours:
                ratios = ", ".join(
                    f"{results[p].median / results[mine].median:.2f}x {p}"
                    for p in peers
                    if p != mine
                )
                print(f"  {kind:8} {corpus_name:12} {mine:22} {ratios}")
                if kind == "send":
                    net = results[mine].extra["objs_without_startup"]
                    ratios = ", ".join(
                        f"{net / results[p].extra['objs_without_startup']:.2f}x {p}"
                        for p in peers
                        if p != mine
                    )
                    print(f"  {'':8} {'':12} {'(without start-up)':22} {ratios}")
    OUT.mkdir(exist_ok=True)
    (OUT / "results.md").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
