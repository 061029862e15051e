"""One received data set, from its partial file to its place in the output
folder, with the status to answer."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomtui.core.dicom.header_summary import summarize
from dicomtui.core.dicom.uids import DEFLATED_LITTLE
from dicomtui.core.net.observer import association_id
from dicomtui.core.scp.deflated import inflate_received
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scp.storage import (
    PARTIAL_PREFIX,
    PARTIAL_SUFFIX,
    DuplicateRefused,
    UnsafePath,
    folder_inside,
    layout_folders,
    object_filename,
    place_received_file,
)
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    ObjectReceived,
    Side,
)

STATUS_SUCCESS = 0x0000

STATUS_OUT_OF_RESOURCES = 0xA700

STATUS_DUPLICATE = 0x0111

#: "Cannot understand": the range Cxxx of the Storage service (PS3.4 B.2.3) and the
#: one value of the Non-Patient Object Storage service (PS3.4 GG.4.2); DCMTK's
#: STATUS_STORE_Error_CannotUnderstand. pynetdicom's storescp says 0xC210 for a data
#: set it cannot decode, a value of its own that the Non-Patient classes lack.
STATUS_CANNOT_UNDERSTAND = 0xC000


def remove_stale_partials(directory: Path, older_than: float = 24 * 3600) -> None:
    """Partial files an earlier run left behind (a crash, a kill -9)."""
    cutoff = time.time() - older_than
    with contextlib.suppress(OSError):
        for path in directory.glob(f"{PARTIAL_PREFIX}*{PARTIAL_SUFFIX}"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


@dataclass(frozen=True, slots=True)
class ReceivedObject:
    """A completely received C-STORE data set, in its partial file."""

    assoc_id: int
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    #: The partial file: File Meta Information, then the data set as received.
    partial: Path
    #: Why part of it could not be written (a full disk); empty if it all was.
    failure: str = ""


def store_received(
    event: Any,
    settings: ReceiverSettings,
    output_directory: Path,
    bus: EventBus,
    side: Side = Side.RECEIVER,
) -> int:
    """Store the data set of pynetdicom's EVT_C_STORE ``event`` (on disk already, at
    ``event.dataset_path``): :func:`store_object` for the receiver's handler, and
    C-GET's for the objects it brings back."""
    req = event.request
    received = ReceivedObject(
        assoc_id=association_id(event.assoc),
        sop_class=str(req.AffectedSOPClassUID),
        sop_instance=str(req.AffectedSOPInstanceUID),
        transfer_syntax=str(event.context.transfer_syntax),
        partial=Path(event.dataset_path),
        failure=getattr(getattr(req, "_dataset_file", None), "failure", ""),
    )
    return store_object(received, settings, output_directory, bus, side)


def store_object(
    received: ReceivedObject,
    settings: ReceiverSettings,
    output_directory: Path,
    bus: EventBus,
    side: Side = Side.RECEIVER,
) -> int:
    """Store one received data set as ``settings`` say, into the resolved
    ``output_directory``; publishes :class:`ObjectReceived` and returns the status."""
    s = settings
    sop_class = received.sop_class
    sop_instance = received.sop_instance
    transfer_syntax = received.transfer_syntax
    partial = received.partial
    try:
        size = partial.stat().st_size
    except OSError:
        size = 0
    assoc_id = received.assoc_id

    summary: dict[str, str] = {}

    def publish(status: int, filename: str = "", path: Path | None = None, error: str = "") -> int:
        bus.publish(
            ObjectReceived(
                side=side,
                assoc_id=assoc_id,
                sop_class=sop_class,
                sop_instance=sop_instance,
                transfer_syntax=transfer_syntax,
                size=size,
                filename=filename,
                path=str(path) if path is not None else None,
                status=status,
                patient_name=summary.get("PatientName", ""),
                patient_id=summary.get("PatientID", ""),
                modality=summary.get("Modality", ""),
                study_uid=summary.get("StudyInstanceUID", ""),
                series_uid=summary.get("SeriesInstanceUID", ""),
                error=error,
            )
        )
        return status

    name = object_filename(sop_class, sop_instance)
    filename = name + s.filename_extension
    failure = received.failure
    if failure:  # the disk refused part of it: nothing is kept
        partial.unlink(missing_ok=True)
        return publish(STATUS_OUT_OF_RESOURCES, filename, error=failure)
    if s.ignore:
        return publish(STATUS_SUCCESS)
    head = None
    if transfer_syntax == DEFLATED_LITTLE:
        inflated = inflate_received(partial, s.max_object_size)
        if inflated.error:  # a file no reader could open: nothing is kept
            partial.unlink(missing_ok=True)
            status = STATUS_CANNOT_UNDERSTAND if inflated.peer_at_fault else STATUS_OUT_OF_RESOURCES
            return publish(status, filename, error=inflated.error)
        head = inflated.head

    summary = summarize(partial, transfer_syntax, inflated=head)
    try:
        if not output_directory.is_dir():
            output_directory.mkdir(parents=True, exist_ok=True)
        folders = layout_folders(s.layout, summary)
        folder = folder_inside(output_directory, folders)
        final = place_received_file(partial, folder, name, s.duplicates, s.filename_extension)
    except DuplicateRefused:
        return publish(STATUS_DUPLICATE, filename, error="an object with this UID exists already")
    except UnsafePath as exc:
        partial.unlink(missing_ok=True)
        return publish(STATUS_OUT_OF_RESOURCES, filename, error=str(exc))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        return publish(STATUS_OUT_OF_RESOURCES, filename, error=exc.strerror or str(exc))
    if folders:  # the log names the sub-folders too
        filename = os.path.join(*folders, filename)
    return publish(STATUS_SUCCESS, filename, final)
