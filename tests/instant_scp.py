"""A Storage SCP that answers each C-STORE (and C-ECHO) the instant it is complete.

Hand-written PDUs on a plain socket, in its own process: no pynetdicom, no
polling, no shared interpreter lock with the sender under test. It is as quick
as DCMTK's storescp with TCP_NODELAY, the peer that exposed a requestor whose
responses pynetdicom's reactor could take away.

Run as ``python instant_scp.py PORTFILE``: it binds a free port, writes it to
PORTFILE, serves associations one after another until killed, and prints one
line per association (``stored N``) to stdout.

Options script a misbehaving peer (for the sender's fast path):
``--answer N=WHAT`` answers the N-th C-STORE of each association with WHAT: a
status in hex (``B000``; a failure status carries an Error Comment), ``B000+``
(a status with an element a strict decoder does not know), ``abort`` (A-ABORT),
``release`` (A-RELEASE-RQ instead of the response), ``wrong-id`` (a response to
another message), ``silent`` (no answer) or ``stall`` (an answer, then nothing
more read). ``--max-pdu N`` accepts PDUs of at
most N bytes (a longer one: the association is aborted and ``too long`` printed).
``--store DIR`` writes each data set received to DIR/N.bin.
"""

from __future__ import annotations

import argparse
import socket
import struct
import time
from pathlib import Path

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


class Script:
    def __init__(self, answers: dict[int, str], max_pdu: int, store: Path | None) -> None:
        self.answers = answers
        self.max_pdu = max_pdu
        self.store = store
        self.stored_total = 0


SCRIPT = Script({}, 0, None)
ABORT = struct.pack(">BBI", 0x07, 0, 4) + b"\x00\x00\x00\x00"
RELEASE_RQ = struct.pack(">BBI", 0x05, 0, 4) + b"\x00" * 4


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
    user = _item(0x51, struct.pack(">I", SCRIPT.max_pdu)) + _item(0x52, _even(IMPLEMENTATION_UID))
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


def success_rsp(
    request: dict[int, bytes], status: int = 0, responded_to: bytes = b"", extra: bool = False
) -> bytes:
    """The command set of a C-STORE-RSP or C-ECHO-RSP to ``request`` (Success by default)."""
    (field,) = struct.unpack("<H", request[0x0100])
    body = (
        _element(0x0002, request[0x0002])
        + _element(0x0100, struct.pack("<H", field | 0x8000))
        + _element(0x0120, responded_to or request[0x0110])
        + _element(0x0800, struct.pack("<H", 0x0101))
        + _element(0x0900, struct.pack("<H", status))
    )
    if status >= 0xA000 and status & 0xF000 != 0xB000:
        body += _element(0x0902, b"scripted failure")
    if 0x1000 in request:
        body += _element(0x1000, request[0x1000])
    if extra:  # Number of Completed Sub-operations: no C-STORE-RSP has it
        body += _element(0x1021, struct.pack("<H", 0))
    return _element(0x0000, struct.pack("<I", len(body))) + body


def _answer(
    conn: socket.socket, context_id: int, request: dict[int, bytes], number: int = 0
) -> str:
    """Answer as scripted for the ``number``-th C-STORE (0: a C-ECHO); returns what
    was done ("" to go on, else how the association ends)."""
    what = SCRIPT.answers.get(number, "") if number else ""
    if what == "abort":
        conn.sendall(ABORT)
        return "abort"
    if what == "release":
        conn.sendall(RELEASE_RQ)
        return ""
    if what == "silent":
        return ""
    if what == "stall":  # answer, then read nothing more
        conn.sendall(_response_pdu(context_id, success_rsp(request)))
        time.sleep(3600)
    if what == "wrong-id":
        (message_id,) = struct.unpack("<H", request[0x0110])
        rsp = success_rsp(request, responded_to=struct.pack("<H", (message_id + 100) % 65536))
    elif what:
        rsp = success_rsp(request, int(what.rstrip("+"), 16), extra=what.endswith("+"))
    else:
        rsp = success_rsp(request)
    conn.sendall(_response_pdu(context_id, rsp))
    return ""


def _response_pdu(context_id: int, rsp: bytes) -> bytes:
    pdv = struct.pack(">IBB", len(rsp) + 2, context_id, 0x03) + rsp
    return struct.pack(">BBI", 0x04, 0, len(pdv)) + pdv


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
    data_set = bytearray()
    pending: dict[int, bytes] | None = None
    context_id = 1
    while True:
        pdu_type, _, length = struct.unpack(">BBI", _read(conn, 6))
        if SCRIPT.max_pdu and pdu_type == 0x04 and length > SCRIPT.max_pdu:
            print("too long", flush=True)
            conn.sendall(ABORT)
            return stored
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
                else:
                    data_set += fragment
                    if control & 0x02 and pending is not None:
                        stored += 1
                        SCRIPT.stored_total += 1
                        if SCRIPT.store is not None:
                            path = SCRIPT.store / f"{SCRIPT.stored_total}.bin"
                            path.write_bytes(bytes(data_set))
                        data_set.clear()
                        if _answer(conn, context_id, pending, stored) == "abort":
                            return stored
                        pending = None
        elif pdu_type == 0x05:
            conn.sendall(struct.pack(">BBI", 0x06, 0, 4) + b"\x00" * 4)
            return stored
        elif pdu_type == 0x06:  # the answer to our A-RELEASE-RQ
            return stored
        else:
            return stored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port_file")
    parser.add_argument("--answer", action="append", default=[])
    parser.add_argument("--max-pdu", type=int, default=0)
    parser.add_argument("--store", type=Path)
    args = parser.parse_args()
    SCRIPT.answers = {int(k): v for k, v in (a.split("=", 1) for a in args.answer)}
    SCRIPT.max_pdu = args.max_pdu
    SCRIPT.store = args.store
    listener = socket.create_server(("127.0.0.1", 0))
    with open(args.port_file, "w") as fp:
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
