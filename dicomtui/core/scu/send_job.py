"""The Storage SCU: scan files, send them batch by batch, check every status."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydicom import dcmread

from dicomtui.core.dicom.files import DicomFile, NotSendable, collect_paths, inspect_file
from dicomtui.core.dicom.tables import (
    UNCOMPRESSED_TRANSFER_SYNTAXES,
    ensure_storage_class,
    is_uncompressed,
    sop_class_name,
    status_category,
    transfer_syntax_name,
)
from dicomtui.core.dicom.transcode import TranscodeError, decompress_file, is_decompressible
from dicomtui.core.net.fast_send import FastStore, fast_store_handlers
from dicomtui.core.net.observer import AssociationObserver
from dicomtui.core.net.requestor_reactor import exchange, release
from dicomtui.core.net.seam import forward_warnings
from dicomtui.core.net.seam import report as report_seam
from dicomtui.core.net.setup import configure_pynetdicom
from dicomtui.core.scu.association import make_ae, request_association
from dicomtui.core.scu.planning import (
    Batch,
    decompressed_target,
    decompression_note,
    plan_batches,
    sendable_path,
)
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    FileSending,
    FileSent,
    FileSkipped,
    LogMessage,
    SendFinished,
    SendProgress,
    SendStarted,
    Side,
)
from dicomtui.core.stream.tracking import Tally


class SendJob:
    """One send: call :meth:`run` on a worker thread; :meth:`cancel` from anywhere."""

    def __init__(
        self,
        settings: SenderSettings,
        paths: Sequence[str | Path],
        bus: EventBus,
        want_pdu_dumps: Callable[[], bool] | None = None,
    ) -> None:
        configure_pynetdicom()
        report_seam(bus, Side.SENDER)
        forward_warnings(bus, Side.SENDER)
        self.settings = settings
        self.paths = list(paths)
        self.bus = bus
        self._observer = AssociationObserver(bus, Side.SENDER, want_pdu_dumps)
        self._cancel = threading.Event()
        self.result: SendFinished | None = None
        self.failed_paths: list[Path] = []
        #: Paths given that do not exist (a mistake the exit status tells, as DCMTK's does).
        self.missing_paths: list[Path] = []

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _publish_skip(self, path: Path, reason: str) -> None:
        self.bus.publish(FileSkipped(side=Side.SENDER, path=str(path), reason=reason))

    def scan(self) -> tuple[list[DicomFile], int]:
        """The sendable files, and how many paths were skipped (each published with its reason)."""
        files, missing = collect_paths(self.paths, self.settings.recurse)
        self.missing_paths = missing
        for path in missing:
            self._publish_skip(path, "Cannot access path")
        sendable: list[DicomFile] = []
        skipped = len(missing)
        for path in files:
            if self._cancel.is_set():
                break
            found = inspect_file(path)
            if isinstance(found, NotSendable):
                self._publish_skip(found.path, found.reason)
                skipped += 1
            else:
                sendable.append(found)
        return sendable, skipped

    def run(self) -> SendFinished:
        started = time.monotonic()
        s = self.settings
        files, skipped = self.scan()
        tally = Tally(skipped=skipped)
        total_bytes = sum(f.size for f in files)
        self.bus.publish(
            SendStarted(
                side=Side.SENDER,
                peer_address=s.host,
                peer_port=s.port,
                called_ae_title=s.called_ae_title,
                total_files=len(files),
                total_bytes=total_bytes,
            )
        )
        association_error = ""
        for batch in plan_batches(files, s):
            if self._cancel.is_set():
                break
            association_error = self._send_batch(batch, tally, len(files), total_bytes, started)
            if association_error or (s.stop_on_failure and tally.failed):
                break

        self.failed_paths = tally.failed_paths
        result = SendFinished(
            side=Side.SENDER,
            sent=tally.sent,
            warned=tally.warned,
            failed=tally.failed,
            skipped=tally.skipped,
            not_attempted=len(files) - tally.done,
            bytes_sent=tally.bytes_sent,
            seconds=time.monotonic() - started,
            cancelled=self._cancel.is_set(),
            association_error=association_error,
        )
        self.result = result
        self.bus.publish(result)
        return result

    def _send_batch(
        self, batch: Batch, tally: Tally, total_files: int, total_bytes: int, started: float
    ) -> str:
        """Send one batch on its own association; returns an error if the association failed."""
        s = self.settings
        ae = make_ae(s)
        ae.requested_contexts = batch.contexts()
        handlers = self._observer.handlers()
        if s.fast_path:
            handlers += fast_store_handlers()
        assoc, reason = request_association(ae, s, handlers, self.bus)
        if reason:
            return reason
        fast = FastStore.start(assoc, batch.files) if s.fast_path else None

        for sop_class, _syntaxes in batch.keys:
            ensure_storage_class(sop_class)
        # In the order of the contexts: pynetdicom picks the first it can convert to.
        accepted = dict.fromkeys(
            (str(cx.abstract_syntax), str(cx.transfer_syntax[0])) for cx in assoc.accepted_contexts
        )
        error = ""
        try:
            for message_id, item in enumerate(batch.files, start=1):
                if self._cancel.is_set():
                    break
                status, problem, broken = self._send_one(assoc, item, message_id, accepted, fast)
                tally.count(item.path, item.size, status)
                self.bus.publish(
                    FileSent(
                        side=Side.SENDER,
                        path=str(item.path),
                        sop_class=item.sop_class,
                        sop_instance=item.sop_instance,
                        transfer_syntax=item.transfer_syntax,
                        size=item.size,
                        status=status,
                        error=problem,
                    )
                )
                self.bus.publish(
                    SendProgress(
                        side=Side.SENDER,
                        files_done=tally.done,
                        files_total=total_files,
                        bytes_done=tally.bytes_sent,
                        bytes_total=total_bytes,
                        elapsed=time.monotonic() - started,
                    )
                )
                if broken or not assoc.is_established:
                    error = "the association ended during the transfer"
                    break
                if s.stop_on_failure and status_category(status) == "Failure":
                    break
        finally:
            if assoc.is_established:
                if self._cancel.is_set():
                    assoc.abort()
                else:
                    release(assoc)
        return error

    def _send_one(
        self,
        assoc: Any,
        item: DicomFile,
        message_id: int,
        accepted: dict[tuple[str, str], None],
        fast: FastStore | None = None,
    ) -> tuple[int | None, str, bool]:
        """Send one file: the response status (None if there was none), a problem,
        and whether the association is unusable now (no response came)."""
        self.bus.publish(
            FileSending(
                side=Side.SENDER,
                path=str(item.path),
                message_id=message_id,
                sop_class=item.sop_class,
            )
        )
        target = None
        if self.settings.transcode and is_decompressible(item.transfer_syntax):
            target = decompressed_target(item.sop_class, accepted)
        try:
            if (item.sop_class, item.transfer_syntax) in accepted:
                # The bytes on disk go as they are: on our own path if it can take them,
                sent = fast.send(item, message_id) if fast is not None else None
                if sent is not None:
                    return sent
                # else pynetdicom's: no decode, read in PDU-sized pieces.
                with sendable_path(item) as path, exchange(assoc):
                    response = assoc.send_c_store(path, msg_id=message_id)
            elif is_uncompressed(item.transfer_syntax) and any(
                (item.sop_class, ts) in accepted for ts in UNCOMPRESSED_TRANSFER_SYNTAXES
            ):
                # Another uncompressed syntax was accepted: pynetdicom re-encodes.
                dataset = dcmread(item.path)
                with exchange(assoc):
                    response = assoc.send_c_store(dataset, msg_id=message_id)
            elif target is not None:
                # Compressed, and the peer took only uncompressed syntaxes: decode.
                try:
                    decoded = decompress_file(item.path)
                except TranscodeError as exc:
                    return None, str(exc), False
                level, text = decompression_note(item, target, decoded.loss, self.settings)
                self.bus.publish(LogMessage(side=Side.SENDER, level=level, text=text))
                with exchange(assoc):
                    response = assoc.send_c_store(decoded.dataset, msg_id=message_id)
            else:
                return (
                    None,
                    (
                        f"no accepted presentation context for {sop_class_name(item.sop_class)}"
                        f" in {transfer_syntax_name(item.transfer_syntax)}"
                    ),
                    False,
                )
        except Exception as exc:  # pynetdicom/pydicom raise many kinds for a bad file or link
            return None, str(exc) or type(exc).__name__, not assoc.is_established
        status = response.get("Status") if response is not None else None
        if status is None:
            return None, "no response from the peer (DIMSE timeout or association aborted)", True
        return int(status), "", False
