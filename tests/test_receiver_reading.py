"""How the receiver reads PDUs, makes its files ahead and answers: what a peer sees."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import psutil
import pytest
from factory import CT_IMAGE, copy_ct, make_object
from helpers import dataset_bytes, stored_files, wait_until
from pydicom import dcmread
from pynetdicom import AE
from raw_dicom import (
    EXPLICIT,
    associate_raw,
    c_store_rq,
    p_data,
    p_data_items,
    release_rq,
    store_status,
)

from dicomtui.core.net import pdu_reader
from dicomtui.core.stream.events import ConnectionClosed, ObjectLost, ObjectReceived


def every_name(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_a_pdu_trickling_in_a_few_bytes_at_a_time_is_stored_whole(
    start_receiver, tmp_path: Path
) -> None:
    running = start_receiver()
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm", sop_instance="1.2.3.5"))
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, "1.2.3.5")))
        pdu = p_data(1, 0x02, dataset)
        for start in range(0, len(pdu), 997):
            peer.send(pdu[start : start + 997])
            if start % (997 * 4) == 0:
                time.sleep(0.002)
        pdu_type, body = peer.read_pdu()
        assert pdu_type == 0x04 and store_status(body) == 0x0000
        peer.send(release_rq())
        assert peer.read_pdu()[0] == 0x06
    [stored] = stored_files(running.directory)
    assert dataset_bytes(stored) == dataset


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def data_set_pdus(dataset: bytes, shape: str) -> list[bytes]:
    """The P-DATA-TF PDUs of a data set in 1,000-byte fragments (last one marked),
    one per PDU or several per PDU; "mixed" ends on a PDU holding middle
    fragments and the last one; "empty fragments" has data-less ones."""
    fragments = pieces(dataset, 1000)
    items = [(1, 0x00, fragment) for fragment in fragments[:-1]] + [(1, 0x02, fragments[-1])]
    if shape == "one per PDU":
        return [p_data_items([item]) for item in items]
    if shape == "empty fragments":  # an empty one alone in its PDU, and an empty last one
        middle = [(1, 0x00, fragment) for fragment in fragments]
        return [p_data_items([item]) for item in middle[:2]] + [
            p_data_items([(1, 0x00, b"")]),
            *(p_data_items([item]) for item in middle[2:]),
            p_data_items([(1, 0x02, b"")]),
        ]
    if shape == "several per PDU":
        return [p_data_items(items[start : start + 3]) for start in range(0, len(items), 3)]
    assert shape == "mixed"
    return [p_data_items([item]) for item in items[:-4]] + [p_data_items(items[-4:])]


@pytest.mark.parametrize(
    ("shape", "sent_in"),
    [
        ("one per PDU", "one write"),
        ("one per PDU", "7-byte writes"),
        ("several per PDU", "one write"),
        ("several per PDU", "PDU by PDU"),
        ("mixed", "7-byte writes"),
        ("empty fragments", "PDU by PDU"),
    ],
)
def test_a_data_set_in_many_fragments_is_stored_whole(
    start_receiver, tmp_path: Path, shape: str, sent_in: str
) -> None:
    """Middle fragments are written from the socket directly: however the PDUs
    and their headers fall into reads, the file holds exactly the data set."""
    running = start_receiver()
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm", sop_instance="1.2.3.10"))
    pdus = data_set_pdus(dataset, shape)
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, "1.2.3.10")))
        if sent_in == "one write":
            peer.send(b"".join(pdus))
        elif sent_in == "PDU by PDU":
            for pdu in pdus:
                peer.send(pdu)
                time.sleep(0.003)
        else:
            for number, piece in enumerate(pieces(b"".join(pdus), 7)):
                peer.send(piece)
                if number % 500 == 0:
                    time.sleep(0.002)
        pdu_type, body = peer.read_pdu()
        assert pdu_type == 0x04 and store_status(body) == 0x0000
        peer.send(release_rq())
        assert peer.read_pdu()[0] == 0x06
    [stored] = stored_files(running.directory)
    assert dataset_bytes(stored) == dataset


def test_an_object_arriving_steadily_for_longer_than_the_timeout_is_not_cut_off(
    start_receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each fragment counts as activity for the network timeout, also while the
    reader stays with one object's fragments: here it waits up to 0.5 s for
    each (rather than 1 ms), so it stays for the whole object."""
    monkeypatch.setattr(pdu_reader, "FRAGMENT_WAIT", 0.5)
    running = start_receiver(network_timeout=0.3)
    source = make_object(tmp_path / "big.dcm", CT_IMAGE, rows=320, columns=320, bits=16)
    dataset = dataset_bytes(source)
    sop_instance = str(dcmread(source, stop_before_pixels=True).SOPInstanceUID)
    *middle, last = data_set_pdus(dataset, "one per PDU")
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, sop_instance)))
        started = time.monotonic()
        for pdu in middle:  # ~200 PDUs, one every 5 ms
            peer.send(pdu)
            time.sleep(0.005)
        assert time.monotonic() - started > 0.6
        peer.send(last)
        pdu_type, body = peer.read_pdu()
        assert pdu_type == 0x04 and store_status(body) == 0x0000
    [stored] = stored_files(running.directory)
    assert dataset_bytes(stored) == dataset


