"""Whole C-STORE requests received on an accepted association's reader thread.

pynetdicom takes each request through its PDU decoder, state machine, DIMSE
decoder (the command set as a pydicom data set), a queue to the association's
reactor thread, the EVT_C_STORE handler, a response built as a data set and
encoded twice, and a queue back to the reader thread that sends it: about
0.7 ms of Python per object, most of a tiny object's time. Here the reader
thread (``pdu_reader``) decodes the command with the hand-written codec
(``core/dicom/dimse.py``), writes the data set to the same partial file, has
the receiver store it (:class:`StoreService`, the code its EVT_C_STORE handler
runs) and writes the response to the socket itself.

The outcome is the one pynetdicom's path has, and this is done only where
nothing else could happen on that path:

* an established association (``Sta6``) with nothing else going on: no
  message half received, queued or being served by the reactor, nothing
  waiting to be sent, no state machine event pending;
* a PDU that starts with a complete command (command and last bits) that the
  codec fully understands as a C-STORE request with a data set, on an accepted
  context whose abstract syntax is the request's SOP class, that the acceptor
  serves as SCP, and whose SOP class pynetdicom would serve with its Storage
  service class (after the association's SOP Class Common Extended
  Negotiation, which promiscuous mode fills in);
* every handler bound to the events skipped here is one whose effect the
  :class:`StoreService` reproduces (marked :func:`reenacted`), or one that
  does nothing with P-DATA-TF PDUs (marked ``@skips_p_data``).

Any other PDU is handed to pynetdicom unchanged. A PDU in the middle of an
object received here that is not made of that object's data fragments (a
protocol error) hands the object itself to pynetdicom first, as the message
pynetdicom would hold at that point, so that pynetdicom answers it as it would
have. An object that never completes (the peer aborts, goes silent, closes the
connection) is found by :func:`receiving_message` like pynetdicom's own, and
reported and removed by the receiver as before.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from pydicom.uid import RE_VALID_UID
from pynetdicom import _config, evt
from pynetdicom.dimse_messages import C_STORE_RQ, DIMSEMessage
from pynetdicom.dsutils import decode
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.service_class import StorageServiceClass
from pynetdicom.sop_class import uid_to_service_class

from dicomtui.core.dicom.dimse import (
    COMMAND_BIT,
    LAST_BIT,
    StoreRequest,
    StoreResponse,
    decode_store_request,
    encode_store_response,
    p_data_pdus,
    pdv_items,
)
from dicomtui.core.dicom.file_meta import FileMeta, write_received_file_meta
from dicomtui.core.net.pdu_reader import WATCHING_PDUS, PduReader, WriteBatch
from dicomtui.core.net.spool_file import SpoolFile, open_spool_file, prepare_spool_file_here
from dicomtui.core.stream import stage_counters

LOGGER = logging.getLogger("pynetdicom.service_class")

#: pynetdicom's status when its EVT_C_STORE handler raised.
STATUS_HANDLER_FAILED = 0xC211

#: Events not triggered here: the service does what their handlers do.
REENACTED = (evt.EVT_DIMSE_RECV, evt.EVT_C_STORE, evt.EVT_DIMSE_SENT)

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def reenacted(handler: HandlerT) -> HandlerT:
    """Mark a handler whose effect, for a C-STORE request taken here, the
    :class:`StoreService` produces itself."""
    handler.reenacted = True  # type: ignore[attr-defined]
    return handler


class StoreService(Protocol):
    """What the receiver does for each request taken here, in pynetdicom's order."""

    def request_received(self, assoc: Any, context_id: int, request: StoreRequest) -> None:
        """The request is complete (EVT_DIMSE_RECV)."""

    def store(self, assoc: Any, request: StoreRequest, transfer_syntax: str, spool: Any) -> int:
        """Store the data set in ``spool`` (closed); the status (EVT_C_STORE)."""
        ...

    def response_sent(self, assoc: Any, context_id: int, response: StoreResponse) -> None:
        """The response is about to be sent (EVT_DIMSE_SENT)."""


