"""Snapshots of the main states, from fixed synthetic events (fixed clock, UIDs, ports)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from factory import make_object
from textual.pilot import Pilot
from textual.widgets import Input

from dicomtui.core.stream.events import Level
from ui import scenes
from ui.tui_helpers import make_app, wait_for

BROWSE = Path(__file__).parent / "_snapshot_browse"
#: A small terminal (the panes stack) and a common one (side by side).
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@pytest.fixture(autouse=True)
def fixed_world() -> Iterator[None]:
    """UTC clock and a file tree whose names and sizes never change."""
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    shutil.rmtree(BROWSE, ignore_errors=True)
    (BROWSE / "ct-head").mkdir(parents=True)
    for n in range(3):
        make_object(
            BROWSE / f"IM{n:05d}.dcm",
            sop_instance=f"1.2.3.{n}",
            study_uid="1.2.3",
            series_uid="1.2.4",
        )
    (BROWSE / "README.txt").write_text("not DICOM\n")
    try:
        yield
    finally:
        shutil.rmtree(BROWSE, ignore_errors=True)
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


async def settle(pilot: Pilot[None]) -> None:
    """Let the layout, the log's re-wrap to its width and its scroll to the end finish."""
    for _ in range(3):
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.2)


def app_with(events: list, *, level: Level = Level.INFO):  # type: ignore[no-untyped-def]
    app = make_app(
        BROWSE, Path("dicom-inbox"), port=11112, start_receiver=False, clock=lambda: scenes.T0 + 5
    )

    async def prepare(pilot: Pilot[None]) -> None:
        for box in app.query(Input):
            box.cursor_blink = False
        tree = app.sender_pane.file_tree
        await wait_for(pilot, lambda: len(tree.root.children) == 5, what="the listing")
        await wait_for(
            pilot,
            lambda: all(tree.is_dicom(p) is not None for p in BROWSE.glob("*.*")),
            what="the DICOM marks",
        )
        app.log_pane.level = level
        sending = any(e.side.value == "sender" for e in events)
        if sending:  # laid out before the rows come, which the tables then follow
            app.sender_pane.query_one("ProgressBar").display = True
            app.sender_pane.set_sending(True)
            await settle(pilot)
        for event in events:
            app.bus.publish(event)
        app.drain_events()
        # At the app's own (fixed) clock, as its ticker draws them once a second.
        if sending:
            app.sender_pane.update_progress(scenes.T0 + 5)
        app.receiver_pane.tick(scenes.T0 + 5)
        # The pane's title shows where the checkout is: the same text on every machine.
        app.sender_pane.border_title = "Sender · /studies"
        tree.focus()
        await settle(pilot)

    return app, prepare


@SIZES
def test_listening_and_idle(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.listening())
    assert snap_compare(app, terminal_size=size, run_before=prepare)


@SIZES
def test_mid_transfer_with_debug_log(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.mid_transfer(), level=Level.DEBUG)
    assert snap_compare(app, terminal_size=size, run_before=prepare)


@SIZES
def test_port_in_use(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.port_in_use())
    assert snap_compare(app, terminal_size=size, run_before=prepare)


@SIZES
def test_receiver_settings_form(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.listening())

    async def open_form(pilot: Pilot[None]) -> None:
        await prepare(pilot)
        await pilot.press("f2")
        await pilot.pause()
        for box in app.screen.query(Input):
            box.cursor_blink = False

    assert snap_compare(app, terminal_size=size, run_before=open_form)


@SIZES
def test_help_screen(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.listening())

    async def open_help(pilot: Pilot[None]) -> None:
        await prepare(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_help)


@SIZES
def test_sender_zoomed(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.mid_transfer())

    async def zoom(pilot: Pilot[None]) -> None:
        await prepare(pilot)
        await pilot.press("ctrl+z")
        app.clear_notifications()
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=zoom)
