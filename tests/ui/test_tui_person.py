"""What a person notices: resume after a cancel, questions before quitting mid-send,
the own-receiver destination following F2, focus that keeps what was typed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from factory import make_object
from textual.widgets import Input

from dicomtui.ui.confirm_screen import ConfirmScreen
from ui.test_tui_transfers import SlowPeer
from ui.tui_helpers import listening_port, make_app, screen_text, select_paths, wait_for


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    """Record what the app tells the user in its notifications (toasts)."""
    said: list[str] = []
    notify = app.notify

    def recording(message: str, **options) -> None:  # type: ignore[no-untyped-def]
        said.append(message)
        notify(message, **options)

    app.notify = recording
    return said


def test_ctrl_r_resumes_what_a_cancel_left_not_attempted(tmp_path: Path) -> None:
    browse = tmp_path / "browse"
    browse.mkdir()
    for index in range(300):
        make_object(browse / f"{index:03d}.dcm", rows=8, columns=8)
    peer = SlowPeer()

    async def scenario() -> None:
        app = make_app(browse, tmp_path / "inbox", dest=("127.0.0.1", peer.port, "SLOW"))
        async with app.run_test(size=(120, 40)) as pilot:
            await select_paths(pilot, app, [browse])
            await pilot.press("f6")
            await wait_for(pilot, lambda: app.sender_pane.progress.done >= 5, what="a few sent")
            # Ctrl+Q mid-send asks first; "n" keeps sending.
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            assert "A send is running" in screen_text(app)
            await pilot.press("n")
            assert app.is_running and not isinstance(app.screen, ConfirmScreen)
            await pilot.press("f8")
            await wait_for(pilot, lambda: app.sender_pane.progress.finished is not None)
            first = app.sender_pane.progress.finished
            assert first is not None and first.cancelled and first.not_attempted > 0

            await pilot.press("ctrl+r")
            await wait_for(
                pilot,
                lambda: (
                    app.sender_pane.progress.finished is not None
                    and not app.sender_pane.progress.finished.cancelled
                ),
                timeout=30,
                what="the resumed send",
            )
            said = notices(app)
            second = app.sender_pane.progress.finished
            assert second is not None
            assert second.sent == first.not_attempted and second.failed == 0
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert any("nothing to resume" in line for line in said)

    try:
        asyncio.run(scenario())
        assert len(set(peer.stored)) == 300  # every object once, none twice
    finally:
        peer.close()


def test_the_own_receiver_destination_follows_f2(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            app.query_one("#dest-port", Input).value = str(listening_port(app))
            first = listening_port(app)
            await pilot.press("f2")
            app.screen.query_one("#ae-title", Input).value = "NEWNAME"
            await pilot.click("#apply")
            await wait_for(
                pilot,
                lambda: listening_port(app) and listening_port(app) != first,
                what="the restarted receiver",
            )
            await pilot.pause(0.3)
            assert app.query_one("#dest-port", Input).value == str(listening_port(app))
            assert app.query_one("#dest-aet", Input).value == "NEWNAME"
            await pilot.press("f7")
            await wait_for(pilot, lambda: "Success" in str(app.query_one("#echo-status").render()))

    asyncio.run(scenario())


def test_focus_keeps_what_was_typed_and_errors_point_at_the_field(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=(80, 24)) as pilot:
            said = notices(app)
            app.sender_pane.file_tree.focus()
            await pilot.press("tab")  # from the browser to the host field
            host = app.query_one("#dest-host", Input)
            assert host.has_focus
            await pilot.press("x")  # typing adds, it does not replace the host
            assert host.value == "127.0.0.1x"
            port = app.query_one("#dest-port", Input)
            port.value = "abc"
            await pilot.press("f7")
            await pilot.pause()
            assert port.has_focus and port.value == "abc"
            assert any("destination port must be a number" in line for line in said)
            await pilot.press("f8")  # no send
            await pilot.pause()
            assert any("No send is running" in line for line in said)

    asyncio.run(scenario())


def test_deleting_a_node_asks_first(tmp_path: Path) -> None:
    from ui.test_tui_nodes import add_node, node_rows

    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+n")
            await add_node(pilot, app, "PACS", 104, "PACS")
            assert [row[0] for row in node_rows(app)] == ["PACS"]
            await pilot.press("d")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            assert "Delete the node PACS" in screen_text(app)
            await pilot.press("n")
            await pilot.pause()
            assert [row[0] for row in node_rows(app)] == ["PACS"]  # kept
            await pilot.press("d")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            assert node_rows(app) == []
            assert app.settings_file.nodes == []

    asyncio.run(scenario())
