"""GDCM's gdcmscu (Debian's libgdcm-tools) against our storescp.

What gdcmscu 3.0.21 does differently from the other peers:
- It proposes one presentation context per SOP class and transfer syntax of the
  files it sends, each with that one syntax only (the file's own), offers a max
  PDU of 16384, fills P-DATA-TF PDUs to the receiver's max PDU, and sends each
  data set exactly as it is in the file.
- It releases the association properly, then dies at its own exit of an uncaught
  C++ exception ("ProtocolStream as nullptr is invalid", SIGABRT) whatever the
  peer (DCMTK's storescp too): its exit status says nothing, so the tests read its
  debug log (-D) for "C-Store of file X was successful." and the C-ECHO-RSP.
- It sends on a presentation context the receiver rejected.
- It has no Storage SCP mode (its --port-scp only takes the objects of its own
  C-MOVE), so nothing of ours sends into it; its --find, --move and --get need a
  Q/R SCP, which dicomtui is not.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest
from factory import interop_corpus, make_object
from helpers import (
    PDataSizes,
    Processes,
    dataset_bytes,
    require_tool,
    run,
    sendable,
    start_our_scp,
    stop_our_scp,
    stored_files,
)
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

pytestmark = pytest.mark.timeout(60)

#: C-ECHO-RSP's Command Field, as gdcmscu -D dumps a received command.
ECHO_RSP = "(0000,0100) ?? (US) 32816"
STATUS_SUCCESS = "(0000,0900) ?? (US) 0 "
#: gdcmscu's end: an A-RELEASE-RP received, then its own crash.
RELEASE_RP_RECEIVED = "PDU code: 6"


def gdcmscu() -> str:
    return require_tool("gdcmscu", package="libgdcm-tools")


def run_gdcmscu(*args: str, fails: bool = False) -> subprocess.CompletedProcess[str]:
    """gdcmscu with its debug log; its exit status is its own SIGABRT, 0 (should
    it ever exit cleanly) or, when it ``fails``, 1."""
    done = run([gdcmscu(), "-D", *args], timeout=30)
    expected = (1,) if fails else (0, -signal.SIGABRT)
    assert done.returncode in expected, done.stdout + done.stderr
    return done


def test_gdcmscu_stores_every_object_byte_for_byte(tmp_path: Path, processes: Processes) -> None:
    sources = interop_corpus(tmp_path / "send")
    inbox, report = tmp_path / "inbox", tmp_path / "report.json"
    port, scp = start_our_scp(processes, inbox, "--report", str(report))

    sent = run_gdcmscu(
        "--store", "--call", "DICOMTUI", "127.0.0.1", str(port), "-r", "-i", str(tmp_path / "send")
    )
    log = stop_our_scp(scp)

    output = sent.stdout + sent.stderr
    for source in sources:
        assert f"C-Store of file {source} was successful." in output, output[-3000:]
    assert "Store failed" not in output and "Transfer failed" not in output
    # gdcmscu's abort at exit comes after a proper release: nothing was lost.
    assert RELEASE_RP_RECEIVED in output
    assert log.count("Association Released") == 1, log
    assert "Aborted" not in log
    objects = json.loads(report.read_text())["objects"]
    assert [o["status"] for o in objects] == ["0x0000"] * len(sources), objects
    assert {o["ae_title"] for o in objects} == {"GDCMSCU"}

    stored = {sendable(p).sop_instance: p for p in stored_files(inbox)}
    assert len(stored) == len(sources)
    for source in sources:
        original = sendable(source)
        received = stored[original.sop_instance]
        assert sendable(received).transfer_syntax == original.transfer_syntax, source.name
        assert sendable(received).sop_class == original.sop_class, source.name
        assert dataset_bytes(received) == dataset_bytes(source), source.name


def test_gdcmscu_fills_our_small_max_pdu(tmp_path: Path, processes: Processes) -> None:
    """Our receiver offers 4 KB PDUs: gdcmscu's 200 KB data set comes in PDUs of
    exactly that length, each no longer."""
    [large] = [p for p in interop_corpus(tmp_path / "send") if p.name == "sc-large.dcm"]
    inbox = tmp_path / "inbox"
    port, scp = start_our_scp(processes, inbox, "-pdu", "4096")
    relay = PDataSizes(port)

    sent = run_gdcmscu(
        "--store", "--call", "DICOMTUI", "127.0.0.1", str(relay.port), "-i", str(large)
    )
    relay.close()
    stop_our_scp(scp)

    assert f"C-Store of file {large} was successful." in sent.stdout + sent.stderr
    assert len(relay.lengths) > len(dataset_bytes(large)) // 4096
    assert max(relay.lengths) == 4096, relay.lengths
    [received] = stored_files(inbox)
    assert dataset_bytes(received) == dataset_bytes(large)


def test_gdcmscu_echo_is_answered(tmp_path: Path, processes: Processes) -> None:
    port, scp = start_our_scp(processes, tmp_path / "inbox")

    echoed = run_gdcmscu("--echo", "--call", "DICOMTUI", "127.0.0.1", str(port))
    log = stop_our_scp(scp)

    output = echoed.stdout + echoed.stderr
    response = output[output.index(ECHO_RSP) :]
    assert STATUS_SUCCESS in response[: response.index(RELEASE_RP_RECEIVED)], output[-3000:]
    assert "Received Echo Request (MsgID 1)" in log
    assert "Association Released" in log


# gdcmscu sends on a context our receiver rejected (here: explicit VR only, while
# -xi takes implicit VR only). Nothing is lost and the receiver goes on serving,
# but it says so with a traceback from pynetdicom's DUL thread (KeyError in
# DIMSEMessage.decode_msg: the context id is not among the accepted ones), "E:
# pynetdicom: 1", and "Lost <UID> after 132 bytes: the association ended before
# the data set was complete", which names neither the context nor the peer's fault.
def test_a_store_on_a_rejected_context_is_one_clear_error(
    tmp_path: Path, processes: Processes
) -> None:
    refused = make_object(tmp_path / "explicit.dcm", transfer_syntax=ExplicitVRLittleEndian)
    accepted = make_object(tmp_path / "implicit.dcm", transfer_syntax=ImplicitVRLittleEndian)
    inbox = tmp_path / "inbox"
    port, scp = start_our_scp(processes, inbox, "-xi")

    first = run_gdcmscu(
        "--store", "--call", "DICOMTUI", "127.0.0.1", str(port), "-i", str(refused), fails=True
    )
    second = run_gdcmscu(
        "--store", "--call", "DICOMTUI", "127.0.0.1", str(port), "-i", str(accepted)
    )
    log = Processes.stop(scp)

    assert "Store failed." in first.stdout + first.stderr
    assert f"C-Store of file {accepted} was successful." in second.stdout + second.stderr
    [stored] = stored_files(inbox)
    assert dcmread(stored).SOPInstanceUID == dcmread(accepted).SOPInstanceUID
    assert "Traceback" not in log, log
    errors = [line for line in log.splitlines() if line.startswith("E:")]
    assert len(errors) == 1, log
    assert re.search(r"context\s+(ID\s+)?1\b", errors[0], re.IGNORECASE), errors


# The same without a data set: with --no-echo our receiver rejects gdcmscu's
# Verification context and gdcmscu sends its C-ECHO on it anyway. pynetdicom
# served it as "Received Echo Request (MsgID 1)" and then aborted with a reason
# our log did not show; the receiver now names the context and aborts.
def test_an_echo_on_a_rejected_context_is_named(tmp_path: Path, processes: Processes) -> None:
    port, scp = start_our_scp(processes, tmp_path / "inbox", "--no-echo")

    # gdcmscu says its echo failed (exit 1), or dies of the abort (SIGABRT).
    echoed = run([gdcmscu(), "-D", "--echo", "--call", "DICOMTUI", "127.0.0.1", str(port)])
    assert echoed.returncode in (1, -signal.SIGABRT), echoed.stdout + echoed.stderr
    log = Processes.stop(scp)

    output = echoed.stdout + echoed.stderr
    assert "Result: 3" in output  # gdcmscu was told: abstract syntax not supported
    assert ECHO_RSP not in output
    assert "Received Echo Request" not in log, log
    assert re.search(r"context\s+(ID\s+)?1\b", log, re.IGNORECASE), log
