"""A DataTable for rows that keep arriving, with render caches sized to the screen."""

from __future__ import annotations

from typing import Any

from textual.cache import LRUCache
from textual.widgets import DataTable

#: Cached renders of cells, rows and lines. Textual's defaults (10,000 cells, 1,000
#: rows and lines) suit a table that is scrolled back and forth; in a table that
#: gains a row per received object they only fill with rows long gone, which cost
#: a receiving app about 30 MB over its first 10,000 objects (benchmarks/ soak).
CELL_CACHE = 1500
ROW_CACHE = 200
LINE_CACHE = 200


class LiveTable(DataTable[str]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Pinned Textual (8.2.8) keeps these caches as attributes of the table.
        self._cell_render_cache = LRUCache(CELL_CACHE)
        self._row_render_cache = LRUCache(ROW_CACHE)
        self._row_renderable_cache = LRUCache(ROW_CACHE)
        self._line_cache = LRUCache(LINE_CACHE)
