"""Events as the seed manuals' log lines (``I: Accepting Association`` ...).

Both renderers use this: the headless commands print the lines, the TUI's log
pane shows them. A renderer filters by level; this module only words things.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import singledispatch
from typing import NamedTuple

from dicomtui.core.dicom.tables import short_sop_class, sop_class_name, status_category, status_text
from dicomtui.core.qr.models import Operation
from dicomtui.core.qr.status import explanation
from dicomtui.core.stream.events import (
    AssociationAborted,
    AssociationAccepted,
    AssociationFailed,
    AssociationRejected,
    AssociationReleased,
    AssociationRequested,
    ConnectionClosed,
    ConnectionOpened,
    DimseMessage,
    EchoResult,
    Event,
    FileSending,
    FileSent,
    FileSkipped,
    Level,
    LogMessage,
    ObjectLost,
    ObjectReceived,
    PduDump,
    QueryFinished,
    QueryRequested,
    QueryResponse,
    ReceiverFailed,
    ReceiverStarted,
    ReceiverStopped,
    RetrieveFinished,
    SendFinished,
    SendStarted,
    Side,
)
from dicomtui.core.units import human_size


class LogLine(NamedTuple):
    level: Level
    text: str

    def render(self) -> str:
        return f"{self.level.letter}: {self.text}"


DBG, INF, WRN, ERR = Level.DEBUG, Level.INFO, Level.WARNING, Level.ERROR

_PRIORITY = {0: "Medium", 1: "High", 2: "Low"}


def format_event(event: Event, threshold: Level = Level.DEBUG) -> list[LogLine]:
    """The log lines for one event at ``threshold`` or above (possibly none).

    Debug-only text (the DIMSE dumps) is not even built above the debug level.
    """
    lines = _format(event, threshold <= Level.DEBUG)
    if threshold > Level.DEBUG:
        return [line for line in lines if line.level >= threshold]
    return lines


@singledispatch
def _format(event: Event, debug: bool) -> list[LogLine]:
    return []


def _on(cls: type) -> Callable[[Callable[..., list[LogLine]]], Callable[..., list[LogLine]]]:
    def register(func: Callable[..., list[LogLine]]) -> Callable[..., list[LogLine]]:
        _format.register(cls)(func)
        return func

    return register


@_on(ReceiverStarted)
def _(e: ReceiverStarted, debug: bool) -> list[LogLine]:
    where = f"{e.address or '*'}:{e.port}"
    into = (
        f"; storing into {e.output_directory}" if e.output_directory else "; not storing (--ignore)"
    )
    return [LogLine(INF, f"Listening on {where} as {e.ae_title}{into}")]


@_on(ReceiverStopped)
def _(e: ReceiverStopped, debug: bool) -> list[LogLine]:
    return [LogLine(INF, "Receiver stopped")]


@_on(ReceiverFailed)
def _(e: ReceiverFailed, debug: bool) -> list[LogLine]:
    return [LogLine(ERR, e.reason)]


@_on(ConnectionOpened)
def _(e: ConnectionOpened, debug: bool) -> list[LogLine]:
    return [LogLine(DBG, f"Connection opened with {e.peer_address}:{e.peer_port}")]


@_on(ConnectionClosed)
def _(e: ConnectionClosed, debug: bool) -> list[LogLine]:
    return [LogLine(DBG, f"Connection closed with {e.peer_address}:{e.peer_port}")]


@_on(AssociationRequested)
def _(e: AssociationRequested, debug: bool) -> list[LogLine]:
    if e.side is Side.SENDER:
        return [LogLine(INF, "Requesting Association")]
    return [
        LogLine(
            DBG,
            f"Association requested by {e.calling_ae_title} at {e.peer_address}:{e.peer_port}"
            f" (called AE title {e.called_ae_title})",
        )
    ]


@_on(AssociationAccepted)
def _(e: AssociationAccepted, debug: bool) -> list[LogLine]:
    if e.side is Side.SENDER:
        return [LogLine(INF, "Association Accepted")]
    return [LogLine(INF, "Accepting Association")]


@_on(AssociationRejected)
def _(e: AssociationRejected, debug: bool) -> list[LogLine]:
    reason = f": {e.reason}" if e.reason else ""
    if e.side is Side.SENDER:
        return [LogLine(ERR, f"Association Rejected{reason}")]
    return [LogLine(INF, f"Rejecting Association{reason}")]


@_on(AssociationReleased)
def _(e: AssociationReleased, debug: bool) -> list[LogLine]:
    if e.side is Side.SENDER:
        return [LogLine(INF, "Releasing Association")]
    return [LogLine(INF, "Association Released")]


@_on(AssociationAborted)
def _(e: AssociationAborted, debug: bool) -> list[LogLine]:
    if e.reason == "no accepted presentation contexts":
        return [LogLine(ERR, "No accepted presentation contexts")]
    reason = f" ({e.reason})" if e.reason else ""
    return [LogLine(INF, f"Association Aborted{reason}")]


@_on(AssociationFailed)
def _(e: AssociationFailed, debug: bool) -> list[LogLine]:
    if e.connected:
        return [
            LogLine(
                ERR, f"Association request to {e.peer_address}:{e.peer_port} failed: {e.reason}"
            )
        ]
    return [
        LogLine(
            ERR,
            f"Association request failed: unable to connect to {e.peer_address}:{e.peer_port}"
            f" ({e.reason})",
        )
    ]


@_on(PduDump)
def _(e: PduDump, debug: bool) -> list[LogLine]:
    return [LogLine(DBG, line) for line in e.lines]


@_on(DimseMessage)
def _(e: DimseMessage, debug: bool) -> list[LogLine]:
    lines: list[LogLine] = []
    kind = e.message_type
    if kind == "C-STORE RQ":
        if e.incoming:
            lines.append(LogLine(INF, "Received Store Request"))
        else:
            prefix = short_sop_class(e.sop_class or "")
            tag = f", ({prefix})" if prefix in ("CT", "MR") else ""
            lines.append(LogLine(INF, f"Sending Store Request: MsgID {e.message_id}{tag}"))
    elif kind == "C-STORE RSP" and e.incoming and e.status is not None:
        lines.append(
            LogLine(INF, f"Received Store Response (Status: {status_text(e.sop_class, e.status)})")
        )
    elif kind == "C-ECHO RQ":
        if e.incoming:
            lines.append(LogLine(INF, f"Received Echo Request (MsgID {e.message_id})"))
        else:
            lines.append(LogLine(INF, f"Sending Echo Request: MsgID {e.message_id}"))
    elif kind == "C-ECHO RSP" and e.incoming and e.status is not None:
        lines.append(
            LogLine(INF, f"Received Echo Response (Status: {status_text(None, e.status)})")
        )
    if debug:
        lines.extend(LogLine(DBG, text) for text in dimse_dump(e))
    return lines


def dimse_dump(e: DimseMessage) -> list[str]:
    """The DIMSE message block of the manuals' debug output."""
    direction = "INCOMING" if e.incoming else "OUTGOING"
    rows = [f"{f' {direction} DIMSE MESSAGE ':=^76}", f"{'Message Type':<30}: {e.message_type}"]
    if e.incoming and e.context_id is not None:
        rows.append(f"{'Presentation Context ID':<30}: {e.context_id}")
    if e.message_type.endswith("RQ"):
        rows.append(f"{'Message ID':<30}: {e.message_id}")
    else:
        rows.append(f"{'Message ID Being Responded To':<30}: {e.responded_to}")
    if e.sop_class:
        rows.append(f"{'Affected SOP Class UID':<30}: {sop_class_name(e.sop_class)}")
    if e.sop_instance:
        rows.append(f"{'Affected SOP Instance UID':<30}: {e.sop_instance}")
    if e.message_type.endswith("RQ"):
        rows.append(f"{'Data Set':<30}: {'Present' if e.has_dataset else 'None'}")
        if e.priority is not None:
            rows.append(f"{'Priority':<30}: {_PRIORITY.get(e.priority, e.priority)}")
    elif e.status is not None:
        rows.append(f"{'Status':<30}: {status_text(e.sop_class, e.status)}")
    rows.append(f"{' END DIMSE MESSAGE ':=^76}")
    return rows


