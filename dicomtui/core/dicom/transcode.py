"""Decompressing a file for a peer that accepts none of its compressed syntaxes.

pydicom decodes the pixel data (JPEG, JPEG-LS and JPEG 2000 through the
pylibjpeg plugins, RLE with its own decoder) into an Explicit VR Little Endian
data set that keeps its SOP Instance UID and colour space: nothing is lost that
the file still had. A file that was lossy-compressed at source keeps (or gains)
the Lossy Image Compression flag that says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from dicomtui.core.dicom.tables import transfer_syntax_name

#: Compressed syntaxes whose bitstream is always lossless.
LOSSLESS_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.57",  # JPEG Lossless, process 14
        "1.2.840.10008.1.2.4.70",  # JPEG Lossless, process 14 SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 (Lossless Only)
        "1.2.840.10008.1.2.4.92",  # JPEG 2000 Part 2 Multi-component (Lossless Only)
        "1.2.840.10008.1.2.4.201",  # HTJ2K (Lossless Only)
        "1.2.840.10008.1.2.4.202",  # HTJ2K with RPCL Options (Lossless Only)
        "1.2.840.10008.1.2.5",  # RLE Lossless
    }
)

#: Compressed syntaxes that are always lossy, and the Lossy Image Compression
#: Method (0028,2114) that names them (PS3.3 C.7.6.1.1.5.1).
LOSSY_SYNTAXES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51": "ISO_10918_1",  # JPEG Extended
}


class Loss(StrEnum):
    """What the source's compression may have lost."""

    NONE = "none"
    LOSSY = "lossy"
    POSSIBLY = "possibly"


class TranscodeError(Exception):
    """The file cannot be decompressed; the message says why, in one phrase."""


@dataclass(frozen=True, slots=True)
class Decompressed:
    dataset: Dataset
    source_syntax: str
    loss: Loss


def source_loss(transfer_syntax: str, lossy_flag: str) -> Loss:
    """Whether pixel data in ``transfer_syntax`` (with its Lossy Image
    Compression value) were lossy-compressed at source."""
    if transfer_syntax in LOSSY_SYNTAXES or lossy_flag == "01":
        return Loss.LOSSY
    if transfer_syntax in LOSSLESS_SYNTAXES:
        return Loss.NONE
    # JPEG-LS near-lossless, JPEG 2000, HTJ2K: reversible or not, the header does not say.
    return Loss.POSSIBLY


@functools.cache  # asked for every file sent; building a pydicom UID takes 30 us
def is_decompressible(transfer_syntax: str) -> bool:
    """A compressed syntax pydicom knows (whether a decoder is installed or not)."""
    uid = UID(transfer_syntax)
    return uid.is_transfer_syntax and uid.is_compressed


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def decompress_file(path: Path) -> Decompressed:
    """Read ``path`` and decode its pixel data into an Explicit VR Little Endian
    data set (same SOP Instance UID). Raises :class:`TranscodeError`."""
    try:
        ds = dcmread(path)
        source = str(ds.file_meta.TransferSyntaxUID)
    except Exception as exc:  # pydicom raises many kinds on a broken file
        raise TranscodeError(f"cannot read it to decompress ({_one_line(exc)})") from exc
    name = transfer_syntax_name(source)
    lossy_flag = str(ds.get("LossyImageCompression", "") or "").strip()
    if "PixelData" not in ds:
        # Only pixel data is ever encapsulated: the rest is explicit VR little endian already.
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        return Decompressed(ds, source, Loss.NONE)
    try:
        if not UID(source).is_compressed:
            raise TranscodeError(f"{name} is not a compressed transfer syntax pydicom knows")
        # as_rgb=False: no colour conversion, so nothing is rounded away.
        ds.decompress(as_rgb=False, generate_instance_uid=False)
    except TranscodeError:
        raise
    except Exception as exc:  # no decoder, a missing plugin, a corrupt bitstream...
        raise TranscodeError(f"cannot decompress {name} ({_one_line(exc)})") from exc
    _fix_photometric(ds)
    loss = source_loss(source, lossy_flag)
    if source in LOSSY_SYNTAXES and lossy_flag != "01":
        # Once lossy, always flagged (PS3.3 C.7.6.1.1.5): the new syntax no longer says it.
        ds.LossyImageCompression = "01"
        if "LossyImageCompressionMethod" not in ds:
            ds.LossyImageCompressionMethod = LOSSY_SYNTAXES[source]
    return Decompressed(ds, source, loss)


def _fix_photometric(ds: Dataset) -> None:
    """Decoded YBR_FULL_422 is no longer subsampled: it is YBR_FULL (PS3.3 C.7.6.3.1.2)."""
    if ds.get("PhotometricInterpretation") != "YBR_FULL_422":
        return
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    full = ds.Rows * ds.Columns * 3 * ((ds.BitsAllocated + 7) // 8) * frames
    if len(ds.PixelData) >= full:
        ds.PhotometricInterpretation = "YBR_FULL"
