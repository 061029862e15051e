"""Inspecting files from the app (Pilot): F10 on the browser or a received object."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Tree

from dicomtui.core.dicom import inspection
from dicomtui.ui import inspect_screen
from dicomtui.ui.app import DicomTuiApp
from dicomtui.ui.inspect_screen import DicomPicture, InspectScreen
from ui.tui_helpers import (
    SIZE,
    listening_port,
    make_app,
    screen_text,
    select_paths,
    table_rows,
    wait_for,
)

pytestmark = pytest.mark.timeout(60)

CT_SMALL = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"


def with_sequence(path: Path) -> Path:
    """A small image whose referenced images sit in a sequence, two items deep."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "SEQ^TEST"
    ds.Modality = "OT"
    items = []
    for index in range(2):
        item = Dataset()
        item.ReferencedSOPInstanceUID = f"1.2.3.{index}"
        items.append(item)
    ds.ReferencedImageSequence = Sequence(items)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = 32, 64
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (32, 1)).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def browse(tmp_path: Path) -> Path:
    folder = tmp_path / "browse"
    folder.mkdir()
    shutil.copy(CT_SMALL, folder / "a-ct.dcm")
    with_sequence(folder / "b-seq.dcm")
    (folder / "c-notes.txt").write_text("not DICOM\n")
    return folder


async def move_to(pilot: Pilot[None], app: DicomTuiApp, path: Path) -> None:
    tree = app.sender_pane.file_tree
    tree.focus()
    await wait_for(pilot, lambda: len(tree.root.children) > 0, what="the folder listing")
    [node] = [n for n in tree.root.children if n.data is not None and n.data.path == path]
    tree.move_cursor(node)
    await pilot.pause()


async def open_inspector(pilot: Pilot[None], app: DicomTuiApp) -> InspectScreen:
    await pilot.press("f10")
    await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), what="the inspector")
    screen = app.screen
    assert isinstance(screen, InspectScreen)
    return screen


def tree_lines(screen: InspectScreen) -> list[str]:
    """The rows the tag tree shows now (expanded branches included)."""
    tree: Tree[inspection.TagNode] = screen.query_one("#inspect-tree", Tree)
    lines = []
    for line in range(tree.last_line + 1):
        node = tree.get_node_at_line(line)
        if node is not None:
            lines.append(str(node.label))
    return lines


def status(screen: InspectScreen) -> str:
    return str(screen.query_one("#inspect-status").render())


