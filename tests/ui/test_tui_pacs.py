"""The PACS browser (F11) against a real Orthanc that each test starts, knowing our
receiver's AE title, host and port: search, open a study, retrieve by C-MOVE and
see the objects arrive in the receiver's table, C-GET remembered per node, and a
cancel mid-move that says what had arrived. At 120x40 and at 80x24."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import free_port, stored_files
from orthanc_peer import Orthanc
from pydicom import dcmread
from test_orthanc import make_study, start_orthanc
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select

import dicomtui.core.scp.receiver as receiver_module
from dicomtui.core.config.file import Config, load_config
from dicomtui.core.config.schema import Node, RetrieveMethod
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.ui.app import DicomTuiApp, LaunchConfig
from dicomtui.ui.pacs_screen import PacsScreen, PacsTree
from ui.tui_helpers import listening_port, screen_text, table_rows, wait_for

__all__ = ["start_orthanc"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def pacs(start_orthanc: Callable[..., Orthanc], tmp_path: Path) -> Any:
    """An Orthanc that knows DICOMTUI at ``pacs.our_port`` (our app's receiver),
    holding one patient's study of three series (8 objects)."""
    our_port = free_port()
    orthanc = start_orthanc(DicomModalities={"us": ["DICOMTUI", "127.0.0.1", our_port]})
    orthanc.our_port = our_port  # type: ignore[attr-defined]
    for path in make_study(tmp_path / "study"):
        orthanc.request("POST", "/instances", path.read_bytes())
    return orthanc


def make_pacs_app(
    tmp_path: Path, orthanc: Orthanc, config_path: Path, retrieve: RetrieveMethod
) -> DicomTuiApp:
    receiver = ReceiverSettings(
        port=orthanc.our_port,  # type: ignore[attr-defined]
        ae_title="DICOMTUI",
        output_directory=tmp_path / "inbox",
    )
    sender = SenderSettings(calling_ae_title="DICOMTUI")
    node = Node("ORTHANC", "127.0.0.1", orthanc.dicom_port, "ORTHANC", retrieve=retrieve)
    settings = Config(path=config_path, receiver=receiver, sender=sender, nodes=[node])
    (tmp_path / "browse").mkdir(exist_ok=True)
    config = LaunchConfig(
        receiver=receiver, sender=sender, browse_path=tmp_path / "browse", settings=settings
    )
    return DicomTuiApp(config)


def browser(app: DicomTuiApp) -> PacsScreen:
    assert isinstance(app.screen, PacsScreen)
    return app.screen


def status(app: DicomTuiApp) -> str:
    return browser(app).query_one("#pacs-status").text  # type: ignore[attr-defined,no-any-return]


def tree_lines(app: DicomTuiApp) -> list[str]:
    tree = browser(app).query_one(PacsTree)
    lines = []

    def walk(node: Any, depth: int) -> None:
        for child in node.children:
            lines.append("  " * depth + child.label.plain)
            if child.is_expanded:
                walk(child, depth + 1)

    walk(tree.root, 0)
    return lines


def visible(app: DicomTuiApp, widget_id: str) -> bool:
    """The widget is inside the screen, whole."""
    widget = app.screen.query_one(widget_id)
    region = widget.region
    width, height = app.size
    return (
        region.width > 0
        and region.height > 0
        and region.right <= width
        and (region.bottom <= height)
    )


async def open_browser(pilot: Pilot[None], app: DicomTuiApp) -> None:
    await wait_for(pilot, lambda: listening_port(app), what="the receiver")
    await pilot.press("f11")
    await wait_for(pilot, lambda: isinstance(app.screen, PacsScreen), what="the PACS browser")
    await pilot.pause()


async def search(pilot: Pilot[None], app: DicomTuiApp, name: str) -> None:
    screen = browser(app)
    screen.query_one("#pacs-name", Input).focus()
    await pilot.press(*name, "enter")
    await wait_for(pilot, lambda: "patient" in status(app), what="the search's matches")


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_search_open_a_study_and_move_it_into_the_receiver(
    pacs: Orthanc, tmp_path: Path, own_config_file: Path, size: tuple[int, int]
) -> None:
    async def scenario() -> None:
        app = make_pacs_app(tmp_path, pacs, own_config_file, RetrieveMethod.MOVE)
        async with app.run_test(size=size) as pilot:
            await open_browser(pilot, app)
            for part in ("#pacs-search", "#pacs-retrieve", "#pacs-cancel", "#pacs-close"):
                assert visible(app, part), part
            assert visible(app, "#pacs-status") and visible(app, "#pacs-progress-line")
            assert "must know DICOMTUI" in screen_text(app).replace("\n", " ") or size[0] < 100
            await search(pilot, app, "orthanc")
            assert status(app).startswith("1 study of 1 patient"), status(app)
            lines = tree_lines(app)
            assert lines[0].startswith("[ ] ORTHANC^TEST  PID-ORTHANC"), lines
            assert "1 study, 8 instances" in lines[0]
            assert "3 series, 8 instances" in lines[1]

            # Open the study: its series are asked for then.
            tree = browser(app).query_one(PacsTree)
            tree.focus()
            tree.move_cursor(tree.root.children[0].children[0])
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(tree_lines(app)) == 5, what="the series of the study")
            series = tree_lines(app)[2:]
            assert sorted(line.split()[-4] for line in series) == ["CT", "MR", "OT"], series
            assert any("3 instances" in line for line in series)

            # Mark the study and retrieve it by C-MOVE into our receiver.
            tree.move_cursor(tree.root.children[0].children[0])
            await pilot.press("space")
            assert tree_lines(app)[1].startswith("  [x] ")
            await pilot.press("f6")
            screen = browser(app)
            await wait_for(pilot, lambda: screen.last_result is not None, what="the move")
            assert status(app).startswith("Move done: 8 objects arrived (8 completed, 0 failed")
            progress = screen.query_one("#pacs-progress-text").text  # type: ignore[attr-defined]
            assert progress.startswith("Move: 8 arrived · 8 completed, 0 failed, 0 remaining")
            assert len(stored_files(tmp_path / "inbox")) == 8

            # Back to the panes: the objects are in the receiver's table, the log
            # has the C-FIND and C-MOVE requests and responses.
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, PacsScreen))
            await wait_for(pilot, lambda: len(table_rows(app, "received")) == 8)
            assert {row[4] for row in table_rows(app, "received")} == {"ORTHANC^TEST"}

            def log_text() -> str:
                app.log_pane.save(tmp_path / "log.txt")
                return (tmp_path / "log.txt").read_text()

            # The final C-MOVE response may come after the last object is stored.
            await wait_for(pilot, lambda: "Move SCP Result" in log_text(), what="the move's end")
            log = log_text()
            for line in (
                "Sending Find Request: MsgID 1",
                "Find SCP Result: 0x0000 (Success)",
                "Sending Move Request: MsgID 1",
                "Move destination: DICOMTUI",
                "Move SCP Result: 0x0000 (Success)",
            ):
                assert line in log, line

            # Opened again: the same results.
            await pilot.press("f11")
            await wait_for(pilot, lambda: isinstance(app.screen, PacsScreen))
            assert tree_lines(app)[0].startswith("[ ] ORTHANC^TEST")
            await app.action_quit()

    asyncio.run(scenario())