class _Command:
    """The request's command set, read as pynetdicom's by keyword."""

    def __init__(self, request: StoreRequest) -> None:
        self.request = request

    def get(self, keyword: str, default: Any = None) -> Any:
        if keyword == "AffectedSOPClassUID":
            return self.request.sop_class_uid
        if keyword == "AffectedSOPInstanceUID":
            return self.request.sop_instance_uid
        if keyword == "MessageID":
            return self.request.message_id
        return default


class Incoming:
    """A C-STORE request whose data set is being received here.

    Its attributes bear the names of pynetdicom's message (``context_id``,
    ``command_set.get``, ``_data_set_file``), so that the receiver treats both
    alike: it may detach and close the file on another thread (the object is
    lost); from then on nothing more is written to it.
    """

    def __init__(
        self,
        context_id: int,
        request: StoreRequest,
        command: bytes,
        transfer_syntax: str,
        spool: SpoolFile,
    ) -> None:
        self.context_id = context_id
        self.request = request
        self.command = command
        self.transfer_syntax = transfer_syntax
        self.command_set = _Command(request)
        self._data_set_file: SpoolFile | None = spool
        self.spool = spool

    def attached(self) -> bool:
        return self._data_set_file is self.spool


#: Each association's, by weak references both ways (a receiver refers to its
#: association: a strong value would keep its key alive for ever).
_receivers: weakref.WeakKeyDictionary[Any, weakref.ref[FastReceive]] = weakref.WeakKeyDictionary()


def receiving_message(assoc: Any) -> Any:
    """The message whose data set the association is receiving into a file, taken
    here (:class:`Incoming`) or by pynetdicom; ``None`` between messages."""
    found = _receivers.get(assoc)
    receiver = found() if found is not None else None
    incoming = receiver.incoming if receiver is not None else None
    if incoming is not None:
        return incoming
    return getattr(getattr(assoc, "dimse", None), "message", None)


def _conformant(uid: str) -> bool:
    """A UID that pynetdicom takes without a warning (pydicom's ``UID.is_valid``)."""
    return len(uid) <= 64 and RE_VALID_UID.match(uid) is not None


def _marked(handlers: Any, mark: str) -> bool:
    if isinstance(handlers, tuple):  # an intervention event's single (handler, args)
        handlers = [handlers] if handlers and handlers[0] is not None else []
    return all(getattr(handler, mark, False) for handler, _ in handlers)


