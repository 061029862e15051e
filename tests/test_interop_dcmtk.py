"""DCMTK (Debian's dcmtk package) against ours, both ways, in every syntax it makes."""

from __future__ import annotations

from pathlib import Path

import pytest
from factory import copy_ct, make_object
from helpers import (
    DICOMTUI,
    Processes,
    free_port,
    require_tool,
    run,
    same_content,
    stored_files,
    wait_for_port,
)
from pydicom import dcmread

from dicomtui.core.dicom.files import DicomFile, inspect_file
from dicomtui.core.dicom.tables import is_uncompressed
from dicomtui.core.dicom.uids import EXPLICIT_LITTLE

NODELAY = {"TCP_NODELAY": "1"}
DCMTK_STORESCP_REFUSES = {"1.2.840.10008.1.2.4.57"}

# (tool and options, source) -> the transfer syntax DCMTK writes.
CONVERSIONS = [
    (["dcmconv", "+ti"], "ct", "1.2.840.10008.1.2"),
    (["dcmconv", "+te"], "ct", "1.2.840.10008.1.2.1"),
    (["dcmconv", "+td"], "ct", "1.2.840.10008.1.2.1.99"),
    (["dcmconv", "+tb"], "ct", "1.2.840.10008.1.2.2"),
    (["dcmcjpeg", "+eb"], "8bit", "1.2.840.10008.1.2.4.50"),
    (["dcmcjpeg", "+ee"], "ct", "1.2.840.10008.1.2.4.51"),
    (["dcmcjpeg", "+el"], "ct", "1.2.840.10008.1.2.4.57"),
    (["dcmcjpeg", "+e1"], "ct", "1.2.840.10008.1.2.4.70"),
    (["dcmcjpls", "+el"], "ct", "1.2.840.10008.1.2.4.80"),
    (["dcmcjpls", "+en"], "8bit", "1.2.840.10008.1.2.4.81"),
    (["dcmcrle"], "ct", "1.2.840.10008.1.2.5"),
]


@pytest.fixture
def corpus(tmp_path: Path) -> list[DicomFile]:
    """One file per transfer syntax DCMTK can write here, each with its own UID."""
    tools = {tool: require_tool(tool) for tool in ("dcmconv", "dcmcjpeg", "dcmcjpls", "dcmcrle")}
    work, out = tmp_path / "work", tmp_path / "corpus"
    work.mkdir()
    out.mkdir()
    files = []
    for index, (command, source_kind, syntax) in enumerate(CONVERSIONS):
        if source_kind == "ct":
            source = copy_ct(work / f"src{index}.dcm")
        else:
            source = make_object(work / f"src{index}.dcm", rows=64, columns=64, bits=8)
        target = out / f"{index:02d}.dcm"
        done = run([tools[command[0]], *command[1:], str(source), str(target)])
        assert done.returncode == 0, done.stderr
        found = inspect_file(target)
        assert isinstance(found, DicomFile) and found.transfer_syntax == syntax, found
        files.append(found)
    return files


def start_our_scp(processes: Processes, inbox: Path, *options: str) -> tuple[int, object]:
    port = free_port()
    scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox), *options])
    wait_for_port(port, proc=scp)
    return port, scp


def test_dcmsend_into_our_storescp_every_syntax(
    tmp_path: Path, processes: Processes, corpus: list[DicomFile]
) -> None:
    dcmsend = require_tool("dcmsend")
    inbox = tmp_path / "inbox"
    port, scp = start_our_scp(processes, inbox, "-v")

    sent = run(
        [
            dcmsend,
            "-aec",
            "DICOMTUI",
            "+sd",
            "+r",
            "127.0.0.1",
            str(port),
            str(tmp_path / "corpus"),
        ],
        env=NODELAY,
    )
    log = Processes.stop(scp)

    assert sent.returncode == 0, sent.stdout + sent.stderr
    stored = {inspect_file(p).sop_instance: p for p in stored_files(inbox)}  # type: ignore[union-attr]
    assert len(stored) == len(corpus), log
    for item in corpus:
        received = stored[item.sop_instance]
        stored_syntax = dcmread(received).file_meta.TransferSyntaxUID
        if is_uncompressed(item.transfer_syntax):
            assert is_uncompressed(stored_syntax)
        else:  # compressed objects are accepted as they are
            assert stored_syntax == item.transfer_syntax
        # dcmsend re-encodes what it reads, so compare content, not bytes.
        assert same_content(received, item.path), item.transfer_syntax


