"""What the event stream adds up to: associations and a send's progress.

Renderer-neutral models: the TUI draws them, tests check them, neither needs the other.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dicomtui.core.dicom.tables import status_category
from dicomtui.core.stream.events import (
    AssociationAborted,
    AssociationAccepted,
    AssociationRejected,
    AssociationReleased,
    AssociationRequested,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    FileSent,
    FileSkipped,
    ObjectLost,
    ObjectReceived,
    SendFinished,
    SendStarted,
    Side,
)

_FINAL_STATES = ("released", "aborted", "rejected", "closed")


@dataclass
class AssociationRow:
    assoc_id: int
    peer: str = ""
    calling_ae_title: str = ""
    called_ae_title: str = ""
    state: str = "connected"
    objects: int = 0
    failed: int = 0
    lost: int = 0
    bytes: int = 0
    started: float = 0.0
    ended: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in _FINAL_STATES

    def duration(self, now: float) -> float:
        return max(0.0, (self.ended if self.ended is not None else now) - self.started)

    def rate(self, now: float) -> float:
        """Bytes per second over the association's life so far."""
        seconds = self.duration(now)
        return self.bytes / seconds if seconds > 0 else 0.0

    @property
    def result(self) -> str:
        if not self.finished:
            return ""
        if self.state == "rejected":
            return "rejected"
        problems = []
        if self.failed:
            problems.append(f"{self.failed} failed")
        if self.lost:
            problems.append(f"{self.lost} lost")
        if problems:
            return ", ".join(problems)
        return "aborted" if self.state == "aborted" else "ok"


class AssociationTracker:
    """The receiver's associations, newest last, keeping at most ``limit`` finished ones."""

    def __init__(self, side: Side = Side.RECEIVER, limit: int = 500) -> None:
        self.side = side
        self.limit = limit
        self.rows: OrderedDict[int, AssociationRow] = OrderedDict()
        self.removed: list[int] = []

    def apply(self, events: Iterable[Event]) -> set[int]:
        """Take in events; returns the ids of the rows that changed."""
        changed: set[int] = set()
        for event in events:
            if event.side is not self.side or event.assoc_id is None:
                continue
            if self._apply(event, event.assoc_id):
                changed.add(event.assoc_id)
        self._trim()
        return changed

    def _row(self, event: Event, assoc_id: int) -> AssociationRow:
        row = self.rows.get(assoc_id)
        if row is None:
            row = AssociationRow(assoc_id=assoc_id, started=event.timestamp)
            self.rows[assoc_id] = row
        return row

    def _apply(self, event: Event, assoc_id: int) -> bool:
        if isinstance(event, ConnectionOpened):
            row = self._row(event, assoc_id)
            row.peer = f"{event.peer_address}:{event.peer_port}"
        elif isinstance(event, AssociationRequested):
            row = self._row(event, assoc_id)
            row.peer = row.peer or f"{event.peer_address}:{event.peer_port}"
            row.calling_ae_title = event.calling_ae_title
            row.called_ae_title = event.called_ae_title
            row.state = "requested"
        elif isinstance(event, AssociationAccepted):
            row = self._row(event, assoc_id)
            row.state = "established"
            row.calling_ae_title = event.calling_ae_title
            row.called_ae_title = event.called_ae_title
        elif isinstance(event, AssociationRejected):
            self._end(event, assoc_id, "rejected")
        elif isinstance(event, AssociationReleased):
            self._end(event, assoc_id, "released")
        elif isinstance(event, AssociationAborted):
            self._end(event, assoc_id, "aborted")
        elif isinstance(event, ConnectionClosed):
            known = self.rows.get(assoc_id)
            if known is None:
                return False
            if not known.finished:
                self._end(event, assoc_id, "closed")
            elif known.ended is None:
                known.ended = event.timestamp
        elif isinstance(event, ObjectReceived):
            row = self._row(event, assoc_id)
            if status_category(event.status) in ("Success", "Warning"):
                row.objects += 1
            else:
                row.failed += 1
            row.bytes += event.size
        elif isinstance(event, ObjectLost):
            row = self._row(event, assoc_id)
            row.lost += 1
            row.bytes += event.bytes_received
        else:
            return False
        return True

    def _end(self, event: Event, assoc_id: int, state: str) -> None:
        row = self._row(event, assoc_id)
        # A bare "closed" may arrive before the release or abort that explains it.
        if not row.finished or (row.state == "closed" and state != "closed"):
            row.state = state
            row.ended = row.ended or event.timestamp

    def _trim(self) -> None:
        finished = [aid for aid, row in self.rows.items() if row.finished]
        for assoc_id in finished[: max(0, len(finished) - self.limit)]:
            del self.rows[assoc_id]
            self.removed.append(assoc_id)

    @property
    def active(self) -> int:
        return sum(1 for row in self.rows.values() if not row.finished)


@dataclass
class Tally:
    """What became of the objects of a send, counted by response status."""

    sent: int = 0
    warned: int = 0
    failed: int = 0
    skipped: int = 0
    bytes_sent: int = 0
    done: int = 0
    failed_paths: list[Path] = field(default_factory=list)

    def count(self, path: Path, size: int, status: int | None) -> None:
        self.done += 1
        category = status_category(status)
        if category == "Success":
            self.sent += 1
        elif category == "Warning":
            self.warned += 1
        else:
            self.failed += 1
            self.failed_paths.append(path)
            return
        self.bytes_sent += size


@dataclass
class SendProgressModel(Tally):
    """One send job as the user watches it."""

    total_files: int = 0
    total_bytes: int = 0
    started: float = 0.0
    finished: SendFinished | None = None

    def apply(self, events: Iterable[Event]) -> bool:
        changed = False
        for event in events:
            if event.side is not Side.SENDER:
                continue
            if isinstance(event, SendStarted):
                fresh = SendProgressModel(
                    total_files=event.total_files,
                    total_bytes=event.total_bytes,
                    started=event.timestamp,
                )
                self.__dict__.update(fresh.__dict__)
            elif isinstance(event, FileSkipped):
                self.skipped += 1
            elif isinstance(event, FileSent):
                self.count(Path(event.path), event.size, event.status)
            elif isinstance(event, SendFinished):
                self.finished = event
            else:
                continue
            changed = True
        return changed

    def elapsed(self, now: float) -> float:
        if self.finished is not None:
            return self.finished.seconds
        return max(0.0, now - self.started) if self.started else 0.0

    def rate(self, now: float) -> float:
        seconds = self.elapsed(now)
        return self.bytes_sent / seconds if seconds > 0 else 0.0

    def seconds_left(self, now: float) -> float | None:
        rate = self.rate(now)
        if rate <= 0 or self.finished is not None:
            return None
        return max(0.0, (self.total_bytes - self.bytes_sent) / rate)
