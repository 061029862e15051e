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
from ui.tui_helpers import SIZE, make_app, wait_for

BROWSE = Path(__file__).parent / "_snapshot_browse"


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
        for event in events:
            app.bus.publish(event)
        app.drain_events()
        if any(e.side.value == "sender" for e in events):
            app.sender_pane.query_one("ProgressBar").display = True
            app.sender_pane.set_sending(True)
            app.sender_pane.update_progress(scenes.T0 + 4)
        app.receiver_pane.tick(scenes.T0 + 5)
        tree.focus()
        await pilot.pause()

    return app, prepare


def test_listening_and_idle(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.listening())
    assert snap_compare(app, terminal_size=SIZE, run_before=prepare)


def test_mid_transfer_with_debug_log(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.mid_transfer(), level=Level.DEBUG)
    assert snap_compare(app, terminal_size=SIZE, run_before=prepare)


def test_port_in_use(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.port_in_use())
    assert snap_compare(app, terminal_size=SIZE, run_before=prepare)


def test_receiver_settings_form(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.listening())

    async def open_form(pilot: Pilot[None]) -> None:
        await prepare(pilot)
        await pilot.press("f2")
        await pilot.pause()
        for box in app.screen.query(Input):
            box.cursor_blink = False

    assert snap_compare(app, terminal_size=SIZE, run_before=open_form)


def test_help_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, prepare = app_with(scenes.listening())

    async def open_help(pilot: Pilot[None]) -> None:
        await prepare(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)
