"""Half-readable folders, warnings and failures, a peer that vanishes: the sender tells the truth."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from factory import copy_ct, make_object
from helpers import DICOMTUI, run
from pynetdicom import AE, AllStoragePresentationContexts, evt

from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import FileSent, FileSkipped, ObjectReceived


class ScriptedScp:
    """A pynetdicom Storage SCP whose answer to the n-th C-STORE is scripted."""

    def __init__(self, answers: dict[int, int | str]) -> None:
        self.answers = answers
        self.count = 0
        self.lock = threading.Lock()
        ae = AE(ae_title="SCRIPTED")
        ae.supported_contexts = AllStoragePresentationContexts
        self.server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, self.handle)]
        )
        self.port = self.server.server_address[1]

    def handle(self, event: object) -> int:
        with self.lock:
            self.count += 1
            answer = self.answers.get(self.count, 0x0000)
        if answer == "vanish":
            event.assoc.dul.socket.close()  # type: ignore[attr-defined]
            return 0x0000
        return int(answer)

    def close(self) -> None:
        self.server.shutdown()


def sent_events(
    job_paths: list[Path], port: int, **settings: object
) -> tuple[object, list[object], SendJob]:
    bus = EventBus()
    events: list[object] = []
    bus.subscribe(events.append)
    job = SendJob(SenderSettings(port=port, **settings), job_paths, bus)  # type: ignore[arg-type]
    return job.run(), events, job


def test_bad_inputs_are_skipped_with_a_reason_and_the_rest_go(tmp_path: Path) -> None:
    scp = ScriptedScp({})
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = [copy_ct(folder / f"ct{i}.dcm") for i in range(2)]
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "notes.txt").write_text("hello" * 50)
    truncated = folder / "truncated.dcm"
    truncated.write_bytes(good[0].read_bytes()[:-5000])
    (folder / "dangling.dcm").symlink_to(tmp_path / "nowhere.dcm")
    (folder / "link.dcm").symlink_to(good[0])
    make_object(folder / "DICOMDIR", sop_class="1.2.840.10008.1.3.10")
    try:
        result, events, _job = sent_events([folder], scp.port)
    finally:
        scp.close()
    reasons = {Path(e.path).name: e.reason for e in events if isinstance(e, FileSkipped)}  # type: ignore[attr-defined]
    assert reasons["empty.dcm"] == "Empty file"
    assert reasons["notes.txt"].startswith("Not a DICOM file")
    assert reasons["truncated.dcm"].startswith("Truncated")
    assert reasons["dangling.dcm"].startswith("Symbolic link")
    assert reasons["link.dcm"].startswith("Symbolic link")
    assert reasons["DICOMDIR"].startswith("DICOMDIR")
    assert result.sent == 2 and result.failed == 0  # type: ignore[attr-defined]


def test_every_status_is_counted_truthfully(tmp_path: Path) -> None:
    scp = ScriptedScp({2: 0xB000, 3: 0xA700, 4: 0xB007, 5: 0xC000})
    files = [copy_ct(tmp_path / f"ct{i}.dcm") for i in range(6)]
    try:
        result, events, _job = sent_events(files, scp.port)
    finally:
        scp.close()
    statuses = [e.status for e in events if isinstance(e, FileSent)]  # type: ignore[attr-defined]
    assert statuses == [0x0000, 0xB000, 0xA700, 0xB007, 0xC000, 0x0000]
    assert (result.sent, result.warned, result.failed) == (2, 2, 2)  # type: ignore[attr-defined]


def test_stop_on_failure_and_the_exit_status(tmp_path: Path) -> None:
    scp = ScriptedScp({2: 0xA700})
    files = [copy_ct(tmp_path / f"ct{i}.dcm") for i in range(4)]
    try:
        stopped = run(
            [
                *DICOMTUI,
                "storescu",
                "127.0.0.1",
                str(scp.port),
                *map(str, files),
                "--stop-on-failure",
            ]
        )
    finally:
        scp.close()
    assert stopped.returncode == 1
    assert "1 sent, 0 with warnings, 1 failed, 0 skipped, 2 not attempted" in stopped.stdout
    assert "E: Store failed: " in stopped.stderr and "0xA700" in stopped.stderr


def test_a_peer_that_vanishes_mid_send(tmp_path: Path) -> None:
    scp = ScriptedScp({4: "vanish"})
    files = [copy_ct(tmp_path / f"ct{i:02d}.dcm") for i in range(10)]
    try:
        result, events, job = sent_events(files, scp.port, dimse_timeout=5)
    finally:
        scp.close()
    outcomes = [(Path(e.path).name, e.status) for e in events if isinstance(e, FileSent)]  # type: ignore[attr-defined]
    assert outcomes[:3] == [("ct00.dcm", 0), ("ct01.dcm", 0), ("ct02.dcm", 0)]
    assert outcomes[3] == ("ct03.dcm", None)  # the one in flight: failed, not sent
    assert result.sent == 3 and result.failed == 1  # type: ignore[attr-defined]
    assert result.not_attempted == 6  # type: ignore[attr-defined]
    assert result.association_error  # type: ignore[attr-defined]
    assert job.failed_paths == [files[3]]  # what "retry failed" sends again


def test_a_peer_with_only_an_ipv6_address_is_reached(start_receiver) -> None:  # type: ignore[no-untyped-def]
    from dicomtui.core.scu.echo import echo

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    receiver = start_receiver(bind_address="::1")
    result = echo(SenderSettings(host="::1", port=receiver.port, called_ae_title="X"), EventBus())
    assert (result.error, result.status) == ("", 0)


def test_sending_a_large_object_keeps_the_senders_memory_flat(
    tmp_path: Path,
    start_receiver,
    processes,  # type: ignore[no-untyped-def]
) -> None:
    """pynetdicom queues every PDU of a data set at once; the sender waits instead."""
    import time

    import psutil

    big = make_object(tmp_path / "big.dcm", extra_bytes=200 * 1024 * 1024)
    receiver = start_receiver()
    proc = processes.start([*DICOMTUI, "storescu", "127.0.0.1", str(receiver.port), str(big)])
    peak = 0
    watched = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.005)
    assert proc.wait(5) == 0, proc.stdout.read() if proc.stdout else ""
    (stored,) = receiver.of_type(ObjectReceived)
    assert stored.size >= big.stat().st_size - 1024
    # A 200 MB object; the sender itself needs about 55 MB.
    assert peak < 120 * 1024 * 1024, f"peak RSS {peak / 1e6:.0f} MB"
