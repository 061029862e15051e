"""What the receiver accepts: every Storage SOP class of the standard, unknown ones
with --promiscuous, and no deflated data set that does not inflate."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from factory import CT_IMAGE, make_object
from helpers import (
    DICOMTUI,
    Processes,
    dataset_bytes,
    free_port,
    require_tool,
    run,
    stored_files,
    wait_for_port,
    wait_until,
)
from pydicom import dcmread
from pydicom._uid_dict import UID_dictionary
from pydicom.filereader import read_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from pynetdicom import AE, AllStoragePresentationContexts, build_context
from raw_dicom import RawPeer, associate_rq, c_store_rq, p_data, release_rq, store_status

from dicomtui.core.config.file import load_config
from dicomtui.core.scp.settings import PreferredSyntax, ReceiverSettings
from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import FileSent, ObjectReceived
from dicomtui.headless import storescp

EXPLICIT = str(ExplicitVRLittleEndian)
IMPLICIT = str(ImplicitVRLittleEndian)
CT_DEFINED_PROCEDURE_PROTOCOL = "1.2.840.10008.5.1.4.1.1.200.1"
PROTOCOL_APPROVAL = "1.2.840.10008.5.1.4.1.1.200.3"
XA_DEFINED_PROCEDURE_PROTOCOL = "1.2.840.10008.5.1.4.1.1.200.7"
INVENTORY = "1.2.840.10008.5.1.4.1.1.201.1"
NOT_STORAGE = {
    "1.2.840.10008.1.20.1": "Storage Commitment Push Model SOP Class",
    "1.2.840.10008.1.3.10": "Media Storage Directory Storage (DICOMDIR, media only)",
    "1.2.840.10008.5.1.4.31": "Modality Worklist Information Model - FIND",
}


def registry_storage_classes() -> list[str]:
    """Storage SOP classes by the registry's own naming (PS3.6 Annex A)."""
    return sorted(
        uid
        for uid, (name, kind, *_rest) in UID_dictionary.items()
        if kind == "SOP Class"
        and re.search(r" Storage( - [A-Za-z ]+)?( SOP Class)?$", name)
        and uid not in NOT_STORAGE
    )


PYNETDICOM_CLASSES = {str(cx.abstract_syntax) for cx in AllStoragePresentationContexts}
NEW_CLASSES = [uid for uid in registry_storage_classes() if uid not in PYNETDICOM_CLASSES]


