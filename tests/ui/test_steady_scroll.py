"""A log and a table that grow without re-laying out the screen still scroll as Textual's do."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Log

from dicomtui.ui.live_table import LiveTable
from dicomtui.ui.steady_scroll import SteadyLog


class Growing(App[None]):
    CSS = """
    Log { height: 6; }
    DataTable { height: 7; }
    """

    def __init__(self, log: Log, table: DataTable) -> None:
        super().__init__()
        self.log_widget, self.table = log, table

    def compose(self) -> ComposeResult:
        yield self.log_widget
        self.table.add_column("object", key="object")
        yield self.table


def what_the_user_sees(log: Log, table: DataTable) -> tuple:
    return tuple(
        (
            widget.show_vertical_scrollbar,
            widget.show_horizontal_scrollbar,
            widget.horizontal_scrollbar.window_virtual_size
            if widget.show_horizontal_scrollbar
            else 0,
            widget.vertical_scrollbar.window_virtual_size if widget.show_vertical_scrollbar else 0,
            widget.vertical_scrollbar.window_size if widget.show_vertical_scrollbar else 0,
            widget.scroll_offset.y,
            widget.max_scroll_y,
            widget.render_line(widget.scrollable_content_region.height - 1).text.strip(),
        )
        for widget in (log, table)
    )


def scroll_states(log: Log, table: DataTable) -> list[tuple]:
    async def scenario() -> list[tuple]:
        app = Growing(log, table)
        seen = []
        async with app.run_test(size=(60, 20)) as pilot:
            for batch in (2, 40, 3, 200):
                start = table.row_count
                # The third batch is wider than the screen: horizontal scrollbars appear.
                wide = " " + "x" * 90 if batch == 3 else ""
                log.write_lines([f"line {start + n}{wide}" for n in range(batch)])
                for n in range(batch):
                    table.add_row(f"object {start + n}{wide}")
                table.move_cursor(row=table.row_count - 1)
                await pilot.pause()
                seen.append(what_the_user_sees(log, table))
        return seen

    return asyncio.run(scenario())


def test_scrollbars_follow_growing_content_as_with_textuals_own_widgets() -> None:
    ours = scroll_states(SteadyLog(), LiveTable(max_rows=1000, cursor_type="row"))
    textuals = scroll_states(Log(), DataTable(cursor_type="row"))
    assert ours == textuals
    # What that means: the table has no scrollbar for two rows, then one; both
    # show their newest line at the bottom.
    assert ours[0][1][0] is False and ours[-1][1][0] is True
    assert ours[1][1][1] is False and ours[2][1][1] is True  # the wide rows
    assert ours[-1][0][3] == 245 and ours[-1][0][7] == "line 244"
    assert ours[-1][1][7] == "object 244"
