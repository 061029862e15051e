"""What the receiver accepts: every Storage SOP class of the standard, unknown ones
with --promiscuous, and no deflated data set that does not inflate."""

from __future__ import annotations

import re
from pathlib import Path

from factory import make_object
from helpers import DICOMTUI, Processes, free_port, require_tool, run, stored_files, wait_for_port
from pydicom import dcmread
from pydicom._uid_dict import UID_dictionary
from pynetdicom import AE, AllStoragePresentationContexts, build_context

from dicomtui.core.bus import EventBus
from dicomtui.core.events import FileSent
from dicomtui.core.sender import SenderSettings, SendJob

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
    ct_image = "1.2.840.10008.5.1.4.1.1.2"  # so that the association holds one context
    assert accepted(running.port, [*NOT_STORAGE, ct_image]) == {ct_image}


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
