"""A box to type a folder's path in, with completion (Tab or Right takes it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input


def restarted(text: str) -> str:
    """The path a user meant when typing one over the folder the box starts with:
    from the last ``//`` a new absolute path starts, from the last ``/~`` home
    ("/data/in//tmp/x" is "/tmp/x"), as in Emacs."""
    for mark in ("//", "/~"):
        at = text.rfind(mark)
        if at > 0:
            text = text[at + 1 :]
    return text


def complete_path(text: str, *, folders_only: bool = True) -> str | None:
    """The text completed with the one entry it can only be, or the entries' common
    start ("/tm" -> "/tmp/"); None when there is nothing to add."""
    text = restarted(text)
    if not text:
        return None
    expanded = os.path.expanduser(text)
    folder, _, start = expanded.rpartition(os.sep)
    where = Path(folder or (os.sep if expanded.startswith(os.sep) else "."))
    try:
        names = [
            entry.name + (os.sep if entry.is_dir() else "")
            for entry in os.scandir(where)
            if entry.name.startswith(start)
            and (entry.is_dir() or not folders_only)
            and (start.startswith(".") or not entry.name.startswith("."))
        ]
    except OSError:
        return None
    if not names:
        return None
    common = os.path.commonprefix(names)  # noqa: RUF071 - names, not paths
    if len(common) <= len(start):
        return None
    return text + common[len(start) :]


class PathSuggester(Suggester):
    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value)


class PathInput(Input):
    """Enter goes to the folder typed; Escape closes the box; Tab completes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", show=True),
        Binding("escape", "close", "Close", show=True),
    ]

    class Closed(Message):
        """Escape: the box is done with, nothing chosen."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            placeholder="Type a folder (Tab completes, Enter goes, Escape closes)",
            suggester=PathSuggester(),
            select_on_focus=False,
            compact=True,
            id=id,
            classes=classes,
        )

    def action_complete(self) -> None:
        completed = complete_path(self.value)
        if completed is not None:
            self.value = completed
            self.cursor_position = len(completed)

    def action_close(self) -> None:
        self.post_message(self.Closed())