def test_dcmtk_storescu_into_our_storescp(tmp_path: Path, processes: Processes) -> None:
    storescu = require_tool("storescu")
    inbox = tmp_path / "inbox"
    port, scp = start_our_scp(processes, inbox)
    sources = [copy_ct(tmp_path / f"ct{i}.dcm") for i in range(3)]

    sent = run([storescu, "-v", "127.0.0.1", str(port), *map(str, sources)], env=NODELAY)
    Processes.stop(scp)

    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert (
        sent.stdout.count("Received Store Response (Success)")
        + sent.stderr.count("Received Store Response (Success)")
        == 3
    )
    by_uid = {dcmread(p).SOPInstanceUID: p for p in stored_files(inbox)}
    for source in sources:
        assert same_content(by_uid[dcmread(source).SOPInstanceUID], source)


def test_our_storescu_into_dcmtk_storescp_every_syntax(
    tmp_path: Path, processes: Processes, corpus: list[DicomFile]
) -> None:
    storescp = require_tool("storescp")
    inbox = tmp_path / "dcmtk-inbox"
    inbox.mkdir()
    port = free_port()
    scp = processes.start([storescp, "+xa", "-od", str(inbox), str(port)], env=NODELAY)
    wait_for_port(port, proc=scp)

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(tmp_path / "corpus"), "-v"])
    Processes.stop(scp)

    # DCMTK 3.6.7's storescp +xa does not accept JPEG process 14 (non-SV1): that
    # one is decompressed (losslessly) and sent in explicit VR little endian.
    refused = [item for item in corpus if item.transfer_syntax in DCMTK_STORESCP_REFUSES]
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Received Store Response (Status: 0x0000 - Success)") == len(corpus)
    stored = {dcmread(p).SOPInstanceUID: p for p in inbox.iterdir()}
    assert len(stored) == len(corpus)
    for item in corpus:
        received = stored[item.sop_instance]
        if item in refused:
            assert f"I: Decompressing {item.path} from " in result.stderr
            assert dcmread(received).file_meta.TransferSyntaxUID == EXPLICIT_LITTLE
            original = dcmread(item.path)
            assert dcmread(received).pixel_array.tolist() == original.pixel_array.tolist()
            continue
        assert dcmread(received).file_meta.TransferSyntaxUID == item.transfer_syntax
        assert same_content(received, item.path), item.transfer_syntax


def test_dcmtk_echoscu_is_answered_unless_no_echo(tmp_path: Path, processes: Processes) -> None:
    echoscu = require_tool("echoscu")
    port, scp = start_our_scp(processes, tmp_path / "a")
    answered = run([echoscu, "-v", "127.0.0.1", str(port)], env=NODELAY)
    Processes.stop(scp)
    port, scp = start_our_scp(processes, tmp_path / "b", "--no-echo")
    refused = run([echoscu, "-v", "127.0.0.1", str(port)], env=NODELAY)
    Processes.stop(scp)

    assert answered.returncode == 0, answered.stdout + answered.stderr
    assert refused.returncode != 0
    assert "No Acceptable Presentation Contexts" in refused.stdout + refused.stderr


def test_our_echo_against_dcmtk_storescp(processes: Processes) -> None:
    storescp = require_tool("storescp")
    port = free_port()
    scp = processes.start([storescp, str(port)], env=NODELAY)
    wait_for_port(port, proc=scp)
    result = run([*DICOMTUI, "echo", "127.0.0.1", str(port), "-aec", "STORESCP"])
    Processes.stop(scp)
    assert result.returncode == 0, result.stderr
    assert "0x0000 - Success" in result.stdout


def test_odd_length_deflated_data_set_reaches_dcmtk(tmp_path: Path, processes: Processes) -> None:
    """DCMTK refuses odd PDV fragments; a deflated stream of odd length gets the
    trailing NUL the standard prescribes."""
    dcmconv, storescp = require_tool("dcmconv"), require_tool("storescp")
    for attempt in range(50):  # the deflated length depends on the UID: find an odd one
        source = copy_ct(
            tmp_path / f"src{attempt}.dcm", sop_instance=f"1.2.3.{'9' * (attempt + 1)}"
        )
        deflated = tmp_path / f"deflated{attempt}.dcm"
        run([dcmconv, "+td", str(source), str(deflated)])
        found = inspect_file(deflated)
        if isinstance(found, DicomFile) and found.dataset_length % 2:
            break
    else:
        pytest.fail("no odd-length deflated data set in 50 tries")
    inbox = tmp_path / "dcmtk-inbox"
    inbox.mkdir()
    port = free_port()
    scp = processes.start([storescp, "+xa", "-od", str(inbox), str(port)], env=NODELAY)
    wait_for_port(port, proc=scp)

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(deflated), "-td", "10"])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    [stored] = inbox.iterdir()
    assert same_content(stored, deflated)