def test_get_is_remembered_for_the_node_and_its_objects_join_the_receivers_table(
    pacs: Orthanc, tmp_path: Path, own_config_file: Path
) -> None:
    async def scenario() -> None:
        app = make_pacs_app(tmp_path, pacs, own_config_file, RetrieveMethod.MOVE)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_browser(pilot, app)
            screen = browser(app)
            screen.query_one("#pacs-method", Select).value = RetrieveMethod.GET
            await pilot.pause()
            assert "C-GET from ORTHANC" in str(screen.query_one("#pacs-hint").render())
            await search(pilot, app, "ORTH")
            tree = screen.query_one(PacsTree)
            tree.move_cursor(tree.root.children[0])  # the patient
            await pilot.press("f6")
            await wait_for(pilot, lambda: screen.last_result is not None, what="the get")
            assert status(app).startswith("Get done: 8 objects arrived"), status(app)
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(table_rows(app, "received")) == 8)
            await app.action_quit()

    asyncio.run(scenario())
    again, _ = load_config(own_config_file, ReceiverSettings(), SenderSettings())
    assert [(n.name, n.retrieve) for n in again.nodes] == [("ORTHANC", RetrieveMethod.GET)]


def test_a_series_opens_to_its_instances_and_one_instance_is_retrieved(
    pacs: Orthanc, tmp_path: Path, own_config_file: Path
) -> None:
    async def scenario() -> None:
        app = make_pacs_app(tmp_path, pacs, own_config_file, RetrieveMethod.MOVE)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_browser(pilot, app)
            screen = browser(app)
            await search(pilot, app, "ORTH")
            tree = screen.query_one(PacsTree)
            tree.focus()
            study = tree.root.children[0].children[0]
            tree.move_cursor(study)
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(tree_lines(app)) == 5, what="the series")
            ct = next(node for node in study.children if " CT" in node.label.plain)
            tree.move_cursor(ct)
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(tree_lines(app)) == 8, what="the instances")
            instances = list(ct.children)
            assert len(instances) == 3
            assert all("] CT Image Storage  1." in node.label.plain for node in instances)
            wanted = instances[1].data.instance.sop_instance_uid  # type: ignore[union-attr]
            tree.move_cursor(instances[1])
            await pilot.press("space", "f6")
            await wait_for(pilot, lambda: screen.last_result is not None, what="the move")
            assert status(app).startswith("Move done: 1 object arrived"), status(app)
            (stored,) = stored_files(tmp_path / "inbox")
            assert dcmread(stored).SOPInstanceUID == wanted
            await app.action_quit()

    asyncio.run(scenario())


