"""Finding and inspecting DICOM files on disk, cheaply."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pynetdicom.dsutils import split_dataset

from dicomtui.core.dicom.completeness import truncation

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

_SUMMARY_TAGS = ["PatientName", "PatientID", "Modality", "StudyInstanceUID", "SeriesInstanceUID"]


@dataclass(frozen=True, slots=True)
class DicomFile:
    """A file that can be sent: what its file meta information says."""

    path: Path
    size: int
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    #: Where the data set starts, after the file meta information.
    dataset_offset: int = 0

    @property
    def dataset_length(self) -> int:
        return self.size - self.dataset_offset


@dataclass(frozen=True, slots=True)
class NotSendable:
    path: Path
    reason: str


def collect_paths(paths: Iterable[str | Path], recurse: bool) -> tuple[list[Path], list[Path]]:
    """Files named by ``paths`` (folders listed, recursively with ``recurse``).

    Returns the files, sorted and without repeats, and the paths that do not exist.
    """
    found: set[Path] = set()
    missing: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            if recurse:
                for root, dirs, names in os.walk(path):
                    found.update(Path(root, name) for name in names)
                    # os.walk does not enter linked folders: keep them to be reported.
                    found.update(Path(root, name) for name in dirs if Path(root, name).is_symlink())
            else:
                found.update(child for child in path.iterdir())
        else:
            missing.append(path)
    # Links are kept so that they are reported, not silently dropped.
    return sorted(p for p in found if p.is_file() or p.is_symlink()), missing


def has_dicm_prefix(path: Path) -> bool:
    """True when ``DICM`` sits at byte 128, as in every DICOM file (Part 10)."""
    try:
        with path.open("rb") as fp:
            head = fp.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def inspect_file(path: Path) -> DicomFile | NotSendable:
    """Read the file meta information, walk the element headers, and say whether
    the file can be sent (and if not, why)."""
    if path.is_symlink():
        return NotSendable(path, "Symbolic link (not followed: select its target instead)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        return NotSendable(path, f"Cannot read file ({exc.strerror})")
    if size == 0:
        return NotSendable(path, "Empty file")
    try:
        meta, offset = split_dataset(path)
    except InvalidDicomError:
        return NotSendable(path, "Not a DICOM file (no DICM prefix at byte 128)")
    except OSError as exc:
        return NotSendable(path, f"Cannot read file ({exc.strerror})")
    except Exception as exc:  # pydicom raises many kinds on a broken header
        return NotSendable(path, f"Unreadable DICOM file meta information ({exc})")

    sop_class = meta.get("MediaStorageSOPClassUID")
    sop_instance = meta.get("MediaStorageSOPInstanceUID")
    transfer_syntax = meta.get("TransferSyntaxUID")
    if sop_class == MEDIA_STORAGE_DIRECTORY:
        return NotSendable(path, "DICOMDIR (a media directory, not an object to send)")
    if not sop_class or not sop_instance or not transfer_syntax:
        return NotSendable(path, "Unknown SOP Class or Transfer Syntax UID")
    missing = truncation(path, offset, str(transfer_syntax).strip("\x00 "))
    if missing:
        return NotSendable(path, missing)
    return DicomFile(
        path=path,
        size=size,
        sop_class=str(sop_class).strip("\x00 "),
        sop_instance=str(sop_instance).strip("\x00 "),
        transfer_syntax=str(transfer_syntax).strip("\x00 "),
        dataset_offset=offset,
    )


def read_summary(path: Path) -> dict[str, str]:
    """Patient, modality, study and series of a stored file (empty values if unreadable)."""
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=_SUMMARY_TAGS)
        return {kw: str(ds.get(kw, "") or "") for kw in _SUMMARY_TAGS}
    except Exception:
        return dict.fromkeys(_SUMMARY_TAGS, "")
