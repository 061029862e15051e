"""The live log: the event stream in the manuals' words, bounded, filterable."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from rich.cells import cell_len, chop_cells
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Log

from dicomtui.core.stream.events import Event, Level
from dicomtui.core.stream.log_format import format_event
from dicomtui.ui.steady_scroll import SteadyLog

LEVEL_NAMES = {Level.ERROR: "quiet", Level.INFO: "verbose", Level.DEBUG: "debug"}
LEVEL_CYCLE = (Level.ERROR, Level.INFO, Level.DEBUG)
#: Where a wrapped line goes on: under its text, past the time stamp.
WRAP_INDENT = "    "


def wrap_line(line: str, width: int) -> list[str]:
    """One log line cut into rows of at most ``width`` cells, at a space where there is
    one in the row's second half; the rows after the first are indented."""
    if width <= len(WRAP_INDENT) + 8 or cell_len(line) <= width:
        return [line]
    rows: list[str] = []
    rest, room = line, width
    while cell_len(rest) > room:
        row = chop_cells(rest, room)[0]
        space = row.rfind(" ")
        if space > room // 2:
            row = row[: space + 1]
        rows.append(row.rstrip(" ") if not rows else WRAP_INDENT + row.rstrip(" "))
        rest = rest[len(row) :]
        room = width - len(WRAP_INDENT)
    if rest:
        rows.append(rest if not rows else WRAP_INDENT + rest)
    return rows


class LogPane(Vertical):
    """Keeps the last ``keep_events`` events and shows the last ``max_lines`` lines
    that pass the level, association and text filters. Lines wider than the pane wrap
    (or, with wrapping off, scroll sideways); the title is on the border."""

    BINDINGS = [
        Binding("escape", "close_filter", "Close filter", show=False),
    ]

    level: reactive[Level] = reactive(Level.INFO)
    follow: reactive[bool] = reactive(True)
    wrap: reactive[bool] = reactive(True)
    text_filter: reactive[str] = reactive("")
    assoc_filter: reactive[int | None] = reactive(None)

    def __init__(
        self, *, keep_events: int = 2_000, max_lines: int = 2_000, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.events: deque[Event] = deque(maxlen=keep_events)
        self.max_lines = max_lines
        self.dropped = 0
        #: The lines shown, each whole (the Log holds them cut to the pane's width).
        self.shown: deque[str] = deque(maxlen=max_lines)
        self._wrap_width = 0

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="Filter the log (Enter applies, empty clears, Escape closes)",
            id="log-filter",
        )
        yield SteadyLog(max_lines=self.max_lines, id="log", auto_scroll=True)

    def on_mount(self) -> None:
        self.query_one("#log-filter", Input).display = False
        self._update_title()

    # --- feeding ----------------------------------------------------------------------

    def add_events(self, events: Iterable[Event], dropped: int = 0) -> None:
        lines: list[str] = []
        for event in events:
            self.events.append(event)
            lines.extend(self._lines(event))
        if dropped:
            self.dropped += dropped
            lines.append(f"-- {dropped} events were dropped: the display could not keep up --")
        if lines:
            self._write(lines[-self.max_lines :])
        if dropped:
            self._update_title()

    def _lines(self, event: Event) -> list[str]:
        if self.assoc_filter is not None and event.assoc_id != self.assoc_filter:
            return []
        rendered = format_event(event, self.level)
        if not rendered:
            return []
        stamp = time.strftime("%H:%M:%S", time.localtime(event.timestamp))
        tag = f"#{event.assoc_id} " if event.assoc_id is not None else ""
        texts = [f"{stamp} {tag}{line.render()}" for line in rendered]
        if self.text_filter:
            wanted = self.text_filter.lower()
            texts = [text for text in texts if wanted in text.lower()]
        return texts

    def _write(self, lines: list[str]) -> None:
        self.shown.extend(lines)
        log = self.query_one(Log)
        if self.wrap:
            width = self._log_width()
            lines = [row for line in lines for row in wrap_line(line, width)]
        log.write_lines(lines)

    def _log_width(self) -> int:
        """The columns a line has in the log, leaving room for its scrollbar."""
        log = self.query_one(Log)
        self._wrap_width = max(log.size.width - log.styles.scrollbar_size_vertical, 0)
        return self._wrap_width

    def _rewrite(self) -> None:
        """Show the same lines again, cut to the pane's width as it is now."""
        log = self.query_one(Log)
        log.clear()
        lines = list(self.shown)
        self.shown.clear()
        self._write(lines)
        if not self.wrap:
            log.scroll_to(x=0, animate=False, immediate=True)

    def rerender(self) -> None:
        self.query_one(Log).clear()
        self.shown.clear()
        lines: list[str] = []
        for event in self.events:
            lines.extend(self._lines(event))
        self._write(lines[-self.max_lines :])
        self._update_title()

    def on_resize(self, _event: events.Resize) -> None:
        if self.wrap and self.is_mounted:
            self.call_after_refresh(self._rewrap_if_needed)

    def _rewrap_if_needed(self) -> None:
        log = self.query_one(Log)
        if log.size.width - log.styles.scrollbar_size_vertical != self._wrap_width:
            self._rewrite()

    # --- controls ---------------------------------------------------------------------

    def cycle_level(self) -> Level:
        index = LEVEL_CYCLE.index(self.level) if self.level in LEVEL_CYCLE else 0
        self.level = LEVEL_CYCLE[(index + 1) % len(LEVEL_CYCLE)]
        return self.level

    def watch_level(self) -> None:
        if self.is_mounted:
            self.rerender()

    def watch_text_filter(self) -> None:
        if self.is_mounted:
            self.rerender()

    def watch_assoc_filter(self) -> None:
        if self.is_mounted:
            self.rerender()

    def watch_follow(self, follow: bool) -> None:
        if not self.is_mounted:
            return
        log = self.query_one(SteadyLog)
        log.auto_scroll = follow
        if follow:
            log.follow_end()
        self._update_title()

    def watch_wrap(self) -> None:
        if self.is_mounted:
            self._rewrite()
            self._update_title()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    def action_close_filter(self) -> None:
        """Escape in the filter box: close it, keeping the filter as it was applied."""
        box = self.query_one("#log-filter", Input)
        if not box.has_focus:
            return
        box.value = self.text_filter
        box.display = bool(self.text_filter)
        self.query_one(Log).focus()

    def open_filter(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.display = True
        box.value = self.text_filter
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "log-filter":
            return
        event.stop()
        self.text_filter = event.value.strip()
        event.input.display = bool(self.text_filter)
        self.query_one(Log).focus()

    def _update_title(self) -> None:
        parts = [f"Log: {LEVEL_NAMES.get(self.level, self.level.name.lower())}"]
        parts.append("following" if self.follow else "paused (F9 follows)")
        parts.append("wrapping" if self.wrap else "long lines scroll sideways")
        if self.assoc_filter is not None:
            parts.append(f"association #{self.assoc_filter} only")
        if self.text_filter:
            parts.append(f"filter '{self.text_filter}'")
        if self.dropped:
            parts.append(f"{self.dropped} events dropped")
        self.title_text = " · ".join(parts)
        self.border_title = Text(self.title_text)

    title_text = ""

    def visible_lines(self) -> list[str]:
        """The lines shown, each whole (however they are wrapped on screen)."""
        return list(self.shown)

    def save(self, path: Path) -> int:
        lines = self.visible_lines()
        path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        return len(lines)
