"""Hostile peers, faults and bad input at the receiver: it loses nothing and stops nothing."""

from __future__ import annotations

import resource
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from factory import CT_IMAGE, copy_ct, make_object
from helpers import (
    DICOMTUI,
    Processes,
    dataset_bytes,
    free_port,
    run,
    stored_files,
    wait_for_port,
    wait_until,
)
from pynetdicom import AE, build_context
from raw_dicom import (
    associate_raw,
    c_store_rq,
    p_data,
    release_rq,
    store_status,
)

from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import AssociationRejected, LogMessage, ObjectLost, ObjectReceived


def send(port: int, *paths: Path, **settings: object) -> object:
    options = {"called_ae_title": "DICOMTUI", **settings}
    return SendJob(SenderSettings(port=port, **options), list(paths), EventBus()).run()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "uid",
    ["../../escape", "/etc/passwd", "..\\..\\windows", "a\x00b", "", "...", "1." * 100 + "9", ".."],
    ids=["dotdot", "absolute", "backslash", "nul", "empty", "dots", "overlong", "parent"],
)
def test_hostile_uids_in_the_command_set_stay_inside_the_folder(
    start_receiver, tmp_path: Path, uid: str
) -> None:
    running = start_receiver()
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm"))
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, uid)))
        peer.send(p_data(1, 0x02, dataset))
        pdu_type, body = peer.read_pdu()
        if pdu_type == 0x04:
            peer.send(release_rq())
    if uid and len(uid) <= 64:
        assert pdu_type == 0x04 and store_status(body) == 0x0000
        [stored] = stored_files(running.directory)
        assert stored.parent == running.directory.resolve()
        assert dataset_bytes(stored) == dataset
    else:
        # An empty or over-long UID makes the request invalid: it is refused
        # (the association is aborted) and nothing is kept.
        assert pdu_type in (0x00, 0x07), f"PDU type {pdu_type:#x}"
        wait_until(
            lambda: not list(running.directory.iterdir()) and running.of_type(ObjectLost),
            within=5,
        )
        assert list(running.directory.iterdir()) == []
        assert running.of_type(ObjectLost)
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - {tmp_path / "ct.dcm"}
    assert all(p.resolve().parent == running.directory.resolve() for p in written)


def test_transfer_cut_off_midway_leaves_no_file_and_says_so(start_receiver, tmp_path: Path) -> None:
    running = start_receiver()
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm", sop_instance="1.2.3.4"))
    with associate_raw(running.port) as peer:
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, "1.2.3.4")))
        peer.send(p_data(1, 0x00, dataset[: len(dataset) // 2]))  # not the last fragment
        time.sleep(0.3)
    wait_until(lambda: running.of_type(ObjectLost))
    [lost] = running.of_type(ObjectLost)
    assert lost.sop_instance == "1.2.3.4" and lost.bytes_received > 0
    assert list(running.directory.iterdir()) == []  # not even a partial file
    assert running.of_type(ObjectReceived) == []


def test_a_folder_that_cannot_be_written_answers_a700_and_recovers(
    start_receiver, tmp_path: Path
) -> None:
    blocked = tmp_path / "inbox"
    running = start_receiver(output_directory=blocked)
    if blocked.is_dir():
        blocked.rmdir()
    blocked.write_text("a file where the folder should be")
    source = copy_ct(tmp_path / "ct.dcm")

    refused = send(running.port, source)
    blocked.unlink()  # the user fixes it
    accepted = send(running.port, source)

    assert refused.failed == 1 and refused.sent == 0  # type: ignore[attr-defined]
    [failure] = [e for e in running.of_type(ObjectReceived) if e.status != 0]
    assert failure.status == 0xA700 and failure.path is None
    assert accepted.sent == 1  # type: ignore[attr-defined]
    assert len(stored_files(blocked)) == 1


def _small_file_limit() -> None:  # runs in the receiver's process before exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


def test_no_space_answers_a700_and_keeps_serving(tmp_path: Path) -> None:
    """A file-size limit stands in for a full disk: writes fail the same way."""
    import subprocess

    port, inbox = free_port(), tmp_path / "inbox"
    proc = subprocess.Popen(
        [*DICOMTUI, "storescp", str(port), "-od", str(inbox), "-v"],
        preexec_fn=_small_file_limit,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc=proc)
        big = make_object(tmp_path / "big.dcm", rows=512, columns=512, bits=16)  # ~0.5 MB
        small = copy_ct(tmp_path / "small.dcm")
        too_big = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(big), "-v"])
        fine = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(small)])
    finally:
        log = Processes.stop(proc)
    assert too_big.returncode == 1
    assert "Status: 0xA700" in too_big.stderr
    assert "File too large" in log or "No space" in log
    assert fine.returncode == 0, fine.stderr
    assert [p.name for p in stored_files(inbox)] == [f"CT.{dataset_uid(small)}"]
    assert not any(p.name.startswith(".") for p in inbox.iterdir())


