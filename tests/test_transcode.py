"""Transcoding on send: a peer that accepts no compressed syntax gets the file
decompressed to an uncompressed syntax, losslessly, and the log says so."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from factory import CT_IMAGE, make_object
from helpers import (
    DICOMTUI,
    Processes,
    free_port,
    require_tool,
    run,
    stored_files,
    wait_for_port,
)
from pydicom import dcmread
from pydicom.uid import (
    MPEG2MPML,
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    generate_uid,
)

from dicomtui.core.dicom.transcode import Loss, decompress_file, source_loss

NODELAY = {"TCP_NODELAY": "1"}
#: pydicom's own test files, read from the installed package (never downloaded).
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
SUCCESS = "Received Store Response (Status: 0x0000 - Success)"

# (DCMTK tool and options) -> the lossless syntax it writes from CT_small.
DCMTK_LOSSLESS = [
    (["dcmcjpeg", "+el"], "1.2.840.10008.1.2.4.57"),
    (["dcmcjpeg", "+e1"], "1.2.840.10008.1.2.4.70"),
    (["dcmcjpls", "+el"], "1.2.840.10008.1.2.4.80"),
    (["dcmcrle"], "1.2.840.10008.1.2.5"),
]


def ct_copy(path: Path) -> Path:
    """pydicom's bundled CT_small.dcm (16-bit signed) with its own SOP Instance UID."""
    ds = dcmread(PYDICOM_FILES / "CT_small.dcm")
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


class Pair:
    """A compressed file to send and the uncompressed file it was made from."""

    def __init__(self, compressed: Path, original: Path) -> None:
        self.compressed = compressed
        self.original = original
        self.uid = str(dcmread(compressed, stop_before_pixels=True).SOPInstanceUID)
        self.syntax = UID(dcmread(compressed, stop_before_pixels=True).file_meta.TransferSyntaxUID)


@pytest.fixture
def lossless(tmp_path: Path) -> list[Pair]:
    """CT_small in JPEG Lossless (process 14 and SV1), JPEG-LS, RLE (all made by
    DCMTK) and JPEG 2000 Lossless (made by pydicom with pylibjpeg-openjpeg)."""
    tools = {name: require_tool(name) for name in ("dcmcjpeg", "dcmcjpls", "dcmcrle")}
    originals, corpus = tmp_path / "originals", tmp_path / "corpus"
    originals.mkdir()
    corpus.mkdir()
    pairs = []
    for index, (command, syntax) in enumerate(DCMTK_LOSSLESS):
        original = ct_copy(originals / f"{index}.dcm")
        target = corpus / f"{index}.dcm"
        done = run([tools[command[0]], *command[1:], str(original), str(target)])
        assert done.returncode == 0, done.stderr
        pairs.append(Pair(target, original))
        assert pairs[-1].syntax == syntax
    original = ct_copy(originals / "j2k.dcm")
    ds = dcmread(original)
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    ds.save_as(corpus / "j2k.dcm", enforce_file_format=True)
    pairs.append(Pair(corpus / "j2k.dcm", original))
    for pair in pairs:  # each keeps its original's UID
        assert pair.uid == dcmread(pair.original).SOPInstanceUID
    return pairs


def start_dcmtk_storescp(processes: Processes, inbox: Path) -> tuple[int, Any]:
    """DCMTK's storescp with its defaults: uncompressed syntaxes only."""
    storescp = require_tool("storescp")
    inbox.mkdir()
    port = free_port()
    scp = processes.start([storescp, "-od", str(inbox), str(port)], env=NODELAY)
    wait_for_port(port, proc=scp)
    return port, scp


def received_by_uid(inbox: Path) -> dict[str, Path]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in stored_files(inbox)}


def assert_same_but_pixels(received: Any, source: Any) -> None:
    """Every element but Pixel Data is as the compressed file had it (ignoring what
    DCMTK drops when it writes: group lengths and trailing padding)."""
    ignored = (0x7FE00010, 0xFFFCFFFC)

    def elements(ds: Any) -> dict[Any, Any]:
        return {e.tag: e.value for e in ds if e.tag not in ignored and e.tag.element != 0}

    assert elements(received) == elements(source)


