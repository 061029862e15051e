"""Is a DICOM file whole? Walk its element headers and compare with its size.

Values are skipped with a seek, so a 1 GB object costs a few hundred small reads.
Little endian syntaxes only (implicit, explicit, encapsulated): big endian and
deflated files are taken as whole, as they cannot be walked without decoding.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from dicomtui.core.dicom.encoding import ITEM as _ITEM
from dicomtui.core.dicom.encoding import ITEM_END as _ITEM_END
from dicomtui.core.dicom.encoding import LONG_VRS as _LONG_VRS
from dicomtui.core.dicom.encoding import SEQUENCE_END as _SEQUENCE_END
from dicomtui.core.dicom.encoding import UNDEFINED_LENGTH as _UNDEFINED
from dicomtui.core.dicom.uids import DEFLATED_LITTLE, EXPLICIT_BIG, IMPLICIT_LITTLE

_MAX_DEPTH = 16


class _Short(Exception):
    """The file ends inside an element."""


class _Unknown(Exception):
    """The file is not what its transfer syntax says: it cannot be checked here."""


def truncation(path: Path, dataset_offset: int, transfer_syntax: str) -> str | None:
    """None if the data set is whole (or cannot be checked); else what is missing."""
    if transfer_syntax in (EXPLICIT_BIG, DEFLATED_LITTLE):
        return None
    implicit = transfer_syntax == IMPLICIT_LITTLE
    try:
        with path.open("rb") as fp:
            size = fp.seek(0, 2)
            fp.seek(dataset_offset)
            _walk(fp, size, implicit, depth=0, end=size)
    except _Short as exc:
        return str(exc)
    except (_Unknown, OSError, struct.error):
        return None  # unreadable here: the send will say so
    return None


def _header(fp: BinaryIO, size: int, implicit: bool) -> tuple[int, int, bytes]:
    """(tag, length, VR) of the element at the file position, leaving it at the value."""
    start = fp.tell()
    raw = fp.read(8)
    if len(raw) < 8:
        raise _Short(f"Truncated: the file ends inside an element header at byte {start}")
    group, element = struct.unpack("<HH", raw[:4])
    tag = (group << 16) | element
    if implicit or group == 0xFFFE:
        return tag, struct.unpack("<I", raw[4:])[0], b""
    vr = raw[4:6]
    if not (vr.isalpha() and vr.isupper()):
        raise _Unknown
    if vr in _LONG_VRS:
        more = fp.read(4)
        if len(more) < 4:
            raise _Short(f"Truncated: the file ends inside an element header at byte {start}")
        return tag, struct.unpack("<I", more)[0], vr
    return tag, struct.unpack("<H", raw[6:8])[0], vr


def _walk(fp: BinaryIO, size: int, implicit: bool, depth: int, end: int) -> None:
    """Walk elements until ``end`` (defined length) or an item delimiter (undefined)."""
    if depth > _MAX_DEPTH:
        return
    while fp.tell() < end:
        if size - fp.tell() < 8 and depth == 0:
            return  # trailing padding shorter than an element: not a truncation
        tag, length, vr = _header(fp, size, implicit)
        if tag == _ITEM_END:
            return
        if length == _UNDEFINED:
            # The items of a UN of undefined length are implicit VR (PS3.5 6.2.2).
            _items(fp, size, implicit or vr == b"UN", depth + 1)
            continue
        target = fp.tell() + length
        if target > size:
            missing = target - size
            raise _Short(
                f"Truncated: the data set ends {missing} bytes before its last element does"
            )
        fp.seek(target)


def _items(fp: BinaryIO, size: int, implicit: bool, depth: int) -> None:
    """An undefined-length sequence or encapsulated pixel data: items until the delimiter."""
    while True:
        tag, length, _vr = _header(fp, size, implicit)
        if tag == _SEQUENCE_END:
            return
        if tag != _ITEM:
            return  # not a sequence we can follow: leave it to the peer
        if length == _UNDEFINED:
            _walk(fp, size, implicit, depth, end=size)
        else:
            target = fp.tell() + length
            if target > size:
                raise _Short(f"Truncated: the data set ends {target - size} bytes into an item")
            fp.seek(target)