class FastReceive:
    """One association's C-STORE requests, received on its reader thread.

    ``reader`` is the association's ``PduReader`` (its socket, the bytes read
    ahead, its write batches).
    """

    def __init__(
        self,
        assoc: Any,
        reader: PduReader,
        service: StoreService,
        on_request: Callable[[], None] = lambda: None,
    ) -> None:
        #: Told of each request taken (the reactor's pace: ``DulPace.busy``).
        self.on_request = on_request
        self.assoc = assoc
        self.dul = assoc.dul
        self.reader = reader
        self.service = service
        self.incoming: Incoming | None = None
        #: The incoming data set's fragments, written together (as ``pdu_reader``'s).
        self.batch: WriteBatch | None = None
        #: SOP class -> pynetdicom's Storage service class for it on this
        #: association (for the statuses it knows), or None if served otherwise.
        self._services: dict[str, Any] = {}
        _receivers[assoc] = weakref.ref(self)

    # --- when ---------------------------------------------------------------------------

    def quiet(self) -> bool:
        """Nothing but this request can happen on pynetdicom's side meanwhile."""
        assoc = self.assoc
        dul = self.dul
        if (
            dul.state_machine.current_state != "Sta6"
            or dul._kill_thread
            or not assoc.is_established
            or assoc._sent_release
            or assoc.dimse.message is not None
            or assoc.dimse.msg_queue.unfinished_tasks  # one queued or being served
            or dul.to_provider_queue.queue
            or not dul.event_queue.empty()
            or _config.UNRESTRICTED_STORAGE_SERVICE
        ):
            return False
        handlers = assoc._handlers
        return all(
            _marked(handlers.get(event, ()), "skips_p_data") for event in WATCHING_PDUS
        ) and all(
            event in handlers and _marked(handlers[event], "reenacted") for event in REENACTED
        )

    def storage_service(self, sop_class: str) -> Any:
        """pynetdicom's Storage service class for ``sop_class`` on this
        association, or ``None`` if it would serve it some other way."""
        if sop_class not in self._services:
            class_uid = sop_class
            extended = self.assoc.acceptor.accepted_common_extended.get(sop_class)
            if extended:
                class_uid = extended[0]
            service = uid_to_service_class(class_uid)
            storage = issubclass(service, StorageServiceClass) and (
                service.SCP is StorageServiceClass.SCP
            )
            self._services[sop_class] = service(self.assoc) if storage else None
        return self._services[sop_class]

    # --- receiving ----------------------------------------------------------------------

    def receive(self) -> bool:
        """Receive C-STORE requests while they come.

        ``True`` when it stopped between PDUs (with at most the next one's
        header read), ``False`` when it left a PDU in the reader's ``pending``
        for pynetdicom.
        """
        if self.incoming is None and not self.quiet():
            return False
        try:
            return self._receive()
        finally:
            self.flush()

    def _receive(self) -> bool:
        reader = self.reader
        while True:
            pdu = reader.next_p_data()
            if pdu is None:
                if self.incoming is not None and reader.pending[:1] == b"\x04":
                    self._hand_over()  # a P-DATA-TF too long to read here
                return False
            header, body = pdu
            length = int.from_bytes(header[2:6], "big")
            items = pdv_items(body, length)
            taken = items is not None and (
                self._take_data(body, items)
                if self.incoming is not None
                else self._take_request(body, items)
            )
            if not taken:
                if self.incoming is not None:
                    self._hand_over()
                reader.pending = header + body
                return False
            reader.pending = body[length:]
            self.dul._idle_timer.restart()
            if self.dul._kill_thread or self.dul.to_provider_queue.queue:
                return True
            if not reader.more_soon():
                return True
            if self.incoming is None and not self.quiet():
                return True

    def _take_request(self, body: bytearray, items: list[tuple[int, int, int, int]]) -> bool:
        """A PDU starting with a C-STORE request's whole command, taken if it may be."""
        started = time.perf_counter() if stage_counters.ENABLED else 0.0
        context_id, control, start, end = items[0]
        if control & 0b11 != COMMAND_BIT | LAST_BIT:
            return False
        rest = items[1:]
        if not self._data_items(rest, context_id):
            return False
        command = bytes(body[start:end])
        request = decode_store_request(command)
        if request is None or not (
            _conformant(request.sop_class_uid) and _conformant(request.sop_instance_uid)
        ):
            return False  # pynetdicom warns of a non-conformant UID ("1.02"): it says so
        context = self.assoc._accepted_cx.get(context_id)
        if (
            context is None
            or str(context.abstract_syntax) != request.sop_class_uid
            or not context.as_scp
            or not context.transfer_syntax
            or self.storage_service(request.sop_class_uid) is None
        ):
            return False
        transfer_syntax = str(context.transfer_syntax[0])
        try:
            spool = open_spool_file(prepare_next=False)  # made after the response instead
        except OSError:
            return False  # no file can be made anywhere: pynetdicom fails as it does
        spool.write(b"\x00" * 128 + b"DICM")
        write_received_file_meta(
            spool, FileMeta(request.sop_class_uid, request.sop_instance_uid, transfer_syntax)
        )
        self.incoming = Incoming(context_id, request, command, transfer_syntax, spool)
        self.on_request()
        if stage_counters.ENABLED:
            stage_counters.add("recv.command", time.perf_counter() - started)
        if rest:
            self._write(body, rest)
        return True

    def _data_items(self, items: list[tuple[int, int, int, int]], context_id: int) -> bool:
        """Whether ``items`` are data fragments on ``context_id``, only the final
        one possibly the last of its data set."""
        for number, (item_context, control, _start, _end) in enumerate(items):
            if item_context != context_id or control & COMMAND_BIT:
                return False
            if control & LAST_BIT and number != len(items) - 1:
                return False
        return True

    def _take_data(self, body: bytearray, items: list[tuple[int, int, int, int]]) -> bool:
        incoming = self.incoming
        if incoming is None or not self._data_items(items, incoming.context_id):
            return False
        self._write(body, items)
        return True

    def _write(self, body: bytearray, items: list[tuple[int, int, int, int]]) -> None:
        incoming = self.incoming
        if incoming is None:
            return
        started = time.perf_counter() if stage_counters.ENABLED else 0.0
        if self.batch is None:
            self.batch = WriteBatch(incoming)
        self.batch.add(body, [(start, end) for _c, _m, start, end in items])
        last = bool(items[-1][1] & LAST_BIT)
        if last:
            self.flush()
        if stage_counters.ENABLED:
            stage_counters.add("recv.data", time.perf_counter() - started)
        if last:
            self._complete(incoming)

    def flush(self) -> None:
        """Write the fragments batched so far (nothing once the file is detached)."""
        batch, self.batch = self.batch, None
        if batch is not None:
            batch.write()

    # --- a complete request ------------------------------------------------------------

    def _complete(self, incoming: Incoming) -> None:
        """Store the object and answer, as pynetdicom's Storage service class does."""
        self.incoming = None
        spool = incoming.spool
        if not incoming.attached() or spool.reported:
            return  # lost already (too large, or the association is ending), and said so
        incoming._data_set_file = None
        with contextlib.suppress(OSError):
            spool.close()
        assoc = self.assoc
        request = incoming.request
        started = time.perf_counter() if stage_counters.ENABLED else 0.0
        try:
            self.service.request_received(assoc, incoming.context_id, request)
            status = self.service.store(assoc, request, incoming.transfer_syntax, spool)
        except Exception as exc:  # as pynetdicom's ``attempt`` around the handler
            LOGGER.error("Exception in handler bound to 'evt.EVT_C_STORE'")
            LOGGER.exception(exc)
            status = STATUS_HANDLER_FAILED
        Path(str(spool.name)).unlink(missing_ok=True)  # pynetdicom's cleanup: kept only if placed
        if stage_counters.ENABLED:
            stage_counters.add("recv.store", time.perf_counter() - started)
        if not assoc.is_established:
            return
        started = time.perf_counter() if stage_counters.ENABLED else 0.0
        service = self.storage_service(request.sop_class_uid)
        if not service.is_valid_status(status):
            LOGGER.warning(f"Unknown status value returned by callback - 0x{status:04X}")
        response = StoreResponse(
            responded_to=request.message_id,
            status=status,
            sop_class_uid=request.sop_class_uid,
            sop_instance_uid=request.sop_instance_uid,
        )
        self.service.response_sent(assoc, incoming.context_id, response)
        self._send(incoming.context_id, encode_store_response(response))
        if stage_counters.ENABLED:
            stage_counters.add("recv.respond", time.perf_counter() - started)
        # While the peer reads the response and sends its next request.
        prepare_spool_file_here()

    def _send(self, context_id: int, command: bytes) -> None:
        """Send the response's command as pynetdicom would: on the socket now if
        nothing waits to be sent before it, else after what waits, through its queue."""
        pdus = p_data_pdus(context_id, True, command, int(self.assoc.dimse.maximum_pdu_size))
        dul = self.dul
        if not dul.to_provider_queue.queue and dul.state_machine.current_state == "Sta6":
            self.reader.holder.send(b"".join(pdus))
            return
        for header, fragment in zip(pdus[::2], pdus[1::2], strict=True):
            primitive = P_DATA()
            primitive.presentation_data_value_list = [
                (context_id, bytes(header[-1:]) + bytes(fragment))
            ]
            dul.send_pdu(primitive)

    # --- handing over -----------------------------------------------------------------

    def _hand_over(self) -> None:
        """Make the object being received pynetdicom's message, as pynetdicom
        would hold it now: its command decoded, its data so far in its file."""
        self.flush()
        incoming = self.incoming
        self.incoming = None
        if incoming is None:
            return
        message = DIMSEMessage()
        message.encoded_command_set.write(incoming.command)
        message.context_id = incoming.context_id
        message.command_set = decode(message.encoded_command_set, True, True)
        message.__class__ = C_STORE_RQ
        message._data_set_file = cast(Any, incoming._data_set_file)  # a file like its own
        message._data_set_path = Path(str(incoming.spool.name))
        self.assoc.dimse.message = message
