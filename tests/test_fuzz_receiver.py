"""Thousands of malformed PDUs at the receiver; then it must still store, and only inside its folder."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from factory import CT_IMAGE, copy_ct
from helpers import dataset_bytes, stored_files
from pydicom.uid import ExplicitVRLittleEndian
from raw_dicom import associate_rq, c_store_rq, p_data, release_rq

from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus

ITERATIONS = int(os.environ.get("DICOMTUI_FUZZ_ITERATIONS", "2000"))
EXPLICIT = str(ExplicitVRLittleEndian)


def valid_session(dataset: bytes) -> list[bytes]:
    return [
        associate_rq(
            [(1, CT_IMAGE, [EXPLICIT]), (3, "1.2.840.10008.1.1", [EXPLICIT])], called="DICOMTUI"
        ),
        p_data(1, 0x03, c_store_rq(1, CT_IMAGE, "1.2.826.0.1.3680043.8.498.1")),
        p_data(1, 0x00, dataset[:4000]),
        p_data(1, 0x02, dataset[4000:]),
        release_rq(),
    ]


def mutate(pdu: bytes, rng: random.Random) -> bytes:
    data = bytearray(pdu)
    kind = rng.randrange(7)
    if kind == 0 and data:  # flip bits
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # a lying PDU length
        data[2:6] = struct.pack(
            ">I", rng.choice([0, 1, 5, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)])
        )
    elif kind == 2:  # cut short
        del data[rng.randrange(len(data)) :]
    elif kind == 3:  # random bytes inside
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.randbytes(rng.randint(1, 64))
    elif kind == 4:  # another PDU type
        data[0] = rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xFF])
    elif kind == 5:  # an item length inside lies
        if len(data) > 12:
            at = rng.randrange(6, len(data) - 4)
            data[at : at + 2] = struct.pack(">H", rng.randrange(1 << 16))
    else:  # pure noise
        data = bytearray(rng.randbytes(rng.randint(1, 300)))
    return bytes(data)


def attack(port: int, session: list[bytes], seed: int) -> None:
    rng = random.Random(seed)
    prefix = rng.randrange(len(session))
    victim = rng.randrange(prefix, len(session))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.settimeout(0.3)
            for index in range(prefix):
                sock.sendall(session[index])
            sock.sendall(mutate(session[victim], rng))
            if rng.random() < 0.5:
                for rest in session[victim + 1 :]:
                    sock.sendall(rest)
            with contextlib.suppress(OSError):
                sock.recv(4096)
    except OSError:
        pass  # the receiver hung up on us: that is allowed


# pynetdicom's reader thread for a fuzzed connection sometimes dies on malformed
# input (its state machine raises InvalidEventError, e.g. an A-ASSOCIATE-AC due
# while the peer's garbage already forced an A-ABORT). That is pynetdicom's to
# fix; what this test proves is that the receiver as a whole carries on.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_fuzzed_pdus_then_a_real_store(start_receiver, tmp_path: Path) -> None:
    running = start_receiver(
        handshake_timeout=1.0,
        acse_timeout=2,
        dimse_timeout=2,
        network_timeout=2,
        max_associations=50,
    )
    source = copy_ct(tmp_path / "ct.dcm")
    session = valid_session(dataset_bytes(source))
    with ThreadPoolExecutor(max_workers=16) as pool:  # bounded by the test's timeout
        list(pool.map(lambda seed: attack(running.port, session, seed), range(ITERATIONS)))

    result = SendJob(
        SenderSettings(port=running.port, called_ae_title="DICOMTUI"), [source], EventBus()
    ).run()

    assert result.sent == 1, running.events[-20:]
    assert running.receiver.running
    inside = running.directory.resolve()
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != source:
            assert path.resolve().parent == inside, f"written outside the folder: {path}"
    # Every stored object is whole (a fuzzed one may legitimately have arrived intact).
    for stored in stored_files(running.directory):
        assert stored.read_bytes()[128:132] == b"DICM"
    deadline = time.monotonic() + 10
    while (
        any(p.name.startswith(".") for p in running.directory.iterdir())
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert not any(p.name.startswith(".") for p in running.directory.iterdir()), (
        "partial files were left"
    )
