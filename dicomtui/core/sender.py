"""The Storage SCU: scan files, propose what they need, send, check every status."""

from __future__ import annotations

import errno
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pynetdicom import AE, build_context, evt
from pynetdicom.presentation import PresentationContext

from dicomtui.core.bus import EventBus
from dicomtui.core.dicom_files import DicomFile, NotSendable, collect_paths, inspect_file
from dicomtui.core.dicom_tables import (
    DEFLATED_LITTLE,
    EXPLICIT_BIG,
    EXPLICIT_LITTLE,
    IMPLICIT_LITTLE,
    UNCOMPRESSED_TRANSFER_SYNTAXES,
    ensure_storage_class,
    is_uncompressed,
    sop_class_name,
    status_category,
    transfer_syntax_name,
)
from dicomtui.core.events import (
    AssociationFailed,
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
from dicomtui.core.observer import AssociationObserver, RequestWatch, rejection, rejection_text
from dicomtui.core.pynetdicom_seam import check as check_seam
from dicomtui.core.pynetdicom_seam import forward_warnings
from dicomtui.core.pynetdicom_seam import report as report_seam
from dicomtui.core.pynetdicom_setup import configure_pynetdicom, pace_outgoing
from dicomtui.core.requestor_reactor import exchange, own_responses, owns_responses, release
from dicomtui.core.tls import TlsFileError, client_context
from dicomtui.core.tracking import Tally
from dicomtui.core.transcode import Loss, TranscodeError, decompress_file, is_decompressible

DEFAULT_MAX_PDU = 16382
#: DICOM allows at most 128 presentation contexts in one association (PS3.8 9.3.2.2).
MAX_CONTEXTS_PER_ASSOCIATION = 128


class RequestSyntax(StrEnum):
    """storescu's transfer syntax options."""

    DEFAULT = "default"
    LITTLE = "little"  # -xe
    BIG = "big"  # -xb
    IMPLICIT = "implicit"  # -xi


def requested_syntaxes(choice: RequestSyntax) -> tuple[str, ...]:
    if choice is RequestSyntax.LITTLE:
        return (EXPLICIT_LITTLE,)
    if choice is RequestSyntax.BIG:
        return (EXPLICIT_BIG,)
    if choice is RequestSyntax.IMPLICIT:
        return (IMPLICIT_LITTLE,)
    return UNCOMPRESSED_TRANSFER_SYNTAXES


@dataclass(frozen=True, slots=True)
class SenderSettings:
    host: str = "127.0.0.1"
    port: int = 11112
    called_ae_title: str = "ANY-SCP"
    calling_ae_title: str = "STORESCU"
    acse_timeout: float = 30.0
    dimse_timeout: float = 30.0
    network_timeout: float = 30.0
    max_pdu: int = DEFAULT_MAX_PDU
    request_syntax: RequestSyntax = RequestSyntax.DEFAULT
    #: storescu's -cx: propose exactly each file's SOP class and transfer syntax.
    required_contexts: bool = False
    #: Decompress a file (losslessly, to explicit VR little endian) when the peer
    #: accepted none of its own syntaxes but an uncompressed one for its SOP class.
    transcode: bool = True
    recurse: bool = False
    stop_on_failure: bool = False
    bind_address: str = ""
    #: TLS: verify the peer against ``tls_ca`` (or the system's CAs); present
    #: ``tls_certificate`` and ``tls_key`` if the peer asks for a client certificate.
    tls: bool = False
    tls_ca: Path | None = None
    tls_certificate: Path | None = None
    tls_key: Path | None = None


def client_tls_context(settings: SenderSettings) -> ssl.SSLContext | None:
    """None without TLS; raises :class:`TlsFileError` naming a file that cannot be used."""
    if not settings.tls:
        return None
    return client_context(settings.tls_ca, settings.tls_certificate, settings.tls_key)


ContextKey = tuple[str, tuple[str, ...]]

#: The syntaxes a decompressed (explicit VR little endian) data set can go in:
#: pynetdicom converts between these, not to big endian.
LITTLE_ENDIAN_UNCOMPRESSED = (EXPLICIT_LITTLE, IMPLICIT_LITTLE, DEFLATED_LITTLE)
_REQUEST_FLAGS = {
    RequestSyntax.LITTLE: "-xe",
    RequestSyntax.BIG: "-xb",
    RequestSyntax.IMPLICIT: "-xi",
}


def context_keys(item: DicomFile, settings: SenderSettings) -> list[ContextKey]:
    """The presentation contexts one file needs.

    With ``-cx`` exactly its own SOP class and transfer syntax. With ``-xe``,
    ``-xb`` or ``-xi`` that one syntax. By default, a context with the file's own
    syntax (so its bytes go as they are, compressed or not) and one with the four
    uncompressed syntaxes for the peer to choose from when it declines the first.
    """
    own = (item.sop_class, (item.transfer_syntax,))
    if settings.required_contexts:
        return [own]
    syntaxes = requested_syntaxes(settings.request_syntax)
    if settings.request_syntax is not RequestSyntax.DEFAULT:
        return [(item.sop_class, syntaxes)]
    return [own, (item.sop_class, syntaxes)]


def decompressed_target(sop_class: str, accepted: Iterable[tuple[str, str]]) -> str | None:
    """The syntax a decompressed file of ``sop_class`` would go in, or None if the
    peer accepted no little endian uncompressed syntax for it.

    Explicit VR little endian when accepted (the data set is sent as decoded),
    else the first one accepted, as pynetdicom picks it when it re-encodes.
    """
    syntaxes = [ts for sop, ts in accepted if sop == sop_class and ts in LITTLE_ENDIAN_UNCOMPRESSED]
    if EXPLICIT_LITTLE in syntaxes:
        return EXPLICIT_LITTLE
    return syntaxes[0] if syntaxes else None


def decompression_note(
    item: DicomFile, target: str, loss: Loss, settings: SenderSettings
) -> tuple[Level, str]:
    """The log line that says a file is decompressed, why, and what its source lost."""
    source = transfer_syntax_name(item.transfer_syntax)
    if settings.request_syntax is RequestSyntax.DEFAULT:
        why = f"the peer does not accept that syntax for {sop_class_name(item.sop_class)}"
    else:
        flag = _REQUEST_FLAGS[settings.request_syntax]
        why = f"{flag} proposes {transfer_syntax_name(target)} only"
    text = f"Decompressing {item.path} from {source} to {transfer_syntax_name(target)}: {why}"
    if loss is Loss.NONE:
        return Level.INFO, text
    verb = "was" if loss is Loss.LOSSY else "may have been"
    text += f"; the pixel data {verb} lossy-compressed at source (nothing further is lost)"
    return Level.WARNING, text


@dataclass
class Batch:
    """Files that share one association, and the contexts it proposes."""

    keys: dict[ContextKey, None] = field(default_factory=dict)
    files: list[DicomFile] = field(default_factory=list)

    def contexts(self) -> list[PresentationContext]:
        return [build_context(sop_class, list(syntaxes)) for sop_class, syntaxes in self.keys]


def plan_batches(files: Iterable[DicomFile], settings: SenderSettings) -> list[Batch]:
    """Group files, in order, so that no association needs more than 128 contexts."""
    batches: list[Batch] = []
    current = Batch()
    for item in files:
        new = [k for k in context_keys(item, settings) if k not in current.keys]
        if current.files and len(current.keys) + len(new) > MAX_CONTEXTS_PER_ASSOCIATION:
            batches.append(current)
            current = Batch()
            new = context_keys(item, settings)
        current.keys.update(dict.fromkeys(new))
        current.files.append(item)
    if current.files:
        batches.append(current)
    return batches


@contextmanager
def sendable_path(item: DicomFile) -> Iterator[Path]:
    """The file to send as it is, or a copy padded to an even length.

    A deflated data set may have an odd length; the standard then appends one
    NUL byte (PS3.5 A.5), and peers such as DCMTK refuse odd PDV fragments.
    """
    if item.dataset_length % 2 == 0 or item.transfer_syntax != DEFLATED_LITTLE:
        yield item.path
        return
    with tempfile.TemporaryDirectory(prefix="dicomtui-send-") as folder:
        padded = Path(folder, item.path.name)
        shutil.copyfile(item.path, padded)
        with padded.open("ab") as fp:
            fp.write(b"\x00")
        yield padded


def diagnose_connection(
    host: str, port: int, timeout: float, tls: ssl.SSLContext | None = None
) -> str:
    """Why an association could not be made, in one phrase."""
    try:
        with socket.create_connection((host, port), timeout=min(timeout, 5.0)) as sock:
            if tls is not None:
                try:
                    tls.wrap_socket(sock, server_hostname=host).close()
                except ssl.SSLError as exc:
                    return (
                        f"TLS: {exc.reason or exc}".replace("_", " ")
                        .lower()
                        .replace("tls: ", "TLS: ")
                    )
            return "the peer accepted the connection but did not complete the association"
    except socket.gaierror as exc:
        return f"cannot resolve {host!r} ({exc.strerror})"
    except TimeoutError:
        return "no answer (timed out)"
    except OSError as exc:
        return exc.strerror or str(exc)


def make_ae(settings: SenderSettings) -> AE:
    ae = AE(ae_title=settings.calling_ae_title)
    ae.acse_timeout = settings.acse_timeout
    ae.dimse_timeout = settings.dimse_timeout
    ae.network_timeout = settings.network_timeout
    return ae


def bind_for(host: str, bind_address: str) -> str:
    """Where to bind the calling socket: pynetdicom makes it IPv4 unless told
    otherwise, which cannot reach a peer that has only IPv6 addresses (``::1``)."""
    if bind_address:
        return bind_address
    try:
        families = {entry[0] for entry in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return ""  # pynetdicom says why when it resolves the host itself
    return "::" if socket.AF_INET6 in families and socket.AF_INET not in families else ""


def _own_responses(event: Any) -> None:
    own_responses(event.assoc)


def bind_problem(host: str, bind_address: str) -> str:
    """Why the calling socket cannot be bound to ``bind_address`` to reach ``host``
    ("" if it can, or if only connecting will tell)."""
    if not bind_address:
        return ""
    try:
        local = {entry[0] for entry in socket.getaddrinfo(bind_address, 0)}
    except (OSError, UnicodeError) as exc:
        why = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
        return f"cannot resolve the bind address {bind_address!r}{why}"
    try:
        remote = {entry[0] for entry in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return ""  # said when connecting, naming the peer
    if local.isdisjoint(remote):
        return (
            f"cannot reach {host} from the bind address {bind_address}: one is IPv4, the other IPv6"
        )
    return ""


def request_association(
    ae: AE,
    settings: SenderSettings,
    handlers: list[Any],
    bus: EventBus,
    ext_neg: list[Any] | None = None,
) -> tuple[Any, str]:
    """Associate with the peer in ``settings`` (``ext_neg``: extended negotiation
    items such as SCP/SCU role selection).

    Returns the association (None if none was even attempted) and, when it is not
    established, why, in one phrase. A failure to connect at all is published as
    :class:`AssociationFailed`; rejections and aborts were published by the observer.
    """
    s = settings

    def failed(reason: str) -> tuple[None, str]:
        bus.publish(
            AssociationFailed(
                side=Side.SENDER, peer_address=s.host, peer_port=s.port, reason=reason
            )
        )
        return None, reason

    try:
        tls = client_tls_context(s)
    except TlsFileError as exc:
        return failed(str(exc))
    problem = bind_problem(s.host, s.bind_address)
    if problem:
        return failed(problem)
    bind = bind_for(s.host, s.bind_address)
    watch = RequestWatch()
    patched = check_seam().usable
    if patched:  # our reactor: every response reaches the request's sender
        handlers = [*handlers, (evt.EVT_CONN_OPEN, _own_responses)]
    try:
        assoc = ae.associate(
            s.host,
            s.port,
            ae_title=s.called_ae_title,
            max_pdu=s.max_pdu,
            evt_handlers=[*handlers, *watch.handlers()],
            ext_neg=ext_neg,
            bind_address=(bind, 0),
            tls_args=(tls, s.host) if tls is not None else None,
        )
    except socket.gaierror as exc:  # the bind address resolved above: this is the peer
        return failed(f"cannot resolve {s.host!r} ({exc.strerror})")
    except OSError as exc:
        # pynetdicom reports a peer it cannot reach itself: what raises here is
        # making the calling socket, bound to the bind address, before connecting.
        where = bind or "any local address"
        if exc.errno == errno.EADDRNOTAVAIL:
            return failed(f"cannot send from {where}: it is not an address of this machine")
        return failed(f"cannot send from {where}: {exc.strerror or exc}")
    except (ValueError, RuntimeError) as exc:
        return failed(str(exc))
    if assoc.is_established and patched:
        if not owns_responses(assoc):
            # pynetdicom's reactor could take responses away: better no association.
            assoc.abort()
            return failed("cannot take over the association's responses from pynetdicom")
        pace_outgoing(assoc.dul, assoc.dimse.maximum_pdu_size)
        return assoc, ""
    if assoc.is_established:
        return assoc, ""
    rejected = rejection(assoc)
    if rejected is not None:  # published by the observer
        return assoc, f"association rejected ({rejection_text(rejected)})"
    if assoc.is_aborted and (assoc.accepted_contexts or assoc.rejected_contexts):
        return assoc, "no accepted presentation contexts"
    if watch.connected:
        reason = watch.unanswered(assoc, s.acse_timeout)
    else:  # pynetdicom keeps why to itself: ask once more
        reason = diagnose_connection(s.host, s.port, s.acse_timeout or 30, tls)
    bus.publish(
        AssociationFailed(
            side=Side.SENDER,
            peer_address=s.host,
            peer_port=s.port,
            reason=reason,
            connected=watch.connected,
        )
    )
    return assoc, reason


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
        assoc, reason = request_association(ae, s, self._observer.handlers(), self.bus)
        if reason:
            return reason

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
                status, problem, broken = self._send_one(assoc, item, message_id, accepted)
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
        self, assoc: Any, item: DicomFile, message_id: int, accepted: dict[tuple[str, str], None]
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
                # The bytes on disk go as they are: no decode, read in PDU-sized pieces.
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
