"""The Storage SCP (and Verification SCP), publishing everything to the bus."""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydicom.uid import UID
from pynetdicom import AE, evt
from pynetdicom.presentation import PresentationContext

from dicomtui.core.admission import Admission, AdmissionPolicy, close_connection
from dicomtui.core.bus import EventBus
from dicomtui.core.deflated import inflate_received
from dicomtui.core.dicom_tables import (
    ALL_TRANSFER_SYNTAXES_ACCEPTED,
    DEFLATED_LITTLE,
    EXPLICIT_BIG,
    EXPLICIT_LITTLE,
    IMPLICIT_LITTLE,
    STORAGE_SOP_CLASSES,
    VERIFICATION_SOP_CLASS,
    is_uncompressed,
)
from dicomtui.core.events import (
    Level,
    LogMessage,
    ObjectLost,
    ObjectReceived,
    ReceiverFailed,
    ReceiverStarted,
    ReceiverStopped,
    Side,
)
from dicomtui.core.header_summary import summarize
from dicomtui.core.observer import AssociationObserver, association_id
from dicomtui.core.pdu_reader import read_pdus_directly
from dicomtui.core.promiscuous import Promiscuous
from dicomtui.core.prompt_acceptor import answer_promptly
from dicomtui.core.pynetdicom_seam import forward_warnings
from dicomtui.core.pynetdicom_seam import report as report_seam
from dicomtui.core.pynetdicom_setup import (
    SpoolTarget,
    configure_pynetdicom,
    end_spool_target,
    set_spool_target,
)
from dicomtui.core.spare_files import SpareFiles
from dicomtui.core.storage import (
    PARTIAL_PREFIX,
    PARTIAL_SUFFIX,
    DuplicatePolicy,
    DuplicateRefused,
    StorageLayout,
    UnsafePath,
    folder_inside,
    layout_folders,
    object_filename,
    place_received_file,
    spool_directory,
)
from dicomtui.core.tls import TlsFileError, server_context, server_handshake

DEFAULT_MAX_PDU = 16382

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_DUPLICATE = 0x0111
#: "Cannot understand": the range Cxxx of the Storage service (PS3.4 B.2.3) and the
#: one value of the Non-Patient Object Storage service (PS3.4 GG.4.2); DCMTK's
#: STATUS_STORE_Error_CannotUnderstand. pynetdicom's storescp says 0xC210 for a data
#: set it cannot decode, a value of its own that the Non-Patient classes lack.
STATUS_CANNOT_UNDERSTAND = 0xC000


class PreferredSyntax(StrEnum):
    """storescp's preferred-transfer-syntax options."""

    DEFAULT = "default"
    UNCOMPRESSED = "uncompressed"  # -x=
    LITTLE = "little"  # -xe
    BIG = "big"  # -xb
    IMPLICIT = "implicit"  # -xi


def accepted_transfer_syntaxes(preference: PreferredSyntax) -> list[str]:
    """Transfer syntaxes in the order the receiver prefers them.

    By default a compressed syntax the sender offers is taken as it is (the
    sender need not decompress, and the file keeps its pixel data as made),
    then pynetdicom's storescp order. The options put the user's choice first.
    """
    syntaxes = list(ALL_TRANSFER_SYNTAXES_ACCEPTED)
    if preference is PreferredSyntax.DEFAULT:
        return [ts for ts in syntaxes if not is_uncompressed(ts)] + [
            ts for ts in syntaxes if is_uncompressed(ts)
        ]
    if preference is PreferredSyntax.UNCOMPRESSED:
        syntaxes.remove(IMPLICIT_LITTLE)
        syntaxes.append(IMPLICIT_LITTLE)
    elif preference is PreferredSyntax.LITTLE:
        syntaxes.remove(EXPLICIT_LITTLE)
        syntaxes.insert(0, EXPLICIT_LITTLE)
    elif preference is PreferredSyntax.BIG:
        syntaxes.remove(EXPLICIT_BIG)
        syntaxes.insert(0, EXPLICIT_BIG)
    elif preference is PreferredSyntax.IMPLICIT:
        syntaxes = [IMPLICIT_LITTLE]
    return syntaxes


