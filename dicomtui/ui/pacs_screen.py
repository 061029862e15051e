"""The PACS browser: find studies on a node of the address book and bring them here.

A search is one C-FIND at study level (see :mod:`dicomtui.core.qr.browse`); the
matches are shown as patients → studies, and a study's series (a series'
instances) are asked for when it is opened. Space marks patients, studies, series or
instances; F6 retrieves what is marked
(or the line under the cursor) by C-MOVE to our receiver or by C-GET, as the node
says; F8 cancels with C-CANCEL. Every query and retrieve runs on a thread worker
and on the app's bus, so the log pane shows its requests and responses, and the
objects that arrive join the receiver's table.

The screen is installed once and kept when closed (Escape), so its results and a
retrieve in progress are still there when it is opened again.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, ProgressBar, Select, Static, Tree
from textual.widgets.tree import TreeNode, UnknownNodeID
from textual.worker import Worker, WorkerState

from dicomtui.core.config.schema import Node, RetrieveMethod
from dicomtui.core.dicom.tables import sop_class_name
from dicomtui.core.qr.browse import (
    BatchResult,
    BatchRetrieve,
    InstanceRow,
    Level,
    PatientRow,
    RetrieveItem,
    RetrieveTally,
    SearchFields,
    SeriesRow,
    StudyRow,
    by_patient,
    instance_query,
    series_query,
    sort_instances,
    sort_series,
)
from dicomtui.core.qr.find import FindJob
from dicomtui.core.qr.models import Model, Operation
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.ui.text_line import TextLine

if TYPE_CHECKING:
    from dicomtui.ui.app import DicomTuiApp

SCREEN_NAME = "pacs"
#: A search stops (C-CANCEL) after this many studies: narrow it to see the rest.
MAX_STUDIES = 500
METHOD_CHOICES = [
    ("C-MOVE to our receiver", RetrieveMethod.MOVE),
    ("C-GET", RetrieveMethod.GET),
]
#: (label, field id, placeholder), two to a row.
FIELDS = (
    ("Patient name", "pacs-name", "DOE^J (a prefix)"),
    ("Patient ID", "pacs-id", ""),
    ("Birth date", "pacs-birth", "YYYY-MM-DD"),
    ("Accession", "pacs-accession", ""),
    ("Study from", "pacs-from", "YYYY-MM-DD"),
    ("Study to", "pacs-to", "YYYY-MM-DD"),
    ("Modality", "pacs-modality", "CT, MR..."),
    ("Description", "pacs-description", "a prefix"),
)


def open_pacs_browser(app: DicomTuiApp) -> None:
    """Show the browser (the same one each time)."""
    if isinstance(app.screen, PacsScreen):
        return
    if not app.is_screen_installed(SCREEN_NAME):
        app.install_screen(PacsScreen(), SCREEN_NAME)
    app.push_screen(SCREEN_NAME)


def _count(value: int | None, word: str) -> str:
    if value is None:
        return f"? {word}s"
    return f"{value} {word}{'' if value == 1 else 's'}"


def _date(text: str) -> str:
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


@dataclass
class Entry:
    """What one line of the tree is."""

    level: Level
    patient: PatientRow
    study: StudyRow | None = None
    series: SeriesRow | None = None
    instance: InstanceRow | None = None
    marked: bool = False
    #: A study's series, or a series' instances: asked for (loading), or there.
    loading: bool = False
    loaded: bool = False

    def items(self) -> list[RetrieveItem]:
        p = self.patient
        if self.level is Level.PATIENT:
            if p.patient_id:
                return [RetrieveItem(Level.PATIENT, p.patient_id, label=p.name or p.patient_id)]
            # No Patient ID to ask for: its studies, one by one.
            return [
                RetrieveItem(Level.STUDY, "", s.study_uid, label=s.description or s.date)
                for s in p.studies
            ]
        assert self.study is not None
        if self.level is Level.STUDY:
            label = self.study.description or _date(self.study.date) or "study"
            return [RetrieveItem(Level.STUDY, p.patient_id, self.study.study_uid, label=label)]
        assert self.series is not None
        if self.level is Level.IMAGE and self.instance is not None:
            i = self.instance
            return [
                RetrieveItem(
                    Level.IMAGE,
                    p.patient_id,
                    i.study_uid,
                    i.series_uid,
                    label=f"instance {i.number}".strip(),
                    sop_instance_uid=i.sop_instance_uid,
                )
            ]
        label = f"series {self.series.number} {self.series.modality}".strip()
        return [
            RetrieveItem(
                Level.SERIES,
                p.patient_id,
                self.series.study_uid,
                self.series.series_uid,
                label=label,
            )
        ]

    def label(self) -> Text:
        text = Text("[x] " if self.marked else "[ ] ", style="bold" if self.marked else "dim")
        p = self.patient
        if self.level is Level.PATIENT:
            text.append(p.name or "(no name)", style="bold")
            text.append(f"  {p.patient_id or '(no ID)'}")
            if p.birth_date:
                text.append(f"  born {_date(p.birth_date)}")
            text.append(
                f"  · {_count(len(p.studies), 'study').replace('studys', 'studies')},"
                f" {_count(p.instances, 'instance')}",
                style="dim",
            )
        elif self.level is Level.STUDY and self.study is not None:
            s = self.study
            text.append(_date(s.date) or "(no date)", style="bold")
            for part in (s.modalities, s.accession, s.description):
                if part:
                    text.append(f"  {part}")
            text.append(
                f"  · {_count(s.series, 'series').replace('seriess', 'series')},"
                f" {_count(s.instances, 'instance')}",
                style="dim",
            )
        elif self.level is Level.IMAGE and self.instance is not None:
            i = self.instance
            if i.number:
                text.append(f"#{i.number} ", style="bold")
            text.append(sop_class_name(i.sop_class_uid) if i.sop_class_uid else "(no SOP class)")
            text.append(f"  {i.sop_instance_uid}", style="dim")
        elif self.series is not None:
            r = self.series
            number = f"#{r.number} " if r.number else ""
            text.append(f"{number}{r.modality or '(no modality)'}", style="bold")
            if r.description:
                text.append(f"  {r.description}")
            text.append(f"  · {_count(r.instances, 'instance')}", style="dim")
        return text


class PacsTree(Tree[Entry]):
    """The results; Space marks a line for retrieving, Enter opens it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark", show=True),
    ]

    def action_mark(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None:
            return
        node.data.marked = not node.data.marked
        node.set_label(node.data.label())


class PacsScreen(Screen[None]):
    """Find (Enter in a field), open (Enter on a line), mark (Space), retrieve (F6),
    cancel (F8), close (Escape)."""

    DEFAULT_CSS = """
    PacsScreen { layout: vertical; }
    #pacs-top { height: 1; }
    #pacs-top Label { width: auto; padding: 0 1 0 0; }
    #pacs-node { width: 28; margin-right: 2; }
    #pacs-method { width: 26; }
    #pacs-body { height: 1fr; }
    #pacs-form {
        grid-size: 4;
        grid-columns: 13 1fr 13 1fr;
        grid-rows: 1;
        height: auto;
        grid-gutter: 0 1;
    }
    #pacs-form Label { width: 100%; text-align: right; color: $text-muted; }
    #pacs-tree { height: 1fr; min-height: 6; border-top: solid $primary; }
    #pacs-hint { height: auto; max-height: 3; color: $text-muted; }
    #pacs-status.error { color: $error; }
    #pacs-progress-line { height: 1; }
    #pacs-progress { width: 30; }
    #pacs-progress-text { width: 1fr; }
    #pacs-buttons { height: 1; }
    #pacs-buttons Button { margin-right: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("f6", "retrieve", "Retrieve"),
        Binding("f8", "cancel", "Cancel"),
        Binding("ctrl+l", "focus_fields", "Search fields", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[Node] = []
        self._lock = threading.Lock()
        #: Every C-FIND running (the search, and series being loaded).
        self._finds: set[FindJob] = set()
        self._search_generation = 0
        self._found = 0
        self.retrieval: BatchRetrieve | None = None
        self.last_result: BatchResult | None = None

    @property
    def dicom_app(self) -> DicomTuiApp:
        return cast("DicomTuiApp", self.app)

    # --- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="pacs-top"):
            yield Label("PACS")
            yield Select[str]([], id="pacs-node", compact=True, prompt="(no nodes)")
            yield Label("retrieve by")
            yield Select(
                METHOD_CHOICES,
                value=RetrieveMethod.MOVE,
                allow_blank=False,
                id="pacs-method",
                compact=True,
            )
        with VerticalScroll(id="pacs-body"):
            with Grid(id="pacs-form"):
                for label, field_id, placeholder in FIELDS:
                    yield Label(label)
                    yield Input(id=field_id, placeholder=placeholder, compact=True)
            tree = PacsTree("Matches", id="pacs-tree")
            tree.show_root = False
            tree.auto_expand = True
            yield tree
        yield Static("", id="pacs-hint", markup=False)
        yield TextLine("Type in a field and press Enter to search.", id="pacs-status")
        with Horizontal(id="pacs-progress-line"):
            bar = ProgressBar(id="pacs-progress", show_eta=False)
            bar.display = False  # until a retrieve starts
            yield bar
            yield TextLine("", id="pacs-progress-text")
        with Horizontal(id="pacs-buttons"):
            yield Button("Search ⏎", id="pacs-search", compact=True, variant="primary")
            yield Button("Retrieve F6", id="pacs-retrieve", compact=True)
            yield Button("Cancel F8", id="pacs-cancel", compact=True)
            yield Button("Close Esc", id="pacs-close", compact=True)
        yield Footer()

    @property
    def results(self) -> PacsTree:
        return self.query_one(PacsTree)

    def on_mount(self) -> None:
        self.set_interval(0.2, self._show_progress)
        self.query_one("#pacs-name", Input).focus()

    def on_screen_resume(self) -> None:
        """Opened (again): the address book may have changed meanwhile."""
        self._load_nodes()
        self._show_hint()

    def _load_nodes(self) -> None:
        self.nodes = list(self.dicom_app.settings_file.nodes)
        select = cast("Select[str]", self.query_one("#pacs-node", Select))
        was = select.value
        names = [n.name for n in self.nodes]
        select.set_options([(n.name, n.name) for n in self.nodes])
        if was in names:
            select.value = was
        elif names:
            wanted = self.dicom_app.settings_file.app.destination
            select.value = wanted if wanted in names else names[0]
        self._show_method()

    def current_node(self) -> Node | None:
        value = self.query_one("#pacs-node", Select).value
        return next((n for n in self.nodes if n.name == value), None)

    def _show_method(self) -> None:
        node = self.current_node()
        if node is not None:
            self.query_one("#pacs-method", Select).value = node.retrieve

    def _show_hint(self) -> None:
        node = self.current_node()
        app = self.dicom_app
        if node is None:
            text = "No nodes in the address book: Ctrl+N adds one (name, host, port, AE title)."
        elif node.retrieve is RetrieveMethod.GET:
            folder = app.receiver_settings.output_directory
            text = (
                f"C-GET from {node.name}: objects come back on our own association and are"
                f" stored as the receiver stores them, in {folder}."
            )
        else:
            r = app.receiver_settings
            port = app.receiver.port if app.receiver_running and app.receiver else r.port
            where = f"port {port}" if port else "its port"
            text = (
                f"C-MOVE to {r.ae_title} (this app's receiver, {where}): {node.name} must know"
                f" {r.ae_title} with our address and {where}, else it answers 0xA801."
                " C-GET needs no setup."
            )
        self.query_one("#pacs-hint", Static).update(text)

    @on(Select.Changed, "#pacs-node")
    def _node_changed(self) -> None:
        self._show_method()
        self._show_hint()

    @on(Select.Changed, "#pacs-method")
    def _method_changed(self, event: Select.Changed) -> None:
        """Remembered in the address book, for this node."""
        node = self.current_node()
        if node is None or event.value == node.retrieve or event.value is Select.BLANK:
            return
        changed = dataclasses.replace(node, retrieve=RetrieveMethod(str(event.value)))
        self.nodes[self.nodes.index(node)] = changed
        app = self.dicom_app
        if app.destination_node == node:
            app.destination_node = changed
        app.said(app.settings_keeper.node_changed(node, changed))
        self._show_hint()

    def _status(self, text: str, error: bool = False) -> None:
        line = self.query_one("#pacs-status", TextLine)
        line.update(text)
        line.set_class(error, "error")

    def _network(self, node: Node) -> SenderSettings:
        return node.sender_settings(self.dicom_app.sender_settings)

    # --- searching -------------------------------------------------------------------------

    def search_fields(self) -> SearchFields:
        def value(field_id: str) -> str:
            return self.query_one(f"#{field_id}", Input).value

        return SearchFields(
            patient_name=value("pacs-name"),
            patient_id=value("pacs-id"),
            birth_date=value("pacs-birth"),
            study_date_from=value("pacs-from"),
            study_date_to=value("pacs-to"),
            modality=value("pacs-modality"),
            accession_number=value("pacs-accession"),
            description=value("pacs-description"),
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#pacs-search")
    def action_search(self) -> None:
        node = self.current_node()
        if node is None:
            self.notify("Add a node to the address book first (Ctrl+N)", severity="warning")
            return
        try:
            query = self.search_fields().query()
        except ValueError as exc:
            self._status(str(exc), error=True)
            return
        self._cancel_finds()
        self._search_generation += 1
        self._found = 0
        self.results.clear()
        self._status(f"Searching {node.name}... (F8 cancels)")
        generation = self._search_generation
        job = FindJob(
            self._network(node),
            query,
            self.dicom_app.bus,
            model=Model.STUDY,
            on_match=lambda _: self._counted(job, generation),
            want_pdu_dumps=self.dicom_app.wants_pdu_dumps,
        )
        self._track(job)
        self.run_worker(
            lambda: self._run_search(job, generation),
            thread=True,
            group="pacs-search",
            name=node.name,
            exit_on_error=False,
        )

    def _counted(self, job: FindJob, generation: int) -> None:
        # On the worker thread.
        if generation == self._search_generation:
            self._found += 1
        if len(job.matches) >= MAX_STUDIES:
            job.cancel()

    def _track(self, job: FindJob) -> None:
        with self._lock:
            self._finds.add(job)

    def _untrack(self, job: FindJob) -> None:
        with self._lock:
            self._finds.discard(job)

    def _run_search(self, job: FindJob, generation: int) -> tuple[str, int, Any, list[StudyRow]]:
        try:
            result = job.run()
            return "search", generation, result, [StudyRow.of(ds) for ds in job.matches]
        finally:
            self._untrack(job)

    def _show_search(self, generation: int, result: Any, studies: list[StudyRow]) -> None:
        if generation != self._search_generation:
            return  # a newer search replaced it
        tree = self.results
        tree.clear()
        patients = by_patient(studies)
        for patient in patients:
            entry = Entry(Level.PATIENT, patient)
            pnode = tree.root.add(entry.label(), entry, expand=len(patients) == 1)
            for study in patient.studies:
                child = Entry(Level.STUDY, patient, study)
                pnode.add(child.label(), child, allow_expand=True)
        found = f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} of {len(patients)}"
        found += f" patient{'' if len(patients) == 1 else 's'}"
        if len(studies) >= MAX_STUDIES:
            self._status(f"{found}: the first {MAX_STUDIES} only; narrow the search", True)
        elif result.cancelled:
            self._status(f"Search cancelled: {found}")
        elif result.error or (result.status is not None and result.status != 0):
            why = result.error or f"status 0x{result.status:04X}"
            self._status(f"Search failed: {why} (the log has the details)", error=True)
        else:
            hint = "Enter opens, Space marks, F6 retrieves" if studies else "nothing matched"
            self._status(f"{found} ({hint})")
        if studies:
            tree.focus()

    # --- a study's series, a series' instances ----------------------------------------

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[Entry]) -> None:
        entry = event.node.data
        if entry is None or entry.loaded or entry.loading or entry.study is None:
            return
        node = self.current_node()
        if node is None:
            return
        study_uid = entry.study.study_uid
        if entry.level is Level.STUDY:
            kind, query = "series", series_query(study_uid)
        elif entry.level is Level.SERIES and entry.series is not None:
            series_uid = entry.series.series_uid
            kind, query = "instances", instance_query(study_uid, series_uid)
        else:
            return
        entry.loading = True
        event.node.remove_children()
        event.node.add_leaf(Text(f"loading {kind}...", style="italic dim"))
        job = FindJob(
            self._network(node),
            query,
            self.dicom_app.bus,
            model=Model.STUDY,
            want_pdu_dumps=self.dicom_app.wants_pdu_dumps,
        )
        self._track(job)
        tree_node = event.node

        def load() -> tuple[str, str, TreeNode[Entry], Any, list[Any]]:
            try:
                result = job.run()
                rows: list[Any]
                if kind == "series":
                    rows = sort_series(SeriesRow.of(ds, study_uid) for ds in job.matches)
                else:
                    rows = sort_instances(
                        InstanceRow.of(ds, study_uid, series_uid) for ds in job.matches
                    )
                return "children", kind, tree_node, result, rows
            finally:
                self._untrack(job)

        self.run_worker(load, thread=True, group=f"pacs-{kind}", exit_on_error=False)

    def _show_children(
        self, kind: str, node: TreeNode[Entry], result: Any, rows: list[Any]
    ) -> None:
        entry = node.data
        try:
            if entry is None or self.results.get_node_by_id(node.id) is not node:
                return
        except UnknownNodeID:
            return  # the results were replaced meanwhile
        entry.loading = False
        node.remove_children()
        failed = result.error or result.cancelled or (result.status not in (None, 0))
        if failed:
            why = "cancelled" if result.cancelled else result.error or f"0x{result.status:04X}"
            node.add_leaf(Text(f"{kind} not loaded: {why} (open it again to retry)", "red"))
            node.collapse()
            return
        entry.loaded = True
        for row in rows:
            if kind == "series":
                child = Entry(Level.SERIES, entry.patient, entry.study, row, marked=entry.marked)
                node.add(child.label(), child)
            else:
                child = Entry(
                    Level.IMAGE,
                    entry.patient,
                    entry.study,
                    entry.series,
                    instance=row,
                    marked=entry.marked,
                )
                node.add_leaf(child.label(), child)
        if not rows:
            node.add_leaf(Text(f"no {kind}", style="dim"))

    # --- retrieving ----------------------------------------------------------------------

    def marked_items(self) -> list[RetrieveItem]:
        items: list[RetrieveItem] = []

        def walk(node: TreeNode[Entry]) -> None:
            for child in node.children:
                if child.data is not None and child.data.marked:
                    items.extend(child.data.items())
                walk(child)

        walk(self.results.root)
        if not items:
            cursor = self.results.cursor_node
            if cursor is not None and cursor.data is not None:
                items = cursor.data.items()
        return items

    @on(Button.Pressed, "#pacs-retrieve")
    def action_retrieve(self) -> None:
        app = self.dicom_app
        node = self.current_node()
        if node is None:
            self.notify("Add a node to the address book first (Ctrl+N)", severity="warning")
            return
        if self.retrieval is not None and not self.retrieval.tally.finished:
            self.notify("A retrieve is running (F8 cancels it)", severity="warning")
            return
        items = self.marked_items()
        if not items:
            self.notify("Search, then mark (Space) what to retrieve", severity="warning")
            return
        operation = Operation.GET if node.retrieve is RetrieveMethod.GET else Operation.MOVE
        if operation is Operation.MOVE and not app.receiver_running:
            self._status(
                "C-MOVE sends the objects to our receiver: start it (F5) first, or retrieve by"
                " C-GET",
                error=True,
            )
            return
        batch = BatchRetrieve(
            self._network(node),
            items,
            app.bus,
            operation,
            destination=app.receiver_settings.ae_title,
            storage=app.receiver_settings,
            want_pdu_dumps=app.wants_pdu_dumps,
        )
        self.retrieval = batch
        self.last_result = None
        what = f"{len(batch.items)} item{'' if len(batch.items) == 1 else 's'}"
        self._status(f"{operation.value} of {what} from {node.name}... (F8 cancels)")
        self.run_worker(
            lambda: ("retrieve", batch, batch.run()),
            thread=True,
            group="pacs-retrieve",
            exit_on_error=False,
        )

    def _show_progress(self) -> None:
        batch = self.retrieval
        if batch is None:
            return
        tally = batch.tally
        bar = self.query_one("#pacs-progress", ProgressBar)
        bar.display = True
        done = tally.completed + tally.failed + tally.warning
        if tally.counted and tally.total:
            bar.update(total=tally.total, progress=done)
        elif tally.finished:
            bar.update(total=max(done, 1), progress=max(done, 1))
        else:
            bar.update(total=None)
        self.query_one("#pacs-progress-text", TextLine).update(progress_text(tally))

    def _show_retrieved(self, batch: BatchRetrieve, result: BatchResult) -> None:
        self.last_result = result
        self._show_progress()
        text = result.summary()
        self._status(text, error=not result.ok and not result.tally.cancelled)
        severity: SeverityLevel = (
            "information" if result.ok else "warning" if result.tally.cancelled else "error"
        )
        self.notify(text, severity=severity, timeout=8 if result.ok else 15)

    # --- cancelling, closing -------------------------------------------------------------

    def _cancel_finds(self) -> int:
        with self._lock:
            finds = list(self._finds)
        for job in finds:
            job.cancel()
        return len(finds)

    @on(Button.Pressed, "#pacs-cancel")
    def action_cancel(self) -> None:
        cancelled = self._cancel_finds()
        batch = self.retrieval
        if batch is not None and not batch.tally.finished:
            batch.cancel()
            arrived = batch.tally.arrived
            self._status(
                f"Cancelling: C-CANCEL sent, waiting for the PACS to stop ({arrived} arrived"
                " so far)"
            )
        elif cancelled:
            self._status("Cancelling the query: C-CANCEL sent")
        else:
            self.notify("Nothing to cancel", timeout=2)

    @on(Button.Pressed, "#pacs-close")
    def action_close(self) -> None:
        """Back to the panes; a retrieve goes on (the receiver shows what arrives)."""
        self.app.pop_screen()

    def action_focus_fields(self) -> None:
        self.query_one("#pacs-name", Input).focus()

    def on_unmount(self) -> None:
        """The app is quitting: nothing may keep an association open."""
        self._cancel_finds()
        if self.retrieval is not None:
            self.retrieval.cancel()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker: Worker[Any] = event.worker
        if not worker.group.startswith("pacs-"):
            return
        event.stop()
        if event.state is WorkerState.ERROR:
            self._status(f"{worker.group[5:]} failed: {worker.error}", error=True)
            self.notify(f"PACS {worker.group[5:]}: {worker.error}", severity="error")
            return
        if event.state is not WorkerState.SUCCESS or worker.result is None:
            return
        kind, *rest = worker.result
        if kind == "search":
            self._show_search(*rest)
        elif kind == "children":
            self._show_children(*rest)
        elif kind == "retrieve":
            self._show_retrieved(*rest)


def progress_text(tally: RetrieveTally) -> str:
    word = tally.operation.word
    parts = [f"{word}: {tally.arrived} arrived"]
    if tally.counted:
        parts.append(
            f"{tally.completed} completed, {tally.failed} failed, {tally.remaining} remaining"
        )
    if tally.items > 1:
        parts.append(f"item {min(tally.items_done + 1, tally.items)} of {tally.items}")
    if tally.current and not tally.finished:
        parts.append(tally.current)
    if tally.finished:
        parts.append("cancelled" if tally.cancelled else f"{tally.seconds:.1f} s")
    return " · ".join(parts)
