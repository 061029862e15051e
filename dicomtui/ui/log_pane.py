"""The live log: the event stream in the manuals' words, bounded, filterable."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Log

from dicomtui.core.stream.events import Event, Level
from dicomtui.core.stream.log_format import format_event
from dicomtui.ui.steady_scroll import SteadyLog
from dicomtui.ui.text_line import TextLine

LEVEL_NAMES = {Level.ERROR: "quiet", Level.INFO: "verbose", Level.DEBUG: "debug"}
LEVEL_CYCLE = (Level.ERROR, Level.INFO, Level.DEBUG)


class LogPane(Vertical):
    """Keeps the last ``keep_events`` events and shows the last ``max_lines`` lines
    that pass the level, association and text filters."""

    level: reactive[Level] = reactive(Level.INFO)
    follow: reactive[bool] = reactive(True)
    text_filter: reactive[str] = reactive("")
    assoc_filter: reactive[int | None] = reactive(None)

    def __init__(
        self, *, keep_events: int = 2_000, max_lines: int = 2_000, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.events: deque[Event] = deque(maxlen=keep_events)
        self.max_lines = max_lines
        self.dropped = 0

    def compose(self) -> ComposeResult:
        yield TextLine(id="log-title")
        yield Input(placeholder="Filter the log (Enter to apply, empty to clear)", id="log-filter")
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
            self.query_one(Log).write_lines(lines[-self.max_lines :])
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

    def rerender(self) -> None:
        log = self.query_one(Log)
        log.clear()
        lines: list[str] = []
        for event in self.events:
            lines.extend(self._lines(event))
        log.write_lines(lines[-self.max_lines :])
        self._update_title()

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
        log = self.query_one(Log)
        log.auto_scroll = follow
        if follow:
            log.scroll_end(animate=False)
        self._update_title()

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
        parts.append("following" if self.follow else "paused")
        if self.assoc_filter is not None:
            parts.append(f"association #{self.assoc_filter} only")
        if self.text_filter:
            parts.append(f"filter '{self.text_filter}'")
        if self.dropped:
            parts.append(f"{self.dropped} events dropped")
        self.query_one("#log-title", TextLine).update(" · ".join(parts))

    def visible_lines(self) -> list[str]:
        return [str(line) for line in self.query_one(Log).lines]

    def save(self, path: Path) -> int:
        lines = self.visible_lines()
        path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        return len(lines)
