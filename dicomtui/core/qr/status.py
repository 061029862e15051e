"""What a C-FIND, C-MOVE or C-GET response status means, in pynetdicom's words."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pynetdicom.status import (
    QR_FIND_SERVICE_CLASS_STATUS,
    QR_GET_SERVICE_CLASS_STATUS,
    QR_MOVE_SERVICE_CLASS_STATUS,
)

from dicomtui.core.qr.models import Operation

MOVE_DESTINATION_UNKNOWN = 0xA801
CANCELLED = 0xFE00
PENDING = (0xFF00, 0xFF01)

_TABLES = {
    Operation.FIND: QR_FIND_SERVICE_CLASS_STATUS,
    Operation.MOVE: QR_MOVE_SERVICE_CLASS_STATUS,
    Operation.GET: QR_GET_SERVICE_CLASS_STATUS,
}


def category(status: int) -> str:
    """Pending, Success, Warning, Failure or Cancel (as pynetdicom's code_to_category)."""
    if status in PENDING:
        return "Pending"
    if status == 0x0000:
        return "Success"
    if status == CANCELLED:
        return "Cancel"
    if status in (0x0001, 0x0107, 0x0116) or 0xB000 <= status <= 0xBFFF:
        return "Warning"
    return "Failure"


def description(operation: Operation, status: int, status_set: Dataset | None = None) -> str:
    """What the status means ("Move Destination Unknown"), with the peer's Error
    Comment and Offending Element when it sent them."""
    entry = _TABLES[operation].get(status)
    text = entry[1] if entry else ""
    if not text and 0xC000 <= status <= 0xCFFF:
        text = "Unable to Process"
    if status == CANCELLED:
        text = (
            "Sub-operations terminated due to Cancel"
            if operation is not Operation.FIND
            else ("Matching terminated due to Cancel")
        )
    extras = []
    if status_set is not None:
        comment = status_set.get("ErrorComment")
        if comment:
            extras.append(str(comment).strip())
        offending = status_set.get("OffendingElement")
        if offending:
            tags = offending if isinstance(offending, list | tuple) else [offending]
            extras.append("offending element " + ", ".join(f"{int(t):08X}" for t in tags))
    if extras:
        text = f"{text}: {'; '.join(extras)}" if text else "; ".join(extras)
    return text


def explanation(operation: Operation, status: int, destination: str = "") -> str:
    """A sentence for the statuses people most often meet without knowing why."""
    if status == MOVE_DESTINATION_UNKNOWN:
        return (
            f"The PACS does not know the move destination {destination or '(none given)'}:"
            " C-MOVE sends the objects over a new association to an AE title the PACS"
            " must have configured with its host and port. Add our AE title, host and"
            " port to the PACS's list of DICOM nodes (Orthanc: DicomModalities), or"
            " retrieve with C-GET instead."
        )
    if status in (0xA701, 0xA702) and operation is not Operation.FIND:
        return (
            "The PACS is out of resources for the sub-operations; with C-GET this is also"
            " what a PACS answers when we accepted no storage context for the objects' SOP class."
        )
    if operation is Operation.MOVE and 0xC000 <= status <= 0xCFFF:
        return (
            f"Some PACS (Orthanc among them) answer this rather than 0xA801 when they do"
            f" not know the move destination {destination or '(none given)'}: check that the"
            " PACS has our AE title, host and port in its list of DICOM nodes; otherwise"
            " check the identifier's Query/Retrieve Level and unique keys."
        )
    if status == 0xA900 or 0xC000 <= status <= 0xCFFF:
        return (
            "The PACS could not use the identifier: check Query/Retrieve Level and the"
            " unique keys of the information model (-P patient root, -S study root)."
        )
    return ""


def status_words(operation: Operation, status: int, status_set: Dataset | None = None) -> str:
    """``0xA801 (Failure - Move Destination Unknown)``."""
    words = description(operation, status, status_set)
    kind = category(status)
    return f"0x{status:04X} ({kind} - {words})" if words else f"0x{status:04X} ({kind})"
