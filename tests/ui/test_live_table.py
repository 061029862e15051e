"""The tables that gain a row per object stay bounded and keep the user's place."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from dicomtui.ui import live_table
from dicomtui.ui.live_table import LiveTable, PlainCell


class OneTable(App[None]):
    def __init__(self, max_rows: int = 3) -> None:
        super().__init__()
        self.max_rows = max_rows

    def compose(self) -> ComposeResult:
        table = LiveTable(max_rows=self.max_rows, cursor_type="row")
        table.add_column("n", key="n")
        yield table


def test_the_newest_rows_stay_and_the_trimmed_ones_are_named() -> None:
    async def scenario() -> None:
        app = OneTable()
        async with app.run_test() as pilot:
            table = app.query_one(LiveTable)
            dropped: list[str] = []
            for n in range(7):
                dropped += table.append_row(str(n), (f"row {n}",))
            await pilot.pause()
            # Rebuilt once it held 7 (> 2 x 3): the newest 3 are left.
            assert [str(k.value) for k in table.rows] == ["4", "5", "6"]
            assert dropped == ["0", "1", "2", "3"]

            for n in range(7, 10):
                table.append_row(str(n), (f"row {n}",))
            assert table.row_count == 6
            table.move_cursor(row=4)  # on "8"
            assert table.append_row("10", ("row 10",)) == ["4", "5", "6", "7"]
            assert [str(k.value) for k in table.rows] == ["8", "9", "10"]
            # The user's place survives the rebuild.
            assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "8"

            table.clear()
            assert table.append_row("a", ("a",)) == [] and table.row_count == 1

    asyncio.run(scenario())


def visible_text(table: LiveTable) -> str:
    region = Region(0, 0, table.size.width, table.size.height)
    return "\n".join(strip.text for strip in table.render_lines(region))


def test_new_rows_are_followed_unless_the_user_is_in_the_table() -> None:
    async def scenario() -> None:
        app = OneTable(max_rows=100)
        async with app.run_test(size=(30, 8)) as pilot:
            table = app.query_one(LiveTable)
            app.set_focus(None)
            for batch in range(3):
                for n in range(batch * 10, batch * 10 + 10):
                    table.append_row(str(n), (f"row {n}",))
                await pilot.pause()
                assert f"row {batch * 10 + 9}" in visible_text(table)
            assert table.scroll_y == table.max_scroll_y > 0

            table.focus()
            table.move_cursor(row=0)
            await pilot.pause()
            for n in range(30, 40):
                table.append_row(str(n), (f"row {n}",))
            await pilot.pause()
            shown = visible_text(table)
            assert table.scroll_y == 0 and "row 0" in shown and "row 39" not in shown

    asyncio.run(scenario())


class TwoTables(App[None]):
    """Our table and Textual's, with the same columns: (name, fixed width or None)."""

    def __init__(self, columns: tuple[tuple[str, int | None], ...]) -> None:
        super().__init__()
        self.columns = columns
        self.highlighted: list[tuple[str | None, object]] = []

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        self.highlighted.append((message.data_table.id, message.row_key.value))

    def compose(self) -> ComposeResult:
        for table in (LiveTable(max_rows=100, id="ours"), DataTable(id="textuals")):
            for name, width in self.columns:
                table.add_column(name, key=name, width=width)
            yield table


def test_columns_are_as_wide_as_textual_would_make_them() -> None:
    rows = [("DOE^JOHN", "1.2.3"), ("山田^太郎", "1.2.840.10008.5.1.4.1.1.2.999"), ("", "x" * 70)]

    async def scenario() -> None:
        app = TwoTables((("patient", None), ("uid", None)))
        async with app.run_test(size=(200, 30)) as pilot:
            ours = app.query_one("#ours", LiveTable)
            textuals = app.query_one("#textuals", DataTable)
            for n, row in enumerate(rows):
                ours.append_row(str(n), row)
                textuals.add_row(*map(PlainCell, row), key=str(n))
                await pilot.pause()
                assert [c.content_width for c in ours.ordered_columns] == [
                    c.content_width for c in textuals.ordered_columns
                ]
                assert ours.virtual_size == textuals.virtual_size
            assert [c.content_width for c in ours.ordered_columns] == [9, 70]

    asyncio.run(scenario())


def characters(table: DataTable, y: int) -> list[tuple[str, object]]:
    """Each character of a rendered line with its style: what the terminal shows."""
    return [(char, segment.style) for segment in table.render_line(y) for char in segment.text]


