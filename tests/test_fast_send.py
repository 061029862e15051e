"""The sender's own C-STORE path (core/net/fast_send.py): the same bytes, statuses
and events as pynetdicom's path, and every way a peer can misbehave mid-batch
ends in an honest report: nothing counted sent without a success status."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from factory import CT_IMAGE, make_object
from helpers import (
    DICOMTUI,
    Processes,
    dataset_bytes,
    free_port,
    require_tool,
    run,
    stored_files,
    wait_for_port,
)
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pynetdicom.association import Association

from dicomtui.core.config.file import load_config
from dicomtui.core.dicom import dimse
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    AssociationAborted,
    AssociationReleased,
    DimseMessage,
    Event,
    FileSent,
    SendFinished,
)

INSTANT_SCP = Path(__file__).with_name("instant_scp.py")
#: Event fields that differ from one association to the next.
SKIP = ("assoc_id", "timestamp")


def start_scp(processes: Processes, folder: Path, *options: str) -> tuple[int, Any]:
    """tests/instant_scp.py with ``options``; its port and process."""
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "port"
    proc = processes.start([sys.executable, str(INSTANT_SCP), str(port_file), *options])
    deadline = time.monotonic() + 10
    while not (port_file.exists() and port_file.read_text()):
        assert proc.poll() is None, "the instant SCP died"
        assert time.monotonic() < deadline, "the instant SCP did not start"
        time.sleep(0.02)
    port = int(port_file.read_text())
    wait_for_port(port, proc=proc)
    return port, proc


def objects(folder: Path, count: int, size: int = 8) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make_object(folder / f"ct{i:04}.dcm", CT_IMAGE, rows=size, columns=size, modality="CT")
        for i in range(count)
    ]


@pytest.fixture
def pynetdicom_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many objects went through pynetdicom's send_c_store()."""
    calls: list[int] = []
    original = Association.send_c_store

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Association, "send_c_store", counted)
    return calls


def send(
    files: list[Path],
    port: int,
    want_pdu_dumps: Callable[[], bool] | None = None,
    **settings: Any,
) -> tuple[SendFinished, list[Event]]:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    job = SendJob(SenderSettings(port=port, **settings), files, bus, want_pdu_dumps)
    return job.run(), events


