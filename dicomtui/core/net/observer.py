"""Turn pynetdicom's notification events into our events on the bus.

The handlers run on pynetdicom's association threads: they read what they need
from the association, publish one small event and return. PDU dumps (debug
level) are only built when someone asked for them.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import weakref
from collections.abc import Callable
from typing import Any

from pynetdicom import _handlers, evt

from dicomtui.core.dicom.dimse import StoreRequest, StoreResponse
from dicomtui.core.net.fast_receive import reenacted
from dicomtui.core.net.pdu_reader import skips_p_data
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    AssociationAborted,
    AssociationAccepted,
    AssociationRejected,
    AssociationReleased,
    AssociationRequested,
    ConnectionClosed,
    ConnectionOpened,
    ContextSummary,
    DimseMessage,
    PduDump,
    Side,
)

Handler = tuple[Any, Callable[..., Any]]

_ids = itertools.count(1)
_ids_lock = threading.Lock()
_assoc_ids: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def association_id(assoc: Any) -> int:
    """A small number that names one association for its whole life."""
    with _ids_lock:
        number = _assoc_ids.get(assoc)
        if number is None:
            number = next(_ids)
            _assoc_ids[assoc] = number
        return number


def set_tcp_nodelay(assoc: Any) -> None:
    """Send small DIMSE messages at once instead of waiting on Nagle's algorithm.

    pynetdicom never sets TCP_NODELAY; without it each small message waits ~40 ms
    for a delayed ACK.
    """
    sock = getattr(getattr(getattr(assoc, "dul", None), "socket", None), "socket", None)
    if sock is None:
        return
    # The peer may already have gone; the association will notice by itself.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _peer(assoc: Any) -> tuple[str, int]:
    peer = assoc.requestor if assoc.is_acceptor else assoc.acceptor
    try:
        return str(peer.address), int(peer.port)
    except Exception:  # not known yet on a half-open connection
        return "", 0


def _context_summaries(contexts: Any) -> tuple[ContextSummary, ...]:
    summaries = []
    for cx in contexts:
        ts = cx.transfer_syntax[0] if cx.transfer_syntax else None
        summaries.append(
            ContextSummary(
                context_id=int(cx.context_id or 0),
                abstract_syntax=str(cx.abstract_syntax),
                transfer_syntax=str(ts) if ts is not None else None,
                result=str(cx.status),
            )
        )
    return tuple(summaries)


_DIMSE_NAMES = {
    "C_ECHO_RQ": "C-ECHO RQ",
    "C_ECHO_RSP": "C-ECHO RSP",
    "C_STORE_RQ": "C-STORE RQ",
    "C_STORE_RSP": "C-STORE RSP",
}


def _dimse_event(event: Any, side: Side, incoming: bool) -> DimseMessage:
    msg = event.message
    cs = msg.command_set
    name = type(msg).__name__
    message_type = _DIMSE_NAMES.get(name, name.replace("_", "-", 1).replace("_", " "))
    get = cs.get
    sop_class = get("AffectedSOPClassUID")
    sop_instance = get("AffectedSOPInstanceUID")
    status = get("Status")
    return DimseMessage(
        side=side,
        assoc_id=association_id(event.assoc),
        incoming=incoming,
        message_type=message_type,
        context_id=msg.context_id,
        message_id=get("MessageID"),
        responded_to=get("MessageIDBeingRespondedTo"),
        sop_class=str(sop_class) if sop_class is not None else None,
        sop_instance=str(sop_instance) if sop_instance is not None else None,
        status=int(status) if status is not None else None,
        has_dataset=get("CommandDataSetType", 0x0101) != 0x0101,
        priority=get("Priority"),
    )


#: A-ASSOCIATE-RJ fields (PS3.8 9.3.4), as DCMTK and pynetdicom's apps name them.
_RESULTS = {1: "Rejected Permanent", 2: "Rejected Transient"}
_SOURCES = {
    1: "Service User",
    2: "Service Provider (ACSE)",
    3: "Service Provider (Presentation)",
}
_REASONS = {
    (1, 1): "No reason given",
    (1, 2): "Application context name not supported",
    (1, 3): "Calling AE title not recognised",
    (1, 7): "Called AE title not recognised",
    (2, 1): "No reason given",
    (2, 2): "Protocol version not supported",
    (3, 1): "Temporary congestion",
    (3, 2): "Local limit exceeded",
}


def rejection(assoc: Any) -> Any | None:
    """The A-ASSOCIATE-RJ the peer answered our request with, or None.

    pynetdicom can miss one: its reader thread may take the RJ and close the
    socket before the requesting thread checks the connection, which then aborts
    with the RJ still first in the DUL's queue. Either way, no second connection
    is needed to find out.
    """
    if assoc.is_acceptor:
        return None
    if assoc.is_rejected:
        return getattr(assoc.acceptor, "primitive", None)
    waiting = assoc.dul.peek_next_pdu()
    if type(waiting).__name__ == "A_ASSOCIATE" and getattr(waiting, "result", None) in _RESULTS:
        return waiting
    return None


def rejection_text(primitive: Any) -> str:
    """``Result: Rejected Permanent, Source: Service User, Reason: ...``."""
    result = int(getattr(primitive, "result", 0) or 0)
    source = int(getattr(primitive, "result_source", 0) or 0)
    diagnostic = int(getattr(primitive, "diagnostic", 0) or 0)
    return (
        f"Result: {_RESULTS.get(result, f'0x{result:02X}')},"
        f" Source: {_SOURCES.get(source, f'0x{source:02X}')},"
        f" Reason: {_REASONS.get((source, diagnostic), f'0x{diagnostic:02X}')}"
    )


class RequestWatch:
    """Handlers for an association we request: did the connection open, and what
    answered the request. Enough to say why it failed without connecting again."""

    def __init__(self) -> None:
        self.connected = False
        self.answer: Any = None

    def handlers(self) -> list[Handler]:
        return [(evt.EVT_CONN_OPEN, self._on_conn_open), (evt.EVT_ACSE_RECV, self._on_acse_recv)]

    def _on_conn_open(self, event: Any) -> None:
        self.connected = True

    def _on_acse_recv(self, event: Any) -> None:
        self.answer = event.primitive

    def unanswered(self, assoc: Any, acse_timeout: float | None) -> str:
        """Why a request on an open connection came to nothing (not a rejection)."""
        # As with rejections, the answer may still wait in the DUL's queue.
        answer = self.answer if self.answer is not None else assoc.dul.peek_next_pdu()
        kind = type(answer).__name__
        if kind == "A_ABORT":
            return "the peer aborted the association request (A-ABORT)"
        if kind == "A_P_ABORT":
            return "the peer closed the connection without answering the association request"
        return f"no answer to the association request within {acse_timeout or 0:g} s"


class AssociationObserver:
    """Binds pynetdicom notification handlers that publish to ``bus``.

    ``want_pdu_dumps`` is asked on each PDU, so the debug level can be switched
    while associations run; without it no PDU handler is bound at all (pynetdicom
    then skips building an event for each PDU: 5-10% of the time on 100 MB objects).
    """

    def __init__(
        self,
        bus: EventBus,
        side: Side,
        want_pdu_dumps: Callable[[], bool] | None = None,
    ) -> None:
        self.bus = bus
        self.side = side
        self.want_pdu_dumps = want_pdu_dumps or (lambda: False)
        self._dumps_possible = want_pdu_dumps is not None

    def handlers(self) -> list[Handler]:
        pdu_handlers: list[Handler] = [
            (evt.EVT_PDU_RECV, self._on_pdu_recv),
            (evt.EVT_PDU_SENT, self._on_pdu_sent),
        ]
        return [
            (evt.EVT_CONN_OPEN, self._on_conn_open),
            (evt.EVT_CONN_CLOSE, self._on_conn_close),
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_DIMSE_RECV, self._on_dimse_recv),
            (evt.EVT_DIMSE_SENT, self._on_dimse_sent),
            *(pdu_handlers if self._dumps_possible else []),
        ]

    def _on_conn_open(self, event: Any) -> None:
        set_tcp_nodelay(event.assoc)
        address = event.address
        self.bus.publish(
            ConnectionOpened(
                side=self.side,
                assoc_id=association_id(event.assoc),
                peer_address=str(address[0]),
                peer_port=int(address[1]),
            )
        )

    def _on_conn_close(self, event: Any) -> None:
        address = event.address or ("", 0)
        self.bus.publish(
            ConnectionClosed(
                side=self.side,
                assoc_id=association_id(event.assoc),
                peer_address=str(address[0]),
                peer_port=int(address[1]),
            )
        )

    def _on_requested(self, event: Any) -> None:
        assoc = event.assoc
        host, port = _peer(assoc)
        calling, called = str(assoc.requestor.ae_title), str(assoc.acceptor.ae_title)
        request = getattr(assoc.requestor, "primitive", None)
        if assoc.is_acceptor and request is not None:
            # Not negotiated yet: the titles are only in the request itself.
            calling = str(request.calling_ae_title or "").strip()
            called = str(request.called_ae_title or "").strip()
        self.bus.publish(
            AssociationRequested(
                side=self.side,
                assoc_id=association_id(assoc),
                peer_address=host,
                peer_port=port,
                calling_ae_title=calling,
                called_ae_title=called,
            )
        )

    def _on_accepted(self, event: Any) -> None:
        assoc = event.assoc
        host, port = _peer(assoc)
        local, remote = (
            (assoc.acceptor, assoc.requestor)
            if assoc.is_acceptor
            else (assoc.requestor, assoc.acceptor)
        )
        self.bus.publish(
            AssociationAccepted(
                side=self.side,
                assoc_id=association_id(assoc),
                peer_address=host,
                peer_port=port,
                calling_ae_title=str(assoc.requestor.ae_title),
                called_ae_title=str(assoc.acceptor.ae_title),
                local_max_pdu=int(local.maximum_length or 0),
                peer_max_pdu=int(remote.maximum_length or 0),
                accepted=_context_summaries(assoc.accepted_contexts),
                rejected=_context_summaries(assoc.rejected_contexts),
            )
        )

    def _on_rejected(self, event: Any) -> None:
        primitive = getattr(event.assoc.acceptor, "primitive", None)
        self._publish_rejection(event.assoc, primitive)

    def _publish_rejection(self, assoc: Any, primitive: Any) -> None:
        host, port = _peer(assoc)
        self.bus.publish(
            AssociationRejected(
                side=self.side,
                assoc_id=association_id(assoc),
                peer_address=host,
                peer_port=port,
                reason=rejection_text(primitive) if primitive is not None else "",
            )
        )

    def _on_released(self, event: Any) -> None:
        self.bus.publish(AssociationReleased(side=self.side, assoc_id=association_id(event.assoc)))

    def _on_aborted(self, event: Any) -> None:
        assoc = event.assoc
        rejected = rejection(assoc)
        if rejected is not None:  # pynetdicom missed it: see rejection()
            self._publish_rejection(assoc, rejected)
            return
        reason = ""
        if not assoc.accepted_contexts and assoc.rejected_contexts and not assoc.is_acceptor:
            reason = "no accepted presentation contexts"
        self.bus.publish(
            AssociationAborted(side=self.side, assoc_id=association_id(assoc), reason=reason)
        )

    @reenacted  # by store_request
    def _on_dimse_recv(self, event: Any) -> None:
        self.bus.publish(_dimse_event(event, self.side, incoming=True))

    @reenacted  # by store_response
    def _on_dimse_sent(self, event: Any) -> None:
        self.bus.publish(_dimse_event(event, self.side, incoming=False))

    def store_request(
        self, assoc: Any, context_id: int, request: StoreRequest, *, incoming: bool
    ) -> None:
        """What ``_on_dimse_recv`` (``_on_dimse_sent``) publishes for a C-STORE request
        that ``fast_receive`` received (``fast_send`` sent)."""
        self.bus.publish(
            DimseMessage(
                side=self.side,
                assoc_id=association_id(assoc),
                incoming=incoming,
                message_type="C-STORE RQ",
                context_id=context_id,
                message_id=request.message_id,
                sop_class=request.sop_class_uid,
                sop_instance=request.sop_instance_uid,
                has_dataset=True,
                priority=request.priority,
            )
        )

    def store_response(
        self, assoc: Any, context_id: int, response: StoreResponse, *, incoming: bool
    ) -> None:
        """What ``_on_dimse_sent`` (``_on_dimse_recv``) publishes for a C-STORE
        response that ``fast_receive`` sent (``fast_send`` received)."""
        self.bus.publish(
            DimseMessage(
                side=self.side,
                assoc_id=association_id(assoc),
                incoming=incoming,
                message_type="C-STORE RSP",
                context_id=context_id,
                message_id=None,
                responded_to=response.responded_to,
                sop_class=response.sop_class_uid,
                sop_instance=response.sop_instance_uid,
                status=response.status,
            )
        )

    @skips_p_data
    def _on_pdu_recv(self, event: Any) -> None:
        if self.want_pdu_dumps():
            self._publish_pdu(event, incoming=True)

    @skips_p_data
    def _on_pdu_sent(self, event: Any) -> None:
        if self.want_pdu_dumps():
            self._publish_pdu(event, incoming=False)

    def _publish_pdu(self, event: Any, incoming: bool) -> None:
        pdu_type = type(event.pdu).__name__
        if pdu_type == "P_DATA_TF":
            return  # pynetdicom's own dumps skip these too; DIMSE dumps cover them
        dump = (
            _handlers.standard_pdu_recv_handler if incoming else _handlers.standard_pdu_sent_handler
        )
        lines = dump(event) or []
        self.bus.publish(
            PduDump(
                side=self.side,
                assoc_id=association_id(event.assoc),
                incoming=incoming,
                pdu_type=pdu_type.replace("_", "-"),
                lines=tuple(lines),
            )
        )
