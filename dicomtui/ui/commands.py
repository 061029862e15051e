"""Every user action, once: it builds the key bindings, the command palette and the help screen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True)
class Command:
    #: Stable id, so a key map can rebind it ("receiver.toggle": "f5").
    id: str
    key: str
    action: str
    title: str
    help: str
    show: bool = True


COMMANDS: tuple[Command, ...] = (
    Command("app.quit", "ctrl+q", "quit", "Quit", "Stop the receiver cleanly and quit"),
    Command("app.help", "f1", "help", "Help", "List every key and command"),
    Command("receiver.toggle", "f5", "toggle_receiver", "Start/stop", "Start or stop the receiver"),
    Command(
        "receiver.settings",
        "f2",
        "receiver_settings",
        "Receiver",
        "Change the receiver's settings (port, AE title, folder, syntaxes, timeouts...)",
    ),
    Command(
        "app.nodes",
        "ctrl+n",
        "nodes",
        "Nodes",
        "The address book: pick a destination, add, edit, delete and echo peers",
    ),
    Command(
        "app.pacs",
        "f11,ctrl+g",
        "pacs",
        "PACS",
        "Find studies on a node of the address book and retrieve them (C-FIND, C-MOVE, C-GET)",
        show=False,
    ),
    Command(
        "app.preferences",
        "ctrl+o",
        "preferences",
        "Preferences",
        "Log level, theme, start-up and keys, saved in the config file",
        show=False,
    ),
    Command("sender.send", "f6", "send", "Send", "Send the selected files to the destination"),
    Command("sender.echo", "f7", "echo", "Echo", "Check the destination with a C-ECHO"),
    Command(
        "sender.cancel", "f8", "cancel_send", "Cancel", "Cancel the send: abort the association"
    ),
    Command(
        "sender.retry",
        "ctrl+r",
        "retry_failed",
        "Resume",
        "Send again what failed in the last send, and what a cancel left unsent",
        show=False,
    ),
    Command(
        "sender.options",
        "f3",
        "sender_options",
        "Sender",
        "Change the sender's options (-cx, transfer syntaxes, PDU, timeouts, AE titles)",
    ),
    Command(
        "sender.clear",
        "ctrl+x",
        "clear_selection",
        "Clear selection",
        "Unselect every file and folder",
        show=False,
    ),
    Command(
        "app.report",
        "ctrl+e",
        "export_report",
        "Export report",
        "Save what happened to each object (last send, or the receiver) as CSV or JSON",
        show=False,
    ),
    Command("log.level", "f4", "cycle_log_level", "Log level", "Quiet, verbose or debug log"),
    Command("log.follow", "f9", "toggle_follow", "Follow", "Follow new lines or pause the log"),
    Command(
        "log.filter",
        "ctrl+f",
        "filter_log",
        "Filter",
        "Show only log lines with some text",
        show=False,
    ),
    Command(
        "log.all",
        "ctrl+a",
        "show_all_associations",
        "All associations",
        "Stop filtering the log to one association",
        show=False,
    ),
    Command("log.save", "ctrl+s", "save_log", "Save log", "Save the log to a file", show=False),
    Command(
        "app.zoom",
        "ctrl+z",
        "zoom",
        "Zoom",
        "Give the pane in use the whole screen; the others keep their live lines (again: undo)",
    ),
    Command(
        "app.switch",
        "ctrl+t",
        "switch_pane",
        "Next pane",
        "Move to the next pane (receiver, sender, log); stacked panes show it whole",
        show=False,
    ),
    Command(
        "log.wrap",
        "ctrl+w",
        "toggle_wrap",
        "Wrap log",
        "Wrap long log lines, or let them scroll sideways",
        show=False,
    ),
    Command(
        "app.inspect",
        "f10",
        "inspect",
        "Inspect",
        "Show the tags and the image of the file in the browser or the received object",
    ),
)

BINDINGS: list[Binding] = [
    Binding(c.key, c.action, c.title, show=c.show, id=c.id, priority=c.id == "app.quit")
    for c in COMMANDS
]


class CommandsProvider(Provider):
    """The command palette's entries for COMMANDS, found by name (fuzzy) or by any
    words of what they do ("folder", "abort", "syntax")."""

    def _commands(self) -> list[tuple[Command, Callable[[], Any]]]:
        found = []
        for command in COMMANDS:
            if command.id == "app.quit":  # Textual's own palette has Quit
                continue
            action = getattr(self.app, f"action_{command.action}", None)
            if action is not None:
                found.append((command, action))
        return found

    async def discover(self) -> Hits:
        for command, action in self._commands():
            yield DiscoveryHit(command.title, action, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        wanted = query.strip().lower()
        for command, action in self._commands():
            score = matcher.match(command.title)
            if score <= 0 and wanted and wanted in command.help.lower():
                score = 0.5  # below a match of the name
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), action, help=command.help)
