"""The receiver's own C-STORE path (core/net/fast_receive.py): the same files,
responses and events as pynetdicom's path, and nothing kept from broken peers."""

from __future__ import annotations

import dataclasses
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

import pytest
from factory import CT_IMAGE, SECONDARY_CAPTURE, copy_ct, make_object
from helpers import (
    DICOMTUI,
    dataset_bytes,
    free_port,
    require_tool,
    run,
    stored_files,
    wait_for_port,
    wait_until,
)
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, evt
from raw_dicom import (
    EXPLICIT,
    IMPLICIT_LE,
    RawPeer,
    associate_raw,
    associate_rq,
    c_store_rq,
    p_data,
    p_data_items,
    release_rq,
)

from dicomtui.core.dicom.dimse import decode_store_response, pdv_items
from dicomtui.core.net.requestor_reactor import exchange, own_responses, release
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scp.storage import DuplicatePolicy
from dicomtui.core.stream import stage_counters
from dicomtui.core.stream.events import (
    AssociationAborted,
    DimseMessage,
    LogMessage,
    ObjectLost,
    ObjectReceived,
)
from dicomtui.headless.storescp import build_parser, settings_from_args

NODELAY = {"TCP_NODELAY": "1"}
A_ABORT = struct.pack(">BBIBBBB", 0x07, 0, 4, 0, 0, 0, 0)


@pytest.fixture
def fast_objects(monkeypatch: pytest.MonkeyPatch) -> Any:
    """How many objects the fast path stored since the test began."""
    monkeypatch.setattr(stage_counters, "ENABLED", True)
    stage_counters.reset()

    def count() -> int:
        return stage_counters.snapshot().get("recv.store", (0, 0.0))[0]

    yield count
    stage_counters.reset()