def test_lossless_syntaxes_are_decompressed_for_a_peer_that_takes_none(
    tmp_path: Path, processes: Processes, lossless: list[Pair]
) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_dcmtk_storescp(processes, inbox)

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(tmp_path / "corpus"), "-v"])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(SUCCESS) == len(lossless), result.stderr
    received = received_by_uid(inbox)
    assert len(received) == len(lossless)
    for pair in lossless:
        assert (
            f"I: Decompressing {pair.compressed} from {pair.syntax.name} to Explicit VR Little"
            " Endian: the peer does not accept that syntax for CT Image Storage"
        ) in result.stderr
        ds = dcmread(received[pair.uid])
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPInstanceUID == pair.uid
        # Lossless: the decoded pixels are the original's, value for value.
        assert np.array_equal(ds.pixel_array, dcmread(pair.original).pixel_array), pair.syntax
        assert ds.PixelData == dcmread(pair.original).PixelData, pair.syntax
        assert_same_but_pixels(ds, dcmread(pair.compressed))
    assert "lossy" not in result.stderr


def test_an_implicit_only_peer_gets_implicit_vr(
    tmp_path: Path, processes: Processes, lossless: list[Pair]
) -> None:
    """Our own storescp with -xi accepts implicit VR little endian only: the
    decoded data set is re-encoded to that, and the log names it."""
    inbox = tmp_path / "inbox"
    port = free_port()
    scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox), "-xi"])
    wait_for_port(port, proc=scp)
    sent = lossless[-2:]  # RLE and JPEG 2000

    result = run(
        [*DICOMTUI, "storescu", "127.0.0.1", str(port), *(str(p.compressed) for p in sent), "-v"]
    )
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    received = received_by_uid(inbox)
    for pair in sent:
        assert (
            f"Decompressing {pair.compressed} from {pair.syntax.name} to Implicit VR Little Endian"
        ) in result.stderr
        ds = dcmread(received[pair.uid])
        assert ds.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
        assert np.array_equal(ds.pixel_array, dcmread(pair.original).pixel_array)


def test_request_little_decompresses_even_for_a_peer_that_takes_compressed(
    tmp_path: Path, processes: Processes, lossless: list[Pair]
) -> None:
    """-xe proposes explicit VR little endian only (the manual's meaning), so a
    compressed file has to be decompressed, even for our storescp that would take it."""
    inbox = tmp_path / "inbox"
    port = free_port()
    scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox)])
    wait_for_port(port, proc=scp)
    pair = lossless[-1]

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(pair.compressed), "-xe", "-v"])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert (
        f"Decompressing {pair.compressed} from {pair.syntax.name} to Explicit VR Little Endian:"
        " -xe proposes Explicit VR Little Endian only"
    ) in result.stderr
    ds = dcmread(received_by_uid(inbox)[pair.uid])
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(ds.pixel_array, dcmread(pair.original).pixel_array)


def test_no_transcode_and_required_contexts_keep_the_old_failure(
    tmp_path: Path, processes: Processes, lossless: list[Pair]
) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_dcmtk_storescp(processes, inbox)
    corpus = str(tmp_path / "corpus")

    refused = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), corpus, "--no-transcode"])
    # -cx proposes each file's own syntax only: nothing uncompressed to decompress to.
    only_own = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), corpus, "-cx"])
    Processes.stop(scp)

    assert refused.returncode == 1
    for pair in lossless:
        assert (
            f"E: Store failed: {pair.compressed}: no accepted presentation context for"
            f" CT Image Storage in {pair.syntax.name}"
        ) in refused.stderr
    assert f"0 sent, 0 with warnings, {len(lossless)} failed" in refused.stdout
    assert only_own.returncode == 1
    assert "No accepted presentation contexts" in only_own.stderr
    assert "Decompressing" not in refused.stderr + only_own.stderr
    assert stored_files(inbox) == []


def test_lossy_source_is_decompressed_and_says_so(tmp_path: Path, processes: Processes) -> None:
    dcmcjpeg = require_tool("dcmcjpeg")
    source = make_object(tmp_path / "source.dcm", rows=64, columns=64, bits=8)
    baseline = tmp_path / "baseline.dcm"
    done = run([dcmcjpeg, "+eb", str(source), str(baseline)])
    assert done.returncode == 0, done.stderr
    sent = dcmread(baseline)
    assert sent.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert sent.LossyImageCompression == "01"
    inbox = tmp_path / "inbox"
    port, scp = start_dcmtk_storescp(processes, inbox)

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(baseline), "-v"])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert (
        f"W: Decompressing {baseline} from JPEG Baseline (Process 1) to Explicit VR Little"
        " Endian: the peer does not accept that syntax for Secondary Capture"
        " Image Storage; the pixel data was lossy-compressed at source (nothing further is lost)"
    ) in result.stderr
    ds = dcmread(received_by_uid(inbox)[sent.SOPInstanceUID])
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.LossyImageCompression == "01"
    assert ds.LossyImageCompressionMethod == "ISO_10918_1"
    assert ds.LossyImageCompressionRatio == sent.LossyImageCompressionRatio
    # The same values a decoder gets from the JPEG: nothing further lost.
    assert np.array_equal(ds.pixel_array, sent.pixel_array)


