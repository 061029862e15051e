"""C-STORE command sets and P-DATA-TF PDUs, encoded and decoded by hand.

pynetdicom builds each command set as a pydicom ``Dataset`` and encodes it
twice (once to measure its group length), about 0.3 ms a message; these take a
few microseconds. They produce the bytes pynetdicom produces for the same
values (``tests/test_dimse_codec.py`` checks that for every field), and the
decoders answer ``None`` for anything they do not fully understand (an element
they do not know, a length that does not fit, a UID that is not one), so that
the caller hands that message to pynetdicom unchanged.

The command set is always Implicit VR Little Endian (PS3.7 6.3.1); elements are
written in tag order; UI values are padded with NUL, AE and LO with a space.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

C_STORE_RQ = 0x0001
C_STORE_RSP = 0x8001
#: Command Data Set Type: no data set follows. Any other value: one does.
NO_DATA_SET = 0x0101
#: What pynetdicom writes when a data set follows.
DATA_SET_FOLLOWS = 0x0001

P_DATA_TF = 0x04
PDU_HEADER = struct.Struct(">BBI")
#: A P-DATA-TF PDU header and one PDV item header: type, reserved, PDU length,
#: item length, presentation context ID, message control header.
PDU_AND_ITEM_HEADER = struct.Struct(">BBIIBB")
#: Message control header bits (PS3.8 E.2).
COMMAND_BIT = 0b01
LAST_BIT = 0b10

_ELEMENT = struct.Struct("<HHI")
_US = struct.Struct("<H")
_UL = struct.Struct("<I")
_UID = re.compile(r"[0-9.]{1,64}")

# Command set element numbers (group 0000).
GROUP_LENGTH = 0x0000
AFFECTED_SOP_CLASS = 0x0002
COMMAND_FIELD = 0x0100
MESSAGE_ID = 0x0110
RESPONDED_TO = 0x0120
PRIORITY = 0x0700
DATA_SET_TYPE = 0x0800
STATUS = 0x0900
OFFENDING_ELEMENT = 0x0901
ERROR_COMMENT = 0x0902
AFFECTED_SOP_INSTANCE = 0x1000
MOVE_ORIGINATOR_AE = 0x1030
MOVE_ORIGINATOR_ID = 0x1031

_REQUEST_ELEMENTS = frozenset(
    {
        GROUP_LENGTH,
        AFFECTED_SOP_CLASS,
        COMMAND_FIELD,
        MESSAGE_ID,
        PRIORITY,
        DATA_SET_TYPE,
        AFFECTED_SOP_INSTANCE,
        MOVE_ORIGINATOR_AE,
        MOVE_ORIGINATOR_ID,
    }
)
_RESPONSE_ELEMENTS = frozenset(
    {
        GROUP_LENGTH,
        AFFECTED_SOP_CLASS,
        COMMAND_FIELD,
        RESPONDED_TO,
        DATA_SET_TYPE,
        STATUS,
        OFFENDING_ELEMENT,
        ERROR_COMMENT,
        AFFECTED_SOP_INSTANCE,
    }
)


@dataclass(frozen=True, slots=True)
class StoreRequest:
    message_id: int
    sop_class_uid: str
    sop_instance_uid: str
    priority: int = 0
    move_originator_ae: str | None = None
    move_originator_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoreResponse:
    responded_to: int
    status: int
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    error_comment: str | None = None
    #: (group << 16 | element) of each offending element.
    offending_elements: tuple[int, ...] | None = None


# --- encoding ---------------------------------------------------------------------------


def _element(number: int, value: bytes) -> bytes:
    return _ELEMENT.pack(0, number, len(value)) + value


def _padded(text: str, pad: bytes) -> bytes:
    raw = text.encode("ascii")
    return raw + pad if len(raw) % 2 else raw


def _command_set(elements: list[bytes]) -> bytes:
    body = b"".join(elements)
    return _element(GROUP_LENGTH, _UL.pack(len(body))) + body


def encode_store_request(request: StoreRequest) -> bytes:
    """The C-STORE-RQ command set for ``request``, a data set to follow."""
    elements = [
        _element(AFFECTED_SOP_CLASS, _padded(request.sop_class_uid, b"\0")),
        _element(COMMAND_FIELD, _US.pack(C_STORE_RQ)),
        _element(MESSAGE_ID, _US.pack(request.message_id)),
        _element(PRIORITY, _US.pack(request.priority)),
        _element(DATA_SET_TYPE, _US.pack(DATA_SET_FOLLOWS)),
        _element(AFFECTED_SOP_INSTANCE, _padded(request.sop_instance_uid, b"\0")),
    ]
    if request.move_originator_ae is not None:
        elements.append(_element(MOVE_ORIGINATOR_AE, _padded(request.move_originator_ae, b" ")))
    if request.move_originator_id is not None:
        elements.append(_element(MOVE_ORIGINATOR_ID, _US.pack(request.move_originator_id)))
    return _command_set(elements)


def encode_store_response(response: StoreResponse) -> bytes:
    """The C-STORE-RSP command set for ``response`` (no data set follows)."""
    elements = []
    if response.sop_class_uid is not None:
        elements.append(_element(AFFECTED_SOP_CLASS, _padded(response.sop_class_uid, b"\0")))
    elements += [
        _element(COMMAND_FIELD, _US.pack(C_STORE_RSP)),
        _element(RESPONDED_TO, _US.pack(response.responded_to)),
        _element(DATA_SET_TYPE, _US.pack(NO_DATA_SET)),
        _element(STATUS, _US.pack(response.status)),
    ]
    if response.offending_elements is not None:
        tags = b"".join(
            struct.pack("<HH", tag >> 16, tag & 0xFFFF) for tag in response.offending_elements
        )
        elements.append(_element(OFFENDING_ELEMENT, tags))
    if response.error_comment is not None:
        elements.append(_element(ERROR_COMMENT, _padded(response.error_comment, b" ")))
    if response.sop_instance_uid is not None:
        elements.append(_element(AFFECTED_SOP_INSTANCE, _padded(response.sop_instance_uid, b"\0")))
    return _command_set(elements)


def p_data_pdus(
    context_id: int, is_command: bool, data: bytes | bytearray | memoryview, max_pdu: int
) -> list[bytes | memoryview]:
    """``data`` as P-DATA-TF PDUs of one fragment each, as pynetdicom sends a
    message: buffers to send in order (a PDU's headers, then its fragment).

    ``max_pdu`` is the peer's maximum PDU length (0: no limit); each fragment
    carries at most ``max_pdu - 6`` bytes, rounded down to even: PS3.8 E.1 wants
    every fragment even (pynetdicom cuts at ``max_pdu - 6`` whatever it is, so a
    peer offering an odd maximum got odd fragments). An empty ``data`` is no PDU.
    """
    view = memoryview(data)
    size = len(view)
    step = size if max_pdu == 0 else max_pdu - 6
    if max_pdu and step > 0:
        step = max(step & ~1, 2)
    if step <= 0:
        step = max(size, 1)
    control = COMMAND_BIT if is_command else 0
    buffers: list[bytes | memoryview] = []
    pack = PDU_AND_ITEM_HEADER.pack
    for start in range(0, size, step):
        end = min(start + step, size)
        last = LAST_BIT if end == size else 0
        length = end - start
        buffers.append(pack(P_DATA_TF, 0, length + 6, length + 2, context_id, control | last))
        buffers.append(view[start:end])
    return buffers


# --- decoding ---------------------------------------------------------------------------


def _elements(command: bytes | bytearray | memoryview) -> dict[int, bytes] | None:
    found: dict[int, bytes] = {}
    size = len(command)
    offset = 0
    unpack = _ELEMENT.unpack_from
    while offset < size:
        if offset + 8 > size:
            return None
        group, number, length = unpack(command, offset)
        offset += 8
        end = offset + length
        if group != 0 or end > size or number in found:
            return None
        found[number] = bytes(command[offset:end])
        offset = end
    return found


def _us(value: bytes | None) -> int | None:
    if value is None or len(value) != 2:
        return None
    return int(_US.unpack(value)[0])


def _uid(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        text = value.decode("ascii").rstrip("\0 ")
    except UnicodeDecodeError:
        return None
    if not _UID.fullmatch(text) or text.startswith(".") or text.endswith(".") or ".." in text:
        return None
    return text


def _text(value: bytes, longest: int) -> str | None:
    try:
        text = value.decode("ascii").strip(" \0")
    except UnicodeDecodeError:
        return None
    if len(text) > longest or "\\" in text or not text.isprintable():
        return None
    return text


def decode_store_request(command: bytes | bytearray | memoryview) -> StoreRequest | None:
    """The C-STORE-RQ in a command set, if it is one with a data set to follow and
    nothing this module does not know; ``None`` otherwise."""
    elements = _elements(command)
    if elements is None or not elements.keys() <= _REQUEST_ELEMENTS:
        return None
    if _us(elements.get(COMMAND_FIELD)) != C_STORE_RQ:
        return None
    message_id = _us(elements.get(MESSAGE_ID))
    priority = _us(elements.get(PRIORITY))
    data_set_type = _us(elements.get(DATA_SET_TYPE))
    sop_class = _uid(elements.get(AFFECTED_SOP_CLASS))
    sop_instance = _uid(elements.get(AFFECTED_SOP_INSTANCE))
    if (
        message_id is None
        or priority not in (0, 1, 2)
        or data_set_type in (None, NO_DATA_SET)
        or sop_class is None
        or sop_instance is None
    ):
        return None
    originator_ae = None
    if MOVE_ORIGINATOR_AE in elements:
        originator_ae = _text(elements[MOVE_ORIGINATOR_AE], 16)
        if not originator_ae:
            return None
    originator_id = None
    if MOVE_ORIGINATOR_ID in elements:
        originator_id = _us(elements[MOVE_ORIGINATOR_ID])
        if originator_id is None:
            return None
    return StoreRequest(
        message_id=message_id,
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        priority=priority,
        move_originator_ae=originator_ae,
        move_originator_id=originator_id,
    )


def decode_store_response(command: bytes | bytearray | memoryview) -> StoreResponse | None:
    """The C-STORE-RSP in a command set; ``None`` if it is not one, or has
    anything this module does not know."""
    elements = _elements(command)
    if elements is None or not elements.keys() <= _RESPONSE_ELEMENTS:
        return None
    if _us(elements.get(COMMAND_FIELD)) != C_STORE_RSP:
        return None
    responded_to = _us(elements.get(RESPONDED_TO))
    status = _us(elements.get(STATUS))
    if responded_to is None or status is None:
        return None
    sop_class = sop_instance = None
    if AFFECTED_SOP_CLASS in elements:
        sop_class = _uid(elements[AFFECTED_SOP_CLASS])
        if sop_class is None:
            return None
    if AFFECTED_SOP_INSTANCE in elements:
        sop_instance = _uid(elements[AFFECTED_SOP_INSTANCE])
        if sop_instance is None:
            return None
    comment = None
    if ERROR_COMMENT in elements:
        comment = _text(elements[ERROR_COMMENT], 64)
        if comment is None:
            return None
    offending = None
    if OFFENDING_ELEMENT in elements:
        raw = elements[OFFENDING_ELEMENT]
        if len(raw) % 4:
            return None
        offending = tuple(group << 16 | number for group, number in struct.iter_unpack("<HH", raw))
    return StoreResponse(
        responded_to=responded_to,
        status=status,
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        error_comment=comment,
        offending_elements=offending,
    )


def pdv_items(
    body: bytes | bytearray | memoryview, length: int
) -> list[tuple[int, int, int, int]] | None:
    """The PDV items of a P-DATA-TF PDU body (``body[:length]``): each item's
    context ID, message control header and the span of its fragment in ``body``.
    ``None`` if the body is short or an item does not fit."""
    if len(body) < length:
        return None
    items = []
    offset = 0
    while offset < length:
        if offset + 6 > length:
            return None
        end = offset + 4 + int.from_bytes(body[offset : offset + 4], "big")
        if not offset + 6 <= end <= length:
            return None
        items.append((body[offset + 4], body[offset + 5], offset + 6, end))
        offset = end
    return items or None


def join_fragments(body: bytes | bytearray | memoryview, spans: Sequence[tuple[int, int]]) -> bytes:
    """The fragments at ``spans`` of ``body``, in one piece."""
    view = memoryview(body)
    return b"".join(view[start:end] for start, end in spans)
