"""Every request we send gets its response, however fast the peer answers.

pynetdicom's requestor pauses its reactor around each request with a handshake
that can pass on a stale flag; the reactor then takes the next response off the
queue and drops it ("Received unexpected C-STORE service message"), and the
sender waits out the DIMSE timeout. A peer that answers the instant a request
is complete (DCMTK with TCP_NODELAY, or the one here) hit it in half the runs.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from factory import CT_IMAGE, make_object
from helpers import DICOMTUI, Processes, free_port, require_tool, run, wait_for_port

from dicomtui.core.scu.echo import echo
from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import EchoResult

INSTANT_SCP = Path(__file__).with_name("instant_scp.py")
NODELAY = {"TCP_NODELAY": "1"}


def start_instant_scp(processes: Processes, tmp_path: Path) -> int:
    port_file = tmp_path / "instant-scp.port"
    proc = processes.start([sys.executable, str(INSTANT_SCP), str(port_file)])
    deadline = time.monotonic() + 10
    while not (port_file.exists() and port_file.read_text()):
        assert proc.poll() is None, "the instant SCP died"
        assert time.monotonic() < deadline, "the instant SCP did not start"
        time.sleep(0.02)
    port = int(port_file.read_text())
    wait_for_port(port, proc=proc)
    return port


def small_objects(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make_object(folder / f"ct{i:04}.dcm", CT_IMAGE, rows=8, columns=8, modality="CT")
        for i in range(count)
    ]


@contextmanager
def busy_neighbour() -> Iterator[None]:
    """A thread that keeps the interpreter busy, as the app's UI thread does while it
    draws: pynetdicom's reactor then woke late, after the next response had come."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


@pytest.mark.timeout(300)
def test_every_store_is_answered_by_an_instant_peer(tmp_path: Path, processes: Processes) -> None:
    port = start_instant_scp(processes, tmp_path)
    files = small_objects(tmp_path / "corpus", 300)
    with busy_neighbour():
        for attempt in range(4):
            job = SendJob(SenderSettings(port=port, dimse_timeout=2), files, EventBus())
            result = job.run()
            assert (result.sent, result.failed, result.not_attempted) == (300, 0, 0), (
                f"run {attempt + 1}: {result}"
            )


@pytest.mark.timeout(120)
def test_every_echo_is_answered_by_an_instant_peer(tmp_path: Path, processes: Processes) -> None:
    port = start_instant_scp(processes, tmp_path)
    for attempt in range(50):
        result = echo(SenderSettings(port=port, dimse_timeout=5), EventBus())
        assert isinstance(result, EchoResult)
        assert result.status == 0 and not result.error, f"echo {attempt + 1}: {result}"


def _received(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("peer", ["storescp", "dcmrecv"])
def test_repeated_sends_to_dcmtk_lose_nothing(
    peer: str, tmp_path: Path, processes: Processes
) -> None:
    tool = require_tool(peer)
    files = small_objects(tmp_path / "corpus", 300)
    for attempt in range(20):
        inbox = tmp_path / f"inbox{attempt}"
        inbox.mkdir()
        port = free_port()
        if peer == "storescp":
            cmd = [tool, "+xa", "-od", str(inbox), str(port)]
        else:
            cmd = [tool, "-xf", "/etc/dcmtk/storescp.cfg", "Default", "-od", str(inbox), str(port)]
        proc = processes.start(cmd, env=NODELAY)
        wait_for_port(port, proc=proc)
        send = [*DICOMTUI, "storescu", "127.0.0.1", str(port), str(tmp_path / "corpus")]
        try:
            sent = run([*send, "-r", "-td", "5"], timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run {attempt + 1}: the send stalled")
        finally:
            Processes.stop(proc)
        assert sent.returncode == 0, f"run {attempt + 1}:\n{sent.stdout}{sent.stderr}"
        assert _received(inbox) == len(files), f"run {attempt + 1}"
