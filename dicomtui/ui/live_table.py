"""A DataTable for rows that keep arriving: bounded, cheap to trim, small caches."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import zip_longest
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import DuplicateKey, Row, RowDoesNotExist, RowKey

from dicomtui.ui.steady_scroll import SteadySize

#: Cached renders of cells, rows and lines. Textual's defaults (10,000 cells, 1,000
#: rows and lines) suit a table that is scrolled back and forth; in a table that
#: gains a row per received object they only fill with rows long gone, which cost
#: a receiving app about 30 MB over its first 10,000 objects (benchmarks/ soak).
CELL_CACHE = 1500
ROW_CACHE = 200
LINE_CACHE = 200


#: C0 and C1 control characters and DEL: a name from the wire must not reach the
#: terminal as an escape sequence (the log pane replaces them the same way).
_CONTROLS = dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0)], "\ufffd")


class PlainCell:
    """A table cell shown exactly as given, measured once.

    DataTable reads a plain str as Rich markup, so a patient name like
    ``DOE^[/JOHN]`` from the wire would stop the app; a Text is safe but is
    re-measured and wrapped for every row, a tenth of the app's time while
    objects arrive. One line, no markup, a known width.
    """

    __slots__ = ("text", "width")

    def __init__(self, value: str) -> None:
        self.text = value.translate(_CONTROLS)
        self.width = cell_len(self.text)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Segment(self.text)

    def __str__(self) -> str:
        return self.text


class LiveTable(SteadySize, DataTable[PlainCell]):
    """Keeps the newest ``max_rows`` rows (up to twice that between trims).

    Textual's ``remove_row`` renumbers every row, so dropping the oldest row for
    each new one cost a quarter of the app's time while objects arrived; instead
    the table is rebuilt from the newest rows once it holds twice as many.

    While it does not have focus (the user is not looking around in it), it
    scrolls to its newest row once new rows are measured, in the same frame:
    waiting for a refresh to scroll, as Textual's ``scroll_end`` does, painted
    the screen twice for each batch of arrivals.
    """

    def __init__(self, *, max_rows: int = 500, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_rows = max_rows
        #: The newest rows as shown, to rebuild the table from when it is trimmed.
        self._newest: deque[tuple[str, tuple[PlainCell, ...]]] = deque(maxlen=max_rows)
        # Pinned Textual (8.2.8) keeps these caches as attributes of the table.
        self._cell_render_cache = LRUCache(CELL_CACHE)
        self._row_render_cache = LRUCache(ROW_CACHE)
        self._row_renderable_cache = LRUCache(ROW_CACHE)
        self._line_cache = LRUCache(LINE_CACHE)

    def append_row(self, key: str, cells: tuple[str, ...]) -> list[str]:
        """Add a row at the end; returns the keys of rows trimmed away (usually none)."""
        return self.append_rows([(key, cells)])

    def append_rows(self, rows: Iterable[tuple[str, tuple[str, ...]]]) -> list[str]:
        """Add (key, cells) rows at the end; returns the keys of rows trimmed away."""
        added = [(key, tuple(map(PlainCell, cells))) for key, cells in rows]
        self._newest.extend(added)
        self._add_plain_rows(added)
        if self.row_count <= 2 * self.max_rows:
            return []
        return self._trim()

    def _add_plain_rows(self, rows: list[tuple[str, tuple[PlainCell, ...]]]) -> None:
        """Textual's ``add_row`` for each row (one line high, no label), with the
        cursor bookkeeping it does per row done once: setting the cursor
        reactive for each row was a fifth of the app's own time while objects
        arrived. Tested against ``add_row`` (pinned Textual 8.2.8)."""
        if not rows:
            return
        was_empty = self.row_count == 0
        column_keys = [column.key for column in self.ordered_columns]
        for key, cells in rows:
            row_key = RowKey(key)
            if row_key in self._row_locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            if len(cells) > len(column_keys):
                raise ValueError("More values provided than there are columns.")
            self._row_locations[row_key] = self.row_count
            self._data[row_key] = dict(zip_longest(column_keys, cells))
            self.rows[row_key] = Row(row_key, 1, None, False)
            self._new_rows.add(row_key)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if was_empty and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += len(rows)
        self.check_idle()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Widen the columns from the new rows' known cell widths; Textual then
        sizes the table.

        Textual measures every cell of every new row through Rich's console (a
        sixth of the app's own time while tiny objects arrived); a PlainCell
        knows its width and these rows are one line high. Other rows (none here)
        still go through Textual's measuring.
        """
        columns = self.ordered_columns
        others: list[RowKey] = []
        for row_key in new_rows:
            cells = self._data.get(row_key)
            if cells is None:  # removed before the table was idle
                continue
            row = self.rows.get(row_key)
            if row is None or row.label is not None or row.auto_height:
                others.append(row_key)
                continue
            for column in columns:
                cell = cells.get(column.key)
                if not isinstance(cell, PlainCell):
                    others.append(row_key)
                    break
                if cell.width > column.content_width:
                    column.content_width = cell.width
        super()._update_dimensions(others)
        if not self.has_focus:
            # Until its scrollbar has appeared (a layout) it cannot scroll yet.
            self.scroll_end(animate=False, immediate=self.show_vertical_scrollbar)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """A plain cell as one styled segment, the line Textual would make of it.

        Textual renders each cell through Rich (padding, styling, cropping): about
        50 us a cell, and every visible row is new at each update while objects
        arrive. Headers, labels, fixed cells and anything else go through Textual.
        A test compares the screen with Textual's own rendering.
        """
        if row_index < self.fixed_rows or column_index < self.fixed_columns:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache_key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        row = self.rows.get(row_key)
        cell = self._data.get(row_key, {}).get(column_key)
        if row is None or row.height != 1 or not isinstance(cell, PlainCell):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        style = (
            base_style
            + Style.from_meta({"row": row_index, "column": column_index})
            + component_style
            + post_style
        )
        padding = " " * self.cell_padding
        inner = max(0, width - 2 * self.cell_padding)
        text = set_cell_size(padding + set_cell_size(cell.text, inner) + padding, width)
        lines = [[Segment(text, style)]]
        self._cell_render_cache[cache_key] = lines
        return lines

    def clear(self, columns: bool = False) -> LiveTable:
        self._newest.clear()
        super().clear(columns)
        return self

    def _trim(self) -> list[str]:
        kept = {key for key, _ in self._newest}
        dropped = [str(row.value) for row in self.rows if row.value not in kept]
        try:
            cursor_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except RowDoesNotExist:
            cursor_key = None
        super().clear()
        self._add_plain_rows(list(self._newest))
        if cursor_key in kept:
            self.move_cursor(row=self.get_row_index(str(cursor_key)), animate=False)
        return dropped
