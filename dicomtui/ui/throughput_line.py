"""One line: the current rate and a sparkline of the last minute's throughput."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline

from dicomtui.core.stream.events import Event, FileSent, ObjectReceived
from dicomtui.core.stream.report import Throughput
from dicomtui.core.units import human_rate
from dicomtui.ui.text_line import TextLine


class ThroughputLine(Horizontal):
    """Bytes per second of ``counted`` events over the last 60 seconds."""

    def __init__(
        self, counted: type[ObjectReceived | FileSent], label: str, *, id: str | None = None
    ) -> None:
        super().__init__(id=id, classes="throughput")
        self.meter = Throughput(counted)
        self.label = label
        self._idle = True
        #: The second last drawn: the line shows whole seconds, so events within
        #: it wait for the next second (redrawing the sparkline at every update in
        #: a burst cost a fifth of the UI thread).
        self._drawn_second = -1

    def compose(self) -> ComposeResult:
        yield TextLine(f"{self.label}: idle", classes="throughput-rate")
        yield Sparkline([0.0] * self.meter.seconds, summary_function=max)

    def add_events(self, events: Iterable[Event], now: float) -> None:
        self.meter.add_events(events)
        if self._idle or int(now) != self._drawn_second:
            self.tick(now)  # at once, not only at the next second's tick

    def tick(self, now: float) -> None:
        self._drawn_second = int(now)
        series = self.meter.series(now)
        if not any(series):
            if not self._idle:  # draw the flat line once, then leave it be
                self._idle = True
                self.query_one(Sparkline).data = series
                self.query_one(".throughput-rate", TextLine).update(f"{self.label}: idle")
            return
        self._idle = False
        self.query_one(Sparkline).data = series
        self.query_one(".throughput-rate", TextLine).update(
            f"{self.label}: {human_rate(self.meter.latest_rate(series))}, peak {human_rate(max(series))}"
        )
