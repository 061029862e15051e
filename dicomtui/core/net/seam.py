"""Every private part of pynetdicom that dicomtui relies on, checked at start.

dicomtui replaces or reads some of pynetdicom's internals: module globals that
receive data sets straight to disk, the reader and reactor of an association,
attributes of its DUL. A later pynetdicom may rename any of them, and the
patches are installed from event handlers, whose exceptions pynetdicom only
logs. So before any patch is installed, :func:`check` looks for each part with
the shape it has in the pinned release; if one is missing the engine says so
in one line and runs on pynetdicom's plain path instead of half-patched.

:data:`CHECKED` lists the parts; the modules that use them are in the same
package's other modules (``setup``, ``spool_file``, ``pacing``, ``pdu_reader``,
``fast_receive``, ``fast_send``, ``acceptor_reactor``, ``requestor_reactor``,
``observer``, ``promiscuous``) and tests hold a tripwire on every function copied
from pynetdicom or whose behaviour is reproduced.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import pynetdicom
from pynetdicom import _config, _handlers, dimse_messages, dsutils, sop_class
from pynetdicom.association import Association, ServiceUser
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_messages import DIMSEMessage
from pynetdicom.dul import DULServiceProvider
from pynetdicom.service_class import StorageServiceClass
from pynetdicom.transport import AssociationSocket

from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import Level, LogMessage, Side

#: The release whose internals the checks below describe (pyproject.toml pins it).
PINNED_VERSION = "3.0.4"


def _module_global(module: object, name: str) -> Callable[[], bool]:
    return lambda: hasattr(module, name)


def _method(cls: type, name: str, *params: str) -> Callable[[], bool]:
    def check() -> bool:
        member = getattr(cls, name, None)
        if not callable(member):
            return False
        found = list(inspect.signature(member).parameters)
        return found[: len(params)] == list(params)

    return check


def _set_in_init(cls: type, *names: str) -> Callable[[], bool]:
    """Instance attributes that ``cls.__init__`` assigns (read from its source)."""

    def check() -> bool:
        source = inspect.getsource(cls.__init__)  # type: ignore[misc]
        return all(f"self.{name}" in source for name in names)

    return check


def _promiscuous_check() -> bool:
    from dicomtui.core.net.promiscuous import check_pynetdicom

    try:
        check_pynetdicom()
    except RuntimeError:
        return False
    return True


@dataclass(frozen=True)
class Part:
    what: str
    present: Callable[[], bool]


CHECKED: tuple[Part, ...] = (
    Part("ServiceUser._common_ext (promiscuous mode)", _promiscuous_check),
    Part(
        "_config.STORE_RECV_CHUNKED_DATASET", _module_global(_config, "STORE_RECV_CHUNKED_DATASET")
    ),
    Part(
        "_config.STORE_SEND_CHUNKED_DATASET", _module_global(_config, "STORE_SEND_CHUNKED_DATASET")
    ),
    Part("_config.LOG_HANDLER_LEVEL", _module_global(_config, "LOG_HANDLER_LEVEL")),
    Part("dimse_messages.NamedTemporaryFile", _module_global(dimse_messages, "NamedTemporaryFile")),
    Part("dimse_messages.create_file_meta", _module_global(dimse_messages, "create_file_meta")),
    Part(
        "dimse_messages.write_file_meta_info",
        _module_global(dimse_messages, "write_file_meta_info"),
    ),
    Part(
        "_handlers.standard_pdu_recv_handler",
        _module_global(_handlers, "standard_pdu_recv_handler"),
    ),
    Part(
        "_handlers.standard_pdu_sent_handler",
        _module_global(_handlers, "standard_pdu_sent_handler"),
    ),
    Part("Association._run_reactor()", _method(Association, "_run_reactor", "self")),
    Part(
        "Association._serve_request()",
        _method(Association, "_serve_request", "self", "msg", "context_id"),
    ),
    Part(
        "Association's _reactor_checkpoint, _is_paused, _kill, _handlers",
        _set_in_init(Association, "_reactor_checkpoint", "_is_paused", "_kill", "_handlers"),
    ),
    Part(
        "DULServiceProvider._read_pdu_data()", _method(DULServiceProvider, "_read_pdu_data", "self")
    ),
    Part(
        "DULServiceProvider.idle_timer_expired()",
        _method(DULServiceProvider, "idle_timer_expired", "self"),
    ),
    Part(
        "DULServiceProvider's _idle_timer, _kill_thread, _run_loop_delay, to_provider_queue",
        _set_in_init(
            DULServiceProvider,
            "_idle_timer",
            "_kill_thread",
            "_run_loop_delay",
            "to_provider_queue",
        ),
    ),
    # fast_send: the requestor's socket lent to our C-STORE path.
    Part(
        "DULServiceProvider._is_transport_event()",
        _method(DULServiceProvider, "_is_transport_event", "self"),
    ),
    Part(
        "DULServiceProvider's event_queue, state_machine, socket",
        _set_in_init(DULServiceProvider, "event_queue", "state_machine", "socket"),
    ),
    Part("AssociationSocket.recv()", _method(AssociationSocket, "recv", "self", "nr_bytes")),
    Part("AssociationSocket's socket", _set_in_init(AssociationSocket, "socket")),
    # fast_receive: the C-STORE requests it takes, and pynetdicom's message it
    # hands one over as.
    Part(
        "DULServiceProvider's event_queue, state_machine, send_pdu()",
        lambda: (
            _set_in_init(DULServiceProvider, "event_queue", "state_machine")()
            and _method(DULServiceProvider, "send_pdu", "self", "primitive")()
        ),
    ),
    Part(
        "Association's _sent_release, _accepted_cx, dimse",
        _set_in_init(Association, "_sent_release", "_accepted_cx", "dimse"),
    ),
    Part(
        "ServiceUser.accepted_common_extended",
        lambda: isinstance(getattr(ServiceUser, "accepted_common_extended", None), property),
    ),
    Part(
        "DIMSEServiceProvider's message, msg_queue, maximum_pdu_size",
        lambda: (
            _set_in_init(DIMSEServiceProvider, "message", "msg_queue")()
            and isinstance(getattr(DIMSEServiceProvider, "maximum_pdu_size", None), property)
        ),
    ),
    Part(
        "DIMSEMessage's context_id, encoded_command_set, command_set, _data_set_file,"
        " _data_set_path",
        _set_in_init(
            DIMSEMessage,
            "context_id",
            "encoded_command_set",
            "command_set",
            "_data_set_file",
            "_data_set_path",
        ),
    ),
    Part("dimse_messages.C_STORE_RQ", _module_global(dimse_messages, "C_STORE_RQ")),
    Part("dsutils.decode", _module_global(dsutils, "decode")),
    Part("sop_class.uid_to_service_class", _module_global(sop_class, "uid_to_service_class")),
    Part(
        "_config.UNRESTRICTED_STORAGE_SERVICE",
        _module_global(_config, "UNRESTRICTED_STORAGE_SERVICE"),
    ),
    Part(
        "StorageServiceClass.SCP(), is_valid_status()",
        lambda: (
            _method(StorageServiceClass, "SCP", "self", "req", "context")()
            and _method(StorageServiceClass, "is_valid_status", "self", "status")()
        ),
    ),
)


@dataclass(frozen=True)
class SeamCheck:
    version: str
    missing: tuple[str, ...]

    @property
    def usable(self) -> bool:
        return not self.missing

    def lines(self) -> list[tuple[Level, str]]:
        """What to tell the user: nothing when all is as expected."""
        found: list[tuple[Level, str]] = []
        if self.missing:
            found.append(
                (
                    Level.ERROR,
                    f"pynetdicom {self.version} lacks what dicomtui uses of its internals"
                    f" ({', '.join(self.missing)}): running on pynetdicom's plain path,"
                    f" slower and without dicomtui's guards (pinned: {PINNED_VERSION})",
                )
            )
        elif self.version != PINNED_VERSION:
            found.append(
                (
                    Level.WARNING,
                    f"pynetdicom {self.version} is not the {PINNED_VERSION} dicomtui was"
                    " checked against; its internals look the same",
                )
            )
        return found


@functools.cache
def check() -> SeamCheck:
    missing: list[str] = []
    for part in CHECKED:
        try:
            ok = part.present()
        except (TypeError, ValueError, OSError):
            ok = False
        if not ok:
            missing.append(part.what)
    return SeamCheck(str(pynetdicom.__version__), tuple(missing))


def report(bus: EventBus, side: Side) -> SeamCheck:
    """Check, and publish what the user should know (once per bus)."""
    found = check()
    with _lock:
        told = bus in _told
        _told.add(bus)
    if not told:
        for level, text in found.lines():
            bus.publish(LogMessage(side=side, level=level, text=text))
    return found


_lock = threading.Lock()
_told: weakref.WeakSet[EventBus] = weakref.WeakSet()
_forwarded: weakref.WeakKeyDictionary[EventBus, Side] = weakref.WeakKeyDictionary()


#: pynetdicom's words for what our own events report already.
_SAID_ALREADY = (
    "Association Aborted",
    "Association Rejected",
    "Association request failed",
    "Result: ",
    "Reason: ",
    "No accepted presentation contexts",
    "DIMSE timeout reached",
    # request_association() says it as "no answer to the association request within N s"
    "ACSE timeout reached while waiting for response to association request",
    "TCP Initialisation Error",
    "Connection closed",
)


class _ToTheBus(logging.Handler):
    """pynetdicom's own warnings and errors (an exception in an event handler, a
    message it did not expect), as log lines on every bus that asked for them."""

    def emit(self, record: logging.LogRecord) -> None:
        level = Level.ERROR if record.levelno >= logging.ERROR else Level.WARNING
        try:
            text = record.getMessage().splitlines()[0] if record.getMessage() else ""
        except Exception:  # a malformed record must not reach pynetdicom's thread
            return
        if not text or text.startswith(_SAID_ALREADY):
            return
        if record.exc_info and record.funcName == "trigger" and not record.args:
            return  # LOGGER.exception(exc) after a LOGGER.error that said it already
        if getattr(_emitting, "active", False):
            return  # a subscriber that logs through pynetdicom again: said once is enough
        with _lock:
            targets = list(_forwarded.items())
        _emitting.active = True
        try:
            for bus, side in targets:
                # An exception here would kill pynetdicom's thread without an A-ABORT.
                with contextlib.suppress(Exception):
                    bus.publish(LogMessage(side=side, level=level, text=f"pynetdicom: {text}"))
        finally:
            _emitting.active = False


_emitting = threading.local()
_handler = _ToTheBus(logging.WARNING)


def forward_warnings(bus: EventBus, side: Side) -> None:
    """Publish pynetdicom's WARNING and above on ``bus`` (once per bus)."""
    with _lock:
        _forwarded.setdefault(bus, side)
    logger = logging.getLogger("pynetdicom")
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.WARNING)