@dataclass(frozen=True, slots=True)
class ReceiverSettings:
    port: int = 11112
    ae_title: str = "STORESCP"
    bind_address: str = ""
    acse_timeout: float = 30.0
    dimse_timeout: float = 30.0
    network_timeout: float = 30.0
    max_pdu: int = DEFAULT_MAX_PDU
    preferred_syntax: PreferredSyntax = PreferredSyntax.DEFAULT
    output_directory: Path = Path(".")
    ignore: bool = False
    echo: bool = True
    #: Accept SOP classes that no registry knows (private, newer) as storage (-pm).
    promiscuous: bool = False
    duplicates: DuplicatePolicy = DuplicatePolicy.KEEP_BOTH
    layout: StorageLayout = StorageLayout.FLAT
    #: Added to every stored file's name (``.dcm``); empty as in the manual.
    filename_extension: str = ""
    #: Associations open at once (only peers that asked count, not idle sockets).
    max_associations: int = 10
    #: Connections open at once, associated or not.
    max_connections: int = 100
    #: How long a connection may stay silent before its A-ASSOCIATE-RQ.
    handshake_timeout: float = 5.0
    #: The largest object accepted, in bytes (0: no limit).
    max_object_size: int = 4 * 1024**3
    allowed_calling_ae_titles: tuple[str, ...] = ()
    allowed_addresses: tuple[str, ...] = ()
    check_called_ae_title: bool = False
    #: TLS: the receiver's certificate and key (PEM); with a CA, peers must present
    #: a certificate it signed.
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None

    def admission_policy(self) -> AdmissionPolicy:
        return AdmissionPolicy(
            max_associations=self.max_associations,
            max_connections=self.max_connections,
            handshake_timeout=self.handshake_timeout,
            allowed_calling_ae_titles=self.allowed_calling_ae_titles,
            allowed_addresses=self.allowed_addresses,
            check_called_ae_title=self.check_called_ae_title,
        )


