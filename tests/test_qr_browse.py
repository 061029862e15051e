"""The PACS browser's queries and batch retrieves (core/qr/browse.py): the search
fields' identifier, and against Orthanc, studies grouped by patient, a study's
series, and a batch C-MOVE into our receiver and C-GET counted from the bus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import free_port, stored_files
from orthanc_peer import Orthanc
from test_orthanc import make_study, start_orthanc

from dicomtui.core.qr.browse import (
    BatchRetrieve,
    Level,
    RetrieveItem,
    SearchFields,
    SeriesRow,
    StudyRow,
    by_patient,
    date_range,
    dicom_date,
    series_query,
    sort_series,
    without_covered,
)
from dicomtui.core.qr.find import FindJob
from dicomtui.core.qr.models import Model, Operation
from dicomtui.core.scp.receiver import Receiver
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import Event, ObjectReceived

__all__ = ["start_orthanc"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(120)


def test_search_fields_make_a_study_level_identifier() -> None:
    ds = SearchFields(
        patient_name="doe",
        birth_date="1970-01-02",
        study_date_from="2024-01-01",
        study_date_to="20240131",
        modality="ct",
        description="chest*",
    ).query()
    assert ds.QueryRetrieveLevel == "STUDY"
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert ds.PatientName == "doe*"  # a prefix, unless it has wildcards
    assert ds.StudyDescription == "chest*"
    assert ds.PatientBirthDate == "19700102"
    assert ds.StudyDate == "20240101-20240131"
    assert ds.ModalitiesInStudy == "CT"
    assert ds.PatientID == "" and ds.AccessionNumber == ""
    assert "NumberOfStudyRelatedInstances" in ds and "StudyInstanceUID" in ds
    assert date_range("20240101", "") == "20240101-"
    assert date_range("", "20240101") == "-20240101"
    assert date_range("20240101", "20240101") == "20240101"
    with pytest.raises(ValueError, match="Birth date"):
        SearchFields(birth_date="yesterday").query()
    with pytest.raises(ValueError, match="ends before it starts"):
        SearchFields(study_date_from="2024-02-01", study_date_to="2024-01-01").query()
    assert dicom_date(" 2024.03.04 ") == "20240304"
    series = series_query("1.2.3")
    assert (series.QueryRetrieveLevel, series.StudyInstanceUID) == ("SERIES", "1.2.3")


def test_items_covered_by_a_patient_or_study_are_not_retrieved_twice() -> None:
    patient = RetrieveItem(Level.PATIENT, "P1")
    study = RetrieveItem(Level.STUDY, "P1", "1.1")
    series = RetrieveItem(Level.SERIES, "P1", "1.1", "1.1.1")
    other = RetrieveItem(Level.SERIES, "P2", "2.1", "2.1.1")
    assert without_covered([series, study, other, study]) == [study, other]
    assert without_covered([series, patient, other]) == [patient, other]
    image = RetrieveItem(Level.IMAGE, "P1", "1.1", "1.1.1", sop_instance_uid="1.1.1.7")
    lone = RetrieveItem(Level.IMAGE, "P2", "2.2", "2.2.2", sop_instance_uid="2.2.2.1")
    assert without_covered([image, series, lone]) == [series, lone]
    assert without_covered([image, study]) == [study]
    model, ds = image.request()
    assert model is Model.STUDY and ds.QueryRetrieveLevel == "IMAGE"
    assert (ds.SeriesInstanceUID, ds.SOPInstanceUID) == ("1.1.1", "1.1.1.7")
    model, ds = series.request()
    assert model is Model.STUDY and ds.SeriesInstanceUID == "1.1.1"
    model, ds = patient.request()
    assert model is Model.PATIENT and (ds.QueryRetrieveLevel, ds.PatientID) == ("PATIENT", "P1")


@pytest.fixture
def pacs(start_orthanc: Callable[..., Orthanc], tmp_path: Path) -> Any:
    """An Orthanc that knows DICOMTUI at ``pacs.our_port``, holding the three-series study of test_orthanc."""
    our_port = free_port()
    orthanc = start_orthanc(DicomModalities={"me": ["DICOMTUI", "127.0.0.1", our_port]})
    orthanc.our_port = our_port  # type: ignore[attr-defined]
    files = make_study(tmp_path / "study")
    for path in files:
        orthanc.request("POST", "/instances", path.read_bytes())
    orthanc.files = files  # type: ignore[attr-defined]
    return orthanc


def network(orthanc: Orthanc) -> SenderSettings:
    return SenderSettings(
        port=orthanc.dicom_port, called_ae_title="ORTHANC", calling_ae_title="DICOMTUI"
    )


def test_search_groups_studies_by_patient_and_a_study_has_its_series(pacs: Orthanc) -> None:
    bus = EventBus()
    job = FindJob(
        network(pacs), SearchFields(patient_name="orthanc").query(), bus, model=Model.STUDY
    )
    assert job.run().status == 0
    patients = by_patient(StudyRow.of(ds) for ds in job.matches)
    assert [(p.name, p.patient_id, len(p.studies), p.instances) for p in patients] == [
        ("ORTHANC^TEST", "PID-ORTHANC", 1, 8)
    ]
    study = patients[0].studies[0]
    assert (study.series, study.instances) == (3, 8)
    job = FindJob(network(pacs), series_query(study.study_uid), bus, model=Model.STUDY)
    assert job.run().status == 0
    series = sort_series(SeriesRow.of(ds, study.study_uid) for ds in job.matches)
    assert sorted((s.modality, s.instances) for s in series) == [("CT", 3), ("MR", 3), ("OT", 2)]
    # No match: no patient.
    job = FindJob(network(pacs), SearchFields(patient_id="NOBODY").query(), bus, model=Model.STUDY)
    assert job.run().status == 0 and job.matches == []


def test_batch_move_into_our_receiver_counts_what_arrived(pacs: Orthanc, tmp_path: Path) -> None:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    receiver = Receiver(
        ReceiverSettings(
            port=pacs.our_port,  # type: ignore[attr-defined]
            ae_title="DICOMTUI",
            output_directory=tmp_path / "in",
        ),
        bus,
    )
    receiver.start()
    try:
        job = FindJob(network(pacs), series_query(_study_uid(pacs)), bus, model=Model.STUDY)
        job.run()
        rows = [SeriesRow.of(ds, _study_uid(pacs)) for ds in job.matches]
        items = [
            RetrieveItem(Level.SERIES, "PID-ORTHANC", r.study_uid, r.series_uid, r.modality)
            for r in rows
            if r.modality in ("CT", "OT")
        ]
        batch = BatchRetrieve(network(pacs), items, bus, Operation.MOVE, destination="DICOMTUI")
        result = batch.run()
    finally:
        receiver.stop()
    assert result.ok, result.summary()
    tally = result.tally
    assert (tally.items, tally.items_done, tally.completed, tally.arrived) == (2, 2, 5, 5)
    # Orthanc's final response leaves Remaining out: nothing is left, not 1.
    assert tally.remaining == 0
    assert result.summary().startswith(
        "Move done: 5 objects arrived (5 completed, 0 failed, 0 with warnings) in"
    ), result.summary()
    assert len(stored_files(tmp_path / "in")) == 5
    assert len([e for e in events if isinstance(e, ObjectReceived)]) == 5


def test_batch_get_and_an_unknown_destination(pacs: Orthanc, tmp_path: Path) -> None:
    bus = EventBus()
    item = RetrieveItem(Level.PATIENT, "PID-ORTHANC", label="ORTHANC^TEST")
    storage = ReceiverSettings(output_directory=tmp_path / "got")
    result = BatchRetrieve(network(pacs), [item], bus, Operation.GET, storage=storage).run()
    assert result.ok and result.tally.arrived == 8 and result.tally.completed == 8
    assert len(stored_files(tmp_path / "got")) == 8

    moved = BatchRetrieve(network(pacs), [item], bus, Operation.MOVE, destination="NOBODY").run()
    assert not moved.ok
    text = moved.summary()
    assert text.startswith("Move failed: 0xC000"), text
    assert "our AE title, host and port" in text


def _study_uid(orthanc: Orthanc) -> str:
    (study,) = orthanc.get("/studies?expand")
    return str(study["MainDicomTags"]["StudyInstanceUID"])
