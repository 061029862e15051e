"""Patient, modality, study and series of a stored object, read cheaply.

pydicom builds a DataElement for every element it passes, which costs about half a
millisecond for an ordinary image header: more than everything else the receiver
does for a small object. This walks the element headers of the first bytes of the
file and decodes only the five values wanted; anything it does not understand
(big endian, deflated unless given inflated, a header longer than it reads)
falls back to pydicom.
"""

from __future__ import annotations

import struct
from pathlib import Path

from dicomtui.core.dicom.encoding import ITEM as _ITEM
from dicomtui.core.dicom.encoding import ITEM_END as _ITEM_END
from dicomtui.core.dicom.encoding import LONG_VRS as _LONG_VRS
from dicomtui.core.dicom.encoding import SEQUENCE_END as _SEQUENCE_END
from dicomtui.core.dicom.encoding import UNDEFINED_LENGTH as _UNDEFINED
from dicomtui.core.dicom.files import read_summary

WANTED = {
    0x00080060: "Modality",
    0x00100010: "PatientName",
    0x00100020: "PatientID",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
}
_LAST_WANTED = max(WANTED)
_READ = 64 * 1024
_IMPLICIT = "1.2.840.10008.1.2"
_EXPLICIT_LITTLE_FAMILY = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4", "1.2.840.10008.1.2.5")


class _Unreadable(Exception):
    """The fast path gives up; pydicom will read the file instead."""


def summarize(
    path: Path,
    transfer_syntax: str,
    dataset_offset: int | None = None,
    inflated: bytes | None = None,
) -> dict[str, str]:
    """The five values (empty strings where absent); never raises.

    ``inflated``: the start of a deflated data set, inflated (core/deflated), so
    that pydicom need not inflate all of it into memory again.
    """
    if inflated is not None:
        try:
            values: dict[str, str] = dict.fromkeys(WANTED.values(), "")
            _walk(inflated, 0, False, values, depth=0)
            return values
        except (_Unreadable, struct.error, IndexError):
            return read_summary(path)
    implicit = transfer_syntax == _IMPLICIT
    explicit_little = transfer_syntax.startswith(_EXPLICIT_LITTLE_FAMILY) and transfer_syntax != (
        "1.2.840.10008.1.2.1.99"
    )
    if implicit or explicit_little:
        try:
            with path.open("rb") as fp:
                data = fp.read(_READ)
            start = dataset_offset if dataset_offset is not None else _after_meta(data)
            found: dict[str, str] = dict.fromkeys(WANTED.values(), "")
            _walk(data, start, implicit, found, depth=0)
            return found
        except (_Unreadable, struct.error, IndexError, OSError):
            pass
    return read_summary(path)


def _after_meta(data: bytes) -> int:
    """Where the data set starts: after the explicit VR little endian group 0002."""
    if data[128:132] != b"DICM":
        raise _Unreadable
    pos = 132
    while data[pos : pos + 2] == b"\x02\x00":
        pos = _skip_explicit(data, pos)
    return pos


def _skip_explicit(data: bytes, pos: int) -> int:
    vr = data[pos + 4 : pos + 6]
    if vr in _LONG_VRS:
        return pos + 12 + int(struct.unpack_from("<I", data, pos + 8)[0])
    return pos + 8 + int(struct.unpack_from("<H", data, pos + 6)[0])


def _walk(data: bytes, pos: int, implicit: bool, found: dict[str, str], depth: int) -> int:
    """Walk elements from ``pos``; returns where it stopped (end of item at depth > 0)."""
    end = len(data)
    while pos + 8 <= end:
        group, element = struct.unpack_from("<HH", data, pos)
        tag = (group << 16) | element
        if tag == _ITEM_END:
            return pos + 8
        if depth == 0 and tag > _LAST_WANTED:
            return pos
        if implicit:
            length = struct.unpack_from("<I", data, pos + 4)[0]
            value = pos + 8
        else:
            vr = data[pos + 4 : pos + 6]
            if not (vr.isalpha() and vr.isupper()):
                raise _Unreadable  # not explicit VR after all: let pydicom work it out
            if vr in _LONG_VRS:
                length = struct.unpack_from("<I", data, pos + 8)[0]
                value = pos + 12
            else:
                length = struct.unpack_from("<H", data, pos + 6)[0]
                value = pos + 8
        if length == _UNDEFINED:
            pos = _skip_sequence(data, value, implicit, depth)
            continue
        if value + length > end:
            raise _Unreadable  # the header runs past what was read
        if depth == 0 and tag in WANTED:
            raw = data[value : value + length]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            found[WANTED[tag]] = text.rstrip(" \x00")
        pos = value + length
    raise _Unreadable


def _skip_sequence(data: bytes, pos: int, implicit: bool, depth: int) -> int:
    """Skip an undefined-length sequence (or item list) starting at ``pos``."""
    if depth > 8:
        raise _Unreadable
    while pos + 8 <= len(data):
        tag = (struct.unpack_from("<H", data, pos)[0] << 16) | struct.unpack_from(
            "<H", data, pos + 2
        )[0]
        length = struct.unpack_from("<I", data, pos + 4)[0]
        if tag == _SEQUENCE_END:
            return pos + 8
        if tag != _ITEM:
            raise _Unreadable
        if length == _UNDEFINED:
            pos = _walk(data, pos + 8, implicit, {}, depth + 1)
        else:
            pos += 8 + length
    raise _Unreadable