@pytest.mark.parametrize("then", ["falls silent", "aborts"])
def test_a_peer_that_stops_inside_a_data_set_loses_that_object_only(
    start_receiver, tmp_path: Path, then: str
) -> None:
    running = start_receiver(network_timeout=1)
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm", sop_instance="1.2.3.12"))
    middle = data_set_pdus(dataset, "one per PDU")[:10]
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, "1.2.3.12")))
        abort = b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00"  # A-ABORT from the service user
        peer.send(b"".join(middle) + (abort if then == "aborts" else b""))
        assert peer.closed_by_peer(within=10)
    wait_until(lambda: not every_name(running.directory) and running.of_type(ObjectLost))
    [lost] = running.of_type(ObjectLost)
    assert lost.sop_instance == "1.2.3.12" and lost.bytes_received >= 9000
    assert every_name(running.directory) == []
    assert running.receiver.running


def test_a_fragment_pdu_longer_than_offered_ends_the_association(start_receiver) -> None:
    """As for any other PDU: the limit holds whichever fragments a PDU carries."""
    running = start_receiver(max_pdu=16384)
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, "1.2.3.13")))
        peer.send(p_data(1, 0x00, b"\x00" * 16000))
        with contextlib.suppress(OSError):  # cut off while sending: what is asserted
            peer.send(p_data(1, 0x00, b"\x00" * 900_000))
        assert peer.closed_by_peer(within=10)
    wait_until(lambda: not every_name(running.directory) and running.of_type(ObjectLost))
    assert every_name(running.directory) == []
    assert [lost.sop_instance for lost in running.of_type(ObjectLost)] == ["1.2.3.13"]


def test_the_network_timeout_inside_a_trickling_pdu_ends_the_association_cleanly(
    start_receiver,
) -> None:
    """The timeout loses the object (its file closed, on the acceptor thread)
    while the reader still waits for the rest of a PDU it will write."""
    running = start_receiver(network_timeout=1)
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, "1.2.3.14")))
        peer.send(p_data(1, 0x00, b"\x00" * 16000))
        pdu = p_data(1, 0x00, b"\x00" * 16000)
        peer.send(pdu[:8000])
        for at in range(8000, 8005):  # 2.5 s for five bytes
            time.sleep(0.5)
            peer.send(pdu[at : at + 1])
        peer.send(pdu[8005:])
        pdu_type, body = peer.read_pdu()
        assert pdu_type == 0x07, "an A-ABORT"
        assert body[2] == 0x00, "from the service user (the receiver), not a provider error"
    wait_until(lambda: running.of_type(ConnectionClosed))
    assert running.of_type(ConnectionClosed), "the connection is reported closed"
    assert [lost.sop_instance for lost in running.of_type(ObjectLost)] == ["1.2.3.14"]
    assert every_name(running.directory) == []


