"""dcmjs-dimse (from npm, pinned in tests/peers/dcmjs) against ours, both ways.

The peer's scripts are tests/peers/dcmjs/store_scp.js and store_scu.js; CI installs
their node_modules with `npm ci`. What dcmjs-dimse 0.3.3 does differently:
- As an SCU it decodes each file and encodes it again: it drops private elements
  and writes Specific Character Set as ISO_IR 192. Its store_scu.js records the
  bytes it put on the wire, and what we store is compared with those.
- It proposes, per SOP class, one context with implicit and explicit VR little
  endian, and one more per other syntax of its files (big endian, compressed).
  An object whose syntax was not accepted goes in any accepted context of its SOP
  class, transcoded (so an explicit VR object may go as RLE).
- It sends P-DATA-TF PDUs of exactly the receiver's max PDU, the command in a PDU
  of its own.
- As an SCP it takes whatever max PDU it is told to offer and checks nothing of
  what arrives; store_scp.js writes each data set as received and names any PDU
  longer than the max PDU it offered.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from factory import interop_corpus, make_object
from helpers import (
    DICOMTUI,
    PDataSizes,
    Processes,
    dataset_bytes,
    free_port,
    missing_peer,
    run,
    sendable,
    start_our_scp,
    stop_our_scp,
    stored_files,
    wait_for_port,
)
from pydicom import dcmread
from pydicom.filereader import read_dataset

pytestmark = pytest.mark.timeout(60)

PEER = Path(__file__).parent / "peers" / "dcmjs"
SUCCESS = "Received Store Response (Status: 0x0000 - Success)"


def node() -> str:
    """Node.js, once dcmjs-dimse is installed beside the peer's scripts."""
    executable = shutil.which("node")
    if executable is None:
        missing_peer("node", "apt-get install nodejs npm")
    if not (PEER / "node_modules" / "dcmjs-dimse").is_dir():
        missing_peer("dcmjs-dimse", f"npm ci --prefix {PEER}")
    return executable


@pytest.fixture(autouse=True)
def dcmjs_installed() -> None:
    node()


def has_private_elements(path: Path) -> bool:
    return any(elem.tag.is_private for elem in dcmread(path))


def start_dcmjs_scp(
    processes: Processes, inbox: Path, *options: str
) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    scp = processes.start(
        [node(), str(PEER / "store_scp.js"), str(port), str(inbox), "--ae", "DCMJS", *options]
    )
    wait_for_port(port, proc=scp)
    return port, scp


def stop_dcmjs_scp(scp: subprocess.Popen[bytes]) -> str:
    log = Processes.stop(scp)
    for trouble in ("NETWORK-ERROR", "PDU-TOO-LONG", "ODD-FRAGMENT", "WRONG-CALLED-AE"):
        assert trouble not in log, log
    return log


def dcmjs_storescu(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        [node(), str(PEER / "store_scu.js"), "127.0.0.1", str(port), "DICOMTUI", *args],
        timeout=30,
    )


def test_dcmjs_storescu_into_our_storescp(tmp_path: Path, processes: Processes) -> None:
    sources = interop_corpus(tmp_path / "send")
    inbox, report, on_wire = tmp_path / "inbox", tmp_path / "report.json", tmp_path / "sent"
    port, scp = start_our_scp(processes, inbox, "--report", str(report))

    sent = dcmjs_storescu(port, "--sent-dir", str(on_wire), *map(str, sources))
    log = stop_our_scp(scp)

    assert sent.returncode == 0, sent.stdout + sent.stderr
    uids = [sendable(source).sop_instance for source in sources]
    assert sorted(sent.stdout.count(f"RESPONSE {uid} 0x0000") for uid in uids) == [1] * len(uids)
    assert log.count("Association Released") == 1, log
    objects = json.loads(report.read_text())["objects"]
    assert [o["status"] for o in objects] == ["0x0000"] * len(sources), objects

    stored = {sendable(p).sop_instance: p for p in stored_files(inbox)}
    assert sorted(stored) == sorted(uids)
    as_in_source = 0
    for source in sources:
        original = sendable(source)
        received = stored[original.sop_instance]
        # Byte for byte what dcmjs-dimse sent, whatever it made of the file.
        wire = (on_wire / f"{original.sop_instance}.dset").read_bytes()
        assert dataset_bytes(received) == wire, source.name
        assert sendable(received).sop_class == original.sop_class
        # Where it sent the file's own syntax and had nothing to drop, the file's bytes.
        as_it_is = sendable(received).transfer_syntax == original.transfer_syntax
        if as_it_is and not has_private_elements(source):
            assert wire == dataset_bytes(source), source.name
            as_in_source += 1
    assert as_in_source >= 4  # implicit VR, big endian, RLE and JPEG 2000 at least