def accepted(port: int, uids: list[str], calling: str = "ACCEPTS") -> set[str]:
    """The abstract syntaxes the receiver accepts of those proposed (128 per association)."""
    found: set[str] = set()
    for start in range(0, len(uids), 128):
        ae = AE(ae_title=calling)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        ae.requested_contexts = [build_context(uid) for uid in uids[start : start + 128]]
        assoc = ae.associate("127.0.0.1", port, ae_title="DICOMTUI")
        assert assoc.is_established
        found |= {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
        assoc.release()
    return found


def test_every_storage_class_of_the_registry_is_accepted(start_receiver) -> None:
    running = start_receiver()
    classes = registry_storage_classes()
    assert len(classes) > 200 and len(NEW_CLASSES) >= 38
    for uid in (
        CT_DEFINED_PROCEDURE_PROTOCOL,
        PROTOCOL_APPROVAL,
        XA_DEFINED_PROCEDURE_PROTOCOL,
        INVENTORY,
    ):
        assert uid in NEW_CLASSES

    assert accepted(running.port, classes) == set(classes)


def test_classes_that_are_not_storage_are_refused(start_receiver) -> None:
    running = start_receiver()
    # CT too, so that the association holds one context
    assert accepted(running.port, [*NOT_STORAGE, CT_IMAGE]) == {CT_IMAGE}


def test_objects_of_every_class_pynetdicom_lacks_are_stored(tmp_path: Path, start_receiver) -> None:
    """Through our own sender, one object of each: each stored as it was sent."""
    running = start_receiver()
    folder = tmp_path / "new-classes"
    folder.mkdir()
    made = {}
    for index, uid in enumerate(NEW_CLASSES):
        path = make_object(folder / f"{index:03d}.dcm", sop_class=uid, rows=2, columns=2)
        made[dcmread(path).SOPInstanceUID] = uid
    bus = EventBus()
    events: list = []
    bus.subscribe(events.append)
    settings = SenderSettings(port=running.port, called_ae_title="DICOMTUI", dimse_timeout=10)

    result = SendJob(settings, [folder], bus).run()

    assert [e for e in events if isinstance(e, FileSent) and e.status != 0] == []
    assert result.sent == len(NEW_CLASSES)
    stored = {
        ds.SOPInstanceUID: ds.SOPClassUID for ds in map(dcmread, stored_files(running.directory))
    }
    assert stored == made


def test_dcmtk_sends_protocol_and_inventory_objects(tmp_path: Path, processes: Processes) -> None:
    """DCMTK's storescu (-R: the files' own classes) and dcmsend into the headless storescp."""
    storescu, dcmsend = require_tool("storescu"), require_tool("dcmsend")
    inbox, source = tmp_path / "inbox", tmp_path / "source"
    source.mkdir()
    files = {
        uid: make_object(source / f"{index}.dcm", sop_class=uid, rows=2, columns=2)
        for index, uid in enumerate(
            (CT_DEFINED_PROCEDURE_PROTOCOL, PROTOCOL_APPROVAL, XA_DEFINED_PROCEDURE_PROTOCOL)
        )
    }
    inventory = make_object(source / "inventory.dcm", sop_class=INVENTORY, rows=2, columns=2)
    port = free_port()
    scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox)])
    wait_for_port(port, proc=scp)
    env = {"TCP_NODELAY": "1"}

    # DCMTK 3.6.7 knows the protocol classes but not Inventory (dcmsend sends it all the same).
    sent = run([storescu, "-R", "127.0.0.1", str(port), *map(str, files.values())], 60, env)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    sent = run([dcmsend, "127.0.0.1", str(port), str(inventory)], 60, env)
    assert sent.returncode == 0, sent.stdout + sent.stderr

    processes.stop(scp)
    classes = sorted(dcmread(path).SOPClassUID for path in stored_files(inbox))
    assert classes == sorted([*files, INVENTORY])


# --- --promiscuous -----------------------------------------------------------------------

PRIVATE_PREFIX = "1.2.826.0.1.3680043.9.7433."  # a private root: no registry knows it
MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"


def private_class() -> str:
    """A new private SOP class for each test: our sender registers the classes it
    sends with pynetdicom, which must not help the receiver in the same process."""
    return generate_uid(prefix=PRIVATE_PREFIX)