def test_rows_look_exactly_as_textual_draws_them() -> None:
    rows = [
        ("short", "DOE^JOHN", "1.2.3"),
        ("山田^太郎山田", "山田^太郎", "1.2.840.10008.5.1.4.1.1.2.999"),
        ("x" * 20, "", "x" * 300),  # wider than the screen
        ("", "[b]not markup[/b]", "tab\there"),
        ("exactly", "MÜLLER^JÖRG", "1.2.4"),
    ]

    async def scenario() -> None:
        # A "note" 7 cells wide: longer values are cut.
        app = TwoTables((("note", 7), ("patient", None), ("uid", None)))
        async with app.run_test(size=(120, 30)) as pilot:
            ours = app.query_one("#ours", LiveTable)
            textuals = app.query_one("#textuals", DataTable)
            for n, row in enumerate(rows):
                ours.append_row(str(n), row)
                textuals.add_row(*map(PlainCell, row), key=str(n))
            for table in (ours, textuals):
                table.cursor_type = "row"
                table.zebra_stripes = True
            for cursor in (0, 1, 3):
                for focused in (True, False):
                    seen = []
                    for table in (ours, textuals):
                        table.move_cursor(row=cursor)
                        app.set_focus(table if focused else None)
                        await pilot.pause()
                        seen.append([characters(table, y) for y in range(len(rows) + 1)])
                    assert seen[0] == seen[1], (cursor, focused)

    asyncio.run(scenario())


def test_rows_added_at_once_leave_the_table_as_textuals_add_row_does() -> None:
    rows = [(str(n), (f"name {n}", "1.2." + "3" * n)) for n in range(12)]

    def state(table: DataTable) -> object:
        return (
            [
                (key.value, row.height, row.label, row.auto_height)
                for key, row in table.rows.items()
            ],
            {key.value: table._row_locations.get(key) for key in table._row_locations},
            {
                key.value: {c.value: str(v) for c, v in row.items()}
                for key, row in table._data.items()
            },
            table.cursor_coordinate,
            [c.content_width for c in table.ordered_columns],
            table.virtual_size,
        )

    async def scenario() -> None:
        app = TwoTables((("patient", None), ("uid", None)))
        async with app.run_test(size=(120, 30)) as pilot:
            ours = app.query_one("#ours", LiveTable)
            textuals = app.query_one("#textuals", DataTable)
            for table in (ours, textuals):
                table.cursor_type = "row"
            app.set_focus(None)
            for batch in (rows[:1], rows[1:5], rows[5:]):
                ours.append_rows(batch)
                for key, cells in batch:
                    textuals.add_row(*map(PlainCell, cells), key=key)
                await pilot.pause()
                assert state(ours) == state(textuals)
                assert [characters(ours, y) for y in range(14)] == [
                    characters(textuals, y) for y in range(14)
                ]
            # Each table said once that its first row is highlighted.
            assert sorted(app.highlighted) == [("ours", "0"), ("textuals", "0")]

    asyncio.run(scenario())


#: The members of Textual's DataTable that LiveTable reads, writes or overrides:
#: all of its private use of Textual lives in dicomtui/ui/live_table.py.
DATATABLE_PRIVATE_MEMBERS = (
    "_row_locations",
    "_data",
    "_new_rows",
    "_require_update_dimensions",
    "_update_count",
    "_cell_render_cache",
    "_row_render_cache",
    "_row_renderable_cache",
    "_line_cache",
    "_column_locations",
    "_show_hover_cursor",
    "_highlight_cursor",
    "_update_dimensions",
    "_render_cell",
    "_get_styles_to_render_cell",
    "_pseudo_class_state",
)


def test_live_tables_private_use_of_textual_is_the_pinned_releases() -> None:
    """A new Textual must be compared with live_table.py before it is pinned."""
    from importlib.metadata import version

    assert version("textual") == "8.2.8", "compare live_table.py with the new DataTable"
    table: DataTable[str] = DataTable()
    missing = [name for name in DATATABLE_PRIVATE_MEMBERS if not hasattr(table, name)]
    assert missing == []
    used = set(re.findall(r"self\.(_[a-z_]+)", Path(live_table.__file__).read_text()))
    ours = {name for name in used if name in vars(live_table.LiveTable) or name in ("_newest",)}
    assert used - ours <= set(DATATABLE_PRIVATE_MEMBERS), (
        used - ours - set(DATATABLE_PRIVATE_MEMBERS)
    )
