"""Plain text that changes while objects arrive (states, counts, rates, the log title)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class TextLine(Widget):
    """Like a Static, but an update only repaints it.

    A Static re-lays out the whole screen at every update, which while objects
    arrive (twice a second, and at each key press for the log's title) cost more
    than the rest of the frame. Its height is fixed in CSS; the text is never
    read as markup.
    """

    DEFAULT_CSS = """
    TextLine {
        height: 1;
    }
    """

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self._text = text

    @property
    def text(self) -> str:
        return self._text

    def update(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return Text(self._text, end="")
