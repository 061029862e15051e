"""Whether a data set received as Deflated Explicit VR Little Endian inflates.

The receiver writes the data set as it arrives, never decoding it. For the deflated
transfer syntax that kept streams that do not inflate: files that no reader can
open, answered Success. This inflates the received file once, as it lies on disk,
in 1 MiB pieces with at most 1 MiB of output at a time, so memory stays flat and a
"deflate bomb" is stopped at the receiver's largest-object limit. The inflated data
is dropped but for its first 64 KiB, which hold the header the receiver summarises.

PS3.5 A.5: the stream is raw deflate (RFC 1951, no zlib header), and may be
followed by one padding byte; what follows the end of the stream is ignored.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from dicomtui.core.units import human_size

#: Compressed bytes read, and inflated bytes made, at a time.
PIECE = 1024 * 1024
#: Inflated bytes kept: the start of the data set, for the header summary.
HEAD = 64 * 1024
_PREAMBLE = 128 + 4  # then (0002,0000) UL, 4 bytes: the length of the rest of group 0002


@dataclass(frozen=True, slots=True)
class Inflation:
    """What inflating a received data set found."""

    #: Empty if the stream inflates to its end.
    error: str = ""
    #: The error is in the data the peer sent (a C-STORE status 0xC000, "cannot
    #: understand"); otherwise it is a limit or a local failure (0xA700).
    peer_at_fault: bool = False
    #: The first ``HEAD`` bytes of the inflated data set.
    head: bytes = b""
    #: Inflated bytes.
    size: int = 0


def dataset_offset(start: bytes) -> int:
    """Where the data set begins in a received file whose first 144 bytes are
    ``start``: after the File Meta Information, whose group length we wrote."""
    if start[128:132] != b"DICM" or start[132:140] != b"\x02\x00\x00\x00UL\x04\x00":
        raise ValueError("the received file has no File Meta Information group length")
    return _PREAMBLE + 12 + int(struct.unpack("<I", start[140:144])[0])


def inflate_received(path: Path, limit: int = 0) -> Inflation:
    """Inflate the data set of the received file at ``path`` (``limit``: the most
    inflated bytes allowed, 0 for no limit)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    head = bytearray()
    size = 0
    try:
        with path.open("rb") as fp:
            fp.seek(dataset_offset(fp.read(_PREAMBLE + 12)))
            pending = b""
            ended = False
            while not inflater.eof:
                if not pending and not ended:
                    pending = fp.read(PIECE)
                    ended = not pending
                out = inflater.decompress(pending, PIECE)
                pending = inflater.unconsumed_tail
                if ended and not out:
                    break  # the file ended, and zlib holds nothing more
                size += len(out)
                if len(head) < HEAD:
                    head += out[: HEAD - len(head)]
                if limit and size > limit:
                    return Inflation(
                        f"the deflated data set inflates to more than the "
                        f"{human_size(limit)} limit on one object",
                        size=size,
                    )
    except zlib.error as exc:
        return Inflation(f"the deflated data set does not inflate ({exc})", True, bytes(head), size)
    except (OSError, ValueError) as exc:
        return Inflation(f"cannot read the received data set: {exc}", size=size)
    if not inflater.eof:
        return Inflation(
            "the deflated data set ends before its deflate stream does", True, bytes(head), size
        )
    return Inflation(head=bytes(head), size=size)