def dataset_uid(path: Path) -> str:
    from dicomtui.core.dicom.files import DicomFile, inspect_file

    found = inspect_file(path)
    assert isinstance(found, DicomFile)
    return found.sop_instance


@pytest.mark.parametrize(
    ("policy", "second_status", "files"),
    [
        ("keep", 0x0000, ["CT.1.2.3.4", "CT.1.2.3.4~2"]),
        ("overwrite", 0x0000, ["CT.1.2.3.4"]),
        ("refuse", 0x0111, ["CT.1.2.3.4"]),
    ],
)
def test_the_same_uid_twice_follows_the_policy(
    start_receiver, tmp_path: Path, policy: str, second_status: int, files: list[str]
) -> None:
    from dicomtui.core.scp.storage import DuplicatePolicy

    running = start_receiver(duplicates=DuplicatePolicy(policy))
    first = copy_ct(tmp_path / "first.dcm", sop_instance="1.2.3.4")
    send(running.port, first)
    send(running.port, first)
    statuses = [e.status for e in running.of_type(ObjectReceived)]
    assert statuses == [0x0000, second_status]
    assert sorted(p.name for p in stored_files(running.directory)) == files


def test_idle_and_hostile_connections_do_not_lock_out_a_real_peer(
    start_receiver, tmp_path: Path
) -> None:
    running = start_receiver(max_associations=3, handshake_timeout=2.0)
    idle = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(30)]
    garbage = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(5)]
    for sock in garbage[:1]:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    for sock in garbage[1:2]:
        sock.sendall(b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 100)  # a 4 GB A-ASSOCIATE-RQ
    for sock in garbage[2:3]:
        sock.sendall(p_data(1, 0x03, b"\x00" * 20))  # data before any association
    for sock in garbage[3:]:
        sock.sendall(bytes(range(256)) * 4)
    try:
        # Associated at once: kept waiting behind the idle ones (their handshake
        # timeout is 2 s), this 1 s ACSE timeout would fail the send.
        result = send(running.port, copy_ct(tmp_path / "ct.dcm"), acse_timeout=1)
        assert result.sent == 1, running.events  # type: ignore[attr-defined]
        # The silent ones are closed after the handshake timeout.
        for sock in idle[:3]:
            sock.settimeout(5)
            assert sock.recv(10) == b""
        assert any(
            "no association request within 2 s" in e.text for e in running.of_type(LogMessage)
        )
    finally:
        for sock in idle + garbage:
            sock.close()
    assert running.receiver.running


def test_a_pdu_larger_than_allowed_ends_the_association(start_receiver) -> None:
    running = start_receiver(max_pdu=16384)
    with associate_raw(running.port) as peer:
        peer.send(b"\x04\x00" + (64 * 1024 * 1024).to_bytes(4, "big") + b"\x00" * 1000)
        assert peer.closed_by_peer(within=5)
    assert running.receiver.running


