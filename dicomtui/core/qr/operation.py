"""One C-FIND, C-MOVE or C-GET on an association we requested: send the request,
read every response (holding the association, so that only we read them), check
and publish each status, and send C-CANCEL when asked to stop."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.dsutils import pretty_dataset
from pynetdicom.presentation import PresentationContext

from dicomtui.core.dicom.tables import sop_class_name
from dicomtui.core.net.observer import AssociationObserver, association_id
from dicomtui.core.net.requestor_reactor import exchange, release
from dicomtui.core.net.seam import forward_warnings
from dicomtui.core.net.seam import report as report_seam
from dicomtui.core.net.setup import configure_pynetdicom
from dicomtui.core.qr.models import Model, Operation, model_uid
from dicomtui.core.qr.progress import SubOperations, failed_instances
from dicomtui.core.qr.status import category, description
from dicomtui.core.scu.association import make_ae, request_association
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    Level,
    LogMessage,
    QueryRequested,
    QueryResponse,
    RetrieveProgress,
    Side,
)

MESSAGE_ID = 1


@dataclass
class Outcome:
    """How one request ended."""

    status: int | None = None
    status_set: Dataset | None = None
    #: The final response's identifier (C-MOVE/C-GET: the failed instances).
    identifier: Dataset | None = None
    responses: int = 0
    counts: SubOperations = field(default_factory=SubOperations)
    cancelled: bool = False
    error: str = ""
    seconds: float = 0.0
    #: The transfer syntax of the model's accepted context (C-FIND's ``-w`` files).
    transfer_syntax: str = ""
    #: The peer accepted the association but not the information model asked for.
    model_refused: bool = False

    @property
    def failed_instances(self) -> tuple[str, ...]:
        return failed_instances(self.identifier)


def decoded(identifier: Dataset, character_set: Any) -> Dataset:
    """The identifier, read with its own Specific Character Set, or with the
    query's when the peer left it out (many answer in the character set asked for)."""
    if "SpecificCharacterSet" not in identifier and character_set:
        identifier.SpecificCharacterSet = character_set
    return identifier


def identifier_lines(ds: Dataset) -> tuple[str, ...]:
    try:
        return tuple(pretty_dataset(ds))
    except Exception as exc:  # a value the character set cannot decode, a broken element
        return (f"(cannot print the identifier: {exc})",)


def identifier_values(ds: Dataset) -> tuple[tuple[str, str], ...]:
    """Keyword and value of each top-level element (sequences left out)."""
    values = []
    for elem in ds:
        if elem.VR == "SQ" or elem.tag.group in (0x0000, 0x0002):
            continue
        try:
            value = elem.value
            text = "\\".join(str(v) for v in value) if elem.VM > 1 else str(value or "")
        except Exception as exc:
            text = f"(cannot decode: {exc})"
        values.append((elem.keyword or str(elem.tag), text))
    return tuple(values)


