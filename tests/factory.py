"""Small DICOM files made at test time."""

from __future__ import annotations

import array
import sys
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def ct_small() -> Path:
    return Path(str(get_testdata_file("CT_small.dcm")))


def make_object(
    path: Path,
    sop_class: str = SECONDARY_CAPTURE,
    transfer_syntax: str = ExplicitVRLittleEndian,
    *,
    sop_instance: str | None = None,
    rows: int = 16,
    columns: int = 16,
    bits: int = 8,
    patient: str = "TEST^PATIENT",
    patient_id: str = "PID-1",
    study_uid: str | None = None,
    series_uid: str | None = None,
    modality: str = "OT",
    extra_bytes: int = 0,
) -> Path:
    """Write a small image object; for compressed syntaxes the pixel data is
    encapsulated as it is (the receiver never decodes, so any frame bytes do)."""
    ts = UID(transfer_syntax)
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance or generate_uid()
    ds.PatientName = patient
    ds.PatientID = patient_id
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = modality
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    values = array.array(
        "B" if bits == 8 else "H", (i % (1 << bits) for i in range(rows * columns))
    )
    if extra_bytes:
        ds.add_new(0x00091010, "LO", "DICOMTUI TEST")
        ds.add_new(0x00091011, "OB", bytes(range(256)) * (extra_bytes // 256 + 1))
    little = values.tobytes() if sys.byteorder == "little" else _swapped(values)
    if ts.is_compressed:
        ds.PixelData = encapsulate([little + b"\x00" * (len(little) % 2)])
        ds["PixelData"].VR = "OB"
    else:
        ds.PixelData = little if ts.is_little_endian or bits == 8 else _swapped(values)
        ds["PixelData"].VR = "OB" if bits == 8 else "OW"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def _swapped(values: array.array[int]) -> bytes:
    copy = array.array(values.typecode, values)
    copy.byteswap()
    return copy.tobytes()


def copy_ct(path: Path, sop_instance: str | None = None) -> Path:
    """CT_small.dcm with a new SOP Instance UID (so several can be sent at once)."""
    ds = dcmread(ct_small())
    ds.SOPInstanceUID = sop_instance or generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


def interop_corpus(folder: Path) -> list[Path]:
    """Objects of several SOP classes and transfer syntaxes for another
    implementation to send or receive: CT_small (explicit VR little endian, with
    private elements), MR in implicit VR, secondary captures in explicit VR little
    and big endian and RLE, a CT in JPEG 2000 (frames as they are, never decoded),
    and a 200 KB image whose data set spans many PDUs."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        copy_ct(folder / "ct.dcm"),
        make_object(folder / "mr-implicit.dcm", MR_IMAGE, ImplicitVRLittleEndian, bits=16),
        make_object(folder / "sc-explicit.dcm"),
        make_object(folder / "sc-big.dcm", transfer_syntax=ExplicitVRBigEndian, bits=16),
        make_object(folder / "sc-rle.dcm", transfer_syntax=RLELossless),
        make_object(folder / "ct-j2k.dcm", CT_IMAGE, JPEG2000Lossless, bits=16, modality="CT"),
        make_object(folder / "sc-large.dcm", rows=320, columns=320, bits=16),
    ]
