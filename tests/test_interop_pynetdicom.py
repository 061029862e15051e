"""pynetdicom's own storescp/storescu apps against ours, both ways."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from factory import copy_ct, ct_small, make_object
from helpers import DICOMTUI, Processes, free_port, run, stored_files, wait_for_port
from pydicom import dcmread
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

PYNETDICOM = [sys.executable, "-m", "pynetdicom"]


def test_pynetdicom_storescu_into_our_storescp(tmp_path: Path, processes: Processes) -> None:
    inbox = tmp_path / "inbox"
    port = free_port()
    scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox)])
    wait_for_port(port, proc=scp)
    folder = tmp_path / "send"
    folder.mkdir()
    sources = [copy_ct(folder / f"ct{i}.dcm") for i in range(3)]

    result = run([*PYNETDICOM, "storescu", "127.0.0.1", str(port), str(folder), "-r", "-v"])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Received Store Response (Status: 0x0000 - Success)") == 3
    stored = stored_files(inbox)
    assert len(stored) == 3
    # pynetdicom proposes four syntaxes in one context; ours prefers implicit VR
    # like the manual's storescp, so compare decoded data sets.
    by_uid = {dcmread(p).SOPInstanceUID: p for p in stored}
    for source in sources:
        original = dcmread(source)
        received = dcmread(by_uid[original.SOPInstanceUID])
        assert received.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
        assert received == original


# pynetdicom's sender cannot change byte order, so the big endian case starts
# from a big endian file; either way it offers all four syntaxes in one context.
@pytest.mark.parametrize(
    ("flag", "syntax", "source_syntax"),
    [
        ("-xe", ExplicitVRLittleEndian, ImplicitVRLittleEndian),
        ("-xb", ExplicitVRBigEndian, ExplicitVRBigEndian),
    ],
)
def test_our_preferred_syntax_wins_when_the_peer_offers_several(
    tmp_path: Path, processes: Processes, flag: str, syntax: str, source_syntax: str
) -> None:
    inbox = tmp_path / "inbox"
    port = free_port()
    scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox), flag])
    wait_for_port(port, proc=scp)
    source = make_object(tmp_path / "source.dcm", transfer_syntax=source_syntax, bits=16)

    result = run([*PYNETDICOM, "storescu", "127.0.0.1", str(port), str(source)])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    [stored] = stored_files(inbox)
    ds = dcmread(stored)
    assert ds.file_meta.TransferSyntaxUID == syntax
    assert ds.pixel_array.tolist() == dcmread(source).pixel_array.tolist()


def test_our_storescu_into_pynetdicom_storescp(tmp_path: Path, processes: Processes) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    port = free_port()
    scp = processes.start([*PYNETDICOM, "storescp", str(port), "-od", str(inbox)])
    wait_for_port(port, proc=scp)
    sources = [ct_small(), make_object(tmp_path / "sc.dcm", transfer_syntax=ExplicitVRLittleEndian)]

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), *map(str, sources), "-v"])
    Processes.stop(scp)  # pynetdicom's storescp may ignore SIGINT; SIGTERM ends it

    assert result.returncode == 0, result.stderr
    stored = stored_files(inbox)
    assert len(stored) == 2
    by_uid = {dcmread(p).SOPInstanceUID: p for p in stored}
    for source in sources:
        original = dcmread(source)
        assert dcmread(by_uid[original.SOPInstanceUID]) == original