def every_file(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (partial files too), by relative path."""
    if not directory.exists():
        return {}
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def settled_files(directory: Path) -> dict[str, bytes]:
    """``every_file`` once the association's spare partial file is gone (it is
    removed when the association is over, a moment after the peer's release)."""
    wait_until(lambda: not any(name.endswith(".part") for name in every_file(directory)))
    return every_file(directory)


def comparable(events: list[Any]) -> list[Any]:
    """DIMSE and stored-object events without what differs from run to run."""
    kept = []
    for event in events:
        if isinstance(event, DimseMessage | ObjectReceived):
            changes: dict[str, Any] = {"timestamp": 0.0, "assoc_id": 0}
            if isinstance(event, ObjectReceived):
                changes["path"] = None
            kept.append(dataclasses.replace(event, **changes))
    return kept


def objects(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        copy_ct(folder / "ct1.dcm"),
        copy_ct(folder / "ct2.dcm"),
        make_object(folder / "sc-implicit.dcm", transfer_syntax=ImplicitVRLittleEndian),
        make_object(folder / "sc-explicit.dcm", rows=200, columns=200),  # several PDUs
        make_object(folder / "sc-deflated.dcm", transfer_syntax=DeflatedExplicitVRLittleEndian),
    ]


def pynetdicom_send(port: int, paths: list[Path], message_ids: list[int]) -> list[int]:
    """Statuses pynetdicom's C-STORE SCU gets, a C-ECHO between each two objects.

    With dicomtui's requestor reactor: pynetdicom's own loses a response that
    comes back quickly now and then (see core/net/requestor_reactor.py)."""
    ae = AE(ae_title="PYSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    for sop_class in (CT_IMAGE, SECONDARY_CAPTURE):
        for syntax in (
            ExplicitVRLittleEndian,
            ImplicitVRLittleEndian,
            DeflatedExplicitVRLittleEndian,
        ):
            ae.add_requested_context(sop_class, syntax)
    ae.add_requested_context("1.2.840.10008.1.1")
    handlers = [(evt.EVT_CONN_OPEN, lambda event: own_responses(event.assoc))]
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMTUI", evt_handlers=handlers)
    assert assoc.is_established
    statuses = []
    try:
        for path, message_id in zip(paths, message_ids, strict=True):
            with exchange(assoc):
                statuses.append(int(assoc.send_c_store(path, msg_id=message_id).Status))
            with exchange(assoc):
                assert int(assoc.send_c_echo().Status) == 0
    finally:
        release(assoc)
    return statuses


def test_pynetdicom_sender_gets_the_same_files_statuses_and_events_on_both_paths(
    start_receiver, tmp_path: Path, fast_objects: Any
) -> None:
    paths = objects(tmp_path / "src")
    message_ids = [7, 65535, 1, 300, 42]
    seen = {}
    for fast in (True, False):
        running = start_receiver(output_directory=tmp_path / f"in-{fast}", fast_path=fast)
        before = fast_objects()
        statuses = pynetdicom_send(running.port, paths, message_ids)
        assert statuses == [0] * len(paths)
        wait_until(lambda r=running: len(r.of_type(ObjectReceived)) == len(paths))
        assert fast_objects() - before == (len(paths) if fast else 0)
        running.receiver.stop()
        seen[fast] = (settled_files(running.directory), comparable(running.events))
    files, events = seen[True]
    assert len(stored_files(tmp_path / "in-True")) == len(paths)
    assert files == seen[False][0]  # byte for byte, and no partial file left
    assert events == seen[False][1]
    for path in paths:  # the data sets as sent
        assert any(dataset_bytes(path) in data for data in files.values())
    responses = [
        e
        for e in events
        if isinstance(e, DimseMessage) and e.message_type.startswith("C-STORE RSP")
    ]
    assert [e.responded_to for e in responses] == message_ids


def raw_store(peer: RawPeer, message_id: int, sop_instance: str, dataset: bytes) -> bytes:
    """Send one object in 4 KB PDUs; the response's P-DATA-TF body."""
    peer.send(p_data(1, 0x03, c_store_rq(message_id, CT_IMAGE, sop_instance)))
    pieces = [dataset[i : i + 4096] for i in range(0, len(dataset), 4096)]
    for number, piece in enumerate(pieces):
        peer.send(p_data(1, 0x02 if number == len(pieces) - 1 else 0x00, piece))
    pdu_type, body = peer.read_pdu()
    assert pdu_type == 0x04, f"expected a P-DATA-TF, got PDU type {pdu_type:#x}"
    return body


@pytest.mark.parametrize(
    ("duplicates", "statuses"),
    [(DuplicatePolicy.KEEP_BOTH, (0x0000, 0x0000)), (DuplicatePolicy.REFUSE, (0x0000, 0x0111))],
    ids=["keep", "refuse"],
)
def test_responses_are_byte_for_byte_pynetdicoms(
    start_receiver,
    tmp_path: Path,
    fast_objects: Any,
    duplicates: DuplicatePolicy,
    statuses: tuple[int, int],
) -> None:
    source = copy_ct(tmp_path / "ct.dcm")
    dataset = dataset_bytes(source)
    bodies = {}
    for fast in (True, False):
        running = start_receiver(
            output_directory=tmp_path / f"in-{fast}", fast_path=fast, duplicates=duplicates
        )
        with associate_raw(running.port) as peer:
            bodies[fast] = [
                raw_store(peer, message_id, "1.2.3.4.5", dataset) for message_id in (9, 513)
            ]
            peer.send(release_rq())
            assert peer.read_pdu()[0] == 0x06
    assert fast_objects() == 2
    assert bodies[True] == bodies[False]
    for body, message_id, status in zip(bodies[True], (9, 513), statuses, strict=True):
        items = pdv_items(body, len(body))
        assert items is not None and items[0][1] == 0x03
        response = decode_store_response(body[items[0][2] : items[0][3]])
        assert response is not None
        assert (response.responded_to, response.status) == (message_id, status)
        assert (response.sop_class_uid, response.sop_instance_uid) == (CT_IMAGE, "1.2.3.4.5")
        assert response.error_comment is None


def test_a_refused_duplicate_is_answered_0111_and_the_first_file_kept(
    start_receiver, tmp_path: Path, fast_objects: Any
) -> None:
    running = start_receiver(duplicates=DuplicatePolicy.REFUSE)
    path = copy_ct(tmp_path / "ct.dcm")
    statuses = pynetdicom_send(running.port, [path, path], [1, 2])
    assert statuses == [0x0000, 0x0111]
    assert fast_objects() == 2
    assert [p.read_bytes()[-100:] for p in stored_files(running.directory)] == [
        path.read_bytes()[-100:]
    ]
    assert settled_files(running.directory).keys() == {
        p.name for p in stored_files(running.directory)
    }


def external_senders() -> list[str]:
    return ["dcmsend", "storescu", "dicomtui", "gdcmscu"]


@pytest.mark.parametrize("sender", external_senders())
def test_other_senders_store_the_same_bytes_on_both_paths(
    start_receiver, tmp_path: Path, fast_objects: Any, sender: str
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    paths = [copy_ct(source / f"ct{n}.dcm") for n in range(3)]
    seen = {}
    for fast in (True, False):
        running = start_receiver(output_directory=tmp_path / f"in-{fast}", fast_path=fast)
        port = str(running.port)
        if sender == "dcmsend":
            command = [require_tool("dcmsend"), "127.0.0.1", port, "+sd", str(source)]
            command += ["-aec", "DICOMTUI"]
        elif sender == "storescu":
            command = [require_tool("storescu"), "-aec", "DICOMTUI", "127.0.0.1", port]
            command += [str(p) for p in paths]
        elif sender == "gdcmscu":
            if shutil.which("gdcmscu") is None:
                pytest.skip("gdcmscu is not installed (apt-get install libgdcm-tools)")
            command = ["gdcmscu", "--store", "--call", "DICOMTUI", "-i", str(source), "-r"]
            command += ["127.0.0.1", port]
        else:
            command = [*DICOMTUI, "storescu", "-aec", "DICOMTUI", "127.0.0.1", port, str(source)]
        before = fast_objects()
        result = run(command, timeout=60, env=NODELAY)
        # gdcm 3.0.21's gdcmscu aborts on its own after the association ends
        # (echo alone too): "ProtocolStream as nullptr is invalid".
        broken_at_exit = sender == "gdcmscu" and "ProtocolStream as nullptr" in result.stderr
        assert result.returncode == 0 or broken_at_exit, result.stdout + result.stderr
        wait_until(lambda r=running: len(r.of_type(ObjectReceived)) == len(paths))
        assert [e.status for e in running.of_type(ObjectReceived)] == [0] * len(paths)
        assert fast_objects() - before == (len(paths) if fast else 0)
        seen[fast] = settled_files(running.directory)
    assert len(seen[True]) == len(paths)
    assert seen[True] == seen[False]


def start_object(peer: RawPeer, dataset: bytes, sop_instance: str = "1.2.3.9") -> None:
    """A C-STORE request and the first part of its data set, never finished."""
    peer.send(p_data(1, 0x03, c_store_rq(5, CT_IMAGE, sop_instance)))
    peer.send(p_data(1, 0x00, dataset[:4096]))


def lost_after(running: Any, peer: RawPeer, within: float = 10.0) -> None:
    """The half-sent object is reported lost and nothing of it stays on disk;
    the object confirmed before it stays."""
    wait_until(lambda: running.of_type(ObjectLost), within)
    lost = running.of_type(ObjectLost)
    assert [e.sop_instance for e in lost] == ["1.2.3.9"]
    wait_until(lambda: len(every_file(running.directory)) == 1)
    assert list(every_file(running.directory)) == ["CT.1.2.3.1"]


@pytest.mark.parametrize("how", ["abort", "garbage", "close", "silence"])
def test_a_peer_that_breaks_off_mid_object_loses_only_that_object(
    start_receiver, tmp_path: Path, fast_objects: Any, how: str
) -> None:
    running = start_receiver(network_timeout=1.0)
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm"))
    with associate_raw(running.port) as peer:
        body = raw_store(peer, 1, "1.2.3.1", dataset)
        assert decode_store_response(body[6:]) is not None
        start_object(peer, dataset)
        wait_until(lambda: any(n.endswith(".part") for n in every_file(running.directory)))
        if how == "abort":
            peer.send(A_ABORT)
        elif how == "garbage":
            peer.send(b"\xff" * 64)
        elif how == "close":
            peer.close()
        lost_after(running, peer)
    assert fast_objects() == 1


def test_an_object_over_the_limit_ends_the_association_and_is_not_kept(
    start_receiver, tmp_path: Path, fast_objects: Any
) -> None:
    path = make_object(tmp_path / "big.dcm", rows=300, columns=300)  # 90 KB of pixels
    dataset = dataset_bytes(path)
    running = start_receiver(max_object_size=60_000)  # CT_small is 39 KB
    with associate_raw(running.port) as peer:
        body = raw_store(peer, 1, "1.2.3.1", dataset_bytes(copy_ct(tmp_path / "ct.dcm")))
        assert decode_store_response(body[6:]) is not None
        peer.send(p_data(1, 0x03, c_store_rq(5, CT_IMAGE, "1.2.3.9")))
        for start in range(0, len(dataset), 4096):
            last = 0x02 if start + 4096 >= len(dataset) else 0x00
            try:
                peer.send(p_data(1, last, dataset[start : start + 4096]))
            except OSError:
                break
        assert peer.closed_by_peer()
    lost_after(running, peer)
    assert "limit" in running.of_type(ObjectLost)[0].reason
    wait_until(lambda: running.of_type(AssociationAborted))
    assert fast_objects() == 1


def test_fragments_on_another_context_mid_object_go_to_pynetdicom_as_it_would_take_them(
    start_receiver, tmp_path: Path, fast_objects: Any
) -> None:
    """A protocol error mid-object: the object is handed to pynetdicom, which
    writes a data fragment of any context into the file; both paths agree."""
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm"))
    seen = {}
    for fast in (True, False):
        running = start_receiver(output_directory=tmp_path / f"in-{fast}", fast_path=fast)
        with RawPeer(running.port) as peer:
            peer.send(associate_rq([(1, CT_IMAGE, [EXPLICIT]), (3, CT_IMAGE, [IMPLICIT_LE])]))
            assert peer.read_pdu()[0] == 0x02
            peer.send(p_data(1, 0x03, c_store_rq(5, CT_IMAGE, "1.2.3.7")))
            peer.send(p_data(1, 0x00, dataset[:4096]))
            peer.send(p_data_items([(3, 0x00, dataset[4096:8192])]))
            peer.send(p_data(1, 0x02, dataset[8192:]))
            pdu_type, body = peer.read_pdu()
            peer.send(release_rq())
            peer.read_pdu()
        response = decode_store_response(body[6:]) if pdu_type == 0x04 else None
        seen[fast] = (response, settled_files(running.directory))
    assert fast_objects() == 0  # begun on the fast path, completed on pynetdicom's
    assert seen[True] == seen[False]
    assert seen[True][0] is not None and seen[True][0].status == 0


def test_the_switch_and_its_config_key(tmp_path: Path) -> None:
    parser = build_parser()
    assert settings_from_args(parser.parse_args(["104"])).fast_path is True
    assert settings_from_args(parser.parse_args(["--no-fast-path", "104"])).fast_path is False
    from dicomtui.core.config.file import load_config
    from dicomtui.core.scu.settings import SenderSettings

    path = tmp_path / "config.toml"
    path.write_text("[receiver]\nfast_path = false\n", encoding="utf-8")
    config, problems = load_config(path, ReceiverSettings(), SenderSettings())
    assert problems == []
    assert config.receiver.fast_path is False


def test_no_fast_path_storescp_still_stores(tmp_path: Path, processes: Any) -> None:
    port = free_port()
    inbox = tmp_path / "inbox"
    scp = processes.start(
        [*DICOMTUI, "storescp", "--no-fast-path", "-od", str(inbox), "-aet", "DICOMTUI", str(port)]
    )
    wait_for_port(port, proc=scp)
    path = copy_ct(tmp_path / "ct.dcm")
    result = run([*DICOMTUI, "storescu", "-aec", "DICOMTUI", "127.0.0.1", str(port), str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    wait_until(lambda: len(stored_files(inbox)) == 1)
    assert dataset_bytes(stored_files(inbox)[0]) == dataset_bytes(path)


def raw_exchange(
    port: int, proposed: str, sent: str, dataset: bytes, instance: str = "1.2.3.8"
) -> tuple[int, Any]:
    """Associate for ``proposed`` and send one C-STORE request for ``sent``: the
    answer's PDU type and the response, if one came."""
    with RawPeer(port) as peer:
        peer.send(associate_rq([(1, proposed, [EXPLICIT])]))
        assert peer.read_pdu()[0] == 0x02
        peer.send(p_data(1, 0x03, c_store_rq(11, sent, instance)))
        peer.send(p_data(1, 0x02, dataset))
        pdu_type, body = peer.read_pdu()
        if pdu_type == 0x04:
            peer.send(release_rq())
            peer.read_pdu()
    return pdu_type, decode_store_response(body[6:]) if pdu_type == 0x04 else None


@pytest.mark.parametrize(
    ("proposed", "sent", "taken"),
    [
        ("1.2.3.4.5.6.7", "1.2.3.4.5.6.7", True),  # a private class, in promiscuous mode
        (CT_IMAGE, SECONDARY_CAPTURE, False),  # not the context's class: pynetdicom's
    ],
    ids=["private-class", "other-class"],
)
def test_promiscuous_classes_and_mismatched_ones_as_pynetdicom_would(
    start_receiver, tmp_path: Path, fast_objects: Any, proposed: str, sent: str, taken: bool
) -> None:
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm"))
    seen = {}
    for fast in (True, False):
        running = start_receiver(
            output_directory=tmp_path / f"in-{fast}", fast_path=fast, promiscuous=True
        )
        answer = raw_exchange(running.port, proposed, sent, dataset)
        seen[fast] = (answer, settled_files(running.directory))
    assert fast_objects() == (1 if taken else 0)
    assert seen[True] == seen[False]
    (pdu_type, response), files = seen[True]
    assert pdu_type == 0x04 and response is not None and response.status == 0
    assert len(files) == 1


def test_ignore_answers_success_and_keeps_nothing(
    start_receiver, tmp_path: Path, fast_objects: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "system-tmp"  # where data sets go with --ignore
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    running = start_receiver(ignore=True)
    paths = objects(tmp_path / "src")
    assert pynetdicom_send(running.port, paths, [1, 2, 3, 4, 5]) == [0] * 5
    assert fast_objects() == 5
    assert settled_files(running.directory) == {}
    assert settled_files(spool) == {}


def test_a_non_conformant_uid_is_left_to_pynetdicom_which_warns_of_it(
    start_receiver, tmp_path: Path, fast_objects: Any
) -> None:
    dataset = dataset_bytes(copy_ct(tmp_path / "ct.dcm"))
    seen = {}
    for fast in (True, False):
        running = start_receiver(output_directory=tmp_path / f"in-{fast}", fast_path=fast)
        answer = raw_exchange(running.port, CT_IMAGE, CT_IMAGE, dataset, instance="1.02.3")
        warnings = [e.text for e in running.of_type(LogMessage) if "1.02.3" in e.text]
        seen[fast] = (answer, warnings, settled_files(running.directory))
    assert fast_objects() == 0
    assert seen[True] == seen[False]
    assert seen[True][1]  # pynetdicom's "Non-conformant ... value '1.02.3'"


def test_over_tls_the_fast_path_reads_the_tls_stream(
    start_receiver, tmp_path: Path, fast_objects: Any
) -> None:
    from test_tls import make_pki

    pki = make_pki(tmp_path)
    running = start_receiver(tls_certificate=pki["server_cert"], tls_key=pki["server_key"])
    source = tmp_path / "src"
    source.mkdir()
    paths = [
        copy_ct(source / "ct.dcm"),
        make_object(source / "big.dcm", rows=512, columns=512, bits=16),  # ~0.5 MB
    ]
    command = [*DICOMTUI, "storescu", "-aec", "DICOMTUI", "127.0.0.1", str(running.port)]
    result = run([*command, str(source), "--tls-ca", str(pki["ca"])])
    assert result.returncode == 0, result.stdout + result.stderr
    assert fast_objects() == 2
    stored = sorted(dataset_bytes(path) for path in stored_files(running.directory))
    assert stored == sorted(dataset_bytes(path) for path in paths)


@pytest.mark.parametrize("event_name", ["EVT_DATA_RECV", "EVT_PDU_SENT", "EVT_DIMSE_RECV"])
def test_a_handler_the_fast_path_would_bypass_keeps_requests_on_pynetdicoms_path(
    start_receiver, tmp_path: Path, fast_objects: Any, event_name: str
) -> None:
    running = start_receiver()
    path = copy_ct(tmp_path / "ct.dcm")
    seen: list[Any] = []
    event = getattr(evt, event_name)
    running.receiver._server.bind(event, seen.append)
    assert pynetdicom_send(running.port, [path], [1]) == [0]
    assert fast_objects() == 0 and seen  # the handler saw what pynetdicom's path gives it
    running.receiver._server.unbind(event, seen.append)
    assert pynetdicom_send(running.port, [path], [2]) == [0]
    assert fast_objects() == 1
    assert len(stored_files(running.directory)) == 2