class SharedContext(PresentationContext):
    """A supported context that copies cheaply.

    pynetdicom deep-copies every supported context for each association it
    accepts: 172 SOP classes times 45 transfer syntaxes cost about 40 ms, a
    ceiling of some 25 associations a second for modalities that open one per
    image. Everything in a context is immutable but the list of transfer
    syntaxes, so copying that list gives the same isolation.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedContext:
        clone = copy.copy(self)
        clone._transfer_syntax = list(self._transfer_syntax)
        return clone


def context_maker(settings: ReceiverSettings) -> Callable[[str], PresentationContext]:
    """Makes a supported context for a SOP class with the receiver's transfer syntaxes.

    pynetdicom checks each transfer syntax UID as it is set: 45 syntaxes for each
    of 172 classes took 120 ms at every start (and F2's restart). They are checked
    once here, and each context is a copy of that one (4 ms for all).
    """
    template = SharedContext()
    template.transfer_syntax = list[str | bytes | UID](
        accepted_transfer_syntaxes(settings.preferred_syntax)
    )

    def make(sop_class: str) -> PresentationContext:
        context = copy.deepcopy(template)
        context.abstract_syntax = sop_class
        return context

    return make


def supported_contexts(settings: ReceiverSettings) -> list[PresentationContext]:
    classes = list(STORAGE_SOP_CLASSES)
    if settings.echo:
        classes.append(VERIFICATION_SOP_CLASS)
    make = context_maker(settings)
    return [make(sop_class) for sop_class in classes]


def pdu_limit(max_pdu: int) -> int:
    """The largest PDU a peer may send: what we offered, with room for the header.

    pynetdicom reads a PDU of whatever length the peer declares into memory; a
    peer that ignores our maximum is cut off instead.
    """
    return (max_pdu or 64 * 1024 * 1024) + 64 * 1024


def server_tls_context(settings: ReceiverSettings) -> ssl.SSLContext | None:
    """None without TLS; raises :class:`TlsFileError` naming a file that cannot be used."""
    if settings.tls_certificate is None:
        return None
    return server_context(settings.tls_certificate, settings.tls_key, settings.tls_ca)


def remove_stale_partials(directory: Path, older_than: float = 24 * 3600) -> None:
    """Partial files an earlier run left behind (a crash, a kill -9)."""
    cutoff = time.time() - older_than
    with contextlib.suppress(OSError):
        for path in directory.glob(f"{PARTIAL_PREFIX}*{PARTIAL_SUFFIX}"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


def describe_bind_error(exc: OSError, settings: ReceiverSettings) -> str:
    where = f"{settings.bind_address or '*'}:{settings.port}"
    if exc.errno == errno.EADDRINUSE:
        return f"Cannot listen on {where}: the port is already in use"
    if exc.errno == errno.EACCES:
        return f"Cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"Cannot listen on {where}: no such local address"
    return f"Cannot listen on {where}: {exc.strerror or exc}"


def store_received(
    event: Any,
    settings: ReceiverSettings,
    output_directory: Path,
    bus: EventBus,
    side: Side = Side.RECEIVER,
) -> int:
    """Store one received C-STORE data set (``event`` is pynetdicom's EVT_C_STORE,
    its data set already on disk at ``event.dataset_path``) as ``settings`` say, into
    the resolved ``output_directory``; publishes :class:`ObjectReceived` and returns
    the status. The receiver's handler, and C-GET's for the objects it brings back.
    """
    s = settings
    req = event.request
    sop_class = str(req.AffectedSOPClassUID)
    sop_instance = str(req.AffectedSOPInstanceUID)
    transfer_syntax = str(event.context.transfer_syntax)
    partial = Path(event.dataset_path)
    try:
        size = partial.stat().st_size
    except OSError:
        size = 0
    assoc_id = association_id(event.assoc)

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
    failure = getattr(getattr(req, "_dataset_file", None), "failure", "")
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


class Receiver:
    """A running (or stopped) Storage SCP.

    ``start`` raises :class:`OSError` when it cannot listen (and publishes why);
    handlers run on pynetdicom's threads and only publish events.
    """

    def __init__(
        self,
        settings: ReceiverSettings,
        bus: EventBus,
        want_pdu_dumps: Callable[[], bool] | None = None,
    ) -> None:
        self._patched = configure_pynetdicom().usable
        report_seam(bus, Side.RECEIVER)
        forward_warnings(bus, Side.RECEIVER)
        self._unprepared: weakref.WeakSet[Any] = weakref.WeakSet()
        self.settings = settings
        self.bus = bus
        self._observer = AssociationObserver(bus, Side.RECEIVER, want_pdu_dumps)
        self._admission = Admission(settings.admission_policy(), settings.ae_title, bus)
        self._server: Any = None
        self._lock = threading.Lock()
        # Resolved once: every stored object's path is built on it.
        self._output_directory = settings.output_directory.resolve()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The port actually listened on (useful when settings asked for port 0)."""
        if self._server is None:
            return self.settings.port
        return int(self._server.server_address[1])

    def _make_ae(self) -> AE:
        s = self.settings
        ae = AE(ae_title=s.ae_title)
        ae.maximum_pdu_size = s.max_pdu
        ae.acse_timeout = s.acse_timeout
        ae.dimse_timeout = s.dimse_timeout
        ae.network_timeout = s.network_timeout
        # pynetdicom counts every thread, idle or ending, against its limit;
        # Admission counts real associations and open connections instead.
        ae.maximum_associations = 1_000_000
        return ae

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            s = self.settings
            if not s.ignore:
                try:
                    s.output_directory.mkdir(parents=True, exist_ok=True)
                    remove_stale_partials(s.output_directory)
                except OSError as exc:
                    # Keep serving: each C-STORE answers 0xA700 until the folder is fixed.
                    self.bus.publish(
                        LogMessage(
                            side=Side.RECEIVER,
                            level=Level.ERROR,
                            text=f"Cannot create the output folder {s.output_directory}: "
                            f"{exc.strerror or exc}",
                        )
                    )
            handlers: list[Any] = [
                *self._observer.handlers(),
                (evt.EVT_REQUESTED, self._abort_unprepared),
                *self._admission.handlers(evt),  # before Promiscuous: it may refuse
                (evt.EVT_CONN_OPEN, self._on_conn_open),
                (evt.EVT_C_STORE, self._on_c_store),
                (evt.EVT_ABORTED, self._on_ended),
                (evt.EVT_CONN_CLOSE, self._on_ended),
                (evt.EVT_DIMSE_RECV, self._on_dimse_recv),
            ]
            try:
                tls = server_tls_context(s)
            except TlsFileError as exc:
                self.bus.publish(ReceiverFailed(side=Side.RECEIVER, reason=str(exc)))
                raise OSError(errno.EINVAL, str(exc)) from exc
            try:
                if s.promiscuous:
                    handlers += Promiscuous(context_maker(s)).handlers(evt)
                ae = self._make_ae()
                self._server = ae.start_server(
                    (s.bind_address, s.port),
                    block=False,
                    evt_handlers=handlers,
                    contexts=supported_contexts(s),
                    ssl_context=tls,
                )
            except OSError as exc:
                reason = describe_bind_error(exc, s)
                self.bus.publish(ReceiverFailed(side=Side.RECEIVER, reason=reason))
                raise OSError(exc.errno, reason) from exc
            except (ValueError, TypeError, RuntimeError, ssl.SSLError) as exc:
                self.bus.publish(ReceiverFailed(side=Side.RECEIVER, reason=str(exc)))
                raise OSError(errno.EINVAL, str(exc)) from exc
            self.bus.publish(
                ReceiverStarted(
                    side=Side.RECEIVER,
                    address=s.bind_address,
                    port=self.port,
                    ae_title=s.ae_title,
                    output_directory=None if s.ignore else str(self._output_directory),
                )
            )

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        for assoc in list(server.active_associations):
            if assoc.is_established:
                assoc.abort()
        server.shutdown()
        self.bus.publish(ReceiverStopped(side=Side.RECEIVER))

    # --- handlers (pynetdicom threads) -------------------------------------------------

    def _on_conn_open(self, event: Any) -> None:
        if not self._tls_handshake(event):
            return
        if not self._patched:
            return  # pynetdicom's plain path (the user was told why)
        try:
            self._prepare(event.assoc)
        except Exception as exc:  # pynetdicom would only log it, and serve unpatched
            self._unprepared.add(event.assoc)
            self.bus.publish(
                LogMessage(
                    side=Side.RECEIVER,
                    level=Level.ERROR,
                    text=f"Cannot prepare association #{association_id(event.assoc)}"
                    f" ({type(exc).__name__}: {exc}): it will be aborted",
                )
            )

    def _abort_unprepared(self, event: Any) -> None:
        if event.assoc in self._unprepared:
            event.assoc.abort()

    def _prepare(self, assoc: Any) -> None:
        s = self.settings
        directory = None if s.ignore else spool_directory(s.output_directory)
        set_spool_target(
            assoc.dul,
            SpoolTarget(
                directory,
                s.max_object_size,
                lambda spool: self._too_large(assoc, spool),
                SpareFiles(directory),
            ),
        )
        read_pdus_directly(assoc, pdu_limit(s.max_pdu))
        answer_promptly(assoc, self._association_over)

    def _tls_handshake(self, event: Any) -> bool:
        """With TLS, complete the handshake here, on the connection's thread; a peer
        that fails it is named in the log and its connection closed."""
        transport = getattr(event.assoc.dul, "socket", None)
        problem = server_handshake(
            getattr(transport, "socket", None), self.settings.handshake_timeout
        )
        if not problem:
            return True
        if getattr(transport, "socket", None) is not None:  # else closed, and said why, already
            address = event.address or ("", 0)
            self.bus.publish(
                LogMessage(
                    side=Side.RECEIVER,
                    level=Level.WARNING,
                    text=f"Closing connection from {address[0]}:{address[1]}: {problem}",
                )
            )
            close_connection(event.assoc)
        return False

    def _on_c_store(self, event: Any) -> int:
        return store_received(event, self.settings, self._output_directory, self.bus)

    def _on_dimse_recv(self, event: Any) -> None:
        """pynetdicom ignores a C-STORE-RQ without its mandatory UIDs: it answers
        nothing and keeps the received file. Remove it, say so, end the association."""
        message = event.message
        if type(message).__name__ != "C_STORE_RQ":
            return
        command = message.command_set
        if command.get("AffectedSOPInstanceUID") and command.get("AffectedSOPClassUID"):
            return
        partial = getattr(message, "_data_set_file", None)
        if partial is not None:
            message._data_set_file = None
            with contextlib.suppress(OSError):
                partial.close()
            Path(partial.name).unlink(missing_ok=True)
        self.bus.publish(
            ObjectLost(
                side=Side.RECEIVER,
                assoc_id=association_id(event.assoc),
                sop_class=str(command.get("AffectedSOPClassUID", "") or ""),
                sop_instance="",
                bytes_received=0,
                reason="the C-STORE request has no SOP Class or Instance UID; the association is aborted",
            )
        )
        threading.Thread(target=event.assoc.abort, daemon=True).start()

    def _too_large(self, assoc: Any, partial: Any) -> None:
        # The closed spool file stays attached so that pynetdicom keeps dropping
        # the rest of the object into it rather than into memory.
        self._lost(assoc, partial, detach=False)
        # Called on pynetdicom's reader thread, which the abort has to wait for.
        threading.Thread(target=assoc.abort, daemon=True).start()

    def _on_ended(self, event: Any) -> None:
        self._association_over(event.assoc)

    def _association_over(self, assoc: Any) -> None:
        """Remove the spare partial file, and the partial file of a data set that
        was still arriving (called more than once for most associations)."""
        end_spool_target(assoc.dul)
        message = getattr(getattr(assoc, "dimse", None), "message", None)
        partial = getattr(message, "_data_set_file", None)
        if message is not None and partial is not None:
            self._lost(assoc, partial)

    def _lost(self, assoc: Any, partial: Any, detach: bool = True) -> None:
        """Report (once) and remove a data set that will never be complete."""
        if getattr(partial, "reported", False):
            return
        partial.reported = True
        message = getattr(getattr(assoc, "dimse", None), "message", None)
        if message is not None and detach:
            message._data_set_file = None
        try:
            received = partial.tell()
        except (OSError, ValueError):  # closed already
            received = getattr(partial, "written", 0)
        with contextlib.suppress(OSError):
            partial.close()
        Path(partial.name).unlink(missing_ok=True)
        command = getattr(message, "command_set", None)
        get = getattr(command, "get", lambda _key, default=None: default)
        self.bus.publish(
            ObjectLost(
                side=Side.RECEIVER,
                assoc_id=association_id(assoc),
                sop_class=str(get("AffectedSOPClassUID", "") or ""),
                sop_instance=str(get("AffectedSOPInstanceUID", "") or ""),
                bytes_received=received,
                reason=getattr(partial, "failure", "")
                or "the association ended before the data set was complete",
            )
        )