def outcomes(events: list[Event]) -> list[tuple[str, int | None, str]]:
    return [(Path(e.path).name, e.status, e.error) for e in events if isinstance(e, FileSent)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fast_path", [True, False])
def test_warnings_and_failures_are_reported_on_both_paths(
    tmp_path: Path, processes: Processes, pynetdicom_sends: list[int], fast_path: bool
) -> None:
    # 4: a status with an element our decoder does not know: pydicom reads it.
    answers = ["--answer", "2=B000", "--answer", "3=A700", "--answer", "4=B007+"]
    port, _proc = start_scp(processes, tmp_path / "scp", *answers, "--answer", "5=C000")
    files = objects(tmp_path / "corpus", 6)
    result, events = send(files, port, fast_path=fast_path)
    statuses = [status for _name, status, _error in outcomes(events)]
    assert statuses == [0x0000, 0xB000, 0xA700, 0xB007, 0xC000, 0x0000]
    assert (result.sent, result.warned, result.failed) == (2, 2, 2)
    assert len(pynetdicom_sends) == (0 if fast_path else 6)
    responses = [e for e in events if isinstance(e, DimseMessage) and e.incoming]
    assert [e.status for e in responses] == statuses
    assert [e.responded_to for e in responses] == [1, 2, 3, 4, 5, 6]


@pytest.mark.timeout(60)
def test_the_events_are_the_ones_pynetdicoms_path_publishes(
    tmp_path: Path, processes: Processes
) -> None:
    port, _proc = start_scp(processes, tmp_path / "scp")
    files = objects(tmp_path / "corpus", 3)

    def seen(fast_path: bool) -> list[tuple[Any, ...]]:
        _result, events = send(files, port, fast_path=fast_path)
        return [
            (type(e).__name__, *(getattr(e, f) for f in e.__dataclass_fields__ if f not in SKIP))
            for e in events
            if isinstance(e, DimseMessage | FileSent)
        ]

    fast = seen(True)
    assert len(fast) == 9
    assert fast == seen(False)


@pytest.mark.timeout(60)
def test_a_peer_that_aborts_mid_batch(tmp_path: Path, processes: Processes) -> None:
    port, _proc = start_scp(processes, tmp_path / "scp", "--answer", "3=abort")
    files = objects(tmp_path / "corpus", 8)
    result, events = send(files, port, dimse_timeout=10)
    got = outcomes(events)
    assert [status for _n, status, _e in got] == [0, 0, None]
    assert "A-ABORT" in got[2][2]
    assert (result.sent, result.failed, result.not_attempted) == (2, 1, 5)
    assert result.association_error
    # Handed back: pynetdicom read the A-ABORT and ended the association itself.
    assert any(isinstance(e, AssociationAborted) for e in events)
    assert result.seconds < 8


@pytest.mark.timeout(60)
def test_a_response_to_another_message_ends_the_association(
    tmp_path: Path, processes: Processes
) -> None:
    port, _proc = start_scp(processes, tmp_path / "scp", "--answer", "3=wrong-id")
    files = objects(tmp_path / "corpus", 6)
    result, events = send(files, port)
    got = outcomes(events)
    assert [status for _n, status, _e in got] == [0, 0, None]
    assert "answered message 3 with a response to message 103" in got[2][2]
    assert (result.sent, result.failed, result.not_attempted) == (2, 1, 3)
    assert any(isinstance(e, AssociationAborted) for e in events)


@pytest.mark.timeout(60)
def test_a_peer_that_falls_silent_meets_the_dimse_timeout(
    tmp_path: Path, processes: Processes
) -> None:
    port, _proc = start_scp(processes, tmp_path / "scp", "--answer", "3=silent")
    files = objects(tmp_path / "corpus", 6)
    started = time.monotonic()
    result, events = send(files, port, dimse_timeout=1)
    got = outcomes(events)
    assert [status for _n, status, _e in got] == [0, 0, None]
    assert got[2][2] == "no response within 1 s (DIMSE timeout)"
    assert (result.sent, result.failed, result.not_attempted) == (2, 1, 3)
    assert any(isinstance(e, AssociationAborted) for e in events)
    assert time.monotonic() - started < 8


@pytest.mark.timeout(60)
def test_a_peer_that_asks_to_release_instead_of_answering(
    tmp_path: Path, processes: Processes
) -> None:
    port, _proc = start_scp(processes, tmp_path / "scp", "--answer", "2=release")
    files = objects(tmp_path / "corpus", 4)
    result, events = send(files, port)
    got = outcomes(events)
    assert [status for _n, status, _e in got] == [0, None]
    assert "A-RELEASE-RQ" in got[1][2]
    assert (result.sent, result.failed, result.not_attempted) == (1, 1, 2)
    # pynetdicom answered the release request the fast path handed back.
    assert any(isinstance(e, AssociationReleased) for e in events)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fast_path", [True, False])
def test_a_small_maximum_pdu_is_respected_and_the_bytes_arrive_unchanged(
    tmp_path: Path, processes: Processes, pynetdicom_sends: list[int], fast_path: bool
) -> None:
    inbox = tmp_path / "received"
    inbox.mkdir()
    port, proc = start_scp(processes, tmp_path / "scp", "--max-pdu", "4096", "--store", str(inbox))
    files = objects(tmp_path / "corpus", 3, size=64)  # ~8 KB of pixels: fragments
    # ~6 MB: read and sent in pieces, not whole
    files.append(make_object(tmp_path / "corpus" / "big.dcm", extra_bytes=6 * 1024 * 1024))
    result, _events = send(files, port, fast_path=fast_path)
    assert (result.sent, result.failed) == (4, 0)
    assert len(pynetdicom_sends) == (0 if fast_path else 4)
    received = [inbox / f"{n}.bin" for n in range(1, 5)]
    # In the order the sender sends them: sorted by path.
    assert [path.read_bytes() for path in received] == [dataset_bytes(f) for f in sorted(files)]
    assert "too long" not in Processes.stop(proc)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fast_path", [True, False])
def test_byte_identical_at_dcmtk_storescp(
    tmp_path: Path, processes: Processes, fast_path: bool
) -> None:
    tool = require_tool("storescp")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    port = free_port()
    # +B: DCMTK writes the data set exactly as it came.
    scp = processes.start([tool, "+B", "-od", str(inbox), str(port)], env={"TCP_NODELAY": "1"})
    wait_for_port(port, proc=scp)
    files = objects(tmp_path / "corpus", 20)
    files.append(make_object(tmp_path / "corpus" / "mid.dcm", rows=512, columns=512, bits=16))
    command = [*DICOMTUI, "storescu", "127.0.0.1", str(port), str(tmp_path / "corpus")]
    sent = run([*command] if fast_path else [*command, "--no-fast-path"])
    Processes.stop(scp)
    assert sent.returncode == 0, sent.stderr
    stored = sorted(dataset_bytes(path) for path in stored_files(inbox))
    assert stored == sorted(dataset_bytes(path) for path in files)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fast_path", [True, False])
def test_byte_identical_at_our_storescp(
    tmp_path: Path, start_receiver: Any, pynetdicom_sends: list[int], fast_path: bool
) -> None:
    receiver = start_receiver()
    files = objects(tmp_path / "corpus", 20)
    files.append(make_object(tmp_path / "corpus" / "mid.dcm", rows=512, columns=512, bits=16))
    result, _events = send(files, receiver.port, called_ae_title="DICOMTUI", fast_path=fast_path)
    assert (result.sent, result.failed) == (21, 0)
    assert len(pynetdicom_sends) == (0 if fast_path else 21)
    stored = sorted(dataset_bytes(path) for path in stored_files(receiver.directory))
    assert stored == sorted(dataset_bytes(path) for path in files)


@pytest.mark.timeout(60)
def test_pdu_dumps_take_pynetdicoms_path(
    tmp_path: Path, processes: Processes, pynetdicom_sends: list[int]
) -> None:
    port, _proc = start_scp(processes, tmp_path / "scp")
    files = objects(tmp_path / "corpus", 3)
    dumps = [False]
    result, _events = send(files, port, want_pdu_dumps=lambda: dumps[0])
    assert result.sent == 3 and pynetdicom_sends == []
    dumps[0] = True
    result, _events = send(files, port, want_pdu_dumps=lambda: dumps[0])
    assert result.sent == 3 and len(pynetdicom_sends) == 3


@pytest.fixture
def tls_receiver(tmp_path: Path, processes: Processes) -> Iterator[tuple[int, Path, Path]]:
    from test_tls import make_pki

    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    inbox, port = tmp_path / "tls-inbox", free_port()
    scp = processes.start(
        [
            *DICOMTUI,
            "storescp",
            str(port),
            "-od",
            str(inbox),
            "--tls-cert",
            str(pki["server_cert"]),
            "--tls-key",
            str(pki["server_key"]),
        ]
    )
    wait_for_port(port, proc=scp)
    yield port, inbox, pki["ca"]
    Processes.stop(scp)


@pytest.mark.timeout(120)
def test_tls_goes_the_fast_path_byte_for_byte(
    tmp_path: Path, tls_receiver: tuple[int, Path, Path], pynetdicom_sends: list[int]
) -> None:
    port, inbox, ca = tls_receiver
    files = objects(tmp_path / "corpus", 10)
    files.append(make_object(tmp_path / "corpus" / "mid.dcm", rows=512, columns=512, bits=16))
    result, _events = send(files, port, tls=True, tls_ca=ca)
    assert (result.sent, result.failed) == (11, 0)
    assert pynetdicom_sends == []
    deadline = time.monotonic() + 10
    while len(stored_files(inbox)) < 11 and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = sorted(dataset_bytes(path) for path in stored_files(inbox))
    assert stored == sorted(dataset_bytes(path) for path in files)


def test_the_switch_is_a_setting_of_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[sender]\nfast_path = false\n")
    config, problems = load_config(path, ReceiverSettings(), SenderSettings())
    assert problems == [] and config.sender.fast_path is False
    assert SenderSettings().fast_path is True


def test_a_response_that_says_a_data_set_follows_is_not_read_as_a_store_response() -> None:
    response = dimse.encode_store_response(dimse.StoreResponse(responded_to=1, status=0))
    assert dimse.decode_store_response(response) is not None
    data_set_type = b"\x00\x00\x00\x08\x02\x00\x00\x00"
    changed = response.replace(data_set_type + b"\x01\x01", data_set_type + b"\x01\x00")
    assert changed != response
    assert dimse.decode_store_response(changed) is None


def odd_deflated(path: Path) -> Path:
    """A deflated object whose data set has an odd length (DICOM pads it with one NUL)."""
    for rows in range(8, 64):
        make_object(path, CT_IMAGE, DeflatedExplicitVRLittleEndian, rows=rows, columns=rows)
        data = path.read_bytes()
        if data.endswith(b"\x00"):  # pydicom padded it: as some writers do not
            path.write_bytes(data[:-1])
            return path
    raise AssertionError("no odd-length deflated object")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fast_path", [True, False])
def test_an_odd_deflated_data_set_is_padded_on_both_paths(
    tmp_path: Path, processes: Processes, pynetdicom_sends: list[int], fast_path: bool
) -> None:
    inbox = tmp_path / "received"
    inbox.mkdir()
    port, _proc = start_scp(processes, tmp_path / "scp", "--store", str(inbox))
    source = odd_deflated(tmp_path / "deflated.dcm")
    result, _events = send([source], port, fast_path=fast_path)
    assert result.sent == 1 and len(pynetdicom_sends) == (0 if fast_path else 1)
    assert (inbox / "1.bin").read_bytes() == dataset_bytes(source) + b"\x00"


@pytest.mark.timeout(60)
def test_a_file_gone_before_its_turn_fails_alone(
    tmp_path: Path, processes: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, _proc = start_scp(processes, tmp_path / "scp")
    files = objects(tmp_path / "corpus", 4)
    scan = SendJob.scan

    def scan_then_delete(job: SendJob) -> Any:
        found = scan(job)
        files[2].unlink()
        return found

    monkeypatch.setattr(SendJob, "scan", scan_then_delete)
    result, events = send(files, port)
    got = outcomes(events)
    assert [status for _n, status, _e in got] == [0, 0, None, 0]
    assert "No such file" in got[2][2]
    assert (result.sent, result.failed, result.not_attempted) == (3, 1, 0)


@pytest.mark.timeout(60)
def test_a_peer_that_stops_reading_mid_object(tmp_path: Path, processes: Processes) -> None:
    port, _proc = start_scp(processes, tmp_path / "scp", "--answer", "1=stall")
    files = objects(tmp_path / "corpus", 1)
    # More than the connection's buffers hold
    files.append(make_object(tmp_path / "corpus" / "zz-big.dcm", extra_bytes=40 * 1024 * 1024))
    started = time.monotonic()
    result, events = send(files, port, dimse_timeout=1)
    got = outcomes(events)
    assert [status for _n, status, _e in got] == [0, None]
    assert got[1][2] == "the peer took nothing of the request for 1 s (DIMSE timeout)"
    assert (result.sent, result.failed) == (1, 1)
    assert any(isinstance(e, AssociationAborted) for e in events)
    assert time.monotonic() - started < 15
