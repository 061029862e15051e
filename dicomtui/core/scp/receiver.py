"""The Storage SCP (and Verification SCP), publishing everything to the bus."""

from __future__ import annotations

import contextlib
import errno
import ssl
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynetdicom import AE, evt

from dicomtui.core.dicom.dimse import StoreRequest, StoreResponse
from dicomtui.core.net.acceptor_reactor import answer_promptly
from dicomtui.core.net.fast_receive import FastReceive, receiving_message, reenacted
from dicomtui.core.net.observer import AssociationObserver, association_id
from dicomtui.core.net.pdu_reader import read_pdus_directly
from dicomtui.core.net.promiscuous import Promiscuous
from dicomtui.core.net.seam import forward_warnings
from dicomtui.core.net.seam import report as report_seam
from dicomtui.core.net.setup import configure_pynetdicom
from dicomtui.core.net.spool_file import SpoolTarget, end_spool_target, set_spool_target
from dicomtui.core.scp.admission import Admission, close_connection
from dicomtui.core.scp.contexts import context_maker, supported_contexts
from dicomtui.core.scp.settings import ReceiverSettings, pdu_limit
from dicomtui.core.scp.spare_files import SpareFiles
from dicomtui.core.scp.storage import (
    spool_directory,
)
from dicomtui.core.scp.store import (
    ReceivedObject,
    remove_stale_partials,
    store_object,
    store_received,
)
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    Level,
    LogMessage,
    ObjectLost,
    ReceiverFailed,
    ReceiverStarted,
    ReceiverStopped,
    Side,
)
from dicomtui.core.tls import TlsFileError, server_context, server_handshake


def server_tls_context(settings: ReceiverSettings) -> ssl.SSLContext | None:
    """None without TLS; raises :class:`TlsFileError` naming a file that cannot be used."""
    if settings.tls_certificate is None:
        return None
    return server_context(settings.tls_certificate, settings.tls_key, settings.tls_ca)


def describe_bind_error(exc: OSError, settings: ReceiverSettings) -> str:
    where = f"{settings.bind_address or '*'}:{settings.port}"
    if exc.errno == errno.EADDRINUSE:
        return f"Cannot listen on {where}: the port is already in use"
    if exc.errno == errno.EACCES:
        return f"Cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"Cannot listen on {where}: no such local address"
    return f"Cannot listen on {where}: {exc.strerror or exc}"


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
        reader = read_pdus_directly(assoc, pdu_limit(s.max_pdu))
        reader.on_unaccepted_context = lambda context_id: self._unaccepted(assoc, context_id)
        pace = answer_promptly(assoc, self._association_over)
        if s.fast_path:
            reader.fast = FastReceive(assoc, reader, self, pace.busy)

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

    @reenacted  # by store()
    def _on_c_store(self, event: Any) -> int:
        return store_received(event, self.settings, self._output_directory, self.bus)

    # --- the StoreService of fast_receive (on the association's reader thread) ---------

    def request_received(self, assoc: Any, context_id: int, request: StoreRequest) -> None:
        self._observer.store_request(assoc, context_id, request, incoming=True)

    def store(self, assoc: Any, request: StoreRequest, transfer_syntax: str, spool: Any) -> int:
        received = ReceivedObject(
            assoc_id=association_id(assoc),
            sop_class=request.sop_class_uid,
            sop_instance=request.sop_instance_uid,
            transfer_syntax=transfer_syntax,
            partial=Path(str(spool.name)),
            failure=spool.failure,
        )
        return store_object(received, self.settings, self._output_directory, self.bus)

    def response_sent(self, assoc: Any, context_id: int, response: StoreResponse) -> None:
        self._observer.store_response(assoc, context_id, response, incoming=False)

    @reenacted  # acts only on requests without their UIDs, which fast_receive never takes
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

    def _unaccepted(self, assoc: Any, context_id: int) -> None:
        self.bus.publish(
            LogMessage(
                side=Side.RECEIVER,
                level=Level.ERROR,
                assoc_id=association_id(assoc),
                text=f"The peer sent a message on presentation context {context_id}, which"
                " was not accepted: aborting the association",
            )
        )
        # Called on pynetdicom's reader thread, which the abort has to wait for.
        threading.Thread(target=assoc.abort, daemon=True).start()

    def _on_ended(self, event: Any) -> None:
        self._association_over(event.assoc)

    def _association_over(self, assoc: Any) -> None:
        """Remove the spare partial file, and the partial file of a data set that
        was still arriving (called more than once for most associations)."""
        end_spool_target(assoc.dul)
        message = receiving_message(assoc)
        partial = getattr(message, "_data_set_file", None)
        if message is not None and partial is not None:
            self._lost(assoc, partial)

    def _lost(self, assoc: Any, partial: Any, detach: bool = True) -> None:
        """Report (once) and remove a data set that will never be complete."""
        if getattr(partial, "reported", False):
            return
        partial.reported = True
        message = receiving_message(assoc)
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
