"""SIGINT and SIGTERM for the headless commands: the handler only counts.

A handler runs in the main thread between two bytecodes, possibly while that
thread holds a lock; one that takes a lock itself (``Event.set()``) waits
forever when a second signal arrives inside the first, as ``timeout`` sends
one to the child and one to its group. So the handler adds one to a number,
and the main thread looks at it at least every ``POLL`` seconds.

Signals that come together are one request: ``timeout`` (or a shell, or a
process manager) may send several within a few milliseconds, and whether the
handler runs between them or once for all depends on which thread the kernel
interrupts. Only a signal ``BURST`` seconds or more after the first counts again.
"""

from __future__ import annotations

import signal
import time
from types import FrameType

POLL = 0.1
BURST = 0.2


class StopSignals:
    """Counts SIGINT and SIGTERM from the moment it is made."""

    def __init__(self) -> None:
        self.count = 0
        self._first = 0.0
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.count == 0:
            self._first = now
        elif now - self._first < BURST:
            return  # the same request as the first
        self.count += 1

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a signal came (True) or ``timeout`` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.count:
            left = POLL if deadline is None else min(POLL, deadline - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)
        return True
