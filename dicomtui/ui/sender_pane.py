"""The sender pane: pick files, name the destination, send, watch each result."""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, ProgressBar
from textual.worker import get_current_worker

from dicomtui.core.config.validation import check_ae_title
from dicomtui.core.dicom.tables import (
    short_sop_class,
    short_status,
    short_transfer_syntax,
    status_category,
)
from dicomtui.core.stream.events import EchoResult, Event, FileSent, FileSkipped, SendFinished, Side
from dicomtui.core.stream.log_format import format_event, send_summary
from dicomtui.core.stream.tracking import SendProgressModel
from dicomtui.core.units import human_duration, human_rate, human_size
from dicomtui.ui.file_tree import DicomDirectoryTree
from dicomtui.ui.live_table import LiveTable
from dicomtui.ui.path_input import PathInput, restarted
from dicomtui.ui.text_line import TextLine
from dicomtui.ui.throughput_line import ThroughputLine

#: (key, label, fixed width or None to fit); the log has the full reasons.
SENT_COLUMNS = (
    ("status", "Status", 22),
    ("size", "Size", 9),
    ("file", "File", 24),
    ("sop", "SOP class", None),
    ("syntax", "Syntax", None),
)


NOTHING_SELECTED = "Nothing selected: Space selects files and folders"


class FieldError(ValueError):
    """A destination field that is wrong: says what to fix, and which field."""

    def __init__(self, message: str, field_id: str) -> None:
        super().__init__(message)
        self.field_id = field_id


