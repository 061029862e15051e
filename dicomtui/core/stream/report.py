"""What happened to each object, as a table to export (CSV or JSON), and throughput.

A ``TransferReport`` takes the same events as the log. It keeps the last
``limit`` objects, so a receiver that runs for weeks stays in bounded memory; an
export says when older objects were left out.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dicomtui.core.dicom.tables import status_category
from dicomtui.core.stream.events import (
    AssociationAccepted,
    Event,
    FileSending,
    FileSent,
    FileSkipped,
    ObjectLost,
    ObjectReceived,
    SendStarted,
)

REPORT_LIMIT = 10_000
_RECORDED = (
    AssociationAccepted,
    ObjectReceived,
    ObjectLost,
    SendStarted,
    FileSending,
    FileSent,
    FileSkipped,
)


@dataclass(frozen=True, slots=True)
class TransferRecord:
    #: When the object was stored, sent, lost or skipped (exported as ISO 8601, local time).
    time: float
    peer: str
    #: The peer's calling AE title (receiving) or the called one (sending).
    ae_title: str
    association: int | None
    sop_class: str
    sop_instance: str
    file: str
    #: ``0x0000`` as the peer or our receiver answered; empty if no answer.
    status: str
    #: Success, Warning, Failure, Lost or Skipped.
    result: str
    bytes: int
    #: Sending: request to response. Receiving: since the previous object (or the
    #: association's acceptance) on the same association.
    seconds: float | None
    error: str


FIELDS = tuple(f.name for f in dataclasses.fields(TransferRecord))


def _iso(timestamp: float) -> str:
    local = time.localtime(timestamp)
    millis = int(timestamp * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{millis:03d}" + time.strftime("%z", local)


def _status(status: int | None) -> str:
    return f"0x{status:04X}" if status is not None else ""


class TransferReport:
    """One side's objects (the receiver's, or the last send's), newest last."""

    def __init__(self, limit: int = REPORT_LIMIT) -> None:
        self.records: deque[TransferRecord] = deque(maxlen=limit)
        self.total = 0
        self._peers: dict[int, tuple[str, str]] = {}
        self._last_seen: dict[int, float] = {}
        self._sending: dict[str, float] = {}
        self._destination = ("", "")
        self._lock = threading.Lock()

    @property
    def left_out(self) -> int:
        return self.total - len(self.records)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()
            self.total = 0
            self._sending.clear()
            self._peers.clear()
            self._last_seen.clear()

    def snapshot(self) -> tuple[list[TransferRecord], int]:
        """The records kept, and how many older ones were left out (safe while adding)."""
        with self._lock:
            return list(self.records), self.total - len(self.records)

    def __call__(self, event: Event) -> None:
        """As a bus subscriber (on pynetdicom's threads, several at once): only the
        events a report records take its lock, not every PDU and DIMSE message."""
        if isinstance(event, _RECORDED):
            with self._lock:
                self.add(event)

    def add(self, event: Event) -> None:
        if isinstance(event, AssociationAccepted) and event.assoc_id is not None:
            peer = f"{event.peer_address}:{event.peer_port}"
            self._peers[event.assoc_id] = (peer, event.calling_ae_title)
            self._last_seen[event.assoc_id] = event.timestamp
            self._trim_associations()
        elif isinstance(event, ObjectReceived):
            self._received(event)
        elif isinstance(event, ObjectLost):
            self._record(
                event, event.sop_class, event.sop_instance, "", None, "Lost", 0, event.reason
            )
        elif isinstance(event, SendStarted):
            self._destination = (f"{event.peer_address}:{event.peer_port}", event.called_ae_title)
        elif isinstance(event, FileSending):
            self._sending[event.path] = event.timestamp
        elif isinstance(event, FileSent):
            started = self._sending.pop(event.path, None)
            self._append(
                TransferRecord(
                    time=event.timestamp,
                    peer=self._destination[0],
                    ae_title=self._destination[1],
                    association=event.assoc_id,
                    sop_class=event.sop_class,
                    sop_instance=event.sop_instance,
                    file=event.path,
                    status=_status(event.status),
                    result=status_category(event.status),
                    bytes=event.size,
                    seconds=round(event.timestamp - started, 6) if started is not None else None,
                    error=event.error,
                )
            )
        elif isinstance(event, FileSkipped):
            self._append(
                TransferRecord(
                    time=event.timestamp,
                    peer="",
                    ae_title="",
                    association=None,
                    sop_class="",
                    sop_instance="",
                    file=event.path,
                    status="",
                    result="Skipped",
                    bytes=0,
                    seconds=None,
                    error=event.reason,
                )
            )

    def _received(self, event: ObjectReceived) -> None:
        result = status_category(event.status)
        self._record(
            event,
            event.sop_class,
            event.sop_instance,
            event.path or "",
            event.status,
            result,
            event.size,
            event.error,
        )

    def _record(
        self,
        event: Event,
        sop_class: str,
        sop_instance: str,
        file: str,
        status: int | None,
        result: str,
        size: int,
        error: str,
    ) -> None:
        assoc = event.assoc_id
        peer, calling = self._peers.get(assoc, ("", "")) if assoc is not None else ("", "")
        previous = self._last_seen.get(assoc) if assoc is not None else None
        if assoc is not None:
            self._last_seen[assoc] = event.timestamp
        self._append(
            TransferRecord(
                time=event.timestamp,
                peer=peer,
                ae_title=calling,
                association=assoc,
                sop_class=sop_class,
                sop_instance=sop_instance,
                file=file,
                status=_status(status),
                result=result,
                bytes=size,
                seconds=round(event.timestamp - previous, 6) if previous is not None else None,
                error=error,
            )
        )

    def _append(self, record: TransferRecord) -> None:
        self.records.append(record)
        self.total += 1

    def _trim_associations(self, keep: int = 1000) -> None:
        """Forget the peers of old associations (their objects keep their own copy)."""
        while len(self._peers) > keep:
            oldest = next(iter(self._peers))
            del self._peers[oldest]
            self._last_seen.pop(oldest, None)


