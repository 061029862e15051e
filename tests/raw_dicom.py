"""A raw DICOM peer for hostile tests: PDUs built by hand, sent byte by byte.

pynetdicom's own client validates what it sends; a hostile or broken peer does
not, so these helpers write the bytes of the Upper Layer protocol (PS3.8) directly.
"""

from __future__ import annotations

import socket
import struct
import time

from factory import CT_IMAGE
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom.dsutils import encode

APPLICATION_CONTEXT = b"1.2.840.10008.3.1.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT = str(ExplicitVRLittleEndian)


def _item(item_type: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(payload)) + payload


def _uid(value: str) -> bytes:
    data = value.encode("ascii")
    return data + b"\x00" if len(data) % 2 else data


def associate_rq(
    contexts: list[tuple[int, str, list[str]]],
    calling: str = "RAWPEER",
    called: str = "ANY-SCP",
    max_pdu: int = 16384,
) -> bytes:
    """An A-ASSOCIATE-RQ PDU proposing (context id, abstract syntax, [transfer syntaxes])."""
    body = struct.pack(">HH", 1, 0)
    body += called.encode().ljust(16) + calling.encode().ljust(16) + b"\x00" * 32
    body += _item(0x10, APPLICATION_CONTEXT)
    for context_id, abstract, syntaxes in contexts:
        sub = _item(0x30, _uid(abstract)) + b"".join(_item(0x40, _uid(ts)) for ts in syntaxes)
        body += _item(0x20, struct.pack(">BBBB", context_id, 0, 0, 0) + sub)
    user = _item(0x51, struct.pack(">I", max_pdu)) + _item(0x52, _uid("1.2.3.4.5.6"))
    body += _item(0x50, user)
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def p_data(context_id: int, control: int, data: bytes) -> bytes:
    """A P-DATA-TF PDU with one PDV (control: 0x03 last command fragment, 0x02 last data...)."""
    return p_data_items([(context_id, control, data)])


def p_data_items(items: list[tuple[int, int, bytes]]) -> bytes:
    """A P-DATA-TF PDU with a PDV for each (context id, control, data)."""
    body = b"".join(
        struct.pack(">IBB", len(data) + 2, context_id, control) + data
        for context_id, control, data in items
    )
    return struct.pack(">BBI", 0x04, 0, len(body)) + body


def c_store_rq(message_id: int, sop_class: str, sop_instance: str) -> bytes:
    """The command set of a C-STORE-RQ, as the wire carries it (implicit VR little endian)."""
    cmd = Dataset()
    cmd.AffectedSOPClassUID = sop_class
    cmd.CommandField = 0x0001
    cmd.MessageID = message_id
    cmd.Priority = 2
    cmd.CommandDataSetType = 0x0000
    cmd.AffectedSOPInstanceUID = sop_instance
    without_length = encode(cmd, True, True)
    assert without_length is not None
    cmd.CommandGroupLength = len(without_length)
    encoded = encode(cmd, True, True)
    assert encoded is not None
    return encoded


def release_rq() -> bytes:
    return struct.pack(">BBI", 0x05, 0, 4) + b"\x00" * 4


class RawPeer:
    """A TCP connection that speaks whatever bytes it is given."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_pdu(self) -> tuple[int, bytes]:
        """(PDU type, body); (0, b"") when the peer closed the connection."""
        header = self._read(6)
        if len(header) < 6:
            return 0, b""
        pdu_type, _, length = struct.unpack(">BBI", header)
        return pdu_type, self._read(length)

    def _read(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            try:
                chunk = self.sock.recv(count - len(data))
            except (TimeoutError, OSError):
                break
            if not chunk:
                break
            data += chunk
        return data

    def closed_by_peer(self, within: float = 5.0) -> bool:
        deadline = time.monotonic() + within
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if self.sock.recv(65536) == b"":
                    return True
            except TimeoutError:
                continue
            except OSError:
                return True
        return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def store_status(body: bytes) -> int | None:
    """The Status of a C-STORE-RSP carried in a P-DATA-TF body, if it is there."""
    pos = 0
    while pos + 6 <= len(body):
        length = struct.unpack(">I", body[pos : pos + 4])[0]
        data = body[pos + 6 : pos + 4 + length]
        index = data.find(b"\x00\x00\x00\x09")  # (0000,0900) Status, implicit VR
        if index >= 0:
            return int(struct.unpack("<H", data[index + 8 : index + 10])[0])
        pos += 4 + length
    return None


def associate_raw(port: int, calling: str = "RAWPEER", called: str = "DICOMTUI") -> RawPeer:
    """A raw peer associated for CT images in explicit VR little endian (context 1)."""
    peer = RawPeer(port)
    peer.send(associate_rq([(1, CT_IMAGE, [EXPLICIT])], calling=calling, called=called))
    pdu_type, _ = peer.read_pdu()
    assert pdu_type == 0x02, f"expected A-ASSOCIATE-AC, got PDU type {pdu_type:#x}"
    return peer
