"""A PACS with the Study Root model only (no Patient Root, as many have): retrieving
a patient from the browser brings each of the patient's studies instead of failing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factory import CT_IMAGE, make_object
from helpers import dataset_bytes, free_port, stored_files
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from dicomtui.core.qr.browse import BatchRetrieve, Level, RetrieveItem
from dicomtui.core.qr.models import Operation
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import LogMessage

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def study_root_pacs(tmp_path: Path) -> Iterator[tuple[int, list[Path]]]:
    """Two studies of one patient (2 and 3 CT objects), and another patient's study."""
    folder = tmp_path / "pacs"
    folder.mkdir()
    files = []
    for patient_id, count in (("PID-SR", 2), ("PID-SR", 3), ("PID-OTHER", 1)):
        study = generate_uid()
        for index in range(count):
            path = folder / f"{patient_id}-{study[-6:]}-{index}.dcm"
            files.append(
                make_object(
                    path,
                    CT_IMAGE,
                    ExplicitVRLittleEndian,
                    patient_id=patient_id,
                    study_uid=study,
                    modality="CT",
                )
            )
    held = [dcmread(path) for path in files]

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        query = event.identifier
        seen = set()
        for ds in held:
            if query.get("PatientID") and ds.PatientID != query.PatientID:
                continue
            if ds.StudyInstanceUID in seen:
                continue
            seen.add(ds.StudyInstanceUID)
            match = Dataset()
            match.QueryRetrieveLevel = "STUDY"
            match.PatientID = ds.PatientID
            match.StudyInstanceUID = ds.StudyInstanceUID
            yield 0xFF00, match
        yield 0x0000, None

    def on_get(event: Any) -> Iterator[Any]:
        query = event.identifier
        if query.QueryRetrieveLevel != "STUDY":
            yield 0
            yield 0xA900, None  # identifier does not match the model
            return
        wanted = [ds for ds in held if ds.StudyInstanceUID == query.StudyInstanceUID]
        yield len(wanted)
        for ds in wanted:
            yield 0xFF00, ds

    ae = AE("STUDYROOT")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_supported_context(CTImageStorage, ExplicitVRLittleEndian, scu_role=True, scp_role=True)
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port),
        block=False,
        evt_handlers=[(evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get)],
    )
    try:
        yield port, files
    finally:
        server.shutdown()


def test_a_patient_is_retrieved_study_by_study(
    study_root_pacs: tuple[int, list[Path]], tmp_path: Path
) -> None:
    port, files = study_root_pacs
    bus = EventBus()
    logged: list[str] = []
    bus.subscribe(lambda e: logged.append(e.text) if isinstance(e, LogMessage) else None)
    storage = ReceiverSettings(output_directory=tmp_path / "got")
    item = RetrieveItem(Level.PATIENT, "PID-SR", label="PID-SR")
    result = BatchRetrieve(
        SenderSettings(port=port, called_ae_title="STUDYROOT"),
        [item],
        bus,
        Operation.GET,
        storage=storage,
    ).run()

    assert result.ok, result.summary()
    assert [i.level for i, _ in result.results] == [Level.STUDY, Level.STUDY]
    assert result.tally.items == 2 and result.tally.arrived == 5
    assert any("retrieves by study only: PID-SR is retrieved as its 2 studies" in t for t in logged)
    got = sorted(dataset_bytes(p) for p in stored_files(tmp_path / "got"))
    wanted = sorted(dataset_bytes(p) for p in files if p.name.startswith("PID-SR"))
    assert got == wanted  # the patient's five objects, byte for byte, and nobody else's
