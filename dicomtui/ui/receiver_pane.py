"""The receiver pane: state, live associations and the objects that arrived."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from dicomtui.core.dicom.tables import (
    short_sop_class,
    short_status,
    short_transfer_syntax,
    status_category,
)
from dicomtui.core.stream.events import (
    Event,
    ObjectLost,
    ObjectReceived,
    ReceiverFailed,
    ReceiverStarted,
    ReceiverStopped,
    Side,
)
from dicomtui.core.stream.tracking import AssociationRow, AssociationTracker
from dicomtui.core.units import human_duration, human_rate, human_size
from dicomtui.ui.live_table import LiveTable, PlainCell
from dicomtui.ui.text_line import TextLine
from dicomtui.ui.throughput_line import ThroughputLine

#: (key, label, fixed width or None to fit): the growing ones are wide enough for
#: what they will hold ("1023.9 MB"), not only for their first value. Numbers come
#: first: a narrow pane cuts the columns on the right, and a cut number ("12" for
#: 123) would mislead where a cut name does not.
ASSOCIATION_COLUMNS = (
    ("id", "#", None),
    ("state", "State", 11),
    ("objects", "Objects", 7),
    ("bytes", "Bytes", 9),
    ("rate", "Rate", 11),
    ("time", "Time", 8),
    ("calling", "Calling AE", 16),
    ("peer", "Peer", None),
    ("result", "Result", None),
)
#: (key, label, fixed width or None to fit); the log has the full reasons.
RECEIVED_COLUMNS = (
    ("time", "Time", None),
    ("status", "Status", 14),
    ("size", "Size", 9),
    ("modality", "Mod", None),
    ("patient", "Patient", 18),
    ("sop", "SOP class", None),
    ("syntax", "Syntax", None),
    ("file", "File", None),
)


def _status_label(status: int | None, error: str = "") -> str:
    text = "Lost" if status is None else short_status(status)
    return f"{text}: {error}" if error else text


class ReceiverPane(Vertical):
    """Shows what the receiver does; owns no thread and no socket."""

    class AssociationChosen(Message):
        def __init__(self, assoc_id: int) -> None:
            super().__init__()
            self.assoc_id = assoc_id

    class ObjectChosen(Message):
        """Enter on a received object that was stored: inspect its file."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, *, max_rows: int = 500, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Receiver"
        self.tracker = AssociationTracker(Side.RECEIVER)
        self.max_rows = max_rows
        #: Row key of the received objects table -> the stored file.
        self._received_paths: dict[str, Path] = {}
        self._received_count = 0
        self.stored = 0
        self.failed = 0
        self.state = "stopped"
        self.state_text = "Stopped"
        self.detail_text = ""

    def compose(self) -> ComposeResult:
        yield TextLine("Stopped", id="receiver-status")
        yield ThroughputLine(ObjectReceived, "In", id="receiver-throughput")
        # The tables take what is left ("bulk": hidden when the pane is collapsed).
        yield Static("Associations", classes="table-title bulk")
        associations: DataTable[PlainCell] = LiveTable(
            id="associations", cursor_type="row", zebra_stripes=True, classes="bulk"
        )
        for key, label, width in ASSOCIATION_COLUMNS:
            associations.add_column(label, key=key, width=width)
        yield associations
        yield Static("Received objects", classes="table-title bulk")
        received = LiveTable(
            id="received",
            cursor_type="row",
            zebra_stripes=True,
            max_rows=self.max_rows,
            classes="bulk",
        )
        for key, label, width in RECEIVED_COLUMNS:
            received.add_column(label, key=key, width=width)
        yield received

    # --- feeding -----------------------------------------------------------------------

    def apply(self, events: list[Event], now: float) -> None:
        mine = [e for e in events if e.side is Side.RECEIVER]
        if not mine:
            return
        self.query_one(ThroughputLine).add_events(mine, now)
        for event in mine:
            if isinstance(event, ReceiverStarted):
                where = f"{event.address or '*'}:{event.port}"
                into = event.output_directory or "nowhere (--ignore)"
                self.state = "listening"
                self.state_text = f"Listening on {where}"
                self.detail_text = f"as {event.ae_title}; storing into {into}"
            elif isinstance(event, ReceiverStopped):
                self.state, self.state_text = "stopped", "Stopped (F5 starts it)"
            elif isinstance(event, ReceiverFailed):
                self.state = "failed"
                self.state_text = f"{event.reason}. F2 changes the settings, F5 tries again."
        changed = self.tracker.apply(mine)
        self._update_associations(changed, now)
        self._add_received(e for e in mine if isinstance(e, ObjectReceived | ObjectLost))
        self.update_status()

    def update_status(self) -> None:
        marker = {"listening": "●", "failed": "✖"}.get(self.state, "○")
        counts = f" · {self.tracker.active} active · {self.stored} stored"
        if self.failed:
            counts += f" · {self.failed} failed"
        status = self.query_one("#receiver-status", TextLine)
        if self.state == "listening":  # the counts first: a narrow pane still shows them
            status.update(f"{marker} {self.state_text}{counts} · {self.detail_text}")
        else:
            status.update(f"{marker} {self.state_text}")
        status.set_class(self.state == "failed", "error")

    def _cells(self, row: AssociationRow, now: float) -> dict[str, str]:
        cells = {
            "id": str(row.assoc_id),
            "state": row.state,
            "objects": str(row.objects),
            "bytes": human_size(row.bytes),
            "rate": human_rate(row.rate(now)),
            "time": human_duration(row.duration(now)),
            "calling": row.calling_ae_title,
            "peer": row.peer,
            "result": row.result,
        }
        return {key: cells[key] for key, _label, _width in ASSOCIATION_COLUMNS}

    def _update_associations(self, changed: Iterable[int], now: float) -> None:
        table: DataTable[PlainCell] = self.query_one("#associations", DataTable)
        for assoc_id in self.tracker.removed:
            if str(assoc_id) in table.rows:
                table.remove_row(str(assoc_id))
        self.tracker.removed.clear()
        for assoc_id in sorted(changed):
            row = self.tracker.rows.get(assoc_id)
            if row is None:
                continue
            self._write_association(table, row, now)

    def _write_association(
        self, table: DataTable[PlainCell], row: AssociationRow, now: float
    ) -> None:
        cells = self._cells(row, now)
        key = str(row.assoc_id)
        if key in table.rows:
            for column, value in cells.items():
                table.update_cell(key, column, PlainCell(value))
        else:
            table.add_row(*map(PlainCell, cells.values()), key=key)

    def tick(self, now: float) -> None:
        """Keep the durations and rates of open associations moving."""
        self.query_one(ThroughputLine).tick(now)
        table: DataTable[PlainCell] = self.query_one("#associations", DataTable)
        for row in self.tracker.rows.values():
            if not row.finished and str(row.assoc_id) in table.rows:
                table.update_cell(
                    str(row.assoc_id), "time", PlainCell(human_duration(row.duration(now)))
                )
                table.update_cell(str(row.assoc_id), "rate", PlainCell(human_rate(row.rate(now))))

    def _add_received(self, events: Iterable[ObjectReceived | ObjectLost]) -> None:
        table = self.query_one("#received", LiveTable)
        rows: list[tuple[str, tuple[str, ...]]] = []
        for event in events:
            self._received_count += 1
            key = str(self._received_count)
            stamp = time.strftime("%H:%M:%S", time.localtime(event.timestamp))
            if isinstance(event, ObjectReceived):
                ok = status_category(event.status) in ("Success", "Warning")
                self.stored += 1 if ok and event.path else 0
                self.failed += 0 if ok else 1
                cells = (
                    stamp,
                    _status_label(event.status, event.error),
                    human_size(event.size),
                    event.modality,
                    event.patient_name,
                    short_sop_class(event.sop_class),
                    short_transfer_syntax(event.transfer_syntax),
                    event.filename if event.path else "(not stored)",
                )
            else:
                self.failed += 1
                cells = (
                    stamp,
                    _status_label(None, "association ended mid-transfer"),
                    human_size(event.bytes_received),
                    "",
                    "",
                    short_sop_class(event.sop_class) if event.sop_class else "",
                    "",
                    "(nothing stored)",
                )
            if isinstance(event, ObjectReceived) and event.path:
                self._received_paths[key] = Path(event.path)
            rows.append((key, cells))
        for gone in table.append_rows(rows):
            self._received_paths.pop(gone, None)

    def received_path(self) -> Path | None:
        """The stored file of the received object under the cursor, if any."""
        table: DataTable[PlainCell] = self.query_one("#received", DataTable)
        if not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self._received_paths.get(str(row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "associations" and event.row_key.value is not None:
            event.stop()
            self.post_message(self.AssociationChosen(int(event.row_key.value)))
        elif event.data_table.id == "received" and event.row_key.value is not None:
            event.stop()
            path = self._received_paths.get(event.row_key.value)
            if path is not None:
                self.post_message(self.ObjectChosen(path))
