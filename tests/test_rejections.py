"""An A-ASSOCIATE-RJ is reported as a rejection, with its result, source and reason,
every time, and without a second connection to find out; an association request
that is aborted or never answered says so, without a second connection either."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from factory import copy_ct
from helpers import DICOMTUI, Processes, free_port, require_tool, run, wait_for_port

from dicomtui.core.scu.echo import echo
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import AssociationAborted, AssociationFailed, EchoResult, Event
from dicomtui.core.stream.log_format import format_event


class ScriptedAcceptor:
    """Reads each A-ASSOCIATE-RQ and sends ``answer`` (nothing when it is None: the
    connection then stays open until the peer closes it), then closes at once, as
    DCMTK does; counts the connections it was sent."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.connections = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            self.connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    header = self._read(conn, 6)
                    self._read(conn, struct.unpack(">I", header[2:])[0])
                    if self.answer is None:
                        self._read(conn, 1)  # until the peer gives up
                    else:
                        conn.sendall(self.answer)
                except (OSError, struct.error):
                    pass

    @staticmethod
    def _read(conn: socket.socket, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = conn.recv(count - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


def rj(result: int, source: int, diagnostic: int) -> bytes:
    return struct.pack(">BBIBBBB", 0x03, 0, 4, 0, result, source, diagnostic)


A_ABORT = struct.pack(">BBIBBBB", 0x07, 0, 4, 0, 0, 0x00, 0x00)


@pytest.fixture
def acceptor() -> Iterator[type[ScriptedAcceptor]]:
    peers: list[ScriptedAcceptor] = []

    def start(answer: bytes | None) -> ScriptedAcceptor:
        peer = ScriptedAcceptor(answer)
        peers.append(peer)
        return peer

    try:
        yield start  # type: ignore[misc]
    finally:
        for peer in peers:
            peer.close()


def echo_events(port: int, **settings: object) -> tuple[EchoResult, list[Event]]:
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    return echo(SenderSettings(port=port, **settings), bus), events  # type: ignore[arg-type]


CALLING_NOT_RECOGNISED = (
    "Result: Rejected Permanent, Source: Service User, Reason: Calling AE title not recognised"
)


def test_a_rejection_is_reported_as_one_every_time(acceptor) -> None:  # type: ignore[no-untyped-def]
    """pynetdicom's requestor can see the socket closed before it reads the RJ
    waiting for it, and abort: about one echo in ten said "Association Aborted"
    and "did not complete the association", after a second connection."""
    peer = acceptor(rj(0x01, 0x01, 0x03))
    runs = 60
    for _ in range(runs):
        result, events = echo_events(peer.port, acse_timeout=5)
        errors = [
            line.render() for e in events for line in format_event(e) if line.level.letter == "E"
        ]
        assert result.error == f"association rejected ({CALLING_NOT_RECOGNISED})"
        assert errors == [f"E: Association Rejected: {CALLING_NOT_RECOGNISED}"]
        assert not [e for e in events if isinstance(e, AssociationAborted | AssociationFailed)]
    assert peer.connections == runs  # no second connection to diagnose


@pytest.mark.parametrize("command", ["echo", "storescu"])
def test_the_commands_print_the_result_source_and_reason(
    acceptor,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    command: str,
) -> None:
    peer = acceptor(rj(0x02, 0x03, 0x02))
    paths = [str(copy_ct(tmp_path / "ct.dcm"))] if command == "storescu" else []
    result = run([*DICOMTUI, command, "127.0.0.1", str(peer.port), *paths])
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "E: Association Rejected: Result: Rejected Transient,"
        " Source: Service Provider (Presentation), Reason: Local limit exceeded"
    ]
    assert peer.connections == 1


def test_dcmtk_refusing_is_a_rejection(tmp_path: Path, processes: Processes) -> None:
    port = free_port()
    scp = processes.start([require_tool("storescp"), "--refuse", str(port)], cwd=tmp_path)
    wait_for_port(port, proc=scp)
    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(copy_ct(tmp_path / "ct.dcm"))])
    Processes.stop(scp)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "E: Association Rejected: Result: Rejected Permanent, Source: Service User,"
        " Reason: No reason given"
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"", "the peer closed the connection without answering the association request"),
        (A_ABORT, "the peer aborted the association request (A-ABORT)"),
    ],
    ids=["closed", "aborted"],
)
def test_a_request_that_is_ended_says_so_without_a_second_connection(
    acceptor,  # type: ignore[no-untyped-def]
    answer: bytes,
    expected: str,
) -> None:
    peer = acceptor(answer)
    runs = 20
    for _ in range(runs):
        result, events = echo_events(peer.port, acse_timeout=5)
        assert result.error == expected
        [failed] = [e for e in events if isinstance(e, AssociationFailed)]
        assert [line.render() for line in format_event(failed)] == [
            f"E: Association request to 127.0.0.1:{peer.port} failed: {expected}"
        ]
    assert peer.connections == runs


def test_a_request_never_answered_says_so_without_a_second_connection(acceptor) -> None:  # type: ignore[no-untyped-def]
    peer = acceptor(None)
    result, _events = echo_events(peer.port, acse_timeout=1)
    assert result.error == "no answer to the association request within 1 s"
    assert peer.connections == 1
