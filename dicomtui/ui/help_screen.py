"""A screen that lists every key and command; it scrolls at any terminal size."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from dicomtui.ui.commands import COMMANDS

TIPS = (
    "In the file browser: Space selects a file or folder (folders are sent with everything"
    " inside), Enter opens a folder, Backspace goes to the parent folder, / types a path"
    " (Tab completes it), ~ goes home and the start folder is one key away (see the"
    " footer). In the associations table: Enter shows only that association in the log"
    " (Ctrl+A shows all again). In the received objects table: Enter inspects the stored"
    " file (F10 inspects the file under the cursor, there or in the browser). In the log's"
    " filter box: Enter applies, Escape closes. Ctrl+P opens the command palette, which"
    " also finds commands by what they do."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "Close"),
    ]

    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("Key", no_wrap=True)
        table.add_column("Command", no_wrap=True)
        table.add_column("What it does")
        for command in COMMANDS:
            # Keys come from the user's key map: text, never markup.
            table.add_row(Text(self.keys.get(command.id, command.key)), command.title, command.help)
        with Vertical(id="help"):
            yield Static(
                "dicomtui keys (arrows and Page Up/Down scroll, Escape closes)",
                classes="form-title",
            )
            with VerticalScroll(id="help-body"):
                yield Static(table)
                yield Static(TIPS, id="help-tips")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
