"""Our own C-STORE data path on an association we requested.

pynetdicom spends about half a millisecond on each C-STORE it sends: it builds
the command as a pydicom ``Dataset`` and encodes it twice, and hands every PDU
through queues to its DUL thread, which polls them every millisecond, and the
response back the same way. For a file whose bytes go as they are (its own
transfer syntax was accepted), :class:`FastStore` does the same exchange itself:

* the command set comes from ``dimse.encode_store_request`` and the data set is
  the file's bytes after its File Meta Information, cut into P-DATA-TF PDUs of
  the peer's maximum length by ``dimse.p_data_pdus`` (the bytes pynetdicom would
  send, priority included), written with one ``sendmsg`` per object;
* the next file is read while the peer works on the response;
* the response is read from the socket here and decoded by
  ``dimse.decode_store_response`` (pydicom when that declines), its Message ID
  Being Responded To checked, and the DIMSE events the observer publishes for
  pynetdicom's path are published the same.

The socket is lent to the fast path per object: pynetdicom's DUL thread reads it
only while holding :attr:`LentSocket.gate` (its ``_is_transport_event`` is
replaced per association at ``EVT_CONN_OPEN``), and a request is sent and its
response read while the sender holds that gate and ``exchange(assoc)``, so the
association's reactor stays off as on pynetdicom's path. Anything that is not the
response (an A-ABORT, an A-RELEASE-RQ, any other PDU, a closed connection) is put
back where pynetdicom's reader reads next, and pynetdicom ends the association
as it would have; a response to another message, one that cannot be decoded, a
P-DATA-TF that is not the response, or no response within the DIMSE timeout
aborts it, as DCMTK's storescu does. The object in flight is then reported
failed, never sent.

Conservative by design: :meth:`FastStore.send` answers ``None`` (the caller uses
pynetdicom's path) for a file that needs converting, an empty data set, a DUL
that is not idle in ``Sta6``, handlers that would see the PDUs, or PDU dumps.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, BinaryIO

from pynetdicom import evt

from dicomtui.core.dicom import dimse
from dicomtui.core.dicom.files import DicomFile
from dicomtui.core.dicom.uids import DEFLATED_LITTLE
from dicomtui.core.net.observer import AssociationObserver
from dicomtui.core.net.pdu_reader import WATCHING_PDUS
from dicomtui.core.net.requestor_reactor import exchange, owns_responses
from dicomtui.core.net.seam import check as check_seam
from dicomtui.core.stream import stage_counters

#: A data set up to this size is read whole (the next one while the peer answers);
#: a larger one is read and sent in pieces of about ``PIECE`` bytes.
READ_WHOLE = 4 * 1024 * 1024
PIECE = 1024 * 1024
#: Buffers per ``sendmsg`` call (Linux takes at most 1024).
MAX_BUFFERS = 512
#: How long pynetdicom's DUL thread stays away from the socket while the fast
#: path uses it, and for how long after it last did.
LENT_WAIT = 0.005
#: How long the fast path waits for pynetdicom's DUL thread to finish a read.
GATE_WAIT = 0.5
#: pynetdicom's ``send_c_store()`` priority (LOW): both paths send the same bytes.
PRIORITY = 2
RECEIVE_SIZE = 65536
#: A response PDU longer than this is not a C-STORE-RSP: pynetdicom reads it.
LONGEST_RESPONSE = 64 * 1024
#: How long pynetdicom is given to end an association the peer ended.
ENDING_WAIT = 5.0

OTHER_THAN_THE_RESPONSE = "the peer sent a P-DATA-TF PDU that is not the C-STORE response"
_PDU_NAMES = {0x05: "A-RELEASE-RQ", 0x06: "A-RELEASE-RP", 0x07: "A-ABORT"}


class LentSocket:
    """The socket of a requested association, read by pynetdicom's DUL thread
    except while the fast path holds :attr:`gate`."""

    def __init__(self, assoc: Any) -> None:
        self.dul = assoc.dul
        self.holder = assoc.dul.socket
        self.gate = threading.Lock()
        #: Bytes the fast path read that pynetdicom's reader is to read next.
        self.pending = bytearray()
        #: When the fast path last gave the socket back (``time.monotonic()``).
        self.last_used = 0.0
        self._pynetdicom_transport_event = self.dul._is_transport_event
        self._pynetdicom_recv = self.holder.recv
        self.dul._is_transport_event = self.transport_event
        self.holder.recv = self.recv

    def transport_event(self) -> bool:
        """pynetdicom's look at the socket, once the fast path is not using it.

        While the fast path sends one object after another it reads whatever the
        peer sends, and hands back what is not its response: this thread then
        stays away, rather than take the gate in the instant between two
        objects and make the sender wait for it (a quarter of the time per
        tiny object went to that).
        """
        if time.monotonic() - self.last_used < LENT_WAIT or not self.gate.acquire(blocking=False):
            time.sleep(LENT_WAIT)
            return False
        try:
            if self.pending:
                self.dul._read_pdu_data()
                return True
            return bool(self._pynetdicom_transport_event())
        finally:
            self.gate.release()

    def recv(self, nr_bytes: int) -> bytearray:
        if not self.pending:
            received: bytearray = self._pynetdicom_recv(nr_bytes)
            return received
        head = self.pending[:nr_bytes]
        del self.pending[:nr_bytes]
        if len(head) < nr_bytes:
            head += self._pynetdicom_recv(nr_bytes - len(head))
        return head


_lent: weakref.WeakKeyDictionary[Any, LentSocket] = weakref.WeakKeyDictionary()
_lent_lock = threading.Lock()


def fast_store_handlers() -> list[tuple[Any, Any]]:
    """Handlers to bind when requesting an association that may use the fast path."""
    return [(evt.EVT_CONN_OPEN, _lend_socket)] if check_seam().usable else []


def _lend_socket(event: Any) -> None:
    assoc = event.assoc
    if assoc.is_requestor:
        lent = LentSocket(assoc)
        with _lent_lock:
            _lent[assoc] = lent


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int | None
    problem: str = ""
    #: The association cannot carry another request.
    broken: bool = False
    #: ... and we end it (pynetdicom was not told why by the peer).
    abort: bool = False
    #: ... and we close the connection: part of a PDU went out, an A-ABORT
    #: would be read as the rest of it (and pynetdicom would wait to send it).
    hang_up: bool = False
    response: dimse.StoreResponse | None = None


class _Declined(Exception):
    """The response is not one the fast path understands: pynetdicom reads it."""

    def __init__(self, problem: str, abort: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.abort = abort


class FastStore:
    """Sends files of one batch with C-STORE on an established association."""

    @classmethod
    def start(cls, assoc: Any, files: Sequence[DicomFile] = ()) -> FastStore | None:
        """The fast path on ``assoc``, or None if its socket was not lent to us.

        ``files``: the order the files will be sent in, if known: the one after
        the file being sent is read while the peer answers.
        """
        with _lent_lock:
            lent = _lent.get(assoc)
        if lent is None or not owns_responses(assoc) or not assoc.is_established:
            return None
        return cls(assoc, lent, files)

    def __init__(self, assoc: Any, lent: LentSocket, files: Sequence[DicomFile]) -> None:
        self.assoc = assoc
        self.lent = lent
        #: (SOP class, transfer syntax) -> context ID: the first one pynetdicom would pick.
        self.contexts: dict[tuple[str, str], int] = {}
        for cx in assoc.accepted_contexts:
            if cx.as_scu and cx.transfer_syntax:
                key = (str(cx.abstract_syntax), str(cx.transfer_syntax[0]))
                self.contexts.setdefault(key, int(cx.context_id))
        self.max_pdu = int(assoc.acceptor.maximum_length or 0)
        self.following = dict(itertools.pairwise(files))
        self.read_ahead: tuple[DicomFile, bytes | OSError] | None = None

    # --- the interface -----------------------------------------------------------------

    def send(self, item: DicomFile, message_id: int) -> tuple[int | None, str, bool] | None:
        """Send one file: its status (None without a response), a problem, and whether
        the association is unusable now; ``None`` if pynetdicom's path is to send it."""
        context_id = self.contexts.get((item.sop_class, item.transfer_syntax))
        if context_id is None or item.dataset_length <= 0:
            return None
        observers = self._observers()
        if observers is None:
            return None
        whole = item.dataset_length <= READ_WHOLE
        data = b""
        if whole:
            try:
                data = self._data_of(item)
            except OSError as exc:
                return None, str(exc) or type(exc).__name__, False
        request = dimse.StoreRequest(message_id, item.sop_class, item.sop_instance, PRIORITY)
        started = time.perf_counter()
        command = dimse.encode_store_request(request)
        if stage_counters.ENABLED:
            stage_counters.add("send.encode", time.perf_counter() - started)
        with exchange(self.assoc):
            if not self.lent.gate.acquire(timeout=GATE_WAIT):
                return None
            try:
                if not self._idle():
                    return None
                for observer in observers:
                    observer.store_request(self.assoc, context_id, request, incoming=False)
                outcome = self._exchange(
                    item, request, context_id, command, data if whole else None
                )
                if outcome.hang_up:
                    _hang_up(self.lent.holder.socket)
            finally:
                self.lent.last_used = time.monotonic()
                self.lent.gate.release()
            if outcome.abort:
                self.assoc.abort()
        if outcome.broken and not outcome.abort:
            self._let_pynetdicom_end_it()
        if outcome.response is not None:
            for observer in observers:
                observer.store_response(self.assoc, context_id, outcome.response, incoming=True)
        return outcome.status, outcome.problem, outcome.broken

    # --- checks ------------------------------------------------------------------------

    def _observers(self) -> list[AssociationObserver] | None:
        """The observers that publish this association's DIMSE messages, if nothing
        else would see what the fast path sends and receives."""
        assoc = self.assoc
        for event in WATCHING_PDUS:
            for handler, _args in assoc.get_handlers(event):
                if not getattr(handler, "skips_p_data", False):
                    return None
                owner = getattr(handler, "__self__", None)
                if isinstance(owner, AssociationObserver) and owner.want_pdu_dumps():
                    return None
        observers: list[AssociationObserver] = []
        for event in (evt.EVT_DIMSE_SENT, evt.EVT_DIMSE_RECV):
            for handler, _args in assoc.get_handlers(event):
                owner = getattr(handler, "__self__", None)
                if not isinstance(owner, AssociationObserver):
                    return None
                if owner not in observers:
                    observers.append(owner)
        return observers

    def _idle(self) -> bool:
        """Whether the association is established with nothing under way in pynetdicom."""
        assoc, dul = self.assoc, self.lent.dul
        return bool(
            assoc.is_established
            and not self.lent.pending
            and dul.state_machine.current_state == "Sta6"
            and not dul.to_provider_queue.queue
            and not dul.event_queue.queue
            and assoc.dimse.message is None
            and not dul._kill_thread
            and self.lent.holder.socket is not None
        )

    # --- one request and its response --------------------------------------------------

    def _exchange(
        self,
        item: DicomFile,
        request: dimse.StoreRequest,
        context_id: int,
        command: bytes,
        data: bytes | None,
    ) -> _Outcome:
        sock = self.lent.holder.socket
        timeout = self.assoc.dimse_timeout or None  # None: wait as long as it takes
        was = sock.gettimeout()
        sock.settimeout(timeout)
        try:
            return self._send_and_read(sock, item, request.message_id, context_id, command, data)
        except TimeoutError:
            why = f"no response within {timeout or 0:g} s (DIMSE timeout)"
            return _Outcome(None, why, broken=True, abort=True)
        except OSError as exc:
            why = exc.strerror or str(exc) or type(exc).__name__
            return _Outcome(None, f"the connection failed ({why})", broken=True)
        finally:
            self.lent.dul._idle_timer.restart()
            with contextlib.suppress(OSError):  # closed meanwhile: pynetdicom finds out
                sock.settimeout(was)

    def _send_and_read(
        self,
        sock: Any,
        item: DicomFile,
        message_id: int,
        context_id: int,
        command: bytes,
        data: bytes | None,
    ) -> _Outcome:
        buffers = dimse.p_data_pdus(context_id, True, command, self.max_pdu)
        try:
            if data is not None:
                buffers += dimse.p_data_pdus(context_id, False, data, self.max_pdu)
                _write(sock, buffers)
            else:
                self._stream(sock, item, context_id, buffers)
        except _FileFailed as exc:  # with part of the data set out, the peer has half of it
            return _Outcome(None, exc.problem, broken=exc.written, abort=exc.written)
        except TimeoutError:
            waited = f"{sock.gettimeout():g} s"
            why = f"the peer took nothing of the request for {waited} (DIMSE timeout)"
            return _Outcome(None, why, broken=True, hang_up=True)
        self._read_ahead(item)
        try:
            response = self._read_response(sock, context_id)
        except _Declined as declined:
            return _Outcome(None, declined.problem, broken=True, abort=declined.abort)
        if response.responded_to != message_id:
            return _Outcome(
                None,
                f"the peer answered message {message_id} with a response"
                f" to message {response.responded_to}",
                broken=True,
                abort=True,
                response=response,
            )
        return _Outcome(response.status, response=response)

    def _stream(self, sock: Any, item: DicomFile, context_id: int, buffers: list[Any]) -> None:
        """Send a large data set piece by piece (the command PDUs with the first).
        Raises :class:`_FileFailed` if the file cannot be read."""
        # Pieces of whole fragments (even ones, as dimse.p_data_pdus cuts them).
        fragment = max((self.max_pdu - 6) & ~1, 2) if self.max_pdu > 6 else PIECE
        size = max(1, PIECE // fragment) * fragment
        try:
            fp = item.path.open("rb")
        except OSError as exc:
            raise _FileFailed(str(exc) or type(exc).__name__, written=False) from exc
        with fp:
            piece = self._read_piece(fp, size, written=False, seek=item.dataset_offset)
            if not piece:
                raise _FileFailed(f"{item.path} has no data set any more", written=False)
            length = 0
            while True:
                after = self._read_piece(fp, size, written=length > 0)
                length += len(piece)
                last = not after
                if last and length % 2 and item.transfer_syntax == DEFLATED_LITTLE:
                    piece += b"\x00"  # see planning.sendable_path
                buffers += dimse.p_data_pdus(context_id, False, piece, self.max_pdu, last=last)
                _write(sock, buffers)
                buffers = []
                if last:
                    return
                piece = after

    @staticmethod
    def _read_piece(fp: BinaryIO, size: int, written: bool, seek: int | None = None) -> bytes:
        started = time.perf_counter()
        try:
            if seek is not None:
                fp.seek(seek)
            piece = fp.read(size)
        except OSError as exc:
            raise _FileFailed(str(exc) or type(exc).__name__, written) from exc
        if stage_counters.ENABLED:
            stage_counters.add("send.read_file", time.perf_counter() - started)
        return piece

    def _read_response(self, sock: Any, context_id: int) -> dimse.StoreResponse:
        """The C-STORE-RSP the peer sends next (raises :class:`_Declined`)."""
        started = time.perf_counter()
        received = bytearray()
        command = bytearray()
        offset = 0  # where the PDU being read starts
        complete = False
        try:
            while not complete:
                self._fill(sock, received, offset + 6)
                pdu_type = received[offset]
                length = int.from_bytes(received[offset + 2 : offset + 6], "big")
                if pdu_type != dimse.P_DATA_TF:
                    name = _PDU_NAMES.get(pdu_type, f"a PDU of type 0x{pdu_type:02X}")
                    raise _Declined(f"the peer sent {name} instead of the response")
                if length > LONGEST_RESPONSE:
                    raise _Declined(OTHER_THAN_THE_RESPONSE, abort=True)
                self._fill(sock, received, offset + 6 + length)
                body = bytes(received[offset + 6 : offset + 6 + length])
                items = dimse.pdv_items(body, length)
                if items is None:
                    raise _Declined("the peer sent a malformed P-DATA-TF PDU", abort=True)
                for item_context, control, start, end in items:
                    if complete or item_context != context_id or not control & dimse.COMMAND_BIT:
                        raise _Declined(OTHER_THAN_THE_RESPONSE, abort=True)
                    command += body[start:end]
                    complete = bool(control & dimse.LAST_BIT)
                offset += 6 + length
        except _Declined:
            self.lent.pending += received  # pynetdicom's reader reads it next
            raise
        finally:
            if stage_counters.ENABLED:
                stage_counters.add("send.wait_response", time.perf_counter() - started)
        # Whatever came after the response is pynetdicom's to read.
        self.lent.pending += received[offset:]
        started = time.perf_counter()
        response = dimse.decode_store_response(command) or _decoded_by_pydicom(bytes(command))
        if stage_counters.ENABLED:
            stage_counters.add("send.decode", time.perf_counter() - started)
        if response is None:
            raise _Declined("the peer's response could not be decoded", abort=True)
        return response

    def _fill(self, sock: Any, received: bytearray, size: int) -> None:
        while len(received) < size:
            chunk = sock.recv(RECEIVE_SIZE)
            if not chunk:
                self.lent.pending += received
                received.clear()
                raise _Declined("the connection closed before the response came")
            received += chunk

    # --- files -------------------------------------------------------------------------

    def _data_of(self, item: DicomFile) -> bytes:
        ahead, self.read_ahead = self.read_ahead, None
        if ahead is not None and ahead[0] is item:
            found = ahead[1]
            if isinstance(found, OSError):
                raise found
            return found
        return _read_data_set(item)

    def _read_ahead(self, item: DicomFile) -> None:
        """Read the file after ``item`` while the peer answers, if it goes this way."""
        following = self.following.get(item)
        if (
            following is None
            or not 0 < following.dataset_length <= READ_WHOLE
            or (following.sop_class, following.transfer_syntax) not in self.contexts
        ):
            return
        try:
            self.read_ahead = (following, _read_data_set(following))
        except OSError as exc:
            self.read_ahead = (following, exc)

    # --- after the peer ended it -------------------------------------------------------

    def _let_pynetdicom_end_it(self) -> None:
        """Wait while pynetdicom reads what was put back and ends the association;
        abort it if it is still up by then."""
        deadline = time.monotonic() + ENDING_WAIT
        while self.assoc.is_established and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.assoc.is_established:
            with exchange(self.assoc):
                self.assoc.abort()


class _FileFailed(Exception):
    """The file could not be read."""

    def __init__(self, problem: str, written: bool) -> None:
        super().__init__(problem)
        self.problem = problem
        #: Part of the request went out: the association cannot go on.
        self.written = written


def _hang_up(sock: Any) -> None:
    """Close the connection under pynetdicom, which then ends the association."""
    with contextlib.suppress(OSError, AttributeError):
        sock.shutdown(socket.SHUT_RDWR)


def _read_data_set(item: DicomFile) -> bytes:
    """The file's data set, padded to an even length if deflated (planning.sendable_path)."""
    started = time.perf_counter()
    with item.path.open("rb") as fp:
        fp.seek(item.dataset_offset)
        data = fp.read()
    if len(data) % 2 and item.transfer_syntax == DEFLATED_LITTLE:
        data += b"\x00"
    if stage_counters.ENABLED:
        stage_counters.add("send.read_file", time.perf_counter() - started)
    return data


def _write(sock: Any, buffers: list[Any]) -> None:
    """Write ``buffers`` in order: ``sendmsg`` (plain TCP), ``sendall`` (TLS)."""
    started = time.perf_counter()
    if isinstance(sock, ssl.SSLSocket):  # sendmsg is not allowed on one
        for start in range(0, len(buffers), MAX_BUFFERS):
            sock.sendall(b"".join(buffers[start : start + MAX_BUFFERS]))
    else:
        _send_all(sock, buffers)
    if stage_counters.ENABLED:
        stage_counters.add("send.write", time.perf_counter() - started)


def _send_all(sock: socket.socket, buffers: list[Any]) -> None:
    waiting = list(buffers)
    while waiting:
        batch = waiting[:MAX_BUFFERS]
        sent = sock.sendmsg(batch)
        done = 0
        while done < len(batch) and sent >= len(batch[done]):
            sent -= len(batch[done])
            done += 1
        del waiting[:done]
        if sent:
            waiting[0] = memoryview(waiting[0])[sent:]


def _decoded_by_pydicom(command: bytes) -> dimse.StoreResponse | None:
    """A C-STORE-RSP that ``dimse`` declined (an element it does not know), read
    by pydicom; None if it is not one."""
    from pydicom.filereader import read_dataset

    try:
        ds = read_dataset(BytesIO(command), is_implicit_VR=True, is_little_endian=True)
        field = ds.get("CommandField")
        status = ds.get("Status")
        responded_to = ds.get("MessageIDBeingRespondedTo")
        data_set_type = ds.get("CommandDataSetType", dimse.NO_DATA_SET)
        sop_class = ds.get("AffectedSOPClassUID")
        sop_instance = ds.get("AffectedSOPInstanceUID")
        comment = ds.get("ErrorComment")
    except Exception:  # anything pydicom cannot read is not a response we understand
        return None
    if (
        field != dimse.C_STORE_RSP
        or status is None
        or responded_to is None
        or data_set_type != dimse.NO_DATA_SET
    ):
        return None
    return dimse.StoreResponse(
        responded_to=int(responded_to),
        status=int(status),
        sop_class_uid=str(sop_class) if sop_class else None,
        sop_instance_uid=str(sop_instance) if sop_instance else None,
        error_comment=str(comment) if comment else None,
    )
