"""The Transfer Syntax UID of a Part 10 file, read from its file meta information
without pydicom: a command can tell, before it loads the engine, whether any
pixel data may need decoding."""

from __future__ import annotations

import struct
from pathlib import Path

from dicomtui.core.dicom.encoding import LONG_VRS

_PREAMBLE = 128
#: Enough for any file meta information seen in practice; beyond it, we do not know.
_META_LIMIT = 8192
_TRANSFER_SYNTAX_ELEMENT = 0x0010


class NotPart10(Exception):
    """No ``DICM`` at byte 128: not a file any command would send."""


def transfer_syntax(path: Path) -> str | None:
    """The (0002,0010) value of ``path``'s file meta information; None when it cannot
    be read here (the caller then assumes the worst). Raises :class:`NotPart10`
    and OSError."""
    with path.open("rb") as fp:
        head = fp.read(_PREAMBLE + 4 + _META_LIMIT)
    if len(head) < _PREAMBLE + 4 or head[_PREAMBLE : _PREAMBLE + 4] != b"DICM":
        raise NotPart10(str(path))
    at = _PREAMBLE + 4
    while at + 8 <= len(head):
        group, element = struct.unpack_from("<HH", head, at)
        if group != 0x0002:
            return None
        vr = head[at + 4 : at + 6]
        if vr in LONG_VRS:
            if at + 12 > len(head):
                return None
            (length,) = struct.unpack_from("<I", head, at + 8)
            at += 12
        else:
            (length,) = struct.unpack_from("<H", head, at + 6)
            at += 8
        if element == _TRANSFER_SYNTAX_ELEMENT:
            if vr != b"UI" or at + length > len(head):
                return None
            return head[at : at + length].decode("ascii", "replace").strip("\x00 ")
        at += length
    return None
