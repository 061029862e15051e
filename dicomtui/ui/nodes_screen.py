"""The address book: peers to send to, each with a C-ECHO to see who answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Static, Switch
from textual.worker import Worker, WorkerState

from dicomtui.core.config.schema import Node, RetrieveMethod, check_node
from dicomtui.core.config.validation import parse_ae_title, parse_port
from dicomtui.core.dicom.tables import status_text
from dicomtui.core.stream.events import EchoResult
from dicomtui.ui.confirm_screen import ConfirmScreen
from dicomtui.ui.live_table import PlainCell
from dicomtui.ui.settings_screens import SettingsForm, choice

#: Runs a C-ECHO of one node (on a worker thread) and returns what happened.
Echoer = Callable[[Node], EchoResult]
RETRIEVE_CHOICES = [
    ("C-MOVE to our receiver", RetrieveMethod.MOVE),
    ("C-GET on our association", RetrieveMethod.GET),
]
COLUMNS = ("Name", "Host", "Port", "Called AE", "Calling AE", "TLS", "Echo")


class NodeForm(SettingsForm):
    TITLE = "Node"

    def __init__(self, node: Node | None, others: list[Node]) -> None:
        super().__init__()
        self.node = node
        self.others = others

    def fields(self) -> list[tuple[str, Widget]]:
        n = self.node or Node("", "", 104)
        return [
            ("Name", Input(n.name, id="node-name", placeholder="PACS")),
            ("Host", Input(n.host, id="node-host", placeholder="pacs.example.org")),
            ("Port", Input(str(n.port), id="node-port")),
            ("Called AE title", Input(n.called_ae_title, id="node-called")),
            (
                "Calling AE title",
                Input(n.calling_ae_title, id="node-calling", placeholder="the sender's"),
            ),
            ("TLS", Switch(n.tls, id="node-tls")),
            ("PACS browser retrieves by", choice(RETRIEVE_CHOICES, n.retrieve, "node-retrieve")),
        ]

    def build(self) -> Node:
        """Each field checked as it is read, so that an error names it and focuses it."""
        name = str(self.value("node-name")).strip()
        if not name:
            raise ValueError("a node needs a name")
        if any(other.name == name for other in self.others):
            raise ValueError(f"there is already a node named {name!r}")
        host = str(self.value("node-host")).strip()
        if not host:
            raise ValueError("a node needs a host")
        port = parse_port(self.value("node-port"))
        called = parse_ae_title(self.value("node-called"), "called AE title")
        calling = str(self.value("node-calling")).strip()
        if calling:
            parse_ae_title(calling, "calling AE title")
        node = Node(
            name=name,
            host=host,
            port=port,
            called_ae_title=called,
            calling_ae_title=calling,
            tls=bool(self.value("node-tls")),
            retrieve=RetrieveMethod(self.value("node-retrieve")),
        )
        return check_node(node, self.others)


class NodesScreen(ModalScreen[Node | None]):
    """Pick a destination (Enter), add, edit, delete and echo nodes.

    Dismisses with the node picked, or None. Each change is handed to ``on_change``
    (which saves it) as it is made: ``(None, new)`` adds, ``(old, new)`` edits,
    ``(old, None)`` deletes.
    """

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("enter", "use", "Make it the destination", priority=True),
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("delete,d", "delete", "Delete"),
        Binding("c", "echo", "Echo"),
        Binding("x", "echo_all", "Echo all"),
    ]

    def __init__(
        self,
        nodes: list[Node],
        echoer: Echoer,
        on_change: Callable[[Node | None, Node | None], None],
    ) -> None:
        super().__init__()
        self.nodes = list(nodes)
        self.echoer = echoer
        self.on_change = on_change
        self.answers: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="nodes"):
            yield Static(
                "Address book (Enter makes the node under the cursor the destination; F6 then sends)",
                classes="form-title",
            )
            yield DataTable(id="node-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="nodes-hint", markup=False)
        yield Footer()

    @property
    def table(self) -> DataTable[PlainCell]:
        return self.query_one("#node-table", DataTable)

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.table.add_column(column, key=column)
        self.refill()
        self.table.focus()

    def refill(self) -> None:
        table = self.table
        row = table.cursor_row
        table.clear()
        for node in self.nodes:
            table.add_row(
                *map(
                    PlainCell,
                    (
                        node.name,
                        node.host,
                        str(node.port),
                        node.called_ae_title,
                        node.calling_ae_title or "(sender's)",
                        "yes" if node.tls else "",
                        self.answers.get(node.name, ""),
                    ),
                ),
                key=node.name,
            )
        if self.nodes:
            table.move_cursor(row=min(row, len(self.nodes) - 1))
        hint = "" if self.nodes else "No nodes yet: press a to add one."
        self.query_one("#nodes-hint", Static).update(hint)

    def current(self) -> Node | None:
        if not self.nodes:
            return None
        return self.nodes[min(self.table.cursor_row, len(self.nodes) - 1)]

    def _changed(self, old: Node | None, new: Node | None) -> None:
        self.refill()
        self.on_change(old, new)

    def action_use(self) -> None:
        node = self.current()
        if node is not None:
            self.dismiss(node)

    def action_add(self) -> None:
        def added(node: Node | None) -> None:
            if node is not None:
                self.nodes.append(node)
                self._changed(None, node)
                self.table.move_cursor(row=len(self.nodes) - 1)

        self.app.push_screen(NodeForm(None, self.nodes), added)

    def action_edit(self) -> None:
        node = self.current()
        if node is None:
            return
        index = self.nodes.index(node)
        others = [n for n in self.nodes if n is not node]

        def edited(changed: Node | None) -> None:
            if changed is not None:
                self.nodes[index] = changed
                self.answers.pop(node.name, None)
                self._changed(node, changed)

        self.app.push_screen(NodeForm(node, others), edited)

    def action_delete(self) -> None:
        node = self.current()
        if node is None:
            return

        def answered(delete: bool | None) -> None:
            if delete and node in self.nodes:
                self.nodes.remove(node)
                self.answers.pop(node.name, None)
                self._changed(node, None)
                self.notify(f"Deleted {node.name}")

        where = f"{node.called_ae_title} at {node.host}:{node.port}"
        self.app.push_screen(
            ConfirmScreen(f"Delete the node {node.name} ({where})?", yes="Delete"), answered
        )

    def action_echo(self) -> None:
        node = self.current()
        if node is not None:
            self._start_echo(node)

    def action_echo_all(self) -> None:
        for node in self.nodes:
            self._start_echo(node)

    def _start_echo(self, node: Node) -> None:
        self.answers[node.name] = "echoing..."
        self._show_answer(node.name)
        self._echo(node)

    @work(thread=True, group="node-echo", exit_on_error=False)
    def _echo(self, node: Node) -> tuple[Node, EchoResult]:
        return node, self.echoer(node)

    @on(Worker.StateChanged)
    def _echo_done(self, event: Worker.StateChanged) -> None:
        worker: Worker[Any] = event.worker
        if worker.group != "node-echo":
            return
        if event.state is WorkerState.SUCCESS and worker.result is not None:
            node, result = worker.result
            self.answers[node.name] = describe_echo(result)
            self._show_answer(node.name)
        elif event.state is WorkerState.ERROR:
            self.notify(f"Echo failed: {worker.error}", severity="error")

    def _show_answer(self, name: str) -> None:
        table = self.table
        if name in (n.name for n in self.nodes):
            table.update_cell(
                name, COLUMNS[-1], PlainCell(self.answers.get(name, "")), update_width=True
            )


def describe_echo(result: EchoResult) -> str:
    if result.error:
        return f"no: {result.error}"
    status = result.status if result.status is not None else -1
    if status != 0:
        return f"no: status {status_text(None, status)}"
    return f"yes, {result.seconds * 1000:.0f} ms"