def test_files_that_cannot_be_decoded_fail_clearly_and_the_rest_are_sent(
    tmp_path: Path, processes: Processes, lossless: list[Pair]
) -> None:
    corpus = tmp_path / "corpus"
    # Encapsulated bytes that are no JPEG at all, and a syntax no installed plugin decodes.
    corrupt = make_object(corpus / "corrupt.dcm", CT_IMAGE, JPEGLosslessSV1, bits=16)
    video = make_object(corpus / "video.dcm", transfer_syntax=MPEG2MPML)
    inbox = tmp_path / "inbox"
    port, scp = start_dcmtk_storescp(processes, inbox)

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(corpus)])
    Processes.stop(scp)

    assert result.returncode == 1
    assert f"E: Store failed: {corrupt}: cannot decompress {JPEGLosslessSV1.name} (" in (
        result.stderr
    )
    assert f"E: Store failed: {video}: cannot decompress {MPEG2MPML.name} (" in result.stderr
    assert f"{len(lossless)} sent, 0 with warnings, 2 failed" in result.stdout
    received = received_by_uid(inbox)
    assert sorted(received) == sorted(p.uid for p in lossless)
    for pair in lossless:
        assert np.array_equal(
            dcmread(received[pair.uid]).pixel_array, dcmread(pair.original).pixel_array
        )


# --- the decoder on its own, without a peer ---------------------------------------


def test_decompress_keeps_the_uid_and_flags_a_lossy_source_that_did_not_say(
    tmp_path: Path,
) -> None:
    """A JPEG Baseline file without Lossy Image Compression gets "01" and the
    method; the SOP Instance UID stays (pydicom would make a new one by default)."""
    original = PYDICOM_FILES / "SC_rgb_small_odd_jpeg.dcm"
    ds = dcmread(original)
    for keyword in ("LossyImageCompression", "LossyImageCompressionMethod"):
        if keyword in ds:
            delattr(ds, keyword)
    unflagged = tmp_path / "unflagged.dcm"
    ds.save_as(unflagged, enforce_file_format=True)

    decoded = decompress_file(unflagged)

    assert decoded.loss is Loss.LOSSY
    assert decoded.source_syntax == JPEGBaseline8Bit
    out = decoded.dataset
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert out.SOPInstanceUID == ds.SOPInstanceUID
    assert out.LossyImageCompression == "01"
    assert out.LossyImageCompressionMethod == "ISO_10918_1"
    # No colour conversion: YCbCr stays YCbCr, only no longer subsampled.
    assert out.PhotometricInterpretation == "YBR_FULL"


def test_decompressed_422_is_full_ybr(tmp_path: Path) -> None:
    source = tmp_path / "ybr422.dcm"
    shutil.copyfile(PYDICOM_FILES / "SC_rgb_dcmtk_+eb+cy+s2.dcm", source)
    assert dcmread(source).PhotometricInterpretation == "YBR_FULL_422"
    out = decompress_file(source).dataset
    assert out.PhotometricInterpretation == "YBR_FULL"
    assert len(out.PixelData) == out.Rows * out.Columns * 3


def test_source_loss_by_syntax_and_flag() -> None:
    assert source_loss("1.2.840.10008.1.2.4.70", "") is Loss.NONE
    assert source_loss("1.2.840.10008.1.2.5", "00") is Loss.NONE
    assert source_loss("1.2.840.10008.1.2.4.50", "") is Loss.LOSSY
    assert source_loss("1.2.840.10008.1.2.4.90", "01") is Loss.LOSSY
    assert source_loss("1.2.840.10008.1.2.4.91", "") is Loss.POSSIBLY
    assert source_loss("1.2.840.10008.1.2.4.81", "") is Loss.POSSIBLY
