"""Query/retrieve against pynetdicom's own qrscp app (``python -m pynetdicom qrscp``),
a third Q/R SCP beside Orthanc and DCMTK's dcmqrscp, with a configuration the
test writes: its SQLite database and instance folder in tmp_path, and our
receiver (STORESCP at a free port) as its one known move destination.

The study goes in by C-STORE (``dicomtui storescu``); ``dicomtui findscu`` finds it
at study level; ``dicomtui getscu`` and ``dicomtui movescu --store`` bring it back,
and a move to an AE title qrscp does not know is answered 0xA801.

What qrscp does not do, so is not tested here:

- It matches instances, not studies: a study-level C-FIND gets one response per
  instance of the study (each with the study's keys), and it does not compute
  NumberOfStudyRelatedSeries/Instances.
- As the acceptor it picks the first transfer syntax of its own list that we
  propose, implicit VR little endian before explicit, so an object kept in
  explicit VR comes back by C-GET re-encoded in implicit VR: the same data set
  once decoded, not the same bytes. Objects kept in implicit VR come back byte
  for byte; C-MOVE opens its association with each object's own syntax, so
  everything moved comes back byte for byte.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from factory import CT_IMAGE, MR_IMAGE, SECONDARY_CAPTURE, make_object
from helpers import (
    DICOMTUI,
    Processes,
    dataset_bytes,
    free_port,
    run,
    same_content,
    stored_files,
    wait_for_port,
)
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

pytestmark = pytest.mark.timeout(90)

QRSCP_AET = "QRSCP"


def require_sqlalchemy() -> None:
    """qrscp keeps its database with SQLAlchemy (in the test extras)."""
    if importlib.util.find_spec("sqlalchemy") is None:
        if os.environ.get("DICOMTUI_REQUIRE_PEERS"):
            pytest.fail("pynetdicom's qrscp needs sqlalchemy (DICOMTUI_REQUIRE_PEERS is set)")
        pytest.skip("pynetdicom's qrscp needs sqlalchemy (pip install -e '.[test]')")


def make_study(folder: Path) -> list[Path]:
    """One patient, one study: a CT series in implicit VR, an MR series and a
    secondary capture in explicit VR."""
    folder.mkdir()
    study = generate_uid()
    files = []
    for sop_class, modality, count, bits, syntax in (
        (CT_IMAGE, "CT", 3, 16, ImplicitVRLittleEndian),
        (MR_IMAGE, "MR", 3, 16, ExplicitVRLittleEndian),
        (SECONDARY_CAPTURE, "OT", 2, 8, ExplicitVRLittleEndian),
    ):
        series = generate_uid()
        for index in range(count):
            files.append(
                make_object(
                    folder / f"{modality}{index}.dcm",
                    sop_class,
                    syntax,
                    patient="QRSCP^TEST",
                    patient_id="PID-QRSCP",
                    study_uid=study,
                    series_uid=series,
                    modality=modality,
                    bits=bits,
                    rows=32,
                    columns=32 + index,
                )
            )
    return files


class QR:
    """The running qrscp, its ports and the files stored into it."""

    def __init__(self, port: int, store_port: int, files: list[Path], study: str) -> None:
        self.port = port
        self.store_port = store_port
        self.files = files
        self.study = study


@pytest.fixture
def qrscp(tmp_path: Path, processes: Processes) -> QR:
    require_sqlalchemy()
    port, store_port = free_port(), free_port()
    config = tmp_path / "qrscp.ini"
    # Absolute paths: qrscp puts relative ones beside its own module.
    config.write_text(
        f"""[DEFAULT]
ae_title: {QRSCP_AET}
port: {port}
max_pdu: 16382
acse_timeout: 30
dimse_timeout: 30
network_timeout: 30
bind_address: 127.0.0.1
instance_location: {tmp_path / "qrscp-instances"}
database_location: {tmp_path / "qrscp.sqlite"}
log_identifier: False

