"""An accepted association that answers each request as soon as it is complete.

pynetdicom hands every message between two threads that poll: the acceptor's
reactor sleeps 1 ms between looks at its message queue (a constant in its
code), and the DUL thread sleeps ``_run_loop_delay`` (1 ms) whenever a pass
found nothing to do, so a response waits up to another millisecond for the
socket. A peer that sends one object at a time waited for both, on every
object: about half of pynetdicom's time per tiny object. Here the reactor
waits on the queue itself (woken by the message), and while requests keep
coming the DUL looks again after 0.3 ms (after 1 ms again once the association
has been quiet for a tenth of a second, so that idle associations cost what
pynetdicom's do).

The reactor below is pynetdicom 3.0.4's ``Association._run_reactor`` (the
pinned release) with that one change; the release, abort, DUL and network
timeout checks run in the same order and still at least every millisecond.
Each request served is marked done on the queue (``task_done``), so that the
queue's count of unfinished requests says whether one is queued or in hand.
"""

from __future__ import annotations

import functools
import queue
import time
from collections.abc import Callable
from typing import Any

from pynetdicom import evt
from pynetdicom.association import LOGGER

#: How long pynetdicom's DUL thread sleeps after a pass with nothing to do while
#: requests arrive. Measured here: 0.3 ms answers as fast as 0.03 ms; it costs an
#: open association about 5% of a core, so it lasts only while requests come.
DUL_BUSY_SLEEP = 0.0003
#: pynetdicom's own, once the association has been quiet for ``BUSY_FOR`` seconds.
DUL_QUIET_SLEEP = 0.001
BUSY_FOR = 0.1
#: How long the reactor waits for a message before its other checks.
REACTOR_WAIT = 0.001


class DulPace:
    """How long the DUL thread sleeps between passes: briefly while requests
    come (served by the reactor, or answered on the reader thread by
    ``fast_receive``), as pynetdicom does once quiet for ``BUSY_FOR``."""

    def __init__(self, dul: Any) -> None:
        self.dul = dul
        self.busy_until = 0.0

    def busy(self) -> None:
        """A request came (any thread)."""
        self.dul._run_loop_delay = DUL_BUSY_SLEEP
        self.busy_until = time.monotonic() + BUSY_FOR

    def check(self) -> None:
        """Back to pynetdicom's sleep once quiet (the reactor, each pass)."""
        if self.busy_until and time.monotonic() > self.busy_until:
            self.busy_until = 0.0
            self.dul._run_loop_delay = DUL_QUIET_SLEEP


def answer_promptly(assoc: Any, when_ended: Callable[[Any], None]) -> DulPace:
    """Make an accepted association (before it starts) wait on its queue.

    ``when_ended(assoc)`` is called once its reactor stops, however it stops:
    pynetdicom's reader thread can die on a malformed request without any event.
    """
    pace = DulPace(assoc.dul)
    assoc._run_reactor = functools.partial(_serve_until_ended, assoc, when_ended, pace)
    return pace


def _serve_until_ended(self: Any, when_ended: Callable[[Any], None], pace: DulPace) -> None:
    try:
        _serve(self, pace)
    finally:
        when_ended(self)


def _serve(self: Any, pace: DulPace) -> None:
    messages = self.dimse.msg_queue
    pace.busy()
    self._is_paused = False
    while not self._kill:
        # As pynetdicom's: a send_*() from a handler pauses the reactor here.
        self._is_paused = True
        self._reactor_checkpoint.wait()
        self._is_paused = False

        try:
            context_id, msg = messages.get(timeout=REACTOR_WAIT)
        except queue.Empty:
            msg = None
            pace.check()
        if msg:
            pace.busy()
            try:
                self._serve_request(msg, context_id)
            finally:
                # Served: the reader thread may answer requests itself again
                # (fast_receive waits for no request to be queued or in hand).
                messages.task_done()

        if self.is_established and self.acse.is_release_requested():
            self.acse.send_release(is_response=True)
            LOGGER.info("Association Released")
            self.is_released = True
            self.is_established = False
            evt.trigger(self, evt.EVT_RELEASED, {})
            self.kill()
            return

        if self.acse.is_aborted():
            LOGGER.info(
                "Association Aborted"
                + (" (A-P-ABORT)" if self.acse.is_aborted("a-p-abort") else "")
            )
            # Ensure that EVT_ACSE_RECV fires for subscribers (as pynetdicom does).
            self.dul.receive_pdu(wait=False)
            self.is_aborted = True
            self.is_established = False
            evt.trigger(self, evt.EVT_ABORTED, {})
            self.kill()
            return

        if not self.dul.is_alive():
            self.kill()
            return

        if self.dul.idle_timer_expired():
            LOGGER.error("Network timeout reached")
            if self.network_timeout_response == "A-RELEASE":
                self._is_paused = True
                self._reactor_checkpoint.wait()
                self.release()
                self._is_paused = False
            else:
                self.abort()
            self.kill()
            return