def test_a_connection_cut_inside_a_pdu_loses_that_object_only(
    start_receiver, tmp_path: Path
) -> None:
    running = start_receiver()
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm", sop_instance="1.2.3.6"))
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, "1.2.3.6")))
        pdu = p_data(1, 0x02, dataset)
        peer.send(pdu[: len(pdu) // 2])  # the header promised more
    wait_until(lambda: running.of_type(ObjectLost))
    [lost] = running.of_type(ObjectLost)
    assert lost.sop_instance == "1.2.3.6"
    assert every_name(running.directory) == []  # no partial file, no spare one

    source = copy_ct(tmp_path / "next.dcm", sop_instance="1.2.3.7")
    ae = AE(ae_title="NEXT")
    ae.add_requested_context(CT_IMAGE, EXPLICIT)
    assoc = ae.associate("127.0.0.1", running.port, ae_title="DICOMTUI")
    try:
        assert assoc.is_established
        assert assoc.send_c_store(source).Status == 0x0000
    finally:
        assoc.release()
    [stored] = stored_files(running.directory)
    assert dataset_bytes(stored) == dataset_bytes(source)


def test_many_objects_on_one_association_leave_exactly_their_files(
    start_receiver, tmp_path: Path
) -> None:
    running = start_receiver()
    sources = [copy_ct(tmp_path / f"ct{n}.dcm", sop_instance=f"1.2.3.8.{n}") for n in range(12)]
    ae = AE(ae_title="MANY")
    ae.add_requested_context(CT_IMAGE, EXPLICIT)
    assoc = ae.associate("127.0.0.1", running.port, ae_title="DICOMTUI")
    try:
        assert assoc.is_established
        statuses = [assoc.send_c_store(path).Status for path in sources]
    finally:
        assoc.release()
    assert statuses == [0x0000] * 12
    # Twelve objects, and (once the connection closed) not the empty file made
    # ahead for a thirteenth.
    expected = sorted(f"CT.1.2.3.8.{n}" for n in range(12))
    wait_until(lambda: every_name(running.directory) == expected)
    assert every_name(running.directory) == expected
    assert len(running.of_type(ObjectReceived)) == 12


def test_a_silent_association_is_ended_after_the_network_timeout(start_receiver) -> None:
    running = start_receiver(network_timeout=1)
    ae = AE(ae_title="SILENT")
    ae.add_requested_context(CT_IMAGE, EXPLICIT)
    assoc = ae.associate("127.0.0.1", running.port, ae_title="DICOMTUI")
    try:
        assert assoc.is_established
        wait_until(lambda: not assoc.is_established)
        assert assoc.is_aborted, "the receiver should abort an association silent past its timeout"
    finally:
        if assoc.is_established:
            assoc.abort()
    assert running.receiver.running


# pynetdicom's reader thread dies on such a request (KeyError in its decoder).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_request_on_a_context_never_accepted_leaves_no_file(
    start_receiver, tmp_path: Path
) -> None:
    """pynetdicom's reader thread dies on it (no abort, no close event); the files
    made for it must go all the same."""
    running = start_receiver()
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm", sop_instance="1.2.3.9"))
    with associate_raw(running.port) as peer:
        peer.send(p_data(3, 0x03, c_store_rq(1, CT_IMAGE, "1.2.3.9")))
        peer.send(p_data(3, 0x02, dataset))
        assert peer.closed_by_peer(within=10)
    wait_until(lambda: not every_name(running.directory))
    assert every_name(running.directory) == []
    assert running.receiver.running


def test_a_declared_pdu_length_reserves_no_memory_before_its_bytes_arrive(start_receiver) -> None:
    """Peers that announce 60 MB PDUs (allowed: no PDU limit) and send nothing more."""
    running = start_receiver(max_pdu=0)
    me = psutil.Process()
    before = me.memory_info().rss
    peers = [associate_raw(running.port) for _ in range(4)]
    try:
        for peer in peers:
            peer.send(b"\x04\x00" + (60 * 1024 * 1024).to_bytes(4, "big") + b"\x00" * 10)
        time.sleep(1.0)  # the reader threads are now waiting inside those PDUs
        grown = me.memory_info().rss - before
    finally:
        for peer in peers:
            peer.close()
    assert grown < 40 * 1024 * 1024, f"{grown / 1e6:.0f} MB for 4 announced PDUs"
