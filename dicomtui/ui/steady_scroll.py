"""Scrolling widgets whose size the CSS fixes: growing content only moves their scrollbars."""

from __future__ import annotations

from typing import cast

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
    """A Log whose new lines do not re-lay out the screen."""
