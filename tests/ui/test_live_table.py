"""The tables that gain a row per object stay bounded and keep the user's place."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from dicomtui.ui.live_table import LiveTable


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