def test_cancel_mid_move_says_what_had_arrived(
    pacs: Orthanc, tmp_path: Path, own_config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our receiver takes 0.8 s per object, so the move is still running when
    Cancel sends C-CANCEL after the first object arrived (Orthanc stops a few
    objects later)."""

    def slowed(store: Any) -> Any:
        def slow_store(*args: Any, **kwargs: Any) -> int:
            import time

            time.sleep(0.8)
            return int(store(*args, **kwargs))

        return slow_store

    # pynetdicom's path stores through store_received, the fast path through store_object.
    for name in ("store_received", "store_object"):
        monkeypatch.setattr(receiver_module, name, slowed(getattr(receiver_module, name)))

    async def scenario() -> None:
        app = make_pacs_app(tmp_path, pacs, own_config_file, RetrieveMethod.MOVE)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_browser(pilot, app)
            await search(pilot, app, "ORTHANC")
            screen = browser(app)
            tree = screen.query_one(PacsTree)
            tree.focus()
            tree.move_cursor(tree.root.children[0])
            await pilot.press("f6")
            await wait_for(
                pilot,
                lambda: screen.retrieval is not None and screen.retrieval.tally.arrived >= 1,
                what="the first object",
            )
            # The button, pressed as a click does: Pilot's click then waits for the
            # process to go idle (up to a second each time), which it is not while
            # objects arrive, and the move would be over before the cancel.
            screen.query_one("#pacs-cancel", Button).press()
            await pilot.pause(0.05)
            if screen.last_result is None:
                assert status(app).startswith("Cancelling: C-CANCEL sent, waiting for the PACS")
            await wait_for(pilot, lambda: screen.last_result is not None, what="the end")
            result = screen.last_result
            assert result is not None and result.tally.cancelled
            arrived = result.tally.arrived
            assert 1 <= arrived < 8, result.summary()
            assert status(app).startswith(f"Move cancelled (C-CANCEL sent): {arrived} object"), (
                status(app)
            )
            assert screen.query_one("#pacs-cancel", Button).region.bottom <= 24
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(table_rows(app, "received")) == arrived)
            await app.action_quit()

    asyncio.run(scenario())
