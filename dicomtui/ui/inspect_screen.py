"""Inspect one file: its tags as a tree (searchable) beside a picture of its first frame."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Input, Static, Tree
from textual.widgets.tree import TreeNode
from textual.worker import get_current_worker

from dicomtui.core.dicom.inspection import (
    InspectError,
    Picture,
    TagNode,
    count_matches,
    count_nodes,
    filter_tags,
    first_frame,
    fit_to_cells,
    read_dataset,
    tag_tree,
)
from dicomtui.core.units import human_size

#: A search that hits at most this many tags opens the branches that lead to them.
EXPAND_MATCHES = 200
#: The tree is filtered this long after the last key in the search box.
SEARCH_DELAY = 0.15

UPPER_HALF = "▀"


@lru_cache(maxsize=65_536)
def _cell_style(top: int, bottom: int) -> Style:
    return Style(
        color=Color.from_rgb(top, top, top), bgcolor=Color.from_rgb(bottom, bottom, bottom)
    )


class HalfBlocks:
    """A grey picture drawn with "▀": the foreground is the upper pixel, the background
    the lower, so each terminal cell shows two pixels, one above the other."""

    def __init__(self, pixels: NDArray[np.uint8]) -> None:
        self.pixels = pixels

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = int(self.pixels.shape[1])
        return Measurement(width, width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        pixels = self.pixels
        rows = pixels.shape[0]
        if rows % 2:  # an odd last row has black below it
            pixels = np.vstack([pixels, np.zeros((1, pixels.shape[1]), dtype=np.uint8)])
        for y in range(0, rows, 2):
            pairs = list(zip(pixels[y].tolist(), pixels[y + 1].tolist(), strict=True))
            start = 0
            for x in range(1, len(pairs) + 1):
                if x == len(pairs) or pairs[x] != pairs[start]:
                    yield Segment(UPPER_HALF * (x - start), _cell_style(*pairs[start]))
                    start = x
            yield Segment.line()


class DicomPicture(Widget):
    """The first frame, fitted to the widget's size (again after each resize)."""

    DEFAULT_CSS = """
    DicomPicture {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.picture: Picture | None = None
        self.waiting = "Loading the image..."
        self._fitted: tuple[tuple[int, int], HalfBlocks] | None = None

    def show(self, picture: Picture) -> None:
        self.picture = picture
        self._fitted = None
        self.refresh()

    def wait(self, text: str) -> None:
        self.picture, self.waiting, self._fitted = None, text, None
        self.refresh()

    def render(self) -> VisualType:
        picture = self.picture
        if picture is None:
            return Text(self.waiting, style="dim")
        if picture.pixels is None:
            return Text(picture.message)
        size = (self.content_size.width, self.content_size.height)
        if self._fitted is None or self._fitted[0] != size:
            pixels = fit_to_cells(picture.pixels, *size)
            self._fitted = (size, HalfBlocks(pixels))
        return self._fitted[1]


def tag_label(node: TagNode) -> Text:
    """One tree row: tag, VR, keyword (or private name) and value, never markup."""
    if node.is_item:
        return Text.assemble((node.name, "bold"), "  ", (node.value, "dim"))
    name_style = "bold reverse" if node.matched else "bold"
    parts: list[str | tuple[str, str]] = [
        (node.tag, "magenta" if node.is_private else "dim"),
        " ",
        (f"{node.vr:<2}", "cyan"),
        " ",
    ]
    if node.is_private:
        parts += [("[private]", "magenta"), " "]
    parts += [(node.keyword or node.name, name_style)]
    if node.value:
        parts += ["  ", node.value]
    return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")


class InspectScreen(ModalScreen[None]):
    """Reads the file on a thread: a large file never holds up the app."""

    DEFAULT_CSS = """
    InspectScreen {
        align: center middle;
    }
    #inspect {
        width: 100%;
        height: 100%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    #inspect-title {
        text-style: bold;
        height: auto;
    }
    #inspect-body {
        height: 1fr;
    }
    #inspect-tags {
        width: 3fr;
    }
    #inspect-image {
        width: 2fr;
        padding-left: 1;
    }
    #inspect-status, #inspect-image-info {
        height: auto;
        color: $text-muted;
    }
    #inspect-status.error {
        color: $error;
        text-style: bold;
    }
    #inspect-tree {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("ctrl+f", "search", "Search"),
    ]

    class TagsLoaded(Message):
        def __init__(self, nodes: tuple[TagNode, ...], summary: str) -> None:
            super().__init__()
            self.nodes = nodes
            self.summary = summary

    class PictureLoaded(Message):
        def __init__(self, picture: Picture) -> None:
            super().__init__()
            self.picture = picture

    class LoadFailed(Message):
        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.nodes: tuple[TagNode, ...] = ()
        self.total = 0
        self.loaded = False
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="inspect"):
            yield Static(
                Text(f"{self.path}  (Escape closes, Ctrl+F searches)", no_wrap=True),
                id="inspect-title",
            )
            with Horizontal(id="inspect-body"):
                with Vertical(id="inspect-tags"):
                    yield Input(
                        placeholder="Search: keyword (patient) or tag (0010,0010)",
                        id="inspect-search",
                    )
                    yield Static("Loading...", id="inspect-status", markup=False)
                    tree: Tree[TagNode] = Tree("tags", id="inspect-tree")
                    tree.show_root = False
                    yield tree
                with Vertical(id="inspect-image"):
                    yield Static("", id="inspect-image-info", markup=False)
                    yield DicomPicture(id="inspect-picture")

    def on_mount(self) -> None:
        self.query_one("#inspect-tree", Tree).focus()
        self._load()

    @property
    def tags_widget(self) -> Tree[TagNode]:
        return self.query_one("#inspect-tree", Tree)

    # --- loading (on a thread) --------------------------------------------------------------

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def _load(self) -> None:
        worker = get_current_worker()
        try:
            ds = read_dataset(self.path)
            nodes = tag_tree(ds)
        except InspectError as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        except Exception as exc:  # never a traceback on screen
            self.post_message(self.LoadFailed(f"Cannot read {self.path.name}: {exc}"))
            return
        if worker.is_cancelled:
            return
        self.post_message(self.TagsLoaded(nodes, self._summary(ds)))
        picture = first_frame(self.path, ds)
        if not worker.is_cancelled:
            self.post_message(self.PictureLoaded(picture))

    def _summary(self, ds: object) -> str:
        meta = getattr(ds, "file_meta", None)
        syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
        name = getattr(syntax, "name", "") or str(syntax or "no transfer syntax")
        try:
            size = human_size(self.path.stat().st_size)
        except OSError:
            size = "?"
        return f"{size}, {name}"

    @on(TagsLoaded)
    def _tags_loaded(self, message: TagsLoaded) -> None:
        self.nodes = message.nodes
        self.total = count_nodes(message.nodes)
        self.loaded = True
        self.query_one("#inspect-title", Static).update(
            Text(
                f"{self.path}  ({message.summary}; Escape closes, Ctrl+F searches)",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        self._show(self.query_one("#inspect-search", Input).value)

    @on(PictureLoaded)
    def _picture_loaded(self, message: PictureLoaded) -> None:
        picture = message.picture
        self.query_one("#inspect-image-info", Static).update(Text(picture.description))
        self.query_one(DicomPicture).show(picture)

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        status = self.query_one("#inspect-status", Static)
        status.update(Text(message.reason))
        status.add_class("error")
        self.query_one(DicomPicture).wait("")

    # --- the tree ---------------------------------------------------------------------------

    def _show(self, query: str) -> None:
        nodes = filter_tags(self.nodes, query) if query.strip() else self.nodes
        tree = self.tags_widget
        tree.clear()
        self._add(tree.root, nodes)
        status = self.query_one("#inspect-status", Static)
        if not query.strip():
            status.update(f"{self.total} elements and items")
            return
        matches = count_matches(nodes)
        status.update(f"{matches} of {self.total} match {query.strip()!r}")
        if matches <= EXPAND_MATCHES:
            self._expand_to_matches(tree.root)

    def _add(self, parent: TreeNode[TagNode], nodes: tuple[TagNode, ...]) -> None:
        for node in nodes:
            if node.children:
                parent.add(tag_label(node), data=node, allow_expand=True)
            else:
                parent.add_leaf(tag_label(node), data=node)

    def _populate(self, tree_node: TreeNode[TagNode]) -> None:
        """Sequences get their rows only when opened: a file with thousands of items
        would take seconds to lay out at once."""
        data = tree_node.data
        if data is not None and data.children and not tree_node.children:
            self._add(tree_node, data.children)

    def _expand_to_matches(self, tree_node: TreeNode[TagNode]) -> None:
        for child in tree_node.children:
            data = child.data
            if data is not None and data.children and not data.matched:
                self._populate(child)
                child.expand()
                self._expand_to_matches(child)

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[TagNode]) -> None:
        self._populate(event.node)

    @on(Input.Changed, "#inspect-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, self._apply_search)

    @on(Input.Submitted, "#inspect-search")
    def _search_submitted(self) -> None:
        self._apply_search()
        self.tags_widget.focus()

    def _apply_search(self) -> None:
        self._search_timer = None
        if self.loaded:
            self._show(self.query_one("#inspect-search", Input).value)

    def action_search(self) -> None:
        self.query_one("#inspect-search", Input).focus()