def store_with_pynetdicom(port: int, path: Path, transfer_syntax: str = EXPLICIT) -> int | None:
    """Propose the file's class and send it with pynetdicom's requestor; the status
    (None: refused or no response)."""
    sop_class = str(read_file_meta_info(path).MediaStorageSOPClassUID)
    ae = AE(ae_title="PRIVATESCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(sop_class, transfer_syntax)
    ae.add_requested_context(CT_IMAGE, EXPLICIT)  # so that the association holds
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMTUI")
    assert assoc.is_established
    try:
        if sop_class not in {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}:
            return None
        status = assoc.send_c_store(path)
        return int(status.Status) if "Status" in status else None
    finally:
        if assoc.is_established:
            assoc.release()


def test_unknown_classes_are_refused_by_default(tmp_path: Path, start_receiver) -> None:
    running = start_receiver()
    source = make_object(tmp_path / "private.dcm", sop_class=private_class(), rows=2, columns=2)

    assert store_with_pynetdicom(running.port, source) is None
    assert stored_files(running.directory) == []


def test_promiscuous_receiver_stores_unknown_classes_as_sent(
    tmp_path: Path, start_receiver
) -> None:
    running = start_receiver(promiscuous=True)
    sop_class = private_class()
    sources = [
        make_object(tmp_path / f"{ts}.dcm", sop_class, ts, rows=4, columns=4)
        for ts in (EXPLICIT, IMPLICIT)
    ]

    assert [store_with_pynetdicom(running.port, source, EXPLICIT) for source in sources[:1]] == [0]
    assert store_with_pynetdicom(running.port, sources[1], IMPLICIT) == 0

    stored = {dcmread(path).SOPInstanceUID: path for path in stored_files(running.directory)}
    assert len(stored) == 2
    for source in sources:
        received = stored[dcmread(source).SOPInstanceUID]
        assert received.name.startswith("UN.")
        assert dataset_bytes(received) == dataset_bytes(source)
        assert dcmread(received).SOPClassUID == sop_class


def test_promiscuous_keeps_the_transfer_syntax_preference(start_receiver) -> None:
    running = start_receiver(promiscuous=True, preferred_syntax=PreferredSyntax.IMPLICIT)
    ae = AE(ae_title="PRIVATESCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    sop_class = private_class()
    ae.add_requested_context(sop_class, [EXPLICIT, IMPLICIT])
    assoc = ae.associate("127.0.0.1", running.port, ae_title="DICOMTUI")
    assert assoc.is_established
    (context,) = assoc.accepted_contexts
    assoc.release()
    assert (str(context.abstract_syntax), str(context.transfer_syntax[0])) == (sop_class, IMPLICIT)


def test_promiscuous_still_refuses_known_classes_that_are_not_storage(start_receiver) -> None:
    running = start_receiver(promiscuous=True, echo=False)
    proposed = [*NOT_STORAGE, MODALITY_WORKLIST_FIND, "1.2.840.10008.1.1", EXPLICIT, CT_IMAGE]
    assert accepted(running.port, proposed) == {CT_IMAGE}


def test_promiscuous_does_not_open_the_allow_list(start_receiver) -> None:
    running = start_receiver(promiscuous=True, allowed_calling_ae_titles=("MODALITY",))
    ae = AE(ae_title="INTRUDER")
    ae.acse_timeout = 10
    ae.add_requested_context(private_class(), EXPLICIT)
    assoc = ae.associate("127.0.0.1", running.port, ae_title="DICOMTUI")
    assert assoc.is_rejected


def test_headless_promiscuous_takes_dcmsend_private_objects(
    tmp_path: Path, processes: Processes
) -> None:
    """``dicomtui storescp -pm`` as a process, DCMTK's dcmsend as the peer: without
    -pm the private class is refused, with it the object is stored."""
    dcmsend = require_tool("dcmsend")
    source = make_object(tmp_path / "private.dcm", sop_class=private_class(), rows=2, columns=2)
    env = {"TCP_NODELAY": "1"}
    outcomes = {}
    for options in ([], ["-pm"], ["--promiscuous"]):
        inbox = tmp_path / f"inbox{len(outcomes)}"
        port = free_port()
        scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox), *options])
        wait_for_port(port, proc=scp)
        sent = run([dcmsend, "-v", "127.0.0.1", str(port), str(source)], 60, env)
        processes.stop(scp)
        success = re.search(r"with status SUCCESS\s*: 1", sent.stdout + sent.stderr)
        outcomes[" ".join(options)] = (bool(success), len(stored_files(inbox)))
    assert outcomes == {"": (False, 0), "-pm": (True, 1), "--promiscuous": (True, 1)}


def test_storescp_options_and_config_file_set_promiscuous(tmp_path: Path) -> None:
    parser = storescp.build_parser()
    for argv, expected in (
        (["104"], False),
        (["104", "-pm"], True),
        (["104", "--promiscuous"], True),
    ):
        assert storescp.settings_from_args(parser.parse_args(argv)).promiscuous is expected

    path = tmp_path / "config.toml"
    base = ReceiverSettings()
    path.write_text("[receiver]\npromiscuous = true\n")
    config, problems = load_config(path, base, SenderSettings())
    assert (config.receiver.promiscuous, problems) == (True, [])

    path.write_text('[receiver]\npromiscuous = "yes"\n')
    config, problems = load_config(path, base, SenderSettings())
    assert config.receiver.promiscuous is False
    assert problems == ["[receiver] promiscuous = 'yes': expected true or false; using False"]


# --- deflated data sets that do not inflate -------------------------------------------------

