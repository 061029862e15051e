"""The Storage SCU: scan files, send them batch by batch, check every status."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pynetdicom import evt

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
from dicomtui.core.net.observer import AssociationObserver, association_id
from dicomtui.core.net.requestor_reactor import exchange, release
from dicomtui.core.net.seam import forward_warnings
from dicomtui.core.net.seam import report as report_seam
from dicomtui.core.net.setup import configure_pynetdicom
from dicomtui.core.scu.association import make_ae, request_association
from dicomtui.core.scu.lanes import Lane, SharedWork, run_lanes, shortfall
from dicomtui.core.scu.planning import (
    Batch,
    decompressed_target,
    decompression_note,
    plan_batches,
    sendable_path,
)
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus, HeldEvents
from dicomtui.core.stream.events import (
    FileSending,
    FileSent,
    FileSkipped,
    Level,
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
        self._want_pdu_dumps = want_pdu_dumps
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
        work = SharedWork(plan_batches(files, s), self._cancel)
        # Once, before any association's thread sends: registering is not thread-safe.
        for batch in work.batches:
            for sop_class, _syntaxes in batch.keys:
                ensure_storage_class(sop_class)
        progress = _Progress(tally, len(files), total_bytes, started)
        lanes = self._lanes(min(s.associations, len(files)))
        if len(lanes) == 1:
            self._drive(lanes[0], work, progress)
        elif lanes:
            run_lanes(lanes, lambda lane: self._drive(lane, work, progress), work)
        association_error = self._association_error(lanes, work)
        note = shortfall(lanes)
        if note:
            self.bus.publish(LogMessage(side=Side.SENDER, level=Level.WARNING, text=note))

        # In the order given, whichever association carried them.
        order = {item.path: number for number, item in enumerate(files)}
        self.failed_paths = sorted(tally.failed_paths, key=lambda path: order.get(path, 0))
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

    def _lanes(self, count: int) -> list[Lane]:
        """One lane publishing straight to the bus; or several, each holding its
        association's events back until the peer accepts it."""
        lanes = []
        for number in range(1, count + 1):
            bus = self.bus if count == 1 else HeldEvents(self.bus)
            observer = AssociationObserver(bus, Side.SENDER, self._want_pdu_dumps)
            lanes.append(Lane(number=number, bus=bus, handlers=observer.handlers()))
        return lanes

    def _association_error(self, lanes: list[Lane], work: SharedWork) -> str:
        """Why the send did not carry every file, if an association is to blame."""
        broke = next((lane.broke for lane in lanes if lane.broke), "")
        if broke:
            return broke
        if work.untaken() == 0:
            return ""
        failed = next((lane for lane in lanes if lane.failure), None)
        if failed is None or (work.stopped and any(lane.established for lane in lanes)):
            return ""
        if isinstance(failed.bus, HeldEvents):  # no association was taken: say why
            failed.bus.let_through()
        return failed.failure

    def _drive(self, lane: Lane, work: SharedWork, progress: _Progress) -> None:
        """One lane: an association per batch that still has files, each sending
        what it takes until the batch is done."""
        for index, batch in enumerate(work.batches):
            if not work.has_left(index):
                continue
            lane.asking()
            assoc, reason = self._associate(batch, lane)
            if not lane.answered(assoc):
                if lane.hung_up_after is None:
                    lane.failure = reason or "the association was not established"
                return
            lane.broke = self._send_files(
                assoc, batch, functools.partial(work.take, index), work, progress
            )
            lane.idle()
            if lane.broke:
                return

    def _associate(self, batch: Batch, lane: Lane) -> tuple[Any, str]:
        ae = make_ae(self.settings)
        ae.requested_contexts = batch.contexts()
        handlers = [*lane.handlers, (evt.EVT_CONN_OPEN, lane.on_conn_open)]
        if self.settings.fast_path:
            handlers += fast_store_handlers()
        return request_association(ae, self.settings, handlers, lane.bus)

    def _send_files(
        self,
        assoc: Any,
        batch: Batch,
        take: Callable[[], DicomFile | None],
        work: SharedWork,
        progress: _Progress,
    ) -> str:
        """Send the files ``take`` hands out over one established association,
        then release it (abort it if cancelled); returns an error if it ended."""
        # In the order of the contexts: pynetdicom picks the first it can convert to.
        accepted = dict.fromkeys(
            (str(cx.abstract_syntax), str(cx.transfer_syntax[0])) for cx in assoc.accepted_contexts
        )
        assoc_id = association_id(assoc)
        # Its read-ahead reads the next file in the batch's order while the peer
        # answers. Over several associations the next file is usually another's
        # (the files were read twice): they overlap each other's waits instead.
        order = batch.files if self.settings.associations == 1 else ()
        fast = FastStore.start(assoc, order) if self.settings.fast_path else None
        error = ""
        message_id = 0
        try:
            while (item := take()) is not None:
                message_id += 1
                status, problem, broken = self._send_one(assoc, item, message_id, accepted, fast)
                progress.count(self.bus, item, status, problem, assoc_id)
                if broken or not assoc.is_established:
                    error = "the association ended during the transfer"
                    break
                if self.settings.stop_on_failure and status_category(status) == "Failure":
                    work.stop()
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


class _Progress:
    """What the associations of a send report, counted and published one file at a time."""

    def __init__(self, tally: Tally, total_files: int, total_bytes: int, started: float) -> None:
        self.tally = tally
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.started = started
        self._lock = threading.Lock()

    def count(
        self, bus: EventBus, item: DicomFile, status: int | None, problem: str, assoc_id: int
    ) -> None:
        # Under one lock: each file once, and progress that only goes forward.
        with self._lock:
            self.tally.count(item.path, item.size, status)
            bus.publish(
                FileSent(
                    side=Side.SENDER,
                    assoc_id=assoc_id,
                    path=str(item.path),
                    sop_class=item.sop_class,
                    sop_instance=item.sop_instance,
                    transfer_syntax=item.transfer_syntax,
                    size=item.size,
                    status=status,
                    error=problem,
                )
            )
            bus.publish(
                SendProgress(
                    side=Side.SENDER,
                    files_done=self.tally.done,
                    files_total=self.total_files,
                    bytes_done=self.tally.bytes_sent,
                    bytes_total=self.total_bytes,
                    elapsed=time.monotonic() - self.started,
                )
            )