def test_dcmjs_storescu_sends_4_mb_pdus_when_our_max_pdu_is_unlimited(
    tmp_path: Path, processes: Processes
) -> None:
    """-pdu 0: dcmjs-dimse cuts a 4.5 MB data set into PDUs of 4 MB and the rest
    (explicit VR preferred, so that it sends the file's own syntax)."""
    source = make_object(tmp_path / "large.dcm", bits=16)
    ds = dcmread(source)
    ds.Rows = ds.Columns = 1500
    size = 1500 * 1500 * 2
    ds.PixelData = (bytes(range(256)) * (size // 256 + 1))[:size]
    ds.save_as(source, enforce_file_format=True)
    inbox, on_wire = tmp_path / "inbox", tmp_path / "sent"
    port, scp = start_our_scp(processes, inbox, "-pdu", "0", "-xe")
    relay = PDataSizes(port)

    sent = dcmjs_storescu(relay.port, "--sent-dir", str(on_wire), str(source))
    relay.close()
    stop_our_scp(scp)

    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "ASSOCIATED max-pdu 0" in sent.stdout
    uid = sendable(source).sop_instance
    assert f"RESPONSE {uid} 0x0000" in sent.stdout
    [received] = stored_files(inbox)
    wire = (on_wire / f"{uid}.dset").read_bytes()
    assert len(wire) > 4 * 1024 * 1024
    # A PDU's length counts its item's header (6 bytes) with the fragment.
    first, rest = 4 * 1024 * 1024 - 6, len(wire) - (4 * 1024 * 1024 - 6)
    assert sorted(relay.lengths)[-2:] == [rest + 6, first + 6], relay.lengths
    assert dataset_bytes(received) == wire == dataset_bytes(source)


def test_three_dcmjs_storescus_at_once_into_our_storescp(
    tmp_path: Path, processes: Processes
) -> None:
    """Three associations at the same time, each object stored as its sender sent it."""
    inbox, report = tmp_path / "inbox", tmp_path / "report.json"
    port, scp = start_our_scp(processes, inbox, "--report", str(report))
    senders = []
    for index in range(3):
        sources = interop_corpus(tmp_path / f"send{index}")
        command = [node(), str(PEER / "store_scu.js"), "127.0.0.1", str(port), "DICOMTUI"]
        command += ["--calling", f"DCMJS{index}", "--sent-dir", str(tmp_path / f"wire{index}")]
        senders.append((processes.start(command + [str(s) for s in sources]), sources, index))

    for proc, _, _ in senders:
        assert proc.wait(30) == 0, Processes.stop(proc)
    log = stop_our_scp(scp)

    assert log.count("Association Released") == 3, log
    objects = json.loads(report.read_text())["objects"]
    assert len(objects) == sum(len(sources) for _, sources, _ in senders)
    assert {o["status"] for o in objects} == {"0x0000"}
    stored = {sendable(p).sop_instance: p for p in stored_files(inbox)}
    for _, sources, index in senders:
        for source in sources:
            uid = sendable(source).sop_instance
            wire = (tmp_path / f"wire{index}" / f"{uid}.dset").read_bytes()
            assert dataset_bytes(stored[uid]) == wire, source


def test_dcmjs_echo_into_our_storescp(tmp_path: Path, processes: Processes) -> None:
    port, scp = start_our_scp(processes, tmp_path / "inbox")
    echoed = dcmjs_storescu(port, "--echo")
    log = stop_our_scp(scp)

    assert echoed.returncode == 0, echoed.stdout + echoed.stderr
    assert "ECHO 0x0000" in echoed.stdout
    assert "Received Echo Request (MsgID 1)" in log


# 0: no limit. An odd max PDU (which DCMTK never offers: it rounds down to even)
# gets fragments of odd length from pynetdicom, cut at max PDU - 6 bytes; PS3.8 E.1
# wants every fragment even, as our own path (p_data_pdus) cuts them.
ODD_FRAGMENTS = pytest.mark.xfail(
    strict=True, reason="pynetdicom cuts fragments at max PDU - 6 bytes, odd for an odd max PDU"
)


@pytest.mark.parametrize(
    ("max_pdu", "options"),
    [
        (16384, []),
        (4096, []),
        (0, []),
        (4097, []),
        pytest.param(4097, ["--no-fast-path"], marks=ODD_FRAGMENTS),
    ],
)
def test_our_storescu_into_dcmjs_storescp(
    tmp_path: Path, processes: Processes, max_pdu: int, options: list[str]
) -> None:
    sources = interop_corpus(tmp_path / "send")
    inbox = tmp_path / "dcmjs-inbox"
    port, scp = start_dcmjs_scp(processes, inbox, "--max-pdu", str(max_pdu))

    result = run(
        [*DICOMTUI, "storescu", "127.0.0.1", str(port), "-aec", "DCMJS", "-v", *options]
        + [str(source) for source in sources]
    )
    peer_log = stop_dcmjs_scp(scp)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(SUCCESS) == len(sources), result.stderr
    assert f"{len(sources)} sent, 0 with warnings, 0 failed, 0 skipped" in result.stderr
    assert f"max-pdu {max_pdu}" in peer_log
    largest = int(peer_log.split("LARGEST-PDATA ")[1].split()[0])
    assert largest > 0 and (max_pdu == 0 or largest <= max_pdu), peer_log
    assert peer_log.count("RELEASED") == 1, peer_log
    for source in sources:
        original = sendable(source)
        uid = original.sop_instance
        assert f"STORED {uid} {original.transfer_syntax} 0x0000" in peer_log, peer_log
        meta = json.loads((inbox / f"{uid}.json").read_text())
        assert meta["sop_class"] == original.sop_class
        assert meta["calling_ae"] == "STORESCU"
        # Every object went in its own syntax, as it is in the file.
        assert meta["transfer_syntax"] == original.transfer_syntax
        assert (inbox / f"{uid}.dset").read_bytes() == dataset_bytes(source), source.name


@pytest.mark.parametrize(
    ("status", "exit_status", "each", "summary"),
    [
        (
            "0xA700",
            1,
            "E: Store failed: {} (Status: 0xA700 - Failure)",
            "0 sent, 0 with warnings, 2 failed",
        ),
        (
            "0xB000",
            0,
            "W: Stored with a warning: {} (Status: 0xB000 - Warning)",
            "0 sent, 2 with warnings, 0 failed",
        ),
    ],
)
def test_our_storescu_reports_what_dcmjs_answers(
    tmp_path: Path, processes: Processes, status: str, exit_status: int, each: str, summary: str
) -> None:
    """A peer that refuses every object (out of resources) or stores each with a warning."""
    sources = [make_object(tmp_path / f"sc{i}.dcm") for i in range(2)]
    port, scp = start_dcmjs_scp(processes, tmp_path / "dcmjs-inbox", "--status", status)

    result = run(
        [*DICOMTUI, "storescu", "127.0.0.1", str(port), "-aec", "DCMJS", "-v"]
        + [str(source) for source in sources]
    )
    peer_log = stop_dcmjs_scp(scp)

    assert result.returncode == exit_status, result.stderr
    for source in sources:
        assert each.format(source) in result.stderr, result.stderr
    assert summary in result.stderr
    assert peer_log.count(f" {status}") == 2


def test_our_storescu_converts_for_a_dcmjs_that_takes_implicit_only(
    tmp_path: Path, processes: Processes
) -> None:
    """The peer declines the file's explicit VR: it gets implicit VR, the same data set."""
    source = make_object(tmp_path / "explicit.dcm", bits=16)
    inbox = tmp_path / "dcmjs-inbox"
    port, scp = start_dcmjs_scp(processes, inbox, "--accept", "1.2.840.10008.1.2")

    result = run(
        [*DICOMTUI, "storescu", "127.0.0.1", str(port), "-aec", "DCMJS", "-v", str(source)]
    )
    peer_log = stop_dcmjs_scp(scp)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(SUCCESS) == 1
    uid = sendable(source).sop_instance
    assert f"STORED {uid} 1.2.840.10008.1.2 0x0000" in peer_log, peer_log
    received = read_dataset(BytesIO((inbox / f"{uid}.dset").read_bytes()), True, True)
    original = dcmread(source)
    del original.file_meta
    assert received == original


def test_our_echo_into_dcmjs_storescp(tmp_path: Path, processes: Processes) -> None:
    port, scp = start_dcmjs_scp(processes, tmp_path / "dcmjs-inbox")
    result = run([*DICOMTUI, "echo", "127.0.0.1", str(port), "-aec", "DCMJS"])
    peer_log = stop_dcmjs_scp(scp)

    assert result.returncode == 0, result.stderr
    assert "0x0000 - Success" in result.stdout + result.stderr
    assert "ECHOED" in peer_log and "RELEASED" in peer_log


def test_our_storescu_when_dcmjs_aborts_mid_send(tmp_path: Path, processes: Processes) -> None:
    """The peer aborts instead of answering the third object: the two before it are
    confirmed and stored as they are, the third is named as failed, the rest as not
    attempted, and the exit status says so."""
    sources = interop_corpus(tmp_path / "send")
    inbox, report = tmp_path / "dcmjs-inbox", tmp_path / "sent.json"
    port, scp = start_dcmjs_scp(processes, inbox, "--abort-at", "3")

    result = run(
        [*DICOMTUI, "storescu", "127.0.0.1", str(port), "-aec", "DCMJS", "-v"]
        + ["--report", str(report)]
        + [str(source) for source in sources]
    )
    peer_log = stop_dcmjs_scp(scp)

    assert result.returncode == 1, result.stderr
    order = [
        Path(line.split(": ", 2)[2])
        for line in result.stderr.splitlines()
        if line.startswith("I: Sending file: ")
    ]
    assert len(order) == 3, result.stderr
    confirmed, aborted = order[:2], order[2]
    assert f"ABORTING AT {sendable(aborted).sop_instance}" in peer_log
    assert result.stderr.count(SUCCESS) == 2, result.stderr
    assert f"E: Store failed: {aborted}" in result.stderr
    assert "Association Aborted" in result.stderr
    not_attempted = len(sources) - 3
    assert f"2 sent, 0 with warnings, 1 failed, 0 skipped, {not_attempted} not attempted" in (
        result.stderr
    )
    objects = json.loads(report.read_text())["objects"]
    assert [(o["sop_instance"], o["result"]) for o in objects] == [
        (sendable(confirmed[0]).sop_instance, "Success"),
        (sendable(confirmed[1]).sop_instance, "Success"),
        (sendable(aborted).sop_instance, "Failure"),
    ]
    for source in confirmed:
        uid = sendable(source).sop_instance
        assert (inbox / f"{uid}.dset").read_bytes() == dataset_bytes(source)