@_on(ObjectReceived)
def _(e: ObjectReceived, debug: bool) -> list[LogLine]:
    if e.path:
        return [LogLine(INF, f"Storing DICOM file: {e.filename}")]
    if e.status == 0x0000:
        return [
            LogLine(DBG, f"Received {e.sop_instance} ({human_size(e.size)}); not stored (--ignore)")
        ]
    name = e.filename or e.sop_instance
    return [
        LogLine(
            ERR,
            f"Could not store {name}: {e.error} (Status: {status_text(e.sop_class, e.status)})",
        )
    ]


@_on(ObjectLost)
def _(e: ObjectLost, debug: bool) -> list[LogLine]:
    return [
        LogLine(
            ERR,
            f"Lost {e.sop_instance or 'an object'} after {e.bytes_received} bytes: {e.reason};"
            " nothing was stored",
        )
    ]


@_on(FileSkipped)
def _(e: FileSkipped, debug: bool) -> list[LogLine]:
    return [LogLine(ERR, f"{e.reason}: {e.path}")]


@_on(SendStarted)
def _(e: SendStarted, debug: bool) -> list[LogLine]:
    return [
        LogLine(
            INF,
            f"Sending {e.total_files} file(s), {human_size(e.total_bytes)}, to"
            f" {e.called_ae_title} at {e.peer_address}:{e.peer_port}",
        )
    ]


