"""Messages the app posts to itself across threads."""

from __future__ import annotations

from textual.message import Message


class EventsPending(Message):
    """The event queue has something to show. A burst collapses into one of these."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsPending)
