"""The File Meta Information pynetdicom writes at the head of a received object,
encoded directly.

pynetdicom builds a pydicom ``FileMetaDataset`` for every C-STORE and pydicom
writes it: about 0.15 ms per object on the reader thread, while the peer waits.
Five short elements need no data set. The bytes are pydicom's (the tests compare
them); values pydicom would have to encode some other way go through pydicom.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pydicom.filewriter import write_file_meta_info
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION
from pynetdicom.dsutils import create_file_meta

_VERSION = b"\x02\x00\x01\x00OB\x00\x00\x02\x00\x00\x00\x00\x01"


@dataclass(frozen=True, slots=True)
class FileMeta:
    """What pynetdicom's ``create_file_meta`` is given (same keywords)."""

    sop_class_uid: object
    sop_instance_uid: object
    transfer_syntax: object
    implementation_uid: object = PYNETDICOM_IMPLEMENTATION_UID
    implementation_version: object = PYNETDICOM_IMPLEMENTATION_VERSION


def _plain(value: str) -> bool:
    """ASCII, and no value starts or ends with white space (pydicom strips a UID's)."""
    return value.isascii() and all(part == part.strip() for part in value.split("\\"))


def _element(element: int, vr: bytes, value: object, pad: bytes) -> bytes | None:
    if not isinstance(value, str) or not _plain(value):
        return None
    data = value.encode("ascii")
    if len(data) % 2:
        data += pad
    if len(data) > 0xFFFF:
        return None
    return struct.pack("<HH2sH", 0x0002, element, vr, len(data)) + data


def encode_file_meta(meta: FileMeta) -> bytes | None:
    """Group 0002 as pydicom writes it (explicit VR little endian), or ``None``
    when a value is not plain ASCII text (pydicom then writes it)."""
    elements = [
        _element(0x0002, b"UI", meta.sop_class_uid, b"\x00"),
        _element(0x0003, b"UI", meta.sop_instance_uid, b"\x00"),
        _element(0x0010, b"UI", meta.transfer_syntax, b"\x00"),
        _element(0x0012, b"UI", meta.implementation_uid, b"\x00"),
        _element(0x0013, b"SH", meta.implementation_version, b" "),
    ]
    if any(e is None for e in elements):
        return None
    body = _VERSION + b"".join(e for e in elements if e is not None)
    return struct.pack("<HH2sHL", 0x0002, 0x0000, b"UL", 4, len(body)) + body


def write_received_file_meta(fp: object, meta: object, enforce_standard: bool = True) -> None:
    """Stands in for pydicom's ``write_file_meta_info`` where pynetdicom calls it.

    A peer may send an empty or malformed SOP Instance UID: pydicom's strict
    writer then raised on pynetdicom's reader thread, outside its error
    handling, and the association hung. What arrived is written as it is.
    """
    encoded = encode_file_meta(meta) if isinstance(meta, FileMeta) else None
    if encoded is not None:
        fp.write(encoded)  # type: ignore[attr-defined]
        return
    if isinstance(meta, FileMeta):
        meta = create_file_meta(
            sop_class_uid=meta.sop_class_uid,  # type: ignore[arg-type]
            sop_instance_uid=meta.sop_instance_uid,  # type: ignore[arg-type]
            transfer_syntax=meta.transfer_syntax,  # type: ignore[arg-type]
            implementation_uid=meta.implementation_uid,  # type: ignore[arg-type]
            implementation_version=meta.implementation_version,  # type: ignore[arg-type]
        )
    write_file_meta_info(fp, meta, enforce_standard=False)  # type: ignore[arg-type]
