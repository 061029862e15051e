"""Scrolling widgets whose size the CSS fixes: growing content only moves their scrollbars."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self, cast

from textual import events
from textual.geometry import Size
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.widgets import Log


class SteadySize:
    """For a line-API widget (a ScrollView) whose new lines or rows should not
    re-lay out the screen; put it first among the bases.

    Textual lays out the whole screen again whenever a widget's virtual size
    changes, in case the widget's own size depends on it: 22 ms for a 160x48
    screen, and the log and the received table grew at every update while objects
    arrived, half of the app's own time. Where the CSS fixes the widget's size
    (``fr``), only its scrollbars need to follow: a scrollbar that appears or goes
    still lays out (Textual's ``show_*_scrollbar`` do), and so does an ``auto`` size.
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        widget = cast(ScrollView, self)
        width, height = widget.styles.width, widget.styles.height
        if width is None or width.is_auto or height is None or height.is_auto:
            widget.refresh(layout=True)
        elif widget.size:  # laid out once; until then the first layout does this
            widget._scroll_update(size)


class SteadyLog(SteadySize, Log):
    """A Log whose new lines do not re-lay out the screen, and that really follows.

    Textual's Log scrolls to a new line only if it was at the end before: a
    horizontal scrollbar that appears (a line wider than the pane) or a resize
    moves the end by a row, and from then on it stopped following while it still
    said so. Here following is the user's choice (``auto_scroll``): while it is on,
    the newest line is on screen after every write, resize and layout.
    """

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> Self:
        super().write_lines(lines, scroll_end=False)
        if self.auto_scroll if scroll_end is None else scroll_end:
            self.follow_end()
        return self

    def follow_end(self) -> None:
        """Scroll to the newest line now, and again once the layout has settled (a
        scrollbar that appears takes a row from the view after this frame)."""
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.call_after_refresh(self._settle_end)

    def _settle_end(self) -> None:
        if self.auto_scroll and not self.is_vertical_scroll_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_resize(self, _event: events.Resize) -> None:
        if self.auto_scroll:
            self.follow_end()
