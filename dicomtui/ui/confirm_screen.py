"""A question before something that cannot be undone (quitting mid-send, deleting a node)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (y, or the first button) or False (n, Escape, the other)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    #confirm {
        width: 64;
        max-width: 100%;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 0 1;
    }
    #confirm-question {
        height: auto;
        margin-bottom: 1;
    }
    #confirm-buttons {
        height: 1;
        align-horizontal: right;
    }
    #confirm-buttons Button {
        margin-left: 1;
        min-width: 10;
    }
    """

    def __init__(self, question: str, yes: str, no: str = "Cancel") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question, id="confirm-question", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="warning", compact=True)
                yield Button(f"{self.no} (n)", id="no", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    def ask(self, question: str, no: str) -> None:
        """Change the question while it is open: what it asked about has changed."""
        self.question, self.no = question, no
        self.query_one("#confirm-question", Static).update(question)
        self.query_one("#no", Button).label = f"{no} (n)"

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
