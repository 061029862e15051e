"""The truncation check reads a small file whole and walks it in memory; a large
one through a window. Both say the same of every cut of a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from factory import copy_ct, make_object
from helpers import sendable
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian, JPEGBaseline8Bit

from dicomtui.core.dicom import completeness


def with_sequence(path: Path) -> Path:
    """An object with a nested sequence of undefined length, explicit VR."""
    make_object(path)
    ds = dcmread(path)
    inner = Dataset()
    inner.ReferencedSOPClassUID = "1.2.3"
    inner.ReferencedSOPInstanceUID = "1.2.3.4"
    outer = Dataset()
    outer.ReferencedImageSequence = [inner, inner]
    ds.ReferencedSeriesSequence = [outer]
    ds.save_as(path, enforce_file_format=True)
    return path


def cuts(path: Path, folder: Path) -> list[Path]:
    """The file cut at every 7th byte of its data set (and whole)."""
    data = path.read_bytes()
    offset = sendable(path).dataset_offset
    found = []
    for end in [*range(offset, len(data), 7), len(data)]:
        cut = folder / f"{path.stem}-{end}.dcm"
        cut.write_bytes(data[:end])
        found.append(cut)
    return found


@pytest.mark.parametrize("kind", ["ct", "implicit", "encapsulated", "sequence"])
def test_walking_in_memory_says_what_walking_the_file_says(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / f"{kind}.dcm"
    if kind == "ct":
        copy_ct(source)
    elif kind == "implicit":
        make_object(source, transfer_syntax=ImplicitVRLittleEndian)
    elif kind == "encapsulated":
        make_object(source, transfer_syntax=JPEGBaseline8Bit)
    else:
        with_sequence(source)
    item = sendable(source)
    folder = tmp_path / "cuts"
    folder.mkdir()
    paths = cuts(source, folder)

    def verdicts() -> list[str | None]:
        return [
            completeness.truncation(path, item.dataset_offset, item.transfer_syntax)
            for path in paths
        ]

    in_memory = verdicts()
    monkeypatch.setattr(completeness, "READ_WHOLE", 0)
    assert verdicts() == in_memory
    assert in_memory[-1] is None  # the whole file
    assert sum(1 for verdict in in_memory if verdict) > len(paths) // 2