def _exported(record: TransferRecord) -> dict[str, object]:
    row: dict[str, object] = {name: getattr(record, name) for name in FIELDS}
    row["time"] = _iso(record.time)
    return row


def write_report(report: TransferReport, path: Path) -> tuple[int, int]:
    """Write the records as CSV, or JSON if ``path`` ends in ``.json``; returns how
    many were written and how many older ones had been left out.

    Written beside the target and renamed, so a failed write leaves no half file.
    """
    kept, left_out = report.snapshot()
    records = [_exported(record) for record in kept]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".report-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            if path.suffix.lower() == ".json":
                document = {
                    "objects": records,
                    "left_out": left_out,
                }
                json.dump(document, out, indent=1)
                out.write("\n")
            else:
                writer = csv.writer(out)
                writer.writerow(FIELDS)
                for record in records:
                    writer.writerow("" if v is None else v for v in record.values())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(records), left_out


class Throughput:
    """Bytes per second over the last ``seconds`` seconds, for a sparkline."""

    def __init__(self, counted: type[ObjectReceived | FileSent], seconds: int = 60) -> None:
        self.counted = counted
        self.seconds = seconds
        self._bins: deque[tuple[int, int]] = deque()

    def add(self, timestamp: float, size: int) -> None:
        second = int(timestamp)
        if self._bins and self._bins[-1][0] == second:
            self._bins[-1] = (second, self._bins[-1][1] + size)
        elif not self._bins or second > self._bins[-1][0]:
            self._bins.append((second, size))
        # An event from an earlier second (clock step) is folded into the latest.
        else:
            self._bins[-1] = (self._bins[-1][0], self._bins[-1][1] + size)
        while self._bins and self._bins[0][0] <= second - self.seconds:
            self._bins.popleft()

    def add_events(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, self.counted) and event.status is not None:
                self.add(event.timestamp, event.size)

    def series(self, now: float) -> list[float]:
        """One value per second, oldest first, ending with the current second."""
        end = int(now)
        values = dict(self._bins)
        return [float(values.get(second, 0)) for second in range(end - self.seconds + 1, end + 1)]

    @staticmethod
    def latest_rate(series: list[float]) -> float:
        """Bytes per second over the last complete second of a ``series``."""
        return series[-2] if len(series) > 1 else 0.0