class SenderPane(Vertical):
    class SelectionCounted(Message):
        def __init__(self, files: int, size: int) -> None:
            super().__init__()
            self.files = files
            self.size = size

    def __init__(
        self,
        browse_path: Path,
        *,
        host: str = "",
        port: int | None = None,
        called_ae_title: str = "ANY-SCP",
        max_rows: int = 500,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.border_title = Text(f"Sender · {browse_path}")
        self.border_subtitle = NOTHING_SELECTED
        self.browse_path = browse_path
        self.initial = (host, "" if port is None else str(port), called_ae_title)
        self.progress = SendProgressModel()
        self.max_rows = max_rows
        self._sent_count = 0
        #: Files of the last send that need no resending: stored, or not DICOM.
        self.done_paths: set[str] = set()
        self.selection_files = 0
        self.selection_size = 0

    def compose(self) -> ComposeResult:
        # The browser and the results table take what is left ("bulk": hidden when the
        # pane is collapsed); the progress bar, its summary and the Out: line always show.
        yield PathInput(id="browse-path", classes="bulk")
        yield DicomDirectoryTree(self.browse_path, id="files", classes="bulk")
        host, port, called = self.initial
        with Horizontal(id="destination", classes="bulk"):
            yield Label("To ")
            yield Input(
                host, placeholder="host", id="dest-host", compact=True, select_on_focus=False
            )
            yield Input(
                port,
                placeholder="port",
                id="dest-port",
                compact=True,
                select_on_focus=False,
                max_length=5,
            )
            yield Input(
                called,
                placeholder="called AE",
                id="dest-aet",
                compact=True,
                select_on_focus=False,
            )
        with Horizontal(id="send-buttons", classes="bulk"):
            yield Button("Echo F7", id="echo", compact=True)
            yield Button("Send F6", id="send", variant="primary", compact=True)
            yield Button("Cancel F8", id="cancel", variant="error", disabled=True, compact=True)
        yield TextLine("", id="echo-status", classes="bulk")
        yield ProgressBar(id="progress", show_eta=False)
        yield TextLine("", id="progress-text")
        yield ThroughputLine(FileSent, "Out", id="sender-throughput")
        sent = LiveTable(
            id="sent",
            cursor_type="row",
            zebra_stripes=True,
            max_rows=self.max_rows,
            classes="bulk",
        )
        for key, label, width in SENT_COLUMNS:
            sent.add_column(label, key=key, width=width)
        yield sent

    # --- the folder shown ---------------------------------------------------------------

    def on_dicom_directory_tree_path_wanted(self, message: DicomDirectoryTree.PathWanted) -> None:
        message.stop()
        box = self.query_one(PathInput)
        box.display = True
        folder = str(self.file_tree.folder)
        box.value = folder if folder.endswith(os.sep) else folder + os.sep
        box.cursor_position = len(box.value)
        box.focus()

    def on_dicom_directory_tree_folder_changed(
        self, message: DicomDirectoryTree.FolderChanged
    ) -> None:
        self.border_title = Text(f"Sender · {message.path}")  # and on to the app, to save it

    @on(Input.Submitted, "#browse-path")
    def _path_typed(self, message: Input.Submitted) -> None:
        message.stop()
        typed = restarted(message.value.strip())
        if not typed:
            self._close_path_box()
            return
        wanted = Path(typed).expanduser()
        if not wanted.is_absolute():
            wanted = self.file_tree.folder / wanted
        if wanted.is_file():
            wanted = wanted.parent
        if not self.file_tree.go_to(wanted):
            self.notify(f"No folder {wanted}", severity="warning", markup=False)
            return
        self._close_path_box()

    @on(PathInput.Closed)
    def _close_path_box(self) -> None:
        self.query_one(PathInput).display = False
        self.file_tree.focus()

    # --- selection ---------------------------------------------------------------------

    @property
    def file_tree(self) -> DicomDirectoryTree:
        return self.query_one(DicomDirectoryTree)

    @property
    def selected(self) -> list[Path]:
        return sorted(self.file_tree.marked)

    def on_dicom_directory_tree_marks_changed(
        self, message: DicomDirectoryTree.MarksChanged
    ) -> None:
        if not message.marked:
            self.workers.cancel_group(self, "selection")
            self.selection_files = self.selection_size = 0
            self.border_subtitle = NOTHING_SELECTED
            return
        self.border_subtitle = f"{len(message.marked)} selected: counting..."
        self._count_selection(message.marked)

    @work(thread=True, exclusive=True, group="selection", exit_on_error=False)
    def _count_selection(self, marked: frozenset[Path]) -> None:
        worker = get_current_worker()
        files = size = 0
        for path in marked:
            if path.is_file():
                files += 1
                size += path.stat().st_size
                continue
            for root, _dirs, names in os.walk(path):
                if worker.is_cancelled:
                    return
                for name in names:
                    try:
                        size += os.stat(os.path.join(root, name)).st_size
                        files += 1
                    except OSError:
                        continue
        if not worker.is_cancelled:
            self.post_message(self.SelectionCounted(files, size))

    def on_sender_pane_selection_counted(self, message: SelectionCounted) -> None:
        self.selection_files, self.selection_size = message.files, message.size
        count = len(self.file_tree.marked)
        self.border_subtitle = (
            f"{count} selected: {message.files} files, {human_size(message.size)}"
        )

    # --- destination -------------------------------------------------------------------

    def destination(self) -> tuple[str, int, str]:
        """Host, port and called AE title as typed; raises ValueError saying what is wrong."""
        host = self.query_one("#dest-host", Input).value.strip()
        port_text = self.query_one("#dest-port", Input).value.strip()
        called = self.query_one("#dest-aet", Input).value.strip() or "ANY-SCP"
        if not host:
            raise FieldError("Type the destination's host first", "dest-host")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise FieldError(
                f"The destination port must be a number from 1 to 65535, not {port_text!r}",
                "dest-port",
            )
        try:
            return host, int(port_text), check_ae_title(called, "called AE title")
        except ValueError as exc:
            raise FieldError(str(exc), "dest-aet") from None

    def set_destination(self, host: str, port: int, called_ae_title: str) -> None:
        self.query_one("#dest-host", Input).value = host
        self.query_one("#dest-port", Input).value = str(port)
        self.query_one("#dest-aet", Input).value = called_ae_title

    # --- feeding -----------------------------------------------------------------------

    def set_sending(self, sending: bool) -> None:
        self.query_one("#send", Button).disabled = sending
        self.query_one("#cancel", Button).disabled = not sending

    def apply(self, events: list[Event], now: float) -> None:
        mine = [e for e in events if e.side is Side.SENDER]
        if not mine:
            return
        self.query_one(ThroughputLine).add_events(mine, now)
        if self.progress.apply(mine):
            self.update_progress(now)
        results: list[tuple[str, tuple[str, ...]]] = []
        for event in mine:
            if isinstance(event, FileSent | FileSkipped):
                results.append(self._result_row(event))
                if isinstance(event, FileSkipped) or (
                    not event.error and status_category(event.status) in ("Success", "Warning")
                ):
                    self.done_paths.add(event.path)
            elif isinstance(event, EchoResult):
                [line] = format_event(event)
                self.query_one("#echo-status", TextLine).update(line.text)
            elif isinstance(event, SendFinished):
                self.set_sending(False)
        self.query_one("#sent", LiveTable).append_rows(results)

    def _result_row(self, event: FileSent | FileSkipped) -> tuple[str, tuple[str, ...]]:
        self._sent_count += 1
        key = str(self._sent_count)
        name = Path(event.path).name
        if isinstance(event, FileSkipped):
            cells = (f"Skipped: {event.reason}", "", name, "", "")
        else:
            status = short_status(event.status)
            if event.error:
                status = f"{'Failure' if event.status is None else status}: {event.error}"
            cells = (
                status,
                human_size(event.size),
                name,
                short_sop_class(event.sop_class),
                short_transfer_syntax(event.transfer_syntax),
            )
        return key, cells

    def update_progress(self, now: float) -> None:
        p = self.progress
        bar = self.query_one(ProgressBar)
        bar.update(total=max(p.total_files, 1), progress=p.done)
        text = self.query_one("#progress-text", TextLine)
        if p.finished is not None:
            text.update(send_summary(p.finished, compact=True))
            return
        left = p.seconds_left(now)
        parts = [
            f"{p.done}/{p.total_files} objects",
            f"{human_size(p.bytes_sent)} of {human_size(p.total_bytes)}",
            human_rate(p.rate(now)),
            f"{human_duration(p.elapsed(now))} elapsed",
        ]
        if left is not None:
            parts.append(f"{human_duration(left)} left")
        if p.failed:
            parts.append(f"{p.failed} failed")
        text.update(" · ".join(parts))

    def on_mount(self) -> None:
        # Nothing to show (and no idle animation) until the first send.
        self.query_one(ProgressBar).display = False
        self.query_one(PathInput).display = False

    def tick(self, now: float) -> None:
        self.query_one(ThroughputLine).tick(now)
        if self.progress.total_files and self.progress.finished is None:
            self.update_progress(now)

    def reset_results(self) -> None:
        self.done_paths = set()
        self.query_one(ProgressBar).display = True
        self.query_one("#sent", DataTable).clear()
        self.progress = SendProgressModel()
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#progress-text", TextLine).update("Preparing...")
