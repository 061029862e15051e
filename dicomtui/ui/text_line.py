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
        if text == self._text:
            return
        old, self._text = self._text, text
        height = self.styles.height
        if height is not None and height.is_auto and self._rows(old) != self._rows(text):
            # Sized by its text (a short screen's receiver state): it needs the
            # layout again, else the new row is cut off.
            self.refresh(layout=True)
        else:
            self.refresh()

    def _rows(self, text: str) -> int:
        width = self.content_size.width
        if width <= 0:
            return 1
        return len(Text(text).wrap(self.app.console, width))

    def render(self) -> Text:
        return Text(self._text, end="")