@_on(FileSending)
def _(e: FileSending, debug: bool) -> list[LogLine]:
    return [LogLine(INF, f"Sending file: {e.path}")]


@_on(FileSent)
def _(e: FileSent, debug: bool) -> list[LogLine]:
    if e.status is None:
        return [LogLine(ERR, f"Store failed: {e.path}: {e.error or 'no response from the peer'}")]
    category = status_category(e.status)
    status = f"(Status: {status_text(e.sop_class, e.status)})"
    if category == "Success":
        return []
    if category == "Warning":
        return [LogLine(WRN, f"Stored with a warning: {e.path} {status}")]
    return [LogLine(ERR, f"Store failed: {e.path} {status}")]


def send_summary(e: SendFinished, compact: bool = False) -> str:
    """The summary line; ``compact`` (a narrow pane) leaves out the counts that are 0."""
    rate = e.bytes_sent / e.seconds / 1_000_000 if e.seconds > 0 else 0.0
    counts = [
        (e.warned, f"{e.warned} with warnings"),
        (e.failed, f"{e.failed} failed"),
        (e.skipped, f"{e.skipped} skipped"),
    ]
    parts = [f"{e.sent} sent"] + [text for count, text in counts if count or not compact]
    if e.not_attempted:
        parts.append(f"{e.not_attempted} not attempted")
    text = ", ".join(parts) + f"; {human_size(e.bytes_sent)} in {e.seconds:.2f} s ({rate:.1f} MB/s)"
    if e.cancelled:
        text = "Cancelled: " + text
    return text


@_on(SendFinished)
def _(e: SendFinished, debug: bool) -> list[LogLine]:
    level = INF if e.failed == 0 and not e.association_error and not e.cancelled else WRN
    return [LogLine(level, send_summary(e))]


@_on(EchoResult)
def _(e: EchoResult, debug: bool) -> list[LogLine]:
    if e.status is None:
        level = ERR if e.associated else INF
        return [LogLine(level, f"Echo to {e.peer_address}:{e.peer_port} failed: {e.error}")]
    level = INF if e.status == 0 else ERR
    return [
        LogLine(
            level,
            f"Echo to {e.peer_address}:{e.peer_port}: {status_text(None, e.status)}"
            f" in {e.seconds * 1000:.0f} ms",
        )
    ]


@_on(LogMessage)
def _(e: LogMessage, debug: bool) -> list[LogLine]:
    return [LogLine(e.level, e.text)]


