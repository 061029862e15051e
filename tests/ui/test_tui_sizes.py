"""The app at 80x24, 120x40 and 200x60, as a person sees it: a few hundred objects sent
to the app's own receiver, and the live parts on screen all along."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from factory import make_object
from textual.widgets import Input

from ui.tui_helpers import listening_port, make_app, screen_text, select_paths, wait_for

SIZES = [(80, 24), (120, 40), (200, 60)]
COUNT = 300


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    browse = tmp_path_factory.mktemp("browse")
    for name in ("a-first", "b-second", "c-third"):
        (browse / name).mkdir()
    folder = browse / "study"
    folder.mkdir()
    for index in range(COUNT):
        make_object(folder / f"{index:03d}.dcm", rows=8, columns=8)
    return browse


def newest_log_row(app) -> str:  # type: ignore[no-untyped-def]
    """The log's last row as drawn (a long line wraps: its last part)."""
    return str(app.query_one("#log").lines[-1]).strip()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_live_parts_are_on_screen_at_every_size(
    size: tuple[int, int], study: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = make_app(study, tmp_path / "inbox")
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            app.query_one("#dest-port", Input).value = str(listening_port(app))
            await select_paths(pilot, app, [study / "study"])
            # The browser opened the folder (Space then moves the cursor): it may be as
            # long as it likes, the live parts keep their place.
            await pilot.press("f6")
            await wait_for(pilot, lambda: app.sender_pane.progress.done >= 20, what="progress")
            mid = screen_text(app)
            progress = str(app.query_one("#progress-text").render())
            assert progress[:24] in mid and "%" in mid, "the progress is not on screen mid-send"
            await wait_for(
                pilot,
                lambda: app.sender_pane.progress.finished is not None,
                timeout=60,
                what="the send",
            )
            await wait_for(pilot, lambda: app.receiver_pane.stored == COUNT, what="all stored")
            await pilot.pause(0.6)  # the next drain and tick
            text = screen_text(app)
            assert "100%" in text
            assert f"{COUNT} sent, 0 with warnings, 0 failed" in " ".join(text.split())
            assert f"{COUNT} stored" in text
            assert "Listening on" in text
            assert newest_log_row(app) in text

            # An echo: its result and its log line show at once, the log still following.
            await pilot.press("f7")
            await wait_for(
                pilot,
                lambda: "Success" in str(app.query_one("#echo-status").render()),
                what="the echo",
            )
            await pilot.pause(0.3)
            text = screen_text(app)
            echo_line = str(app.query_one("#echo-status").render())
            assert echo_line in text and echo_line.endswith(" ms")
            assert "Echo to" in newest_log_row(app) or "Releas" in newest_log_row(app)
            assert newest_log_row(app) in text

            # F2: the buttons and the error line are on screen; a bad port is named.
            await pilot.press("f2")
            await pilot.pause()
            form = screen_text(app)
            assert "Apply" in form and "Cancel" in form
            port_box = app.screen.query_one("#port", Input)
            assert port_box.has_focus  # the first field
            port_box.value = "abc"
            await pilot.press("enter")
            await pilot.pause()
            assert "Port: The port must be a number from 0 to 65535" in screen_text(app)
            assert port_box.has_focus and port_box.value == "abc"
            await pilot.press("escape")
            await pilot.press("ctrl+q")

    asyncio.run(scenario())


@pytest.mark.parametrize("size", SIZES[:2], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_log_follows_lines_wider_than_the_pane_and_resizes(
    size: tuple[int, int], tmp_path: Path
) -> None:
    from dicomtui.core.stream.events import Level, LogMessage, Side

    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=size) as pilot:
            log = app.query_one("#log")
            for n in range(60):
                text = f"line {n} " + "x" * (size[0] * 2 if n % 7 == 0 else 10) + f" end {n}"
                app.bus.publish(LogMessage(side=Side.SENDER, level=Level.INFO, text=text))
                app.drain_events()
                await pilot.pause()
            assert "end 59" in screen_text(app)
            # No scrolling sideways: long lines wrap.
            app.log_pane.wrap = False
            await pilot.pause()
            app.bus.publish(
                LogMessage(side=Side.SENDER, level=Level.INFO, text="wide " + "y" * 400)
            )
            app.bus.publish(LogMessage(side=Side.SENDER, level=Level.INFO, text="the newest"))
            app.drain_events()
            await pilot.pause(0.2)
            assert "the newest" in screen_text(app)  # a horizontal scrollbar took a row
            await pilot.resize_terminal(size[0] + 30, size[1] - 4)
            await pilot.pause(0.3)
            app.bus.publish(LogMessage(side=Side.SENDER, level=Level.INFO, text="after resize"))
            app.drain_events()
            await pilot.pause(0.2)
            assert "after resize" in screen_text(app)
            assert log.is_vertical_scroll_end
            assert app.log_pane.title_text.startswith("Log: verbose · following")
            assert Level.INFO  # (level kept)

    asyncio.run(scenario())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_log_zoomed_takes_the_room_the_panes_leave(
    size: tuple[int, int], study: Path, tmp_path: Path
) -> None:
    """Ctrl+Z in the log: the panes above keep their live lines only, and the log
    grows into everything else (it kept its height, under blank rows, before)."""

    async def scenario() -> None:
        app = make_app(study, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=size) as pilot:
            log = app.query_one("#log-pane")
            await pilot.pause()
            before = log.outer_size.height
            app.query_one("#log").focus()
            await pilot.press("ctrl+z")
            await pilot.pause()
            assert log.outer_size.height > before
            # Nothing blank between the panes' live lines and the log, nor under it.
            panes = app.query_one("#panes")
            assert log.region.y == panes.region.bottom, (log.region, panes.region)
            assert log.region.bottom == app.query_one("Footer").region.y
            await pilot.press("ctrl+z")
            await pilot.pause()
            assert log.outer_size.height == before

    asyncio.run(scenario())
