"""A thread-safe event bus: pynetdicom's threads publish, renderers read.

``publish`` never blocks on a renderer: synchronous subscribers (the headless
printer) run inline, and an :class:`EventQueue` buffers events for a consumer on
another thread (the TUI) and wakes it once per burst.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from dicomtui.core.stream.events import Event

Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Replaced, never mutated, so publish() can iterate without the lock.
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it again."""
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for subscriber in self._subscribers:
            subscriber(event)


class EventQueue:
    """A bounded buffer between the publishing threads and one consumer.

    ``wake`` is called (on the publishing thread) when the first event of a
    burst arrives; it must be cheap and thread-safe, e.g. ``App.post_message``.
    When more than ``maxlen`` events wait, the oldest are dropped and counted.
    """

    def __init__(self, wake: Callable[[], None], maxlen: int = 50_000) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._events: deque[Event] = deque()
        self._maxlen = maxlen
        self._dropped = 0
        self._wake_pending = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            if len(self._events) >= self._maxlen:
                self._events.popleft()
                self._dropped += 1
            self._events.append(event)
            if self._wake_pending:
                return
            self._wake_pending = True
        self._wake()

    def drain(self) -> tuple[list[Event], int]:
        """Everything waiting, oldest first, and how many were dropped since the last drain."""
        with self._lock:
            events = list(self._events)
            self._events.clear()
            dropped, self._dropped = self._dropped, 0
            self._wake_pending = False
        return events, dropped

    def __len__(self) -> int:
        return len(self._events)


class HeldEvents(EventBus):
    """A bus in front of another that holds every event back until
    :meth:`let_through` (from then on they pass as they come); events never let
    through are dropped with it.

    For an extra association of a send: what it says (requested, rejected,
    timed out) matters only if the peer accepts it, or if no association at all
    was accepted.
    """

    def __init__(self, target: EventBus) -> None:
        super().__init__()
        self._target = target
        self._hold = threading.Lock()
        self._held: list[Event] | None = []

    def publish(self, event: Event) -> None:
        with self._hold:
            if self._held is not None:
                self._held.append(event)
                return
        self._target.publish(event)

    def let_through(self) -> None:
        # Under the lock, so nothing published meanwhile overtakes what was held.
        with self._hold:
            held, self._held = self._held or [], None
            for event in held:
                self._target.publish(event)