# --- query/retrieve, in pynetdicom's findscu/movescu/getscu words --------------------------

_WORD = {"C-FIND": "Find", "C-MOVE": "Move", "C-GET": "Get"}


@_on(QueryRequested)
def _(e: QueryRequested, debug: bool) -> list[LogLine]:
    word = _WORD.get(e.operation, e.operation)
    lines = [LogLine(INF, f"Sending {word} Request: MsgID {e.message_id}")]
    if e.destination:
        lines.append(LogLine(INF, f"Move destination: {e.destination}"))
    lines += [LogLine(INF, ""), LogLine(INF, "# Request Identifier")]
    lines += [LogLine(INF, line) for line in e.identifier]
    lines.append(LogLine(INF, ""))
    return lines


def _sub_operations(e: QueryResponse) -> str:
    def count(value: int | None) -> str:
        return "0" if value is None else str(value)

    return (
        f"Sub-Operations Remaining: {count(e.remaining)}, Completed: {count(e.completed)},"
        f" Failed: {count(e.failed)}, Warning: {count(e.warning)}"
    )


@_on(QueryResponse)
def _(e: QueryResponse, debug: bool) -> list[LogLine]:
    word = _WORD.get(e.operation, e.operation)
    if e.status is None:
        return [LogLine(ERR, f"{word} SCP Result: none ({e.description})")]
    words = f"{e.category} - {e.description}" if e.description else e.category
    lines: list[LogLine] = []
    if e.category == "Pending":
        lines.append(LogLine(INF, f"{word} SCP Response: {e.number} - 0x{e.status:04X} (Pending)"))
        if e.identifier:
            lines += [LogLine(INF, ""), LogLine(INF, "# Response Identifier")]
            lines += [LogLine(INF, line) for line in e.identifier]
            lines.append(LogLine(INF, ""))
    else:
        level = {"Success": INF, "Warning": WRN, "Cancel": WRN}.get(e.category, ERR)
        lines.append(LogLine(level, f"{word} SCP Result: 0x{e.status:04X} ({words})"))
    if e.operation != "C-FIND":
        lines.append(LogLine(INF, _sub_operations(e)))
    return lines


@_on(QueryFinished)
def _(e: QueryFinished, debug: bool) -> list[LogLine]:
    text = f"{e.matches} match{'es' if e.matches != 1 else ''} in {e.seconds:.2f} s"
    if e.cancelled:
        return [LogLine(WRN, f"Query cancelled: {text}")]
    if e.error:
        return [LogLine(ERR, f"Query failed: {e.error}")]
    return [LogLine(INF, f"Query done: {text}")]


def retrieve_summary(e: RetrieveFinished) -> str:
    word = "Move" if e.operation == "C-MOVE" else "Get"
    parts = [f"{e.completed} completed", f"{e.failed} failed", f"{e.warning} with warnings"]
    if e.remaining:
        parts.append(f"{e.remaining} not attempted")
    where = f" to {e.destination}" if e.destination else ""
    text = f"{word}{where}: " + ", ".join(parts) + f" in {e.seconds:.2f} s"
    if e.operation == "C-GET":
        text += f"; {e.received} object{'s' if e.received != 1 else ''} stored"
    if e.cancelled:
        text = "Cancelled: " + text
    return text


@_on(RetrieveFinished)
def _(e: RetrieveFinished, debug: bool) -> list[LogLine]:
    if e.error and e.status is None:
        word = "Move" if e.operation == "C-MOVE" else "Get"
        return [LogLine(ERR, f"{word} failed: {e.error}")]
    lines = [LogLine(INF if e.ok else WRN if e.cancelled else ERR, retrieve_summary(e))]
    if e.failed_instances:
        lines.append(LogLine(ERR, "Failed SOP Instance UID List:"))
        lines += [LogLine(ERR, f"  {uid}") for uid in e.failed_instances]
    if e.status is not None:
        hint = explanation(Operation(e.operation), e.status, e.destination)
        if hint:
            lines.append(LogLine(ERR, hint))
    return lines