class QueryRetrieveRequest:
    """One request; :meth:`run` on a worker thread, :meth:`cancel` from anywhere.

    ``on_identifier`` is called (on the running thread) with each pending C-FIND
    identifier, decoded. ``extra_handlers`` are bound to the association (C-GET's
    C-STORE handler); they run on the running thread, inside the response loop.
    """

    def __init__(
        self,
        network: SenderSettings,
        operation: Operation,
        model: Model,
        identifier: Dataset,
        bus: EventBus,
        *,
        contexts: list[PresentationContext],
        ext_neg: list[Any] | None = None,
        destination: str = "",
        extra_handlers: list[Any] | None = None,
        on_identifier: Callable[[Dataset], None] | None = None,
        on_associated: Callable[[Any], str] | None = None,
        want_pdu_dumps: Callable[[], bool] | None = None,
    ) -> None:
        configure_pynetdicom()
        report_seam(bus, Side.SENDER)
        forward_warnings(bus, Side.SENDER)
        self.network = network
        self.operation = operation
        self.model = model
        self.model_uid = model_uid(model, operation)
        self.identifier = identifier
        self.bus = bus
        self.contexts = contexts
        self.ext_neg = ext_neg or []
        self.destination = destination
        self.extra_handlers = extra_handlers or []
        self.on_identifier = on_identifier
        self.on_associated = on_associated
        self._observer = AssociationObserver(bus, Side.SENDER, want_pdu_dumps)
        self._cancel = threading.Event()
        self._cancel_sent = False
        self._cancel_lock = threading.Lock()
        #: Set once the request's last fragment is on the wire: C-CANCEL may follow it.
        self._request_out = threading.Event()
        #: Set once the final response arrived: C-CANCEL would come too late.
        self._answered = threading.Event()
        self._assoc: Any = None
        self._context_id: int | None = None

    def cancel(self) -> None:
        """Ask to stop: C-CANCEL goes at once if the request is out, or as soon as it is."""
        self._cancel.set()
        if self._request_out.is_set():
            self.send_cancel_if_asked()

    def _on_pdu_sent(self, event: Any) -> None:
        """Note when the request has gone out in full: its identifier's last fragment.

        pynetdicom queues a message's fragments one by one, so a C-CANCEL queued
        from another thread before then could come between them.
        """
        if self._request_out.is_set():
            return
        for item in getattr(event.pdu, "presentation_data_value_items", ()):
            control = item.presentation_data_value[0]
            if not control & 0b01 and control & 0b10:  # a data set's last fragment
                self._request_out.set()
                self.send_cancel_if_asked()
                return

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def _log(self, level: Level, text: str) -> None:
        self.bus.publish(
            LogMessage(
                side=Side.SENDER,
                level=level,
                text=text,
                assoc_id=association_id(self._assoc) if self._assoc is not None else None,
            )
        )

    def send_cancel_if_asked(self) -> None:
        """Send C-CANCEL once, if asked to and the request is out but not yet answered;
        from any thread (pynetdicom queues the message for its DUL thread to send)."""
        with self._cancel_lock:
            if not self._cancel.is_set() or self._cancel_sent or self._assoc is None:
                return
            if self._answered.is_set() or not self._request_out.is_set():
                return
            if not self._assoc.is_established or self._context_id is None:
                return
            self._cancel_sent = True
        self._log(Level.INFO, "Sending C-CANCEL request")
        try:
            self._assoc.send_c_cancel(MESSAGE_ID, self._context_id)
        except Exception as exc:  # the association went away meanwhile
            self._log(Level.ERROR, f"Cannot send C-CANCEL: {exc}")

    def run(self) -> Outcome:
        started = time.monotonic()
        outcome = Outcome()
        try:
            self._run(outcome)
        finally:
            outcome.seconds = time.monotonic() - started
        return outcome

    def _run(self, outcome: Outcome) -> None:
        ae = make_ae(self.network)
        ae.requested_contexts = self.contexts
        handlers = [
            *self._observer.handlers(),
            *self.extra_handlers,
            (evt.EVT_PDU_SENT, self._on_pdu_sent),
        ]
        assoc, reason = request_association(ae, self.network, handlers, self.bus, self.ext_neg)
        if reason:
            outcome.error = reason
            return
        self._assoc = assoc
        try:
            context = next(
                (cx for cx in assoc.accepted_contexts if cx.abstract_syntax == self.model_uid),
                None,
            )
            if context is None:
                outcome.model_refused = True
                outcome.error = f"the peer does not accept {sop_class_name(self.model_uid)}"
                self._log(
                    Level.ERROR, f"Cannot send the {self.operation.value} request: {outcome.error}"
                )
                return
            self._context_id = int(context.context_id)
            outcome.transfer_syntax = str(context.transfer_syntax[0])
            if self.on_associated is not None:
                problem = self.on_associated(assoc)
                if problem:
                    outcome.error = problem
                    return
            if self._cancel.is_set():
                outcome.cancelled = True
                return
            self._exchange(assoc, outcome)
        finally:
            if assoc.is_established:
                release(assoc)

    def _send(self, assoc: Any) -> Any:
        if self.operation is Operation.FIND:
            return assoc.send_c_find(self.identifier, self.model_uid, msg_id=MESSAGE_ID)
        if self.operation is Operation.MOVE:
            return assoc.send_c_move(
                self.identifier, self.destination, self.model_uid, msg_id=MESSAGE_ID
            )
        return assoc.send_c_get(self.identifier, self.model_uid, msg_id=MESSAGE_ID)

    def _exchange(self, assoc: Any, outcome: Outcome) -> None:
        charset = self.identifier.get("SpecificCharacterSet")
        with exchange(assoc):
            try:
                responses = self._send(assoc)
            except (ValueError, RuntimeError) as exc:
                outcome.error = f"cannot send the {self.operation.value} request: {exc}"
                self._log(Level.ERROR, outcome.error[0].upper() + outcome.error[1:])
                return
            self.bus.publish(
                QueryRequested(
                    side=Side.SENDER,
                    assoc_id=association_id(assoc),
                    operation=self.operation.value,
                    message_id=MESSAGE_ID,
                    model=self.model_uid,
                    identifier=identifier_lines(self.identifier),
                    destination=self.destination,
                )
            )
            for status_set, identifier in responses:
                if not status_set or "Status" not in status_set:
                    outcome.error = (
                        "the peer aborted the association without a response (it may not"
                        " allow our AE title or address to use this service)"
                        if assoc.is_aborted
                        else "no response (DIMSE timeout or association aborted)"
                    )
                    self.bus.publish(
                        QueryResponse(
                            side=Side.SENDER,
                            assoc_id=association_id(assoc),
                            operation=self.operation.value,
                            number=outcome.responses + 1,
                            status=None,
                            category="",
                            description=outcome.error,
                        )
                    )
                    break
                self._response(assoc, status_set, identifier, outcome, charset)
                if outcome.status is not None:
                    break
                self.send_cancel_if_asked()
        outcome.cancelled = outcome.status == 0xFE00 or (
            self._cancel.is_set() and outcome.status is None
        )

    def _response(
        self,
        assoc: Any,
        status_set: Dataset,
        identifier: Dataset | None,
        outcome: Outcome,
        charset: Any,
    ) -> None:
        status = int(status_set.Status)
        kind = category(status)
        counts = SubOperations.of(status_set)
        if kind not in ("Pending", "Cancel") and counts.remaining is None:
            # A final response leaves Remaining out (PS3.4 C.4.2.1.6): none is left,
            # not as many as the last pending response said.
            counts = dataclasses.replace(counts, remaining=0)
        outcome.counts = outcome.counts.merged(counts)
        lines: tuple[str, ...] = ()
        values: tuple[tuple[str, str], ...] = ()
        if identifier is not None:
            identifier = decoded(identifier, charset)
            if self.operation is Operation.FIND and kind == "Pending":
                lines, values = identifier_lines(identifier), identifier_values(identifier)
        outcome.responses += 1
        self.bus.publish(
            QueryResponse(
                side=Side.SENDER,
                assoc_id=association_id(assoc),
                operation=self.operation.value,
                number=outcome.responses,
                status=status,
                category=kind,
                description=description(self.operation, status, status_set),
                identifier=lines,
                values=values,
                remaining=counts.remaining,
                completed=counts.completed,
                failed=counts.failed,
                warning=counts.warning,
            )
        )
        if self.operation is not Operation.FIND and counts.known:
            c = outcome.counts
            self.bus.publish(
                RetrieveProgress(
                    side=Side.SENDER,
                    assoc_id=association_id(assoc),
                    operation=self.operation.value,
                    remaining=c.remaining or 0,
                    completed=c.completed or 0,
                    failed=c.failed or 0,
                    warning=c.warning or 0,
                )
            )
        if kind == "Pending":
            if identifier is not None and self.on_identifier is not None:
                self.on_identifier(identifier)
            return
        self._answered.set()
        outcome.status = status
        outcome.status_set = status_set
        outcome.identifier = identifier
