"""An association we requested, whose responses only the request's sender reads.

pynetdicom's requestor runs a reactor thread that looks at the DIMSE message
queue every millisecond. Its ``send_*()`` methods pause it around each request
by clearing ``_reactor_checkpoint`` and waiting for ``_is_paused``; but that
flag is still True from the reactor's previous pause until the reactor thread
next runs, so the handshake can pass while the reactor is about to wake up and
take the response off the queue, which it then drops as "unexpected". With a
peer that answers at once (DCMTK with TCP_NODELAY) and a busy interpreter
(another thread holding the GIL) that lost a response in most runs of a few
hundred objects.

Here the reactor and every exchange on the association share one lock: the
reactor looks at anything the peer sent only while it holds the lock, and a
request is sent and its response read only while the sender holds it. The
reactor below is pynetdicom 3.0.4's ``Association._run_reactor`` (the pinned
release) with the lock in place of the pause handshake; its release, abort,
DUL and network timeout checks run in the same order.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pynetdicom import evt
from pynetdicom.association import LOGGER

#: How long the reactor waits between looks, as pynetdicom's does.
REACTOR_WAIT = 0.001
#: ... and while requests are being sent, whose senders read what comes: the
#: reactor then wakes less often, so it competes less for the interpreter.
REACTOR_WAIT_BUSY = 0.01

_gates: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()


def own_responses(assoc: Any) -> None:
    """Give a requested association (before its reactor starts) the reactor below.

    Called from an ``EVT_CONN_OPEN`` handler, which pynetdicom runs before the
    A-ASSOCIATE-AC arrives and before it starts the association's thread.
    """
    if not assoc.is_requestor or assoc.is_alive():
        return
    gate = threading.Lock()
    assoc._run_reactor = functools.partial(_watch, assoc, gate)
    with _gates_lock:
        _gates[assoc] = gate


def owns_responses(assoc: Any) -> bool:
    with _gates_lock:
        return assoc in _gates


@contextmanager
def exchange(assoc: Any) -> Iterator[None]:
    """Hold the association while a request is sent and its response read.

    pynetdicom's ``send_c_*()`` and ``release()`` still clear the checkpoint and
    wait for ``_is_paused``: the reactor below leaves that flag set, so they go
    straight on, and the lock is what keeps the reactor away from the queue. An
    association left to pynetdicom's own reactor (its internals were not as
    expected, and the user was told) goes through its own handshake only.
    """
    with _gates_lock:
        gate = _gates.get(assoc)
    if gate is None:
        yield
        return
    with gate:
        yield


def release(assoc: Any) -> None:
    """Release the association, with the reactor kept off the A-RELEASE-RP."""
    if assoc.is_established:
        with exchange(assoc):
            assoc.release()


def _watch(self: Any, gate: threading.Lock) -> None:
    # pynetdicom's send_*() and release() spin until this is True.
    self._is_paused = True
    wait = REACTOR_WAIT
    while not self._kill:
        time.sleep(wait)
        if not gate.acquire(blocking=False):
            wait = REACTOR_WAIT_BUSY  # a request is in flight; its sender reads what comes
            continue
        wait = REACTOR_WAIT
        try:
            if _look(self):
                return
        finally:
            gate.release()


def _look(self: Any) -> bool:
    """One pass of pynetdicom's reactor; True once the association has ended."""
    context_id, msg = self.dimse.get_msg(block=False)
    if msg:
        self._serve_request(msg, context_id)

    if self.is_established and self.acse.is_release_requested():
        self.acse.send_release(is_response=True)
        LOGGER.info("Association Released")
        self.is_released = True
        self.is_established = False
        evt.trigger(self, evt.EVT_RELEASED, {})
        self.kill()
        return True

    if self.acse.is_aborted():
        LOGGER.info(
            "Association Aborted" + (" (A-P-ABORT)" if self.acse.is_aborted("a-p-abort") else "")
        )
        # Ensure that EVT_ACSE_RECV fires for subscribers (as pynetdicom does).
        self.dul.receive_pdu(wait=False)
        self.is_aborted = True
        self.is_established = False
        evt.trigger(self, evt.EVT_ABORTED, {})
        self.kill()
        return True

    if not self.dul.is_alive():
        self.kill()
        return True

    if self.dul.idle_timer_expired():
        LOGGER.error("Network timeout reached")
        if self.network_timeout_response == "A-RELEASE":
            self.release()
        else:
            self.abort()
        self.kill()
        return True
    return False
