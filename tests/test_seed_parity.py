"""Everything the seed manuals (tests/seeds/) list works: SOP classes, syntaxes, options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from factory import make_object
from helpers import stored_files
from pynetdicom import AE, build_context

from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import FileSent
from dicomtui.headless import storescp, storescu

SEEDS = Path(__file__).parent / "seeds"


def manual_table(name: str, section: str, uid_prefix: str) -> list[str]:
    text = (SEEDS / name).read_text()
    text = text[text.index(section) :]
    return re.findall(rf"^\|\s*({re.escape(uid_prefix)}[\d.]*)\s*\|", text, re.MULTILINE)


def manual_syntaxes(name: str) -> list[str]:
    """The last transfer syntax table of the manual (the Storage one)."""
    text = (SEEDS / name).read_text()
    text = text[text.rindex("Transfer Syntaxes") :]
    return re.findall(r"^\|\s*(1\.2\.840\.10008\.1\.2[\d.]*)\s*\|", text, re.MULTILINE)


SCP_CLASSES = manual_table("storescp.rst", "Storage Service", "1.2.840.10008.5.")
SCU_CLASSES = manual_table("storescu.rst", "Storage Service", "1.2.840.10008.5.")
SCP_SYNTAXES = manual_syntaxes("storescp.rst")
SCU_SYNTAXES = manual_syntaxes("storescu.rst")


def test_the_tables_were_read() -> None:
    assert len(SCP_CLASSES) == 157
    assert len(SCU_CLASSES) == 136
    assert len(SCP_SYNTAXES) == 15
    assert len(SCU_SYNTAXES) == 4


def propose(port: int, contexts: list) -> list:
    ae = AE(ae_title="PARITY")
    ae.requested_contexts = contexts
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMTUI")
    try:
        assert assoc.is_established
        return list(assoc.accepted_contexts)
    finally:
        assoc.release()


def test_receiver_accepts_every_storage_class_of_the_manual(start_receiver) -> None:
    running = start_receiver()
    accepted = []
    for start in range(0, len(SCP_CLASSES), 128):
        chunk = SCP_CLASSES[start : start + 128]
        accepted += propose(running.port, [build_context(uid) for uid in chunk])
    assert sorted(str(cx.abstract_syntax) for cx in accepted) == sorted(SCP_CLASSES)


def test_receiver_accepts_every_transfer_syntax_of_the_manual(start_receiver) -> None:
    running = start_receiver()
    contexts = [build_context("1.2.840.10008.5.1.4.1.1.2", ts) for ts in SCP_SYNTAXES]
    contexts += [build_context("1.2.840.10008.1.1", ts) for ts in SCP_SYNTAXES[:4]]
    accepted = propose(running.port, contexts)
    assert len(accepted) == len(contexts)
    assert sorted({str(cx.transfer_syntax[0]) for cx in accepted}) == sorted(SCP_SYNTAXES)


def test_sender_sends_every_storage_class_of_the_manual(tmp_path: Path, start_receiver) -> None:
    """One object per SOP class: more contexts than one association may hold,
    so this also proves the split over several associations."""
    running = start_receiver()
    folder = tmp_path / "all-classes"
    folder.mkdir()
    for index, uid in enumerate(SCU_CLASSES):
        make_object(folder / f"{index:03d}.dcm", sop_class=uid, rows=2, columns=2)
    bus = EventBus()
    events: list = []
    bus.subscribe(events.append)
    job = SendJob(SenderSettings(port=running.port, called_ae_title="DICOMTUI"), [folder], bus)

    result = job.run()

    failed = [e for e in events if isinstance(e, FileSent) and e.status != 0]
    assert failed == []
    assert result.sent == len(SCU_CLASSES)
    assert len(stored_files(running.directory)) == len(SCU_CLASSES)


def manual_options(name: str) -> list[str]:
    text = (SEEDS / name).read_text()
    text = text[text.index("Options\n=======") : text.index("DICOM Conformance")]
    return re.findall(r"^``(-\S+)\s+(--[\w-]+)", text, re.MULTILINE)


VALUES = {
    "--log-level": "debug",
    "--ae-title": "X",
    "--calling-aet": "X",
    "--called-aet": "Y",
    "--acse-timeout": "5",
    "--dimse-timeout": "5",
    "--network-timeout": "5",
    "--max-pdu": "0",
    "--output-directory": "out",
}


@pytest.mark.parametrize("option", manual_options("storescp.rst"), ids=lambda o: o[1])
def test_storescp_accepts_every_option_of_the_manual(option: tuple[str, str]) -> None:
    parser = storescp.build_parser()
    for flag in option:
        extra = [VALUES[option[1]]] if option[1] in VALUES else []
        args = parser.parse_args(["11112", flag, *extra])
        assert args.port == 11112


@pytest.mark.parametrize("option", manual_options("storescu.rst"), ids=lambda o: o[1])
def test_storescu_accepts_every_option_of_the_manual(option: tuple[str, str]) -> None:
    parser = storescu.build_parser()
    for flag in option:
        extra = [VALUES[option[1]]] if option[1] in VALUES else []
        args = parser.parse_args(["127.0.0.1", "104", "file.dcm", flag, *extra])
        assert args.path == ["file.dcm"]


def test_defaults_are_the_manuals() -> None:
    scp = storescp.settings_from_args(storescp.build_parser().parse_args(["104"]))
    assert (scp.ae_title, scp.acse_timeout, scp.dimse_timeout, scp.network_timeout) == (
        "STORESCP",
        30,
        30,
        30,
    )
    assert scp.max_pdu == 16382 and scp.echo and not scp.ignore
    scu = storescu.settings_from_args(storescu.build_parser().parse_args(["h", "104", "f"]))
    assert (scu.calling_ae_title, scu.called_ae_title, scu.max_pdu) == (
        "STORESCU",
        "ANY-SCP",
        16382,
    )
    assert (scu.acse_timeout, scu.dimse_timeout, scu.network_timeout) == (30, 30, 30)
    assert not scu.recurse and not scu.required_contexts
