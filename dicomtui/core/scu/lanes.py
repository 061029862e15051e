"""Several associations for one send: the files they share, and the threads that
carry them.

Each association (a *lane*) takes the next file of the current batch when it is
free, so a slow one does not hold the end. A lane whose request the peer does
not take (rejected, or left waiting, as DCMTK's storescp without ``--fork``
does while it serves another) simply carries nothing: the others carry the
files. Once every file is taken, requests still waiting are hung up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any

from dicomtui.core.dicom.files import DicomFile
from dicomtui.core.net.hang_up import hang_up
from dicomtui.core.scu.planning import Batch
from dicomtui.core.stream.bus import EventBus, HeldEvents

#: A request hung up after waiting this long was left unanswered by the peer
#: (one that answers at all does so in milliseconds): worth a line in the log.
UNANSWERED_AFTER = 1.0


class SharedWork:
    """The files of a send, batch by batch, handed out one at a time."""

    def __init__(self, batches: Sequence[Batch], cancelled: threading.Event) -> None:
        self.batches = list(batches)
        self._taken = [0] * len(self.batches)
        self._lock = threading.Lock()
        self._cancelled = cancelled
        self._stopped = threading.Event()
        #: Set when the last file is handed out or the send stops.
        self.changed = threading.Event()

    def stop(self) -> None:
        """Hand out nothing more (``--stop-on-failure``)."""
        self._stopped.set()
        self.changed.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set() or self._cancelled.is_set()

    def has_left(self, index: int) -> bool:
        return not self.stopped and self._taken[index] < len(self.batches[index].files)

    def take(self, index: int) -> DicomFile | None:
        """The next file of batch ``index`` for an association to send, or None."""
        with self._lock:
            if not self.has_left(index):
                return None
            item = self.batches[index].files[self._taken[index]]
            self._taken[index] += 1
            if index == len(self.batches) - 1 and not self.has_left(index):
                self.changed.set()
            return item

    def untaken(self) -> int:
        with self._lock:
            return sum(len(b.files) - n for b, n in zip(self.batches, self._taken, strict=True))


class LaneState(Enum):
    IDLE = auto()
    ASKING = auto()  # requesting an association
    SENDING = auto()
    DONE = auto()


@dataclass
class Lane:
    """One association of a send at a time (one per batch), on its own thread."""

    number: int
    #: Where its association's events go: held back until the peer accepts it
    #: when the send has several lanes.
    bus: EventBus
    #: pynetdicom's handlers that publish its association's events to ``bus``.
    handlers: list[Any] = field(default_factory=list)
    state: LaneState = LaneState.IDLE
    #: Why its association could not be made (rejected, not answered...).
    failure: str = ""
    #: Why its association ended while it sent (the file in flight is reported failed).
    broke: str = ""
    #: Its request was hung up, after waiting this long (seconds).
    hung_up_after: float | None = None
    established: bool = False
    changed: threading.Event = field(default_factory=threading.Event)
    _asking: Any = None
    _asked_at: float = 0.0
    _hang_up: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _set(self, state: LaneState) -> None:
        self.state = state
        self.changed.set()

    def asking(self) -> None:
        with self._lock:
            self._asking, self._asked_at = None, time.monotonic()
            self._set(LaneState.ASKING)

    def on_conn_open(self, event: Any) -> None:
        """pynetdicom's EVT_CONN_OPEN: the connection a hang-up would close."""
        with self._lock:
            self._asking = event.assoc
            if self._hang_up:
                hang_up(event.assoc)

    def answered(self, assoc: Any) -> bool:
        """After the request: True if the association is ours to send on."""
        with self._lock:
            self._asking = None
            if self._hang_up:
                self.hung_up_after = time.monotonic() - self._asked_at
                if assoc is not None and assoc.is_established:
                    assoc.abort()
                self._set(LaneState.DONE)
                return False
            if assoc is None or not assoc.is_established:
                return False
            self.established = True
            if isinstance(self.bus, HeldEvents):
                self.bus.let_through()
            self._set(LaneState.SENDING)
            return True

    def idle(self) -> None:
        with self._lock:
            self._set(LaneState.IDLE)

    def done(self) -> None:
        with self._lock:
            self._set(LaneState.DONE)

    def hang_up_request(self) -> None:
        """End a request still waiting for the peer (or about to be made)."""
        with self._lock:
            if self.state is LaneState.DONE or self.state is LaneState.SENDING:
                return
            self._hang_up = True
            if self._asking is not None:
                hang_up(self._asking)


def run_lanes(lanes: list[Lane], drive: Callable[[Lane], None], work: SharedWork) -> None:
    """Each lane on its own thread through ``drive``; returns when all have ended.

    Requests still waiting once every file is taken (or the send is cancelled)
    are hung up rather than left to the ACSE timeout.
    """
    wake = work.changed
    for lane in lanes:
        lane.changed = wake

    def run(lane: Lane) -> None:
        try:
            drive(lane)
        finally:
            lane.done()

    threads = [
        threading.Thread(target=run, args=(lane,), name=f"storescu-{lane.number}", daemon=True)
        for lane in lanes
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        wake.clear()
        if work.stopped or work.untaken() == 0:
            for lane in lanes:
                lane.hang_up_request()
        wake.wait(0.1)
    for thread in threads:
        thread.join()


def shortfall(lanes: Sequence[Lane]) -> str:
    """One line when the peer did not take every association asked for, else ""."""
    if len(lanes) < 2 or not any(lane.established for lane in lanes):
        return ""
    reasons = [
        lane.failure
        or (
            "not answered while the others sent"
            if (lane.hung_up_after or 0) >= UNANSWERED_AFTER
            else ""
        )
        for lane in lanes
        if not lane.established
    ]
    missing = [reason for reason in reasons if reason]
    if not missing:
        return ""
    carried = sum(1 for lane in lanes if lane.established)
    return (
        f"The peer took {carried} of the {len(lanes)} associations asked for"
        f" ({missing[0]}); the files went over {'it' if carried == 1 else 'those'}"
    )
