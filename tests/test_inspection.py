"""Inspecting a file: the tag tree, its search, and the first frame as grey levels."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import get_decoder
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from dicomtui.core.dicom.inspection import (
    InspectError,
    TagNode,
    count_matches,
    filter_tags,
    first_frame,
    fit_to_cells,
    inspect_tags,
    picture,
    read_dataset,
    tag_tree,
)

pytestmark = pytest.mark.timeout(30)

#: pydicom's own test files, read from its package (never downloaded).
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def bundled(name: str) -> Path:
    [path] = TEST_FILES.glob(name)
    return path


def write(path: Path, ds: Dataset, syntax: str = ExplicitVRLittleEndian) -> Path:
    ds.SOPClassUID = ds.get("SOPClassUID", CT_IMAGE)
    ds.SOPInstanceUID = ds.get("SOPInstanceUID", generate_uid())
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def image(ds: Dataset, pixels: np.ndarray, photometric: str = "MONOCHROME2") -> Dataset:
    """Give ``ds`` uncompressed pixel data: (frames,) rows x columns, 8 or 16 bits."""
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    rows, columns = pixels.shape[-2:]
    bits = pixels.dtype.itemsize * 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"
    return ds


def ct(path: Path, pixels: np.ndarray, **elements: object) -> Path:
    ds = Dataset()
    ds.PatientName = "INSPECT^ME"
    ds.PatientID = "PID-9"
    ds.Modality = "CT"
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return write(path, image(ds, pixels))


@pytest.fixture
def rich_file(tmp_path: Path) -> Path:
    """A sequence of two items (one nesting another sequence), a private block, a long
    text with newlines and 200 KB of pixel data."""
    ds = Dataset()
    ds.PatientName = "TREE^TEST"
    ds.PatientID = "PID-1"
    ds.Modality = "CT"
    ds.StudyDescription = "line one\nline two"
    ds.ImageComments = "x" * 500
    items = []
    for index in range(2):
        item = Dataset()
        item.ReferencedSOPClassUID = CT_IMAGE
        item.ReferencedSOPInstanceUID = f"1.2.3.{index}"
        items.append(item)
    code = Dataset()
    code.CodeValue = "T-D3000"
    code.CodeMeaning = "Chest"
    items[1].AnatomicRegionSequence = Sequence([code])
    ds.ReferencedImageSequence = Sequence(items)
    block = ds.private_block(0x0009, "DICOMTUI TEST", create=True)
    block.add_new(0x01, "LO", "private words")
    block.add_new(0x02, "OB", b"\x01\x02\x03\x04")
    return write(tmp_path / "rich.dcm", image(ds, np.zeros((320, 320), dtype=np.uint16)))


def walk(nodes: tuple[TagNode, ...]) -> Iterator[TagNode]:
    for node in nodes:
        yield node
        yield from walk(node.children)


def by_tag(nodes: tuple[TagNode, ...], tag: str) -> TagNode:
    [node] = [n for n in walk(nodes) if n.tag == tag]
    return node


# --- the tree ---------------------------------------------------------------------------------


def test_tree_holds_meta_nested_sequences_and_marked_private_tags(rich_file: Path) -> None:
    nodes = inspect_tags(rich_file)

    assert nodes[0].tag == "(0002,0000)"
    syntax = by_tag(nodes, "(0002,0010)")
    assert (syntax.keyword, syntax.vr, syntax.value) == (
        "TransferSyntaxUID",
        "UI",
        ExplicitVRLittleEndian,
    )
    name = by_tag(nodes, "(0010,0010)")
    assert (name.keyword, name.name, name.vr, name.value) == (
        "PatientName",
        "Patient's Name",
        "PN",
        "TREE^TEST",
    )
    assert not name.is_private and not name.children

    sequence = by_tag(nodes, "(0008,1140)")
    assert (sequence.keyword, sequence.vr, sequence.value) == (
        "ReferencedImageSequence",
        "SQ",
        "2 items",
    )
    assert [item.name for item in sequence.children] == ["Item 1", "Item 2"]
    assert all(item.is_item and item.tag == "" for item in sequence.children)
    first, second = sequence.children
    assert [n.keyword for n in first.children] == [
        "ReferencedSOPClassUID",
        "ReferencedSOPInstanceUID",
    ]
    assert first.children[1].value == "1.2.3.0"
    nested = second.children[-1]  # (0008,2218) sorts after the two UIDs
    assert nested.keyword == "AnatomicRegionSequence" and nested.value == "1 item"
    assert [n.value for n in nested.children[0].children] == ["T-D3000", "Chest"]

    creator = by_tag(nodes, "(0009,0010)")
    words = by_tag(nodes, "(0009,1001)")
    data = by_tag(nodes, "(0009,1002)")
    assert creator.is_private and words.is_private and data.is_private
    assert (creator.value, words.value, data.value) == (
        "DICOMTUI TEST",
        "private words",
        "<4 bytes>",
    )
    assert words.keyword == ""  # private tags have no keyword, only a name
    assert not any(n.is_private for n in walk(nodes) if n.tag.startswith("(0010"))


def test_values_are_one_short_line_and_bytes_show_their_length(rich_file: Path) -> None:
    nodes = inspect_tags(rich_file)
    assert by_tag(nodes, "(0008,1030)").value == "line one line two"
    comments = by_tag(nodes, "(0020,4000)").value
    assert len(comments) == 120 and comments.endswith("…")
    assert by_tag(nodes, "(7FE0,0010)").value == f"<{320 * 320 * 2} bytes>"
    assert by_tag(nodes, "(0002,0001)").value == "<2 bytes>"


def test_large_values_stay_on_disk(tmp_path: Path) -> None:
    """The tree of a 50 MB file is read without reading its pixel data."""
    path = ct(tmp_path / "big.dcm", np.zeros((5000, 5000), dtype=np.uint16))
    started = time.monotonic()
    ds = read_dataset(path)
    nodes = tag_tree(ds)
    assert time.monotonic() - started < 5
    assert ds.get_item(0x7FE00010, keep_deferred=True).value is None  # still not loaded
    pixel_data = by_tag(nodes, "(7FE0,0010)")
    assert (pixel_data.keyword, pixel_data.vr, pixel_data.value) == (
        "PixelData",
        "OW",
        "<50000000 bytes>",
    )


# --- search ---------------------------------------------------------------------------------


def test_search_by_keyword_keeps_ancestors(rich_file: Path) -> None:
    nodes = inspect_tags(rich_file)

    [hit] = filter_tags(nodes, "patientname")
    assert hit.keyword == "PatientName" and hit.matched

    kept = filter_tags(nodes, "ReferencedSOPInstance")
    assert [n.keyword for n in kept] == ["ReferencedImageSequence"]
    [sequence] = kept
    assert not sequence.matched
    assert [item.name for item in sequence.children] == ["Item 1", "Item 2"]
    for item in sequence.children:
        assert [(n.keyword, n.matched) for n in item.children] == [
            ("ReferencedSOPInstanceUID", True)
        ]
    assert count_matches(kept) == 2

    nested = filter_tags(nodes, "codemeaning")
    [sequence] = nested
    [item] = sequence.children
    assert item.name == "Item 2"
    assert [n.keyword for n in walk(nested) if n.matched] == ["CodeMeaning"]


def test_a_matched_sequence_keeps_all_its_children(rich_file: Path) -> None:
    [sequence] = filter_tags(inspect_tags(rich_file), "referencedimagesequence")
    assert sequence.matched and len(sequence.children) == 2
    assert len(sequence.children[1].children) == 3


@pytest.mark.parametrize("query", ["0010,0010", "00100010", "(0010,0010)", " (0010, 0010) "])
def test_search_by_tag(rich_file: Path, query: str) -> None:
    [hit] = filter_tags(inspect_tags(rich_file), query)
    assert hit.tag == "(0010,0010)" and hit.matched


def test_search_by_tag_inside_sequences_and_by_group(rich_file: Path) -> None:
    nodes = inspect_tags(rich_file)
    [sequence] = filter_tags(nodes, "(0008,1155)")
    assert [n.tag for n in walk(sequence.children) if n.matched] == ["(0008,1155)"] * 2
    private = filter_tags(nodes, "0009")
    assert [n.tag for n in private] == ["(0009,0010)", "(0009,1001)", "(0009,1002)"]
    assert filter_tags(nodes, "") == nodes
    assert filter_tags(nodes, "NoSuchKeyword") == ()


def test_search_finds_private_tags_by_their_name() -> None:
    nodes = inspect_tags(bundled("CT_small.dcm"))
    hits = [n for n in walk(filter_tags(nodes, "full fidelity")) if n.matched]
    assert [(n.tag, n.name, n.is_private) for n in hits] == [
        ("(0009,1001)", "[Full fidelity]", True)
    ]


# --- the picture ----------------------------------------------------------------------------


def test_ct_is_rescaled_and_windowed(tmp_path: Path) -> None:
    """Stored values 0..2047 with intercept -1024: window 40/400 shows -160..240 HU."""
    stored = np.tile(np.arange(0, 2048, 8, dtype=np.uint16), (64, 1))  # 64 x 256
    path = ct(
        tmp_path / "ct.dcm",
        stored,
        RescaleSlope=1,
        RescaleIntercept=-1024,
        WindowCenter=40,
        WindowWidth=400,
    )
    frame = first_frame(path)
    assert frame.ok and frame.message == ""
    assert frame.pixels is not None
    assert frame.pixels.shape == (64, 256) and frame.pixels.dtype == np.uint8
    hu = stored[0].astype(int) - 1024
    row = frame.pixels[0]
    assert (row[hu <= -161] == 0).all()
    assert (row[hu >= 241] == 255).all()
    middle = row[(hu > -150) & (hu < 230)]
    assert middle.min() > 0 and middle.max() < 255
    assert (np.diff(row.astype(int)) >= 0).all()
    assert abs(int(row[np.argmin(abs(hu - 40))]) - 128) <= 6
    assert "64" in frame.description and "window 40/400" in frame.description


def test_first_window_of_several_and_monochrome1_inverted(tmp_path: Path) -> None:
    stored = np.tile(np.arange(0, 256, dtype=np.uint16), (4, 1))
    several = ct(tmp_path / "a.dcm", stored, WindowCenter=[100, 1000], WindowWidth=[50, 3000])
    pixels = first_frame(several).pixels
    assert pixels is not None
    assert pixels[0, 70] == 0 and pixels[0, 130] == 255

    ds = Dataset()
    inverted = write(tmp_path / "m1.dcm", image(ds, stored, photometric="MONOCHROME1"))
    grey = first_frame(inverted).pixels
    assert grey is not None
    assert grey[0, 0] == 255 and grey[0, -1] == 0  # min/max, then inverted


def test_no_window_falls_back_to_min_max(tmp_path: Path) -> None:
    stored = np.tile(np.arange(1000, 1256, dtype=np.uint16), (8, 1))
    frame = first_frame(ct(tmp_path / "plain.dcm", stored))
    assert frame.pixels is not None
    assert frame.pixels.min() == 0 and frame.pixels.max() == 255
    assert "min/max" in frame.description


def test_fitted_to_half_block_cells_keeping_the_aspect_ratio(tmp_path: Path) -> None:
    path = ct(tmp_path / "wide.dcm", np.zeros((100, 400), dtype=np.uint16))
    fitted = picture(path, cols=40, rows=20).pixels
    assert fitted is not None and fitted.shape == (10, 40)
    tall = fit_to_cells(np.zeros((400, 100), dtype=np.uint8), cols=40, rows=20)
    assert tall.shape == (40, 10)  # 20 rows of cells hold 40 pixel rows
    small = fit_to_cells(np.zeros((8, 8), dtype=np.uint8), cols=40, rows=20)
    assert small.shape == (40, 40)  # grows to fill the space
    halves = fit_to_cells(np.array([[0, 0, 200, 200]] * 2, dtype=np.uint8), cols=2, rows=1)
    assert halves.tolist() == [[0, 200]]


def test_multi_frame_gives_the_first_frame(tmp_path: Path) -> None:
    ramp = np.tile(np.arange(0, 64, dtype=np.uint8), (16, 1))
    frames = np.stack([ramp, ramp[:, ::-1], np.zeros_like(ramp)])
    path = write(tmp_path / "multi.dcm", image(Dataset(), frames))
    frame = first_frame(path)
    assert frame.pixels is not None and frame.pixels.shape == (16, 64)
    assert frame.pixels[0, 0] == 0 and frame.pixels[0, -1] == 255  # the first, rising ramp
    assert "frame 1 of 3" in frame.description

    dose = first_frame(bundled("rtdose.dcm"))  # 15 frames
    assert dose.pixels is not None and dose.pixels.shape == (10, 10)
    assert "frame 1 of 15" in dose.description


def test_colour_becomes_luminance() -> None:
    frame = first_frame(bundled("SC_rgb_rle_2frame.dcm"))
    assert frame.pixels is not None and frame.pixels.shape == (100, 100)
    assert frame.pixels.dtype == np.uint8 and len(np.unique(frame.pixels)) > 2


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("MR_small_jp2klossless.dcm", JPEG2000Lossless),
        ("MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless),
        ("MR_small_RLE.dcm", RLELossless),
    ],
)
def test_compressed_syntaxes_decode_through_pylibjpeg(name: str, syntax: str) -> None:
    assert "pylibjpeg" in get_decoder(syntax).available_plugins
    path = bundled(name)
    assert read_dataset(path).file_meta.TransferSyntaxUID == syntax
    frame = first_frame(path)
    assert frame.message == "" and frame.pixels is not None
    reference = first_frame(bundled("MR_small.dcm")).pixels  # the same image, uncompressed
    assert reference is not None
    assert np.array_equal(frame.pixels, reference)  # lossless: the very same picture
    assert "window 600/1600" in frame.description


def test_jpeg_2000_lossy_decodes() -> None:
    frame = first_frame(bundled("JPEG2000.dcm"))
    assert frame.pixels is not None and frame.pixels.shape == (1024, 256)
    assert frame.pixels.std() > 1


def test_not_dicom_is_a_clear_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not DICOM at all" * 20)
    with pytest.raises(InspectError, match=r"notes\.txt is not a DICOM file"):
        inspect_tags(text)
    frame = first_frame(text)
    assert frame.pixels is None and "is not a DICOM file" in frame.message

    empty = tmp_path / "empty.dcm"
    empty.touch()
    with pytest.raises(InspectError, match="empty"):
        read_dataset(empty)
    with pytest.raises(InspectError, match="folder"):
        read_dataset(tmp_path)
    with pytest.raises(InspectError, match="Cannot open"):
        read_dataset(tmp_path / "missing.dcm")


@pytest.mark.filterwarnings("ignore:Expected explicit VR")
def test_no_image_and_undecodable_image_are_messages(tmp_path: Path) -> None:
    ds = Dataset()
    ds.PatientName = "NO^PIXELS"
    plain = write(tmp_path / "plain.dcm", ds)
    frame = first_frame(plain)
    assert frame.pixels is None and frame.message == "No image in this file"

    broken = first_frame(bundled("SC_rgb_jpeg.dcm"))  # its offset table is damaged
    assert broken.pixels is None and broken.message.startswith("Cannot decode: ")
