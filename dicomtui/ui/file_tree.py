"""A file browser that marks DICOM files and lets the user pick files and folders."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DirectoryTree
from textual.widgets.directory_tree import DirEntry
from textual.widgets.tree import TreeNode

from dicomtui.core.dicom.files import has_dicm_prefix


class DicomDirectoryTree(DirectoryTree):
    """Only the files on screen are opened (132 bytes each, on a thread), so a
    folder of a hundred thousand files lists as fast as any other."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Select", tooltip="Select or unselect for sending"),
        Binding("backspace", "parent", "Parent", tooltip="Go to the parent folder"),
        Binding("slash", "type_path", "Go to", tooltip="Type a folder's path (Tab completes)"),
        Binding("tilde", "home", "Home", show=False),
        Binding("full_stop", "start_folder", "Start folder", show=False),
    ]

    class FolderChanged(Message):
        """The browser shows another folder."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class PathWanted(Message):
        """The user wants to type a path (the pane shows a box for it)."""

    class MarksChanged(Message):
        """The set of selected paths changed."""

        def __init__(self, marked: frozenset[Path]) -> None:
            super().__init__()
            self.marked = marked

    class Checked(Message):
        """Some files were opened to see whether they are DICOM."""

        def __init__(self, paths: list[Path]) -> None:
            super().__init__()
            self.paths = paths

    def __init__(
        self, path: str | Path, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(path, id=id, classes=classes)
        #: The folder the app started in ("." goes back to it).
        self.start_path = Path(path)
        self.marked: set[Path] = set()
        self._is_dicom: dict[Path, bool] = {}
        self._pending: list[Path] = []
        self._pending_lock = threading.Lock()
        self._node_by_path: dict[Path, TreeNode[DirEntry]] = {}

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        """Hidden entries (.git, .venv, partial files being received) are left out, as
        file managers do; a path typed with / still goes into a hidden folder."""
        return [path for path in paths if not path.name.startswith(".")]

    def render_label(self, node: TreeNode[DirEntry], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        if node.data is None:
            return label
        path = node.data.path
        self._node_by_path[path] = node
        chosen = path in self.marked
        mark = Text("[x] " if chosen else "[ ] ", style="bold" if chosen else "dim")
        if node.allow_expand:
            return Text.assemble(mark, label)
        verdict = self._is_dicom.get(path)
        if verdict is None:
            self._queue_check(path)
            return Text.assemble(mark, label)
        if verdict:
            return Text.assemble(mark, label, Text(" DICOM", style="bold green"))
        dimmed = label.copy()
        dimmed.stylize("dim")
        return Text.assemble(mark, dimmed)

    def _queue_check(self, path: Path) -> None:
        with self._pending_lock:
            first = not self._pending
            if path not in self._pending:
                self._pending.append(path)
        if first:
            self._check_pending()

    @work(thread=True, group="dicom-check", exit_on_error=False)
    def _check_pending(self) -> None:
        while True:
            with self._pending_lock:
                batch, self._pending = self._pending[:200], self._pending[200:]
            if not batch:
                return
            for path in batch:
                self._is_dicom[path] = has_dicm_prefix(path)
            self.post_message(self.Checked(batch))

    @on(Checked)
    def _refresh_checked(self, message: Checked) -> None:
        message.stop()
        for path in message.paths:
            node = self._node_by_path.get(path)
            if node is not None:
                node.refresh()

    def is_dicom(self, path: Path) -> bool | None:
        return self._is_dicom.get(path)

    # --- going anywhere ------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return Path(self.path)

    def go_to(self, folder: Path) -> bool:
        """Show ``folder`` (with its marks kept); False if it is not a folder."""
        folder = folder.expanduser()
        if not folder.is_dir():
            return False
        folder = folder.resolve()
        if folder != self.folder:
            self.path = folder
            # Made on the tree's own turn: a message made while its parent handles
            # another (a typed path) would stop at that parent instead of reaching the app.
            self.call_later(self._announce, folder)
        return True

    def _announce(self, folder: Path) -> None:
        self.post_message(self.FolderChanged(folder))

    def action_parent(self) -> None:
        folder = self.folder.resolve()
        if folder.parent != folder:
            self.go_to(folder.parent)

    def action_home(self) -> None:
        self.go_to(Path.home())

    def action_start_folder(self) -> None:
        self.go_to(self.start_path)

    def action_type_path(self) -> None:
        self.post_message(self.PathWanted())

    def action_toggle_mark(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None:
            return
        path = node.data.path
        if path in self.marked:
            self.marked.discard(path)
        else:
            self.marked.add(path)
        node.refresh()
        self.post_message(self.MarksChanged(frozenset(self.marked)))
        self.action_cursor_down()

    def clear_marks(self) -> None:
        marked, self.marked = self.marked, set()
        for path in marked:
            node = self._node_by_path.get(path)
            if node is not None:
                node.refresh()
        self.post_message(self.MarksChanged(frozenset()))

    def mark(self, paths: Iterable[Path]) -> None:
        self.marked.update(paths)
        for path in self.marked:
            node = self._node_by_path.get(path)
            if node is not None:
                node.refresh()
        self.post_message(self.MarksChanged(frozenset(self.marked)))
