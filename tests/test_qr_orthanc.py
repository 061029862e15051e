"""Query/retrieve against a real PACS: Orthanc, started by each test with our AE
titles in its DicomModalities. C-FIND at three levels, C-MOVE into our receiver,
C-GET, an unknown move destination, and names in ISO_IR 100 and ISO_IR 192."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import DICOMTUI, dataset_bytes, free_port, run, stored_files
from orthanc_peer import Orthanc
from pydicom import dcmread
from pydicom.uid import generate_uid
from test_orthanc import make_study, start_orthanc

from dicomtui.core.qr.find import FindJob
from dicomtui.core.qr.get import GetJob
from dicomtui.core.qr.models import Model
from dicomtui.core.qr.query import build_query
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    Event,
    LogMessage,
    ObjectReceived,
    QueryResponse,
    RetrieveProgress,
)

__all__ = ["start_orthanc"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def pacs(start_orthanc: Callable[..., Orthanc], tmp_path: Path) -> Any:
    """An Orthanc that knows FINDSCU, MOVESCU, GETSCU and STORESCP (our receiver,
    on ``pacs.store_port``), holding the three-series study of test_orthanc."""
    store_port = free_port()
    modalities = {
        "find": ["FINDSCU", "127.0.0.1", free_port()],
        "move": ["MOVESCU", "127.0.0.1", free_port()],
        "get": ["GETSCU", "127.0.0.1", free_port()],
        "store": ["STORESCP", "127.0.0.1", store_port],
    }
    orthanc = start_orthanc(DicomModalities=modalities)
    orthanc.store_port = store_port  # type: ignore[attr-defined]
    orthanc.files = make_study(tmp_path / "study")  # type: ignore[attr-defined]
    for path in orthanc.files:  # type: ignore[attr-defined]
        orthanc.request("POST", "/instances", path.read_bytes())
    return orthanc


def network(orthanc: Orthanc, calling: str = "FINDSCU") -> SenderSettings:
    return SenderSettings(
        port=orthanc.dicom_port, called_ae_title="ORTHANC", calling_ae_title=calling
    )


def find(orthanc: Orthanc, *keys: str, model: Model = Model.PATIENT) -> list[Any]:
    bus = EventBus()
    job = FindJob(network(orthanc), build_query(keys), bus, model=model)
    result = job.run()
    assert result.status == 0x0000, result
    assert result.matches == len(job.matches)
    return job.matches


def by_uid(files: list[Path]) -> dict[str, bytes]:
    return {
        str(dcmread(p, stop_before_pixels=True).SOPInstanceUID): dataset_bytes(p) for p in files
    }


def test_find_at_patient_study_and_series_level(pacs: Orthanc) -> None:
    patients = find(pacs, "QueryRetrieveLevel=PATIENT", "PatientName=", "PatientID=")
    assert [(str(m.PatientName), m.PatientID) for m in patients] == [
        ("ORTHANC^TEST", "PID-ORTHANC")
    ]
    studies = find(
        pacs,
        "QueryRetrieveLevel=STUDY",
        "PatientID=PID-ORTHANC",
        "StudyInstanceUID=",
        "NumberOfStudyRelatedSeries=",
        "NumberOfStudyRelatedInstances=",
    )
    assert len(studies) == 1
    assert int(studies[0].NumberOfStudyRelatedSeries) == 3
    assert int(studies[0].NumberOfStudyRelatedInstances) == 8
    study_uid = studies[0].StudyInstanceUID
    series = find(
        pacs,
        "QueryRetrieveLevel=SERIES",
        f"StudyInstanceUID={study_uid}",
        "SeriesInstanceUID=",
        "Modality=",
        "NumberOfSeriesRelatedInstances=",
        model=Model.STUDY,
    )
    counts = sorted((m.Modality, int(m.NumberOfSeriesRelatedInstances)) for m in series)
    assert counts == [("CT", 3), ("MR", 3), ("OT", 2)]


def test_findscu_verbose_prints_each_response_identifier_and_writes_them(
    pacs: Orthanc, tmp_path: Path
) -> None:
    cmd = [*DICOMTUI, "findscu", "127.0.0.1", str(pacs.dicom_port), "-aec", "ORTHANC"]
    keys = ["-k", "QueryRetrieveLevel=SERIES", "-k", "Modality=", "-k", "SeriesInstanceUID="]
    done = run([*cmd, "-S", *keys, "-v", "-w"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    log = done.stderr.splitlines()
    assert "I: Sending Find Request: MsgID 1" in log
    assert "I: # Request Identifier" in log
    for number in (1, 2, 3):
        assert f"I: Find SCP Response: {number} - 0xFF00 (Pending)" in log
    assert log.count("I: # Response Identifier") == 3
    assert any(line.startswith("I: (0008,0060) CS [MR]") for line in log)
    assert "I: Find SCP Result: 0x0000 (Success)" in log
    written = sorted(p.name for p in tmp_path.glob("rsp*.dcm"))
    assert written == ["rsp000001.dcm", "rsp000002.dcm", "rsp000003.dcm"]
    assert {dcmread(tmp_path / name).Modality for name in written} == {"CT", "MR", "OT"}

    # Without -v: nothing on stderr, a table of the matches on stdout.
    done = run([*cmd, "-S", *keys], cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    rows = done.stdout.splitlines()
    assert rows[0].split() == ["Modality", "SeriesInstanceUID"]
    assert sorted(row.split()[0] for row in rows[1:]) == ["CT", "MR", "OT"]


def test_movescu_into_our_receiver_byte_for_byte(pacs: Orthanc, tmp_path: Path) -> None:
    out = tmp_path / "moved"
    done = run(
        [
            *DICOMTUI, "movescu", "127.0.0.1", str(pacs.dicom_port), "-aec", "ORTHANC",
            "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=PID-ORTHANC",
            "--store", "--store-port", str(pacs.store_port), "-od", str(out), "-v",
        ]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "I: Sending Move Request: MsgID 1" in done.stderr
    assert "I: Move SCP Result: 0x0000 (Success)" in done.stderr
    assert "I: Sub-Operations Remaining: 0, Completed: 8, Failed: 0, Warning: 0" in done.stderr
    assert by_uid(stored_files(out)) == by_uid(pacs.files)  # type: ignore[attr-defined]


def test_getscu_byte_for_byte(pacs: Orthanc, tmp_path: Path) -> None:
    out = tmp_path / "got"
    done = run(
        [
            *DICOMTUI, "getscu", "127.0.0.1", str(pacs.dicom_port), "-aec", "ORTHANC",
            "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=PID-ORTHANC", "-od", str(out),
        ]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Get: 8 completed, 0 failed, 0 with warnings" in done.stdout
    assert "8 objects stored" in done.stdout
    assert by_uid(stored_files(out)) == by_uid(pacs.files)  # type: ignore[attr-defined]


def test_get_publishes_progress_and_objects(pacs: Orthanc, tmp_path: Path) -> None:
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    query = build_query(["QueryRetrieveLevel=STUDY", "PatientID=PID-ORTHANC"])
    study = find(pacs, "QueryRetrieveLevel=STUDY", "PatientID=PID-ORTHANC", "StudyInstanceUID=")
    query.StudyInstanceUID = study[0].StudyInstanceUID
    job = GetJob(
        network(pacs, "GETSCU"),
        query,
        bus,
        ReceiverSettings(output_directory=tmp_path / "got"),
        model=Model.STUDY,
    )
    result = job.run()
    assert result.ok and result.completed == 8 and result.received == 8
    assert len([e for e in events if isinstance(e, ObjectReceived) and e.path]) == 8
    progress = [e for e in events if isinstance(e, RetrieveProgress)]
    assert progress and progress[-1].completed == 8 and progress[-1].remaining == 0


def test_move_to_an_unknown_destination_is_explained(pacs: Orthanc) -> None:
    done = run(
        [
            *DICOMTUI, "movescu", "127.0.0.1", str(pacs.dicom_port), "-aec", "ORTHANC",
            "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=PID-ORTHANC", "-aem", "NOBODY",
        ]
    )  # fmt: skip
    assert done.returncode == 1
    # Orthanc 1.10 answers 0xC000, not 0xA801 (dcmqrscp's test checks that one).
    assert "E: Move SCP Result: 0xC000 (Failure - Unable to Process)" in done.stderr
    assert "do not know the move destination NOBODY" in done.stderr
    assert "our AE title, host and port" in done.stderr


@pytest.mark.parametrize(
    ("charset", "name", "encoding"),
    [("ISO_IR 100", "MÜLLER^Jörg", "Latin1"), ("ISO_IR 192", "Ελληνικά^Όνομα", "Utf8")],
)
def test_patient_names_in_their_character_set(
    start_orthanc: Callable[..., Orthanc], tmp_path: Path, charset: str, name: str, encoding: str
) -> None:
    """Orthanc answers in its DefaultEncoding (ISO_IR 100 or ISO_IR 192), saying so
    in the response; the name must arrive as it was stored."""
    orthanc = start_orthanc(
        DicomModalities={"find": ["FINDSCU", "127.0.0.1", free_port()]},
        DefaultEncoding=encoding,
    )
    ds = dcmread(make_study(tmp_path / "study")[0])
    ds.SpecificCharacterSet = charset
    ds.PatientName = name
    ds.PatientID = "PID-CHARSET"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(tmp_path / "named.dcm", enforce_file_format=True)
    orthanc.request("POST", "/instances", (tmp_path / "named.dcm").read_bytes())
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    query = build_query(["QueryRetrieveLevel=PATIENT", "PatientID=PID-CHARSET", "PatientName="])
    assert query.SpecificCharacterSet == "ISO_IR 192"
    job = FindJob(network(orthanc), query, bus)
    assert job.run().status == 0
    assert [str(m.PatientName) for m in job.matches] == [name]
    assert [m.SpecificCharacterSet for m in job.matches] == [charset]
    response = next(e for e in events if isinstance(e, QueryResponse) and e.values)
    assert ("PatientName", name) in response.values
    # ... and a query by that name, sent in UTF-8, finds it.
    by_name = build_query(["QueryRetrieveLevel=PATIENT", f"PatientName={name}", "PatientID="])
    job = FindJob(network(orthanc), by_name, bus)
    assert job.run().status == 0
    assert [m.PatientID for m in job.matches] == ["PID-CHARSET"]


def test_cancel_a_get_after_the_first_object(pacs: Orthanc, tmp_path: Path) -> None:
    """C-CANCEL goes at the next object or response after cancel(); the job ends
    and says what arrived."""
    events: list[Event] = []
    bus = EventBus()
    query = build_query(["QueryRetrieveLevel=PATIENT", "PatientID=PID-ORTHANC"])
    job = GetJob(network(pacs, "GETSCU"), query, bus, ReceiverSettings(output_directory=tmp_path))

    def cancel_on_first(event: Event) -> None:
        events.append(event)
        if isinstance(event, ObjectReceived):
            job.cancel()

    bus.subscribe(cancel_on_first)
    result = job.run()
    assert any(isinstance(e, LogMessage) and e.text == "Sending C-CANCEL request" for e in events)
    assert result.received >= 1
    assert result.received == len(stored_files(tmp_path))
    # Orthanc 1.10 stops the sub-operations and answers 0xFE00 (Cancel).
    assert result.status == 0xFE00
    assert result.cancelled and not result.ok
    assert 1 <= result.received < 8
