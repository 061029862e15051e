"""Facts about the DICOM encoding (PS3.5 7) that the lean header walkers share."""

from __future__ import annotations

#: Explicit VR elements with these VRs have a 4-byte length after 2 reserved bytes.
LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
UNDEFINED_LENGTH = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQUENCE_END = 0xFFFEE0DD