DEFLATED = "1.2.840.10008.1.2.1.99"


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw, as PS3.5 A.5 says
    return packer.compress(data) + packer.flush()


def store_raw(port: int, data_set: bytes, sop_instance: str) -> int | None:
    """One C-STORE of CT ``data_set`` (bytes as sent) in the deflated syntax, from a
    raw peer; the response's status."""
    with RawPeer(port, timeout=10) as peer:
        peer.send(associate_rq([(1, CT_IMAGE, [DEFLATED])], called="DICOMTUI"))
        pdu_type, body = peer.read_pdu()
        assert pdu_type == 0x02, f"expected A-ASSOCIATE-AC, got {pdu_type:#x}"
        peer.send(p_data(1, 0x03, c_store_rq(1, CT_IMAGE, sop_instance)))
        half = len(data_set) // 2 & ~1
        peer.send(p_data(1, 0x00, data_set[:half]))  # two fragments: both paths of the reader
        peer.send(p_data(1, 0x02, data_set[half:]))
        pdu_type, body = peer.read_pdu()
        status = store_status(body) if pdu_type == 0x04 else None
        peer.send(release_rq())
        peer.read_pdu()
    return status


def test_deflated_data_sets_that_do_not_inflate_are_refused(tmp_path: Path, start_receiver) -> None:
    running = start_receiver()
    source = make_object(tmp_path / "ct.dcm", CT_IMAGE, EXPLICIT, rows=64, columns=64, bits=16)
    plain = dataset_bytes(source)
    good = deflate(plain)
    cases = {
        "garbage": b"\xff" * 4096,
        "truncated": good[: len(good) // 2],
        "not deflated at all": plain,
        "corrupt in the middle": good[:100] + bytes(b ^ 0x55 for b in good[100:200]) + good[200:],
        "good": good,
        "good, padded": good + b"\x00",
    }
    statuses = {name: store_raw(running.port, data, generate_uid()) for name, data in cases.items()}

    assert statuses == {
        "garbage": 0xC000,
        "truncated": 0xC000,
        "not deflated at all": 0xC000,
        "corrupt in the middle": 0xC000,
        "good": 0x0000,
        "good, padded": 0x0000,
    }
    stored = stored_files(running.directory)
    assert len(stored) == 2  # the good ones, each readable
    for path in stored:
        ds = dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == DEFLATED
        assert ds.PixelData == dcmread(source).PixelData

    def partial_files() -> list[Path]:
        return [p for p in running.directory.iterdir() if p.name.startswith(".")]

    wait_until(lambda: not partial_files())  # the spare one goes with its association
    assert partial_files() == []
    refused = [e for e in running.of_type(ObjectReceived) if e.status == 0xC000]
    assert len(refused) == 4 and all("deflate" in e.error for e in refused)
    taken = [e for e in running.of_type(ObjectReceived) if e.status == 0]
    assert [(e.patient_name, e.modality) for e in taken] == [("TEST^PATIENT", "OT")] * 2


def test_a_deflate_bomb_stops_at_the_object_size_limit(tmp_path: Path, start_receiver) -> None:
    running = start_receiver(max_object_size=1_000_000)
    source = make_object(tmp_path / "ct.dcm", CT_IMAGE, EXPLICIT, rows=8, columns=8)
    bomb = deflate(dataset_bytes(source) + bytes(50_000_000))  # 50 kB on the wire

    assert store_raw(running.port, bomb, generate_uid()) == 0xA700
    assert stored_files(running.directory) == []
    (refused,) = running.of_type(ObjectReceived)
    assert "limit" in refused.error


def test_pynetdicom_sending_a_corrupt_deflated_file_gets_cannot_understand(
    tmp_path: Path, start_receiver
) -> None:
    """pynetdicom's requestor sends the file's data set as it is, without decoding."""
    running = start_receiver()
    source = make_object(tmp_path / "ct.dcm", CT_IMAGE, DEFLATED, rows=32, columns=32)
    source.write_bytes(source.read_bytes()[:-40])  # the end of the deflate stream is lost

    assert store_with_pynetdicom(running.port, source, DEFLATED) == 0xC000
    assert stored_files(running.directory) == []