def test_inspect_a_file_search_its_tags_and_close(browse: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = make_app(browse, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=SIZE) as pilot:
            await move_to(pilot, app, browse / "a-ct.dcm")
            screen = await open_inspector(pilot, app)
            await wait_for(pilot, lambda: screen.loaded, what="the tags")
            picture = screen.query_one(DicomPicture)
            await wait_for(pilot, lambda: picture.picture is not None, what="the picture")
            await pilot.pause()

            text = screen_text(app)  # (an SVG export drops the spaces between styles)
            assert "a-ct.dcm" in text and "Explicit VR Little Endian" in text
            for words in ("(0002,0010)", "TransferSyntaxUID", "[private]", "[Full fidelity]"):
                assert words in text
            assert "▀" in text  # the picture, drawn with half blocks
            assert "128 x 128 MONOCHROME2" in text
            rows = tree_lines(screen)
            assert rows[0].startswith("(0002,0000)") and len(rows) > 100
            assert "(0002,0010) UI TransferSyntaxUID  1.2.840.10008.1.2.1" in rows
            assert "(0010,0010) PN PatientName  CompressedSamples^CT1" in rows
            assert "(0009,1001) LO [private] [Full fidelity]  GE_GENESIS_FF" in rows

            await pilot.press("ctrl+f")
            assert isinstance(app.focused, Input) and app.focused.id == "inspect-search"
            await pilot.press(*"patientname")
            await wait_for(pilot, lambda: len(tree_lines(screen)) == 1, what="the tree filtered")
            assert tree_lines(screen) == ["(0010,0010) PN PatientName  CompressedSamples^CT1"]
            assert "1 of " in status(screen)
            assert "(0008,0060)" not in screen_text(app)

            screen.query_one("#inspect-search", Input).value = "(0028,0010)"
            await wait_for(
                pilot,
                lambda: tree_lines(screen) == ["(0028,0010) US Rows  128"],
                what="the tag search",
            )
            screen.query_one("#inspect-search", Input).value = ""
            await wait_for(pilot, lambda: len(tree_lines(screen)) > 100, what="every tag again")

            await pilot.press("escape")
            await wait_for(
                pilot, lambda: not isinstance(app.screen, InspectScreen), what="it to close"
            )
            assert app.focused is app.sender_pane.file_tree

    asyncio.run(scenario())


def test_search_opens_the_sequences_that_hold_a_match(browse: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = make_app(browse, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=SIZE) as pilot:
            await move_to(pilot, app, browse / "b-seq.dcm")
            screen = await open_inspector(pilot, app)
            await wait_for(pilot, lambda: screen.loaded, what="the tags")
            sequence_row = "(0008,1140) SQ ReferencedImageSequence  2 items"
            assert sequence_row in tree_lines(screen)
            assert not any(row.startswith("Item") for row in tree_lines(screen))

            screen.query_one("#inspect-search", Input).value = "0008,1155"
            await wait_for(pilot, lambda: len(tree_lines(screen)) == 5, what="the search")
            assert tree_lines(screen) == [
                sequence_row,
                "Item 1  1 element",
                "(0008,1155) UI ReferencedSOPInstanceUID  1.2.3.0",
                "Item 2  1 element",
                "(0008,1155) UI ReferencedSOPInstanceUID  1.2.3.1",
            ]
            assert "2 of " in status(screen)

            screen.query_one("#inspect-search", Input).value = ""
            await wait_for(pilot, lambda: "Item 1  1 element" not in tree_lines(screen))
            tree: Tree[inspection.TagNode] = screen.query_one("#inspect-tree", Tree)
            tree.focus()
            tree.cursor_line = tree_lines(screen).index(sequence_row)
            await pilot.press("enter")  # opens the sequence: its items appear under it
            await wait_for(pilot, lambda: "Item 2  1 element" in tree_lines(screen))
            rows = tree_lines(screen)
            assert rows[rows.index(sequence_row) + 1 :][:2] == [
                "Item 1  1 element",
                "Item 2  1 element",
            ]
            await pilot.press("escape")

    asyncio.run(scenario())


def test_a_file_that_is_not_dicom_says_so(browse: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = make_app(browse, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=SIZE) as pilot:
            await move_to(pilot, app, browse / "c-notes.txt")
            screen = await open_inspector(pilot, app)
            await wait_for(pilot, lambda: "not a DICOM file" in status(screen), what="the error")
            assert "c-notes.txt is not a DICOM file" in screen_text(app)
            assert tree_lines(screen) == []
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, InspectScreen))

            await move_to(pilot, app, browse / "a-ct.dcm")
            app.sender_pane.file_tree.move_cursor(app.sender_pane.file_tree.root)
            await pilot.pause()
            await pilot.press("f10")  # the cursor on the folder: nothing to inspect
            await pilot.pause()
            assert not isinstance(app.screen, InspectScreen)

    asyncio.run(scenario())


def test_a_slow_image_never_holds_up_the_app(
    browse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image is decoded on a thread: the tags can be searched and the screen
    closed while it is still on its way."""
    release = threading.Event()
    decoding = threading.Event()

    def slow_first_frame(path: Path, ds: Dataset | None = None) -> inspection.Picture:
        decoding.set()
        release.wait(20)
        return inspection.first_frame(path, ds)

    monkeypatch.setattr(inspect_screen, "first_frame", slow_first_frame)

    async def scenario() -> None:
        app = make_app(browse, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=SIZE) as pilot:
            await move_to(pilot, app, browse / "a-ct.dcm")
            screen = await open_inspector(pilot, app)
            await wait_for(pilot, lambda: screen.loaded, what="the tags")
            await wait_for(pilot, decoding.is_set, what="the decoding to start")
            assert "Loading the image..." in screen_text(app)
            screen.query_one("#inspect-search", Input).value = "rows"
            await wait_for(pilot, lambda: "match" in status(screen), what="the search")
            release.set()
            picture = screen.query_one(DicomPicture)
            await wait_for(pilot, lambda: picture.picture is not None, what="the picture")
            assert "▀" in screen_text(app)
            await pilot.press("escape")

    try:
        asyncio.run(scenario())
    finally:
        release.set()


def test_enter_on_a_received_object_inspects_the_stored_file(browse: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"

    async def scenario() -> None:
        app = make_app(browse, inbox)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            app.query_one("#dest-port", Input).value = str(listening_port(app))
            await select_paths(pilot, app, [browse / "b-seq.dcm"])
            await pilot.press("f6")
            await wait_for(pilot, lambda: len(table_rows(app, "received")) == 1, what="a row")
            [stored] = [p for p in inbox.iterdir() if not p.name.startswith(".")]

            table = app.query_one("#received", DataTable)
            table.focus()
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), what="Enter")
            screen = app.screen
            assert isinstance(screen, InspectScreen) and screen.path == stored
            await wait_for(pilot, lambda: screen.loaded, what="the tags")
            assert "(0010,0010) PN PatientName  SEQ^TEST" in tree_lines(screen)
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, InspectScreen))

            assert app.focused is table
            screen = await open_inspector(pilot, app)  # F10 does the same
            assert screen.path == stored
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, InspectScreen))

            # ... from anywhere in the receiver's pane (its associations table here).
            app.query_one("#associations", DataTable).focus()
            await pilot.pause()
            screen = await open_inspector(pilot, app)
            assert screen.path == stored
            await pilot.press("escape")

    asyncio.run(scenario())
