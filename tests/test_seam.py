"""The one seam to pynetdicom's internals: checked at start, loud when it breaks."""

from __future__ import annotations

import hashlib
import inspect
import logging
import sys
from pathlib import Path

import pytest
from factory import copy_ct
from helpers import DICOMTUI, Processes, free_port, run, same_content, wait_for_port, wait_until
from pynetdicom.acse import ACSE
from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_messages import DIMSEMessage
from pynetdicom.dul import DULServiceProvider
from pynetdicom.service_class import StorageServiceClass
from pynetdicom.transport import AssociationSocket

from dicomtui.core.net import seam
from dicomtui.core.scp import receiver
from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import AssociationAborted, LogMessage, ObjectReceived

#: Every pynetdicom function we copied (the reactors) or whose body we rely on
#: (the pause handshake of send_c_*() and release(), the reader and decoder we
#: replace parts of), as sha256 of its source in the pinned 3.0.4. A new
#: pynetdicom changes these: compare our copies in core/ with the new code, then
#: update the digests.
COPIED_OR_WRAPPED = {
    "Association._run_reactor": (Association._run_reactor, "f28838c5559e462a"),
    "Association.send_c_store": (Association.send_c_store, "fa5a8127f349f8e7"),
    "Association.send_c_echo": (Association.send_c_echo, "664d0e9b0ab20c53"),
    "Association.release": (Association.release, "c7d713502b77d702"),
    "DULServiceProvider._read_pdu_data": (DULServiceProvider._read_pdu_data, "19f2d4e38c13c835"),
    "DULServiceProvider.run_reactor": (DULServiceProvider.run_reactor, "e3a10eb3a0931e48"),
    "DIMSEMessage.decode_msg": (DIMSEMessage.decode_msg, "f51c777e841a76be"),
    "Association.send_c_find": (Association.send_c_find, "5879d593298e14b6"),
    "Association.send_c_move": (Association.send_c_move, "eb51b3130c213cf6"),
    "Association.send_c_get": (Association.send_c_get, "df1f082c59355edc"),
    "Association._wrap_find_responses": (Association._wrap_find_responses, "34436b9c80ccb5f3"),
    "Association._wrap_get_move_responses": (
        Association._wrap_get_move_responses,
        "d023a7bdadd24d59",
    ),
    "ACSE.negotiate_release": (ACSE.negotiate_release, "e66977c7292334c5"),
    # fast_send wraps these two per association (the socket lent to our C-STORE path).
    "DULServiceProvider._is_transport_event": (
        DULServiceProvider._is_transport_event,
        "8725ed03bb8fbdef",
    ),
    "AssociationSocket.recv": (AssociationSocket.recv, "6bc20a33b1b7cfe7"),
    # fast_receive does what these do for the C-STORE requests it takes.
    "StorageServiceClass.SCP": (StorageServiceClass.SCP, "63afca7fc6c6e7ee"),
    "DIMSEServiceProvider.receive_primitive": (
        DIMSEServiceProvider.receive_primitive,
        "5f99c86b14a15cef",
    ),
    "Association._serve_request": (Association._serve_request, "2f24c1759cdf6c8c"),
}


@pytest.mark.parametrize("name", sorted(COPIED_OR_WRAPPED))
def test_copied_and_wrapped_pynetdicom_code_is_the_pinned_release(name: str) -> None:
    function, digest = COPIED_OR_WRAPPED[name]
    source = inspect.getsource(function)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest, (
        f"pynetdicom's {name} changed: compare dicomtui's copy or wrapper with it"
    )


def test_every_internal_we_use_is_there_in_the_pinned_release() -> None:
    found = seam.check()
    assert found.version == seam.PINNED_VERSION
    assert found.missing == ()
    assert found.lines() == []


def test_a_missing_internal_is_named_and_the_plain_path_still_stores(
    tmp_path: Path, processes: Processes
) -> None:
    """In a process where pynetdicom lacks one internal: one E: line, and objects
    still arrive byte for byte, on pynetdicom's own path."""
    port = free_port()
    inbox = tmp_path / "inbox"
    script = (
        "import sys; from dicomtui.core.net import seam;"
        "seam.CHECKED += (seam.Part('Association._gone()', lambda: False),);"
        "from dicomtui.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    scp = processes.start(
        [sys.executable, "-c", script, "storescp", "-od", str(inbox), "-aet", "DICOMTUI", str(port)]
    )
    wait_for_port(port, proc=scp)
    source = copy_ct(tmp_path / "ct.dcm")
    sent = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(source)])
    log = Processes.stop(scp)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "E: pynetdicom 3.0.4 lacks what dicomtui uses of its internals" in log
    assert "(Association._gone()): running on pynetdicom's plain path" in log
    stored = [p for p in inbox.rglob("*") if p.is_file()]
    assert len(stored) == 1 and same_content(source, stored[0])


def test_a_patch_that_cannot_be_installed_aborts_its_association(
    start_receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise AttributeError("no such thing")

    monkeypatch.setattr(receiver, "read_pdus_directly", broken)
    running = start_receiver()
    job = SendJob(SenderSettings(port=running.port), [copy_ct(tmp_path / "ct.dcm")], EventBus())
    result = job.run()
    assert result.sent == 0
    wait_until(lambda: running.of_type(AssociationAborted))
    lines = [e.text for e in running.of_type(LogMessage)]
    assert any("Cannot prepare association" in t and "no such thing" in t for t in lines), lines
    assert running.of_type(ObjectReceived) == []


def test_pynetdicom_warnings_reach_the_log(
    start_receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception in one of our handlers: pynetdicom catches and logs it; the log
    pane and the headless output now show that line."""

    def failing(self: object, event: object) -> int:
        raise RuntimeError("handler broke")

    monkeypatch.setattr(receiver.Receiver, "_on_c_store", failing)
    running = start_receiver()
    SendJob(SenderSettings(port=running.port), [copy_ct(tmp_path / "ct.dcm")], EventBus()).run()
    wait_until(lambda: any("handler broke" in e.text for e in running.of_type(LogMessage)))
    lines = [e.text for e in running.of_type(LogMessage)]
    assert any(t.startswith("pynetdicom: Exception in handler") for t in lines), lines
    assert not any("Traceback" in t for t in lines)
    assert logging.getLogger("pynetdicom").level <= logging.WARNING
