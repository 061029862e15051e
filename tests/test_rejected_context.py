"""A peer that sends on a presentation context our receiver rejected (as GDCM's
gdcmscu does: tests/test_interop_gdcm.py), reproduced with raw PDUs.

What should happen: the association is aborted, the log says in one line which
context the peer used and that it was not accepted, no traceback, and the
receiver goes on serving. pynetdicom alone lets a C-STORE with a data set kill its
DUL thread (KeyError in DIMSEMessage.decode_msg, printed as a traceback), which
was logged as "Lost <UID> after N bytes: the association ended before the data
set was complete"; our reader drops such a PDU and has the association aborted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from factory import CT_IMAGE
from helpers import DICOMTUI, Processes, free_port, stored_files, wait_for_port
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom.dsutils import encode
from raw_dicom import (
    EXPLICIT,
    IMPLICIT_LE,
    RawPeer,
    associate_rq,
    c_store_rq,
    p_data,
    p_data_items,
    release_rq,
    store_status,
)

pytestmark = pytest.mark.timeout(60)

REFUSED, ACCEPTED = 1, 3


def ct_data_set(uid: str) -> bytes:
    ds = Dataset()
    ds.SOPClassUID = CT_IMAGE
    ds.SOPInstanceUID = uid
    ds.PatientName = "RAW^PEER"
    encoded = encode(ds, True, True)  # implicit VR little endian
    assert encoded is not None
    return encoded


def start_implicit_only_scp(
    processes: Processes, inbox: Path
) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox), "-v", "-xi"])
    wait_for_port(port, proc=scp)
    return port, scp


def associate_two_contexts(port: int) -> RawPeer:
    """CT in explicit VR only (refused under -xi) and CT in implicit VR (accepted)."""
    peer = RawPeer(port)
    peer.send(associate_rq([(REFUSED, CT_IMAGE, [EXPLICIT]), (ACCEPTED, CT_IMAGE, [IMPLICIT_LE])]))
    pdu_type, _ = peer.read_pdu()
    assert pdu_type == 0x02, f"expected A-ASSOCIATE-AC, got PDU type {pdu_type:#x}"
    return peer


def store(peer: RawPeer, context_id: int, uid: str) -> None:
    peer.send(p_data(context_id, 0x03, c_store_rq(1, CT_IMAGE, uid)))
    peer.send(p_data(context_id, 0x02, ct_data_set(uid)))


def test_the_accepted_context_of_the_same_association_stores(
    tmp_path: Path, processes: Processes
) -> None:
    """The control: the same association, on the context that was accepted."""
    inbox = tmp_path / "inbox"
    port, scp = start_implicit_only_scp(processes, inbox)
    uid = generate_uid()
    with associate_two_contexts(port) as peer:
        store(peer, ACCEPTED, uid)
        pdu_type, body = peer.read_pdu()
        assert (pdu_type, store_status(body)) == (0x04, 0x0000)
        peer.send(release_rq())
        assert peer.read_pdu()[0] == 0x06
    log = Processes.stop(scp)
    assert len(stored_files(inbox)) == 1, log
    assert "Traceback" not in log


def test_a_store_on_a_rejected_context_is_aborted_and_named(
    tmp_path: Path, processes: Processes
) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_implicit_only_scp(processes, inbox)
    with associate_two_contexts(port) as peer:
        store(peer, REFUSED, generate_uid())
        pdu_type, _ = peer.read_pdu()
        assert pdu_type in (0x07, 0), f"expected an A-ABORT or a close, got PDU type {pdu_type:#x}"
    # The receiver goes on serving.
    uid = generate_uid()
    with associate_two_contexts(port) as peer:
        store(peer, ACCEPTED, uid)
        pdu_type, body = peer.read_pdu()
        assert (pdu_type, store_status(body)) == (0x04, 0x0000)
        peer.send(release_rq())
        assert peer.read_pdu()[0] == 0x06
    log = Processes.stop(scp)

    assert len(stored_files(inbox)) == 1, log
    assert "Traceback" not in log, log
    errors = [line for line in log.splitlines() if line.startswith("E:")]
    assert len(errors) == 1, log
    assert (
        f"context {REFUSED}" in errors[0].lower() or f"context id {REFUSED}" in errors[0].lower()
    ), errors


def test_a_pdu_too_long_to_hold_on_a_rejected_context_is_dropped_and_named(
    tmp_path: Path, processes: Processes
) -> None:
    """One 3 MB P-DATA-TF PDU (more than the reader holds at once, under -pdu 0) with
    the command and data set together, on the refused context."""
    inbox = tmp_path / "inbox"
    port = free_port()
    scp = processes.start(
        [*DICOMTUI, "storescp", str(port), "-od", str(inbox), "-v", "-xi", "-pdu", "0"]
    )
    wait_for_port(port, proc=scp)
    uid = generate_uid()
    command = c_store_rq(1, CT_IMAGE, uid)
    with associate_two_contexts(port) as peer:
        big = ct_data_set(uid) + b"\0" * (3 * 1024 * 1024)
        peer.send(p_data_items([(REFUSED, 0x03, command), (REFUSED, 0x02, big)]))
        pdu_type, _ = peer.read_pdu()
        assert pdu_type in (0x07, 0), f"expected an A-ABORT or a close, got PDU type {pdu_type:#x}"
    log = Processes.stop(scp)
    assert stored_files(inbox) == []
    assert "Traceback" not in log, log
    errors = [line for line in log.splitlines() if line.startswith("E:")]
    assert len(errors) == 1 and f"context {REFUSED}" in errors[0], log
