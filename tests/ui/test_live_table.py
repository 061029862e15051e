"""The tables that gain a row per object stay bounded and keep the user's place."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from dicomtui.ui.live_table import LiveTable, PlainCell


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        table = LiveTable(max_rows=3, cursor_type="row")
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


class TwoTables(App[None]):
    def compose(self) -> ComposeResult:
        for table in (LiveTable(max_rows=100, id="ours"), DataTable(id="textuals")):
            table.add_column("patient", key="patient")
            table.add_column("uid", key="uid")
            yield table


def test_columns_are_as_wide_as_textual_would_make_them() -> None:
    rows = [("DOE^JOHN", "1.2.3"), ("山田^太郎", "1.2.840.10008.5.1.4.1.1.2.999"), ("", "x" * 70)]

    async def scenario() -> None:
        app = TwoTables()
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
