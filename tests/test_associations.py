"""``dicomtui storescu --associations N``: one send over several associations.

Into peers that take them in parallel (our own storescp, Orthanc), into one that
takes one at a time (DCMTK's storescp without --fork) or refuses the extra ones
(our storescp with --max-associations), cancelled midway, and with bad values.
Every file must arrive as sent and be reported exactly once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factory import make_object
from helpers import (
    DICOMTUI,
    Processes,
    dataset_bytes,
    free_port,
    require_tool,
    run,
    sendable,
    stored_files,
    wait_for_port,
)
from orthanc_peer import ORTHANC_AET, Orthanc, launch_orthanc
from pydicom import dcmread
from pynetdicom import AE, AllStoragePresentationContexts, evt
from test_orthanc import require_orthanc

from dicomtui.core.dicom.tables import STORAGE_SOP_CLASSES

pytestmark = pytest.mark.timeout(120)

SUCCESS = "Received Store Response (Status: 0x0000 - Success)"


def make_files(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    return [make_object(folder / f"{n:03d}.dcm", patient_id=f"P{n % 3}") for n in range(count)]


def send(
    port: int, folder: Path, report: Path, *options: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return run(
        [
            *DICOMTUI,
            "storescu",
            "127.0.0.1",
            str(port),
            str(folder),
            "-v",
            "--report",
            str(report),
            *options,
        ],
        timeout=timeout,
    )


def reported(report: Path) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = json.loads(report.read_text())["objects"]
    return objects


def assert_each_reported_once(report: Path, files: list[Path], result: str = "Success") -> None:
    records = reported(report)
    assert Counter(r["file"] for r in records) == Counter(str(f) for f in files)
    assert {r["result"] for r in records} == {result}


def start_storescp(processes: Processes, inbox: Path, *options: str) -> tuple[int, Any]:
    port = free_port()
    proc = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox), "-v", *options])
    wait_for_port(port, proc=proc)
    return port, proc


def test_four_associations_into_our_receiver(tmp_path: Path, processes: Processes) -> None:
    files = make_files(tmp_path / "out", 60)
    inbox = tmp_path / "inbox"
    port, scp = start_storescp(processes, inbox)

    result = send(port, tmp_path / "out", tmp_path / "report.json", "--associations", "4")
    log = Processes.stop(scp, signal.SIGINT)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(SUCCESS) == 60
    assert "60 sent, 0 with warnings, 0 failed, 0 skipped" in result.stderr
    assert log.count("I: Accepting Association") == 4
    assert_each_reported_once(tmp_path / "report.json", files)
    # Shared between the associations, not all over one.
    carried = Counter(r["association"] for r in reported(tmp_path / "report.json"))
    assert len(carried) == 4, carried
    assert "The peer took" not in result.stderr
    stored = {dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in stored_files(inbox)}
    assert len(stored) == 60
    for source in files:
        assert dataset_bytes(stored[sendable(source).sop_instance]) == dataset_bytes(source)


def test_files_of_more_than_128_contexts_go_batch_by_batch_over_every_association(
    tmp_path: Path, processes: Processes
) -> None:
    """70 SOP classes, two contexts each: two batches (64 classes, then 6), each
    shared by three associations; a free one goes on to the next batch by itself
    (unless that batch was all taken by then)."""
    folder = tmp_path / "out"
    folder.mkdir()
    classes = sorted(STORAGE_SOP_CLASSES)[:70]
    files = [make_object(folder / f"{n:03d}.dcm", sop_class=classes[n // 2]) for n in range(140)]
    inbox = tmp_path / "inbox"
    port, scp = start_storescp(processes, inbox)

    result = send(port, folder, tmp_path / "report.json", "--associations", "3")
    log = Processes.stop(scp, signal.SIGINT)

    assert result.returncode == 0, result.stderr
    assert "140 sent, 0 with warnings, 0 failed, 0 skipped" in result.stderr
    assert_each_reported_once(tmp_path / "report.json", files)
    assert 4 <= log.count("I: Accepting Association") <= 6
    assert len(stored_files(inbox)) == 140


def test_a_peer_that_refuses_the_extra_associations_still_gets_everything(
    tmp_path: Path, processes: Processes
) -> None:
    files = make_files(tmp_path / "out", 40)
    inbox = tmp_path / "inbox"
    port, scp = start_storescp(processes, inbox, "--max-associations", "2")

    result = send(port, tmp_path / "out", tmp_path / "report.json", "--associations", "4")
    Processes.stop(scp, signal.SIGINT)

    assert result.returncode == 0, result.stderr
    assert "40 sent, 0 with warnings, 0 failed, 0 skipped" in result.stderr
    assert_each_reported_once(tmp_path / "report.json", files)
    assert len(stored_files(inbox)) == 40
    # Said once, with the peer's reason; the refusals themselves are not errors.
    [note] = [line for line in result.stderr.splitlines() if "The peer took" in line]
    assert note.startswith(
        "W: The peer took 2 of the 4 associations asked for (association rejected"
    )
    assert "E:" not in result.stderr


def test_dcmtk_storescp_without_fork_takes_one_at_a_time(
    tmp_path: Path, processes: Processes
) -> None:
    storescp = require_tool("storescp")
    files = make_files(tmp_path / "out", 60)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    port = free_port()
    scp = processes.start([storescp, "-od", str(inbox), str(port)])
    wait_for_port(port, proc=scp)

    started = time.monotonic()
    result = send(port, tmp_path / "out", tmp_path / "report.json", "--associations", "4")
    seconds = time.monotonic() - started
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert "60 sent, 0 with warnings, 0 failed, 0 skipped" in result.stderr
    assert_each_reported_once(tmp_path / "report.json", files)
    stored = stored_files(inbox)
    assert len(stored) == 60
    by_uid = {dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in stored}
    for source in files:
        assert dataset_bytes(by_uid[sendable(source).sop_instance]) == dataset_bytes(source)
    notes = [line for line in result.stderr.splitlines() if "The peer took" in line]
    assert len(notes) <= 1
    if seconds > 3:  # the others waited long enough to count as not answered
        assert notes, result.stderr[-2000:]


def test_requests_left_unanswered_past_the_acse_timeout_are_said_once(
    tmp_path: Path, processes: Processes
) -> None:
    """DCMTK's storescp without --fork leaves the extra requests waiting; with
    -ta 1 they time out while the first association sends: one W: line, no E:."""
    storescp = require_tool("storescp")
    files = make_files(tmp_path / "out", 120)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    port = free_port()
    scp = processes.start([storescp, "-od", str(inbox), str(port)])
    wait_for_port(port, proc=scp)

    started = time.monotonic()
    result = run(
        [
            *(*DICOMTUI, "storescu", "127.0.0.1", str(port), str(tmp_path / "out")),
            *("--associations", "4", "-ta", "1", "-ll", "warning"),
        ],
        timeout=90,
    )
    seconds = time.monotonic() - started
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert len(stored_files(inbox)) == len(files)
    assert "E:" not in result.stderr, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("W:")]
    assert len(notes) <= 1, notes
    if seconds > 3:  # the first association sent for longer than the others could wait
        assert notes == [
            "W: The peer took 1 of the 4 associations asked for (no answer to the"
            " association request within 1 s); the files went over it"
        ]


def test_a_peer_that_is_not_there_is_one_error_as_with_one_association(tmp_path: Path) -> None:
    make_files(tmp_path / "out", 8)
    port = free_port()  # nothing listens

    results = [
        run(
            [
                *DICOMTUI,
                "storescu",
                "127.0.0.1",
                str(port),
                str(tmp_path / "out"),
                "--associations",
                n,
            ],
            timeout=60,
        )
        for n in ("1", "4")
    ]

    one, four = results
    assert one.returncode == four.returncode == 1
    [error] = four.stderr.splitlines()
    assert error == (
        f"E: Association request failed: unable to connect to 127.0.0.1:{port} (Connection refused)"
    )
    assert four.stderr == one.stderr
    assert "0 sent, 0 with warnings, 0 failed, 0 skipped, 8 not attempted" in four.stdout


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    started = launch_orthanc(require_orthanc(), tmp_path / "orthanc", verbose=True)
    try:
        yield started
    finally:
        started.stop()


def test_four_associations_into_orthanc(tmp_path: Path, orthanc: Orthanc) -> None:
    files = make_files(tmp_path / "out", 40)

    result = send(
        orthanc.dicom_port,
        tmp_path / "out",
        tmp_path / "report.json",
        "-aec",
        ORTHANC_AET,
        "--associations",
        "4",
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(SUCCESS) == 40
    assert_each_reported_once(tmp_path / "report.json", files)
    assert orthanc.get("/statistics")["CountInstances"] == 40
    for source in files[:10]:
        instance = orthanc.lookup(sendable(source).sop_instance)
        copy = tmp_path / "copy.dcm"
        copy.write_bytes(orthanc.request("GET", f"/instances/{instance}/file"))
        assert dataset_bytes(copy) == dataset_bytes(source)
    log = (tmp_path / "orthanc" / "orthanc.log").read_text(errors="replace")
    assert log.count("Association Received from AET STORESCU") == 4


class SlowPeer:
    """A pynetdicom Storage SCP in this process that takes 50 ms per object and
    counts what it stored and how many associations were open at once."""

    def __init__(self) -> None:
        self.stored: Counter[str] = Counter()
        self.open = 0
        self.most_open = 0
        self._lock = threading.Lock()
        ae = AE(ae_title="SLOW")
        ae.supported_contexts = AllStoragePresentationContexts
        ae.maximum_associations = 16
        self.port = free_port()
        self.server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[
                (evt.EVT_C_STORE, self._store),
                (evt.EVT_ESTABLISHED, self._opened),
                (evt.EVT_RELEASED, self._closed),
                (evt.EVT_ABORTED, self._closed),
            ],
        )

    def _store(self, event: Any) -> int:
        time.sleep(0.05)
        with self._lock:
            self.stored[str(event.request.AffectedSOPInstanceUID)] += 1
        return 0

    def _opened(self, event: Any) -> None:
        with self._lock:
            self.open += 1
            self.most_open = max(self.most_open, self.open)

    def _closed(self, event: Any) -> None:
        with self._lock:
            self.open -= 1

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def slow_peer() -> Iterator[SlowPeer]:
    peer = SlowPeer()
    try:
        yield peer
    finally:
        peer.stop()


def test_cancel_stops_every_association_and_reports_each_file_once(
    tmp_path: Path, processes: Processes, slow_peer: SlowPeer
) -> None:
    files = make_files(tmp_path / "out", 200)
    report = tmp_path / "report.json"
    proc = processes.start(
        [
            *DICOMTUI,
            "storescu",
            "127.0.0.1",
            str(slow_peer.port),
            str(tmp_path / "out"),
            "--associations",
            "4",
            "--report",
            str(report),
        ]
    )
    deadline = time.monotonic() + 30
    while sum(slow_peer.stored.values()) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow_peer.most_open == 4
    proc.send_signal(signal.SIGINT)
    proc.wait(20)
    out = Processes.stop(proc)

    assert proc.returncode == 1, out
    assert "Traceback" not in out
    records = reported(report)
    by_file = Counter(r["file"] for r in records)
    assert max(by_file.values()) == 1
    assert set(by_file) <= {str(f) for f in files}
    sent = {r["sop_instance"] for r in records if r["result"] == "Success"}
    # Whatever the peer stored was reported as sent (and once); the rest not attempted.
    assert sent == set(slow_peer.stored)
    assert max(slow_peer.stored.values()) == 1
    assert 20 <= len(sent) < 200
    assert slow_peer.open == 0


def test_associations_share_the_files_and_end_together(slow_peer: SlowPeer, tmp_path: Path) -> None:
    """In process: the events a renderer reads. Each file once, progress that
    only goes forward, and the peer saw four at once."""
    from dicomtui.core.scu.send_job import SendJob
    from dicomtui.core.scu.settings import SenderSettings
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.core.stream.events import Event, FileSent, SendFinished, SendProgress

    files = make_files(tmp_path / "out", 48)
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    settings = SenderSettings(port=slow_peer.port, called_ae_title="SLOW", associations=4)

    result = SendJob(settings, [tmp_path / "out"], bus).run()

    assert (result.sent, result.failed, result.not_attempted) == (48, 0, 0)
    assert not result.association_error
    sent = [e for e in events if isinstance(e, FileSent)]
    assert sorted(e.path for e in sent) == sorted(str(f) for f in files)
    assert len({e.assoc_id for e in sent}) == 4
    done = [e.files_done for e in events if isinstance(e, SendProgress)]
    assert done == list(range(1, 49))
    assert [e for e in events if isinstance(e, SendFinished)] == [result]
    assert slow_peer.most_open == 4
    assert sum(slow_peer.stored.values()) == 48


@pytest.mark.parametrize("value", ["0", "17", "x", "-1"])
def test_a_bad_number_of_associations_is_a_usage_error(value: str) -> None:
    result = run(
        [*DICOMTUI, "storescu", "127.0.0.1", "104", "x.dcm", f"--associations={value}"],
        timeout=30,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [error] = [line for line in result.stderr.splitlines() if "error:" in line]
    assert error.endswith(
        "--associations: The number of associations must be a whole number of at least 1"
        f" and at most 16, not {value}"
    )
