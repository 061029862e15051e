"""Repeated SIGINT and SIGTERM stop the headless commands promptly, never hang them.

``timeout`` signals the child and then its group, so a receiver often gets two
SIGTERMs a fraction of a millisecond apart; a handler that takes a lock then
waited forever for the lock its first call held.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from factory import make_object
from helpers import DICOMTUI, Processes, free_port, wait_for_port


def _burst(proc: subprocess.Popen[bytes], sig: int, count: int) -> None:
    for _ in range(count):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return


@pytest.mark.timeout(240)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_burst_of_signals_stops_storescp_every_time(
    sig: int, tmp_path: Path, processes: Processes
) -> None:
    for attempt in range(8):
        port = free_port()
        proc = processes.start([*DICOMTUI, "storescp", "-od", str(tmp_path), str(port)])
        wait_for_port(port, proc=proc)
        started = time.monotonic()
        _burst(proc, sig, 200)
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"attempt {attempt + 1}: storescp still running 5 s after the signals")
        assert code == 0, f"attempt {attempt + 1}: exit {code}"
        assert time.monotonic() - started < 5


@pytest.mark.timeout(120)
def test_a_second_signal_stops_a_send_that_waits(tmp_path: Path, processes: Processes) -> None:
    """A peer that accepts the connection and never answers: the first SIGTERM
    cancels, the second stops waiting (exit 130), and nothing hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        source = make_object(tmp_path / "one.dcm")
        proc = processes.start([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(source)])
        conn, _ = listener.accept()  # the sender is connected and waits for A-ASSOCIATE-AC
        try:
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)  # cancel: waits for the association
            time.sleep(0.3)  # (two at once would be one: the kernel does not queue them)
            proc.send_signal(signal.SIGTERM)  # stop waiting
            code = proc.wait(5)
        finally:
            conn.close()
        assert code == 130
    finally:
        listener.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signals", [1, 2])
def test_the_app_quits_cleanly_on_sigterm(
    signals: int, tmp_path: Path, processes: Processes
) -> None:
    """In a terminal of its own: the receiver listens, SIGTERM stops it and the app
    leaves the terminal as it found it; a second SIGTERM does not wait for it."""
    import pty

    port = free_port()
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*DICOMTUI, "--port", str(port), "--output-directory", str(tmp_path / "in"), str(tmp_path)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
    )
    processes.started.append(proc)
    os.close(follower)
    screen = bytearray()

    def read_terminal() -> None:  # the app blocks once the terminal's buffer is full
        with contextlib.suppress(OSError):
            while chunk := os.read(leader, 65536):
                screen.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        wait_for_port(port, timeout=30, proc=proc)
        for _ in range(signals):
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.02)
        code = proc.wait(10)
        reader.join(5)
    finally:
        os.close(leader)
    # A second signal may come after the receiver stopped (0) or before (130).
    assert code == 0 if signals == 1 else code in (0, 130)
    assert b"Traceback" not in screen
    with socket.create_server(("127.0.0.1", port)):
        pass  # the port is free again


def test_signals_sent_together_are_one_request_and_a_later_one_is_a_second() -> None:
    from dicomtui.headless.stop_signals import BURST, StopSignals

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        signals = StopSignals()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
            os.kill(os.getpid(), sig)
        time.sleep(0.01)  # handlers run in the main thread, at the next bytecode
        assert signals.count == 1
        time.sleep(BURST)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert signals.count == 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
