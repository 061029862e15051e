"""Starting the app headless for Pilot tests, and waiting on what it shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable

from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.ui.app import DicomTuiApp, LaunchConfig

SIZE = (160, 48)


def make_app(
    browse: Path,
    inbox: Path,
    *,
    port: int = 0,
    dest: tuple[str, int, str] | None = None,
    start_receiver: bool = True,
    clock: Callable[[], float] = time.time,
) -> DicomTuiApp:
    receiver = ReceiverSettings(port=port, ae_title="DICOMTUI", output_directory=inbox)
    host, dest_port, called = dest or ("127.0.0.1", port, "DICOMTUI")
    sender = SenderSettings(
        host=host, port=dest_port, called_ae_title=called, calling_ae_title="DICOMTUI"
    )
    config = LaunchConfig(
        receiver=receiver, sender=sender, browse_path=browse, start_receiver=start_receiver
    )
    return DicomTuiApp(config, clock=clock)


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], object], timeout: float = 20.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(0.05)


def table_rows(app: DicomTuiApp, table_id: str) -> list[list[str]]:
    table: DataTable[str] = app.query_one(f"#{table_id}", DataTable)
    return [[str(cell) for cell in table.get_row(key)] for key in table.rows]


def listening_port(app: DicomTuiApp) -> int | None:
    receiver = app.receiver
    return receiver.port if receiver is not None and receiver.running else None


async def select_paths(pilot: Pilot[None], app: DicomTuiApp, paths: list[Path]) -> None:
    """Select files as a user would: move the tree cursor to each and press Space."""
    tree = app.sender_pane.file_tree
    tree.focus()
    await wait_for(pilot, lambda: len(tree.root.children) > 0, what="the folder listing")
    for path in paths:
        node = next(n for n in _walk(tree.root) if n.data is not None and n.data.path == path)
        tree.move_cursor(node)
        await pilot.pause()
        await pilot.press("space")
    await pilot.pause()


def _walk(node):  # type: ignore[no-untyped-def]
    yield node
    for child in node.children:
        yield from _walk(child)


def screen_text(app: DicomTuiApp) -> str:
    """Roughly what the terminal shows now, as plain text (from the app's own screenshot)."""
    import html
    import re

    svg = app.export_screenshot()
    body = svg[svg.index("<g class=") :] if "<g class=" in svg else svg
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")