[STORESCP]
address: 127.0.0.1
port: {store_port}
"""
    )
    # Not -v: its output goes to a pipe nobody reads while it runs.
    proc = processes.start([sys.executable, "-m", "pynetdicom", "qrscp", "-c", str(config)])
    wait_for_port(port, proc=proc)

    files = make_study(tmp_path / "study")
    sent = run(
        [*DICOMTUI, "storescu", "-aec", QRSCP_AET, "127.0.0.1", str(port), str(files[0].parent)]
    )
    assert sent.returncode == 0, sent.stderr
    assert "8 sent, 0 with warnings, 0 failed" in sent.stdout + sent.stderr
    study = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    return QR(port, store_port, files, study)


def by_uid(files: list[Path]) -> dict[str, Path]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in files}


def retrieve(qr: QR, command: str, *extra: str) -> Any:
    return run(
        [
            *DICOMTUI, command, "127.0.0.1", str(qr.port), "-aec", QRSCP_AET, "-S",
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={qr.study}", *extra,
        ]
    )  # fmt: skip


def test_findscu_finds_the_study(qrscp: QR, tmp_path: Path) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    done = run(
        [
            *DICOMTUI, "findscu", "127.0.0.1", str(qrscp.port), "-aec", QRSCP_AET, "-S",
            "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=PID-QRSCP",
            "-k", "StudyInstanceUID=", "-k", "PatientName=", "-w",
        ],
        cwd=answers,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    responses = [dcmread(p) for p in sorted(answers.glob("rsp*.dcm"))]
    # One response per instance (qrscp matches instances), all of this one study.
    assert len(responses) == len(qrscp.files), done.stderr
    assert {r.StudyInstanceUID for r in responses} == {qrscp.study}
    assert {str(r.PatientName) for r in responses} == {"QRSCP^TEST"}

    nothing = run(
        [
            *DICOMTUI, "findscu", "127.0.0.1", str(qrscp.port), "-aec", QRSCP_AET, "-S",
            "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=NOBODY", "-k", "StudyInstanceUID=", "-v",
        ]
    )  # fmt: skip
    assert nothing.returncode == 0, nothing.stderr
    assert "I: Query done: 0 matches" in nothing.stderr


def test_getscu_brings_the_study_back(qrscp: QR, tmp_path: Path) -> None:
    out = tmp_path / "got"
    done = retrieve(qrscp, "getscu", "-od", str(out))
    assert done.returncode == 0, done.stderr
    assert "Get: 8 completed, 0 failed, 0 with warnings" in done.stdout
    got, sent = by_uid(stored_files(out)), by_uid(qrscp.files)
    assert sorted(got) == sorted(sent)
    for uid, original in sent.items():
        syntax = dcmread(original, stop_before_pixels=True).file_meta.TransferSyntaxUID
        if syntax == ImplicitVRLittleEndian:
            assert dataset_bytes(got[uid]) == dataset_bytes(original), original.name
        else:  # re-encoded by qrscp in implicit VR (see the module's docstring)
            assert same_content(got[uid], original), original.name


def test_movescu_store_brings_the_study_back_byte_for_byte(qrscp: QR, tmp_path: Path) -> None:
    out = tmp_path / "moved"
    done = retrieve(
        qrscp, "movescu", "--store", "--store-port", str(qrscp.store_port), "-od", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "8 completed, 0 failed, 0 with warnings" in done.stdout + done.stderr
    moved, sent = by_uid(stored_files(out)), by_uid(qrscp.files)
    assert sorted(moved) == sorted(sent)
    for uid, original in sent.items():
        assert dataset_bytes(moved[uid]) == dataset_bytes(original), original.name

    unknown = retrieve(qrscp, "movescu", "-aem", "NOBODY")
    assert unknown.returncode == 1
    assert "E: Move SCP Result: 0xA801 (Failure - Move destination unknown)" in unknown.stderr
