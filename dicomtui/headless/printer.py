"""Print events as the manuals' log lines (``I: ...``) on a stream."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TextIO

from dicomtui.core.stream.events import Event, Level
from dicomtui.core.stream.log_format import format_event


class LinePrinter:
    """A bus subscriber that writes every line at ``threshold`` or above.

    ``threshold`` None prints nothing (quiet mode).
    """

    def __init__(self, threshold: Level | None, stream: TextIO | None = None) -> None:
        self.threshold = threshold
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if self.threshold is None:
            return
        lines = [line.render() for line in format_event(event, self.threshold)]
        if not lines:
            return
        with self._lock:
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed pipe must not take an association down

    @property
    def wants_debug(self) -> bool:
        return self.threshold is not None and self.threshold <= Level.DEBUG

    @property
    def pdu_dumps(self) -> Callable[[], bool] | None:
        """For the observer: PDU dumps are wanted throughout (``-d``) or never."""
        return (lambda: True) if self.wants_debug else None
