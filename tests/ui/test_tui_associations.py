"""F3's "Associations at once" at 80x24: checked as the command checks it,
saved, and a send from the app then goes over that many associations."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

from factory import make_object
from helpers import dataset_bytes, sendable, stored_files
from test_associations import SlowPeer
from textual.widgets import Input, Switch

from dicomtui.core.config.file import load_config
from dicomtui.ui.launch import app_defaults
from ui.tui_helpers import listening_port, make_app, select_paths, table_rows, wait_for


def test_f3_sets_the_associations_of_a_send(tmp_path: Path, own_config_file: Path) -> None:
    browse, inbox = tmp_path / "browse", tmp_path / "inbox"
    browse.mkdir()
    sources = [make_object(browse / f"{n:02d}.dcm") for n in range(24)]

    async def scenario() -> None:
        app = make_app(browse, inbox)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            app.query_one("#dest-port", Input).value = str(listening_port(app))
            await pilot.press("f3")
            await wait_for(
                pilot, lambda: app.screen.query("#send-associations"), what="the F3 form"
            )
            field = app.screen.query_one("#send-associations", Input)
            for wrong in ("0", "17", "x"):
                field.value = wrong
                await pilot.press("ctrl+s")
                await pilot.pause()
                error = str(app.screen.query_one("#form-error").render())
                assert error == (
                    "Associations at once (1-16): The number of associations must be a"
                    " whole number of at least 1 and at most 16"
                )
                # The field it names has the cursor, scrolled into the 80x24 view.
                assert field.has_focus
                assert app.screen.find_widget(field).region.bottom <= 24
            field.value = "4"
            # ... and pynetdicom's C-STORE for this send (F3's fast path switch).
            app.screen.query_one("#send-fast-path", Switch).value = False
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: not app.screen.query("#send-associations"), what="Apply")
            assert app.sender_settings.associations == 4
            assert app.sender_settings.fast_path is False
            saved, _ = load_config(own_config_file, *app_defaults())
            assert saved.sender.associations == 4 and saved.sender.fast_path is False

            await select_paths(pilot, app, [browse])
            await pilot.press("f6")
            await wait_for(
                pilot, lambda: app.sender_pane.progress.finished is not None, what="the send"
            )
            finished = app.sender_pane.progress.finished
            assert finished is not None
            assert (finished.sent, finished.failed, finished.not_attempted) == (24, 0, 0)
            await wait_for(
                pilot, lambda: len(stored_files(inbox)) == 24, what="every object stored"
            )
            received = [row for row in table_rows(app, "associations") if row[6] == "DICOMTUI"]
            assert len(received) >= 4, received

    asyncio.run(scenario())
    stored = {sendable(p).sop_instance: p for p in stored_files(inbox)}
    for source in sources:
        assert dataset_bytes(stored[sendable(source).sop_instance]) == dataset_bytes(source)


def test_f8_cancels_every_association_of_a_send(tmp_path: Path) -> None:
    browse = tmp_path / "browse"
    browse.mkdir()
    for n in range(200):
        make_object(browse / f"{n:03d}.dcm")
    peer = SlowPeer()

    async def scenario() -> tuple[int, int, int]:
        app = make_app(browse, tmp_path / "inbox", dest=("127.0.0.1", peer.port, "SLOW"))
        async with app.run_test(size=(80, 24)) as pilot:
            app.sender_settings = dataclasses.replace(app.sender_settings, associations=4)
            await select_paths(pilot, app, [browse])
            await pilot.press("f6")
            await wait_for(pilot, lambda: app.sender_pane.progress.done >= 20, what="20 sent")
            await pilot.press("f8")
            await wait_for(
                pilot, lambda: app.sender_pane.progress.finished is not None, what="the cancel"
            )
            finished = app.sender_pane.progress.finished
            assert finished is not None and finished.cancelled
            assert str(app.query_one("#progress-text").render()).startswith(
                f"Cancelled: {finished.sent} sent"
            )
            return finished.sent, finished.failed, finished.not_attempted

    try:
        sent, failed, not_attempted = asyncio.run(scenario())
        assert sent + failed + not_attempted == 200
        assert 20 <= sent < 200
        assert peer.most_open == 4
        deadline = time.monotonic() + 5
        while peer.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peer.open == 0, "an association was left open"
        # Nothing reported sent that did not arrive, nothing stored twice.
        assert sum(peer.stored.values()) == sent
        assert max(peer.stored.values()) == 1
    finally:
        peer.stop()
