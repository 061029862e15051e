"""Immutable events published by the receiver and the sender.

Every renderer (the headless printer, the TUI's log and tables) reads these and
nothing else, so what one shows the other can show in the same words.
Events are created on pynetdicom's threads: keep them small and cheap to build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum, StrEnum


class Side(StrEnum):
    """Which part of the application an event belongs to."""

    RECEIVER = "receiver"
    SENDER = "sender"


class Level(int, Enum):
    """Log levels, ordered like :mod:`logging`'s."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @property
    def letter(self) -> str:
        return self.name[0]


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    side: Side
    #: Identifies one association (or connection) for its whole life; None for
    #: events that belong to no association.
    assoc_id: int | None = None
    timestamp: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ContextSummary:
    """One presentation context as negotiated."""

    context_id: int
    abstract_syntax: str
    transfer_syntax: str | None
    result: str


# --- receiver life cycle -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiverStarted(Event):
    address: str
    port: int
    ae_title: str
    output_directory: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiverStopped(Event):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiverFailed(Event):
    """The receiver could not start (port in use, bad address, ...)."""

    reason: str


# --- connections and associations ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOpened(Event):
    peer_address: str
    peer_port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed(Event):
    peer_address: str
    peer_port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationRequested(Event):
    peer_address: str
    peer_port: int
    calling_ae_title: str
    called_ae_title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationAccepted(Event):
    peer_address: str
    peer_port: int
    calling_ae_title: str
    called_ae_title: str
    local_max_pdu: int
    peer_max_pdu: int
    accepted: tuple[ContextSummary, ...]
    rejected: tuple[ContextSummary, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationRejected(Event):
    peer_address: str
    peer_port: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationReleased(Event):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationAborted(Event):
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationFailed(Event):
    """An outgoing association could not be made at all (refused, unreachable, ...)."""

    peer_address: str
    peer_port: int
    reason: str
    #: The connection was made, but the request came to nothing (aborted, no answer).
    connected: bool = False


# --- DIMSE and PDU traffic ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DimseMessage(Event):
    incoming: bool
    #: As DICOM names it: "C-STORE RQ", "C-ECHO RSP", ...
    message_type: str
    context_id: int | None
    message_id: int | None
    responded_to: int | None = None
    sop_class: str | None = None
    sop_instance: str | None = None
    status: int | None = None
    #: Only for C-STORE RQ: whether a data set follows, and its priority.
    has_dataset: bool = False
    priority: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PduDump(Event):
    """A decoded PDU in the words of pynetdicom's debug dumps (debug level only)."""

    incoming: bool
    pdu_type: str
    lines: tuple[str, ...]


# --- receiving objects -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectReceived(Event):
    """A C-STORE data set arrived and was handled with ``status``."""

    sop_class: str
    sop_instance: str
    transfer_syntax: str
    size: int
    #: File name as the manual prints it ("CT.1.2.3"); empty when not stored.
    filename: str
    #: Full path on disk; None when nothing was stored (``--ignore`` or a failure).
    path: str | None
    status: int
    patient_name: str = ""
    patient_id: str = ""
    modality: str = ""
    study_uid: str = ""
    series_uid: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectLost(Event):
    """A C-STORE data set was arriving when its association ended; nothing was kept."""

    sop_class: str
    sop_instance: str
    bytes_received: int
    reason: str


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSkipped(Event):
    path: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SendStarted(Event):
    peer_address: str
    peer_port: int
    called_ae_title: str
    total_files: int
    total_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSending(Event):
    path: str
    message_id: int
    sop_class: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSent(Event):
    """The peer answered a C-STORE (or none came: ``status`` is None)."""

    path: str
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    size: int
    status: int | None
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendProgress(Event):
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    elapsed: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SendFinished(Event):
    sent: int
    warned: int
    failed: int
    skipped: int
    not_attempted: int
    bytes_sent: int
    seconds: float
    cancelled: bool
    #: The association could not be made or broke.
    association_error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EchoResult(Event):
    peer_address: str
    peer_port: int
    status: int | None
    seconds: float
    error: str = ""
    #: False when no association was made (that failure was reported on its own).
    associated: bool = True


# --- query/retrieve (C-FIND, C-MOVE, C-GET) ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryRequested(Event):
    """A C-FIND, C-MOVE or C-GET request was sent with this identifier."""

    #: "C-FIND", "C-MOVE" or "C-GET".
    operation: str
    message_id: int
    #: The information model's SOP class UID.
    model: str
    #: The request identifier as pynetdicom prints it (``(0010,0010) PN [...] # 1 ...``).
    identifier: tuple[str, ...]
    #: C-MOVE only: the move destination's AE title.
    destination: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryResponse(Event):
    """One response to a C-FIND, C-MOVE or C-GET request (pending or final)."""

    operation: str
    #: 1, 2, ... for the pending responses; the final one carries the next number.
    number: int
    #: None when no response came (DIMSE timeout or association aborted).
    status: int | None
    #: "Pending", "Success", "Warning", "Failure", "Cancel" (or "" without a status).
    category: str
    #: What the status means ("Move Destination Unknown", "Unable to Process: ...").
    description: str = ""
    #: C-FIND pending responses: the identifier as printed lines, and as keyword/value pairs.
    identifier: tuple[str, ...] = ()
    values: tuple[tuple[str, str], ...] = ()
    #: C-MOVE/C-GET: sub-operations remaining, completed, failed, warning (None if absent).
    remaining: int | None = None
    completed: int | None = None
    failed: int | None = None
    warning: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrieveProgress(Event):
    """The sub-operation counts of a C-MOVE or C-GET, as its pending responses tell them."""

    operation: str
    remaining: int
    completed: int
    failed: int
    warning: int

    @property
    def total(self) -> int:
        return self.remaining + self.completed + self.failed + self.warning


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryFinished(Event):
    """A C-FIND ended: its final status (None if none came) and how many matches."""

    status: int | None
    matches: int
    seconds: float
    cancelled: bool = False
    #: The association could not be made, broke, or the request could not be sent.
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrieveFinished(Event):
    """A C-MOVE or C-GET ended."""

    operation: str
    status: int | None
    completed: int
    failed: int
    warning: int
    remaining: int
    #: (0008,0058) Failed SOP Instance UID List of the final response.
    failed_instances: tuple[str, ...]
    seconds: float
    cancelled: bool = False
    error: str = ""
    #: C-MOVE: the destination AE title; C-GET: objects received on the association.
    destination: str = ""
    received: int = 0

    @property
    def ok(self) -> bool:
        """Everything asked for arrived: a success status and no failed sub-operation."""
        return (
            self.status is not None
            and (self.status == 0x0000 or 0xB000 <= self.status <= 0xBFFF)
            and not self.error
            and not self.cancelled
            and self.failed == 0
            and not self.failed_instances
        )


# --- free text ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LogMessage(Event):
    """A line with no event of its own: errors, warnings from pynetdicom, notes."""

    level: Level
    text: str
