"""A real PACS peer: Orthanc (Debian's orthanc package) started by each test on
127.0.0.1 with its own configuration, checked through its REST API.

dicomtui sends a study into Orthanc; Orthanc sends it back into our receiver
(C-STORE as SCU, ``POST /modalities/dicomtui/store``) and echoes it; and an
Orthanc that accepts no compressed syntax gets decompressed objects from us.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factory import CT_IMAGE, MR_IMAGE, SECONDARY_CAPTURE, make_object
from helpers import (
    DICOMTUI,
    Processes,
    dataset_bytes,
    run,
    same_content,
    stored_files,
    wait_for_port,
)
from orthanc_peer import ORTHANC_AET, OUR_AET, Orthanc, launch_orthanc, orthanc_executable
from pydicom import dcmread
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

# Orthanc starts in a fraction of a second here, so each test gets a fresh one.
pytestmark = pytest.mark.timeout(90)

SUCCESS = "Received Store Response (Status: 0x0000 - Success)"
UNCOMPRESSED = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"]


def require_orthanc() -> str:
    """Orthanc's server, by absolute path; skips when missing, unless CI says the
    peers must be there."""
    path = orthanc_executable()
    if path is None:
        if os.environ.get("DICOMTUI_REQUIRE_PEERS"):
            pytest.fail("Orthanc is required (DICOMTUI_REQUIRE_PEERS is set) but not installed")
        pytest.skip("Orthanc is not installed (apt-get install orthanc)")
    return path


@pytest.fixture
def start_orthanc(tmp_path: Path) -> Iterator[Callable[..., Orthanc]]:
    """Start Orthanc with a configuration written into tmp_path (``overrides``
    are added to it); it is stopped at teardown."""
    executable = require_orthanc()
    started: list[Orthanc] = []

    def start(**overrides: Any) -> Orthanc:
        orthanc = launch_orthanc(executable, tmp_path / f"orthanc{len(started)}", **overrides)
        started.append(orthanc)
        return orthanc

    try:
        yield start
    finally:
        for orthanc in started:
            orthanc.stop()


def make_study(folder: Path) -> list[Path]:
    """One patient, one study, three series (CT, MR, secondary capture) of
    several instances, 8 and 16 bits."""
    folder.mkdir()
    study = generate_uid()
    files = []
    for sop_class, modality, count, bits in (
        (CT_IMAGE, "CT", 3, 16),
        (MR_IMAGE, "MR", 3, 16),
        (SECONDARY_CAPTURE, "OT", 2, 8),
    ):
        series = generate_uid()
        for index in range(count):
            files.append(
                make_object(
                    folder / f"{modality}{index}.dcm",
                    sop_class,
                    patient="ORTHANC^TEST",
                    patient_id="PID-ORTHANC",
                    study_uid=study,
                    series_uid=series,
                    modality=modality,
                    bits=bits,
                    rows=32,
                    columns=32 + index,
                )
            )
    return files


def compressed_copy(source: Path, target: Path, syntax: str) -> Path:
    """``source`` compressed losslessly by pydicom (RLE natively, JPEG 2000 with
    pylibjpeg-openjpeg), with its own SOP Instance UID."""
    ds = dcmread(source)
    ds.compress(syntax, generate_instance_uid=True)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(target, enforce_file_format=True)
    return target


def sop_instance(path: Path) -> str:
    return str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_our_storescu_sends_a_study_into_orthanc(
    tmp_path: Path, start_orthanc: Callable[..., Orthanc]
) -> None:
    orthanc = start_orthanc()
    files = make_study(tmp_path / "study")

    result = run(
        [
            *DICOMTUI,
            "storescu",
            "-aec",
            ORTHANC_AET,
            "127.0.0.1",
            str(orthanc.dicom_port),
            str(tmp_path / "study"),
            "-v",
        ]
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(SUCCESS) == len(files)
    assert len(orthanc.get("/instances")) == len(files)
    [study] = orthanc.get("/studies")
    study_info = orthanc.get(f"/studies/{study}")
    assert study_info["MainDicomTags"]["StudyInstanceUID"] == dcmread(files[0]).StudyInstanceUID
    assert len(study_info["Series"]) == 3
    downloaded = tmp_path / "downloaded"
    downloaded.mkdir()
    for source in files:
        uid = sop_instance(source)
        instance = orthanc.lookup(uid)
        tags = orthanc.get(f"/instances/{instance}/simplified-tags")
        assert tags["SOPInstanceUID"] == uid
        assert tags["PatientName"] == "ORTHANC^TEST"
        copy = downloaded / f"{uid}.dcm"
        copy.write_bytes(orthanc.request("GET", f"/instances/{instance}/file"))
        # Orthanc keeps what it received: same data set, same pixel bytes.
        assert dcmread(copy).PixelData == dcmread(source).PixelData
        assert same_content(copy, source)


def test_orthanc_stores_a_study_back_into_our_receiver(
    tmp_path: Path, start_orthanc: Callable[..., Orthanc], processes: Processes
) -> None:
    orthanc = start_orthanc()
    files = make_study(tmp_path / "study")
    # A compressed instance too: our receiver takes it as Orthanc stored it.
    files.append(compressed_copy(files[0], tmp_path / "study" / "CT-rle.dcm", RLELossless))
    for source in files:  # into Orthanc by REST, so this test stands on its own
        orthanc.post("/instances", source.read_bytes())
    [study] = orthanc.get("/studies")
    inbox = tmp_path / "inbox"
    scp = processes.start(
        [
            *DICOMTUI,
            "storescp",
            str(orthanc.our_port),
            "-aet",
            OUR_AET,
            "-od",
            str(inbox),
            "-v",
        ]
    )
    wait_for_port(orthanc.our_port, proc=scp)

    echo = orthanc.post("/modalities/dicomtui/echo", {})
    job = orthanc.post("/modalities/dicomtui/store", {"Resources": [study], "Synchronous": True})
    log = Processes.stop(scp)

    assert echo == {}, echo
    assert job["InstancesCount"] == len(files), job
    assert job["FailedInstancesCount"] == 0, job
    stored = {sop_instance(p): p for p in stored_files(inbox)}
    assert sorted(stored) == sorted(sop_instance(p) for p in files), log
    for source in files:
        received = stored[sop_instance(source)]
        ds, original = dcmread(received), dcmread(source)
        assert ds.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert ds.PixelData == original.PixelData
        assert same_content(received, source)
    # Our receiver writes the data set as it came off the wire: the RLE fragments too.
    rle = files[-1]
    assert dcmread(rle).PixelData in dataset_bytes(stored[sop_instance(rle)])


def test_orthanc_that_takes_no_compressed_syntax_gets_decompressed_objects(
    tmp_path: Path, start_orthanc: Callable[..., Orthanc]
) -> None:
    orthanc = start_orthanc(AcceptedTransferSyntaxes=UNCOMPRESSED)
    originals = make_study(tmp_path / "study")[:3]  # the CT series, 16-bit
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pairs = {
        compressed_copy(originals[0], corpus / "rle.dcm", RLELossless): originals[0],
        compressed_copy(originals[1], corpus / "j2k.dcm", JPEG2000Lossless): originals[1],
    }

    result = run(
        [
            *DICOMTUI,
            "storescu",
            "-aec",
            ORTHANC_AET,
            "127.0.0.1",
            str(orthanc.dicom_port),
            str(corpus),
            "-v",
        ]
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(SUCCESS) == len(pairs)
    for compressed, original in pairs.items():
        assert f"I: Decompressing {compressed} from " in result.stderr
        instance = orthanc.lookup(sop_instance(compressed))
        syntax = orthanc.request("GET", f"/instances/{instance}/metadata/TransferSyntax")
        assert syntax.decode() == ExplicitVRLittleEndian
        ds = dcmread(BytesIO(orthanc.request("GET", f"/instances/{instance}/file")))
        assert ds.SOPInstanceUID == sop_instance(compressed)
        assert np.array_equal(ds.pixel_array, dcmread(original).pixel_array)
