"""Benchmark corpora, made once from pydicom's CT_small.dcm (a real CT header)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid


@dataclass(frozen=True)
class Corpus:
    name: str
    count: int
    rows: int
    columns: int
    frames: int

    @property
    def label(self) -> str:
        size = self.rows * self.columns * 2 * self.frames + 6_000  # CT_small's header
        unit = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB"
        return f"{self.count:,} x {unit}"


TINY = Corpus("tiny", 1000, 64, 64, 1)  # ~10 KB each, a real CT header
SMALL = Corpus("small", 1000, 512, 512, 1)  # ~0.5 MB each
LARGE = Corpus("large", 3, 512, 512, 200)  # ~100 MB multi-frame each


def build(corpus: Corpus, root: Path) -> Path:
    """The corpus's folder, made if missing (or if it holds the wrong number of files)."""
    folder = root / corpus.name
    if folder.is_dir() and len(os.listdir(folder)) == corpus.count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    ds = dcmread(str(get_testdata_file("CT_small.dcm")))
    ds.Rows, ds.Columns = corpus.rows, corpus.columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    frame = bytes(range(256)) * (corpus.rows * corpus.columns * 2 // 256)
    if corpus.frames > 1:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
        ds.NumberOfFrames = corpus.frames
    ds.PixelData = frame * corpus.frames
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    for n in range(corpus.count):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = n + 1
        ds.save_as(folder / f"{n:05d}.dcm", enforce_file_format=True)
    return folder


def total_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())