def test_object_size_cap(start_receiver, tmp_path: Path) -> None:
    running = start_receiver(max_object_size=100_000)
    big = make_object(tmp_path / "big.dcm", rows=512, columns=512, bits=16)
    small = copy_ct(tmp_path / "small.dcm")

    too_big = send(running.port, big)
    fine = send(running.port, small)

    assert too_big.sent == 0 and too_big.failed == 1  # type: ignore[attr-defined]
    assert fine.sent == 1  # type: ignore[attr-defined]
    [lost] = running.of_type(ObjectLost)
    assert "100.0 KB" in lost.reason
    assert [p.name for p in running.directory.iterdir()] == [f"CT.{dataset_uid(small)}"]


def test_association_limit_rejects_transiently_then_admits(start_receiver) -> None:
    running = start_receiver(max_associations=2)
    ae = AE(ae_title="HOLDER")
    ae.requested_contexts = [build_context(CT_IMAGE)]
    held = [ae.associate("127.0.0.1", running.port, ae_title="DICOMTUI") for _ in range(2)]
    try:
        assert all(a.is_established for a in held)
        third = ae.associate("127.0.0.1", running.port, ae_title="DICOMTUI")
        assert third.is_rejected
        answer = third.acceptor.primitive
        assert (answer.result, answer.result_source, answer.diagnostic) == (2, 3, 2)
    finally:
        held[0].release()
    fourth = ae.associate("127.0.0.1", running.port, ae_title="DICOMTUI")
    assert fourth.is_established
    fourth.release()
    held[1].release()
    [rejection] = running.of_type(AssociationRejected)
    assert "2 associations are open already" in rejection.reason


@pytest.mark.parametrize(
    ("settings", "calling", "called", "diagnostic", "words"),
    [
        (
            {"allowed_calling_ae_titles": ("MODALITY",)},
            "INTRUDER",
            "DICOMTUI",
            3,
            "calling AE title 'INTRUDER'",
        ),
        ({"allowed_addresses": ("10.0.0.0/8",)}, "MODALITY", "DICOMTUI", 1, "address 127.0.0.1"),
        ({"check_called_ae_title": True}, "MODALITY", "SOMEONE", 7, "called AE title 'SOMEONE'"),
    ],
    ids=["calling-ae", "address", "called-ae"],
)
def test_who_may_send(
    start_receiver, settings: dict, calling: str, called: str, diagnostic: int, words: str
) -> None:
    running = start_receiver(**settings)
    ae = AE(ae_title=calling)
    ae.requested_contexts = [build_context(CT_IMAGE)]
    refused = ae.associate("127.0.0.1", running.port, ae_title=called)
    assert refused.is_rejected
    assert refused.acceptor.primitive.diagnostic == diagnostic
    [rejection] = running.of_type(AssociationRejected)
    assert words in rejection.reason
    allowed = AE(ae_title="MODALITY")
    allowed.requested_contexts = [build_context(CT_IMAGE)]
    if "allowed_addresses" not in settings:
        welcome = allowed.associate("127.0.0.1", running.port, ae_title="DICOMTUI")
        assert welcome.is_established
        welcome.release()


def test_many_peers_at_once_every_object_exactly_once(start_receiver, tmp_path: Path) -> None:
    """A soak: four senders, 2,000 objects, each stored once with its data set intact."""
    import hashlib

    running = start_receiver()
    folders = []
    for sender in range(4):
        folder = tmp_path / f"sender{sender}"
        folder.mkdir()
        for n in range(500):
            make_object(folder / f"{n:04d}.dcm", rows=8, columns=8, patient_id=f"S{sender}-{n}")
        folders.append(folder)
    digests = {}
    for folder in folders:
        for path in folder.iterdir():
            digests[dataset_uid(path)] = hashlib.sha256(dataset_bytes(path)).hexdigest()

    results: list[object] = []
    threads = [
        threading.Thread(target=lambda f=f: results.append(send(running.port, f))) for f in folders
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert sum(r.sent for r in results) == 2000  # type: ignore[attr-defined]
    stored = stored_files(running.directory)
    assert len(stored) == 2000
    seen = {dataset_uid(p): hashlib.sha256(dataset_bytes(p)).hexdigest() for p in stored}
    assert seen == digests
