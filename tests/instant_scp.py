"""A Storage SCP that answers each C-STORE (and C-ECHO) the instant it is complete.

Hand-written PDUs on a plain socket, in its own process: no pynetdicom, no
polling, no shared interpreter lock with the sender under test. It is as quick
as DCMTK's storescp with TCP_NODELAY, the peer that exposed a requestor whose
responses pynetdicom's reactor could take away.

Run as ``python instant_scp.py PORTFILE``: it binds a free port, writes it to
PORTFILE, serves associations one after another until killed, and prints one
line per association (``stored N``) to stdout.
"""

from __future__ import annotations

import socket
import struct
import sys

IMPLEMENTATION_UID = b"1.2.826.0.1.3680043.9.3811.99"


def _item(item_type: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(payload)) + payload


def _even(value: bytes) -> bytes:
    return value + b"\x00" if len(value) % 2 else value


def _items(data: bytes) -> list[tuple[int, bytes]]:
    found, pos = [], 0
    while pos + 4 <= len(data):
        item_type, _, length = struct.unpack(">BBH", data[pos : pos + 4])
        found.append((item_type, data[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return found


def associate_ac(request: bytes) -> bytes:
    """Accept every proposed context with its first transfer syntax."""
    header = request[:68]  # protocol version, reserved, called, calling, reserved
    body = bytearray(header)
    body += _item(0x10, b"1.2.840.10008.3.1.1.1")
    for item_type, payload in _items(request[68:]):
        if item_type != 0x20:
            continue
        context_id = payload[0]
        syntaxes = [p for t, p in _items(payload[4:]) if t == 0x40]
        body += _item(0x21, bytes([context_id, 0, 0, 0]) + _item(0x40, syntaxes[0]))
    user = _item(0x51, struct.pack(">I", 0)) + _item(0x52, _even(IMPLEMENTATION_UID))
    body += _item(0x50, user)
    return struct.pack(">BBI", 0x02, 0, len(body)) + bytes(body)


def _command(data: bytes) -> dict[int, bytes]:
    """The elements of an implicit VR little endian command set, by element number."""
    elements, pos = {}, 0
    while pos + 8 <= len(data):
        _group, element, length = struct.unpack("<HHI", data[pos : pos + 8])
        elements[element] = data[pos + 8 : pos + 8 + length]
        pos += 8 + length
    return elements


def _element(element: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0, element, len(value)) + value


def success_rsp(request: dict[int, bytes]) -> bytes:
    """The command set of a Success C-STORE-RSP or C-ECHO-RSP to ``request``."""
    (field,) = struct.unpack("<H", request[0x0100])
    body = (
        _element(0x0002, request[0x0002])
        + _element(0x0100, struct.pack("<H", field | 0x8000))
        + _element(0x0120, request[0x0110])
        + _element(0x0800, struct.pack("<H", 0x0101))
        + _element(0x0900, struct.pack("<H", 0x0000))
    )
    if 0x1000 in request:
        body += _element(0x1000, request[0x1000])
    return _element(0x0000, struct.pack("<I", len(body))) + body


def _answer(conn: socket.socket, context_id: int, request: dict[int, bytes]) -> None:
    rsp = success_rsp(request)
    pdv = struct.pack(">IBB", len(rsp) + 2, context_id, 0x03) + rsp
    conn.sendall(struct.pack(">BBI", 0x04, 0, len(pdv)) + pdv)


def _read(conn: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def serve(conn: socket.socket) -> int:
    """Serve one association; returns how many objects it answered."""
    stored = 0
    command = bytearray()
    pending: dict[int, bytes] | None = None
    context_id = 1
    while True:
        pdu_type, _, length = struct.unpack(">BBI", _read(conn, 6))
        body = _read(conn, length)
        if pdu_type == 0x01:
            conn.sendall(associate_ac(body))
        elif pdu_type == 0x04:
            pos = 0
            while pos < len(body):
                (pdv_length,) = struct.unpack(">I", body[pos : pos + 4])
                context_id, control = body[pos + 4], body[pos + 5]
                fragment = body[pos + 6 : pos + 4 + pdv_length]
                pos += 4 + pdv_length
                if control & 0x01:
                    command += fragment
                    if control & 0x02:
                        pending = _command(bytes(command))
                        command.clear()
                        if pending.get(0x0800) == struct.pack("<H", 0x0101):
                            _answer(conn, context_id, pending)  # C-ECHO: no data set
                            pending = None
                elif control & 0x02 and pending is not None:
                    _answer(conn, context_id, pending)
                    pending = None
                    stored += 1
        elif pdu_type == 0x05:
            conn.sendall(struct.pack(">BBI", 0x06, 0, 4) + b"\x00" * 4)
            return stored
        else:
            return stored


def main() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with open(sys.argv[1], "w") as fp:
        fp.write(str(listener.getsockname()[1]))
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            stored = serve(conn)
        except (ConnectionError, OSError):
            stored = -1
        finally:
            conn.close()
        print(f"stored {stored}", flush=True)


if __name__ == "__main__":
    main()
