"""Received data sets straight to a file of ours.

pynetdicom writes each received data set into the file its module global
``NamedTemporaryFile`` makes (replaced in ``setup``): here, a partial file in the
receiving association's output folder, so that storing it is a rename.
"""

from __future__ import annotations

import errno
import io
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomtui.core.scp.spare_files import SpareFiles, make_partial
from dicomtui.core.units import human_size


@dataclass(frozen=True)
class SpoolTarget:
    """Where one association's data sets are received, and how big one may be."""

    directory: Path | None
    #: 0: no limit.
    max_object_size: int = 0
    #: Told when an object outgrows the limit (pynetdicom then aborts without an event).
    on_too_large: Callable[[SpoolFile], None] | None = None
    #: The association's next partial file, made ahead.
    spares: SpareFiles | None = None


_lock = threading.Lock()
_spool_by_thread: weakref.WeakKeyDictionary[threading.Thread, SpoolTarget] = (
    weakref.WeakKeyDictionary()
)


def set_spool_target(dul_thread: threading.Thread, target: SpoolTarget) -> None:
    """Data sets arriving through ``dul_thread`` go to ``target``."""
    with _lock:
        _spool_by_thread[dul_thread] = target


def end_spool_target(dul_thread: threading.Thread) -> None:
    """The association is over: its spare partial file goes."""
    with _lock:
        target = _spool_by_thread.pop(dul_thread, None)
    if target is not None and target.spares is not None:
        target.spares.discard()


#: Pieces given to one ``writev`` (the system's IOV_MAX is 1024).
WRITEV_AT_MOST = 512


class SpoolFile(io.FileIO):
    """A file being received: unbuffered, so each PDU's data goes straight to the
    operating system, with the ``.file`` that pynetdicom flushes (a no-op here)
    and ``.name`` as a path.

    A failed write (a full disk) does not stop the association: the rest of the
    data set is read and dropped, and the C-STORE handler answers 0xA700 with
    ``failure``. Past ``max_size`` the file removes itself and tells
    ``on_too_large``, which ends the association; nothing raises here, as an
    exception on pynetdicom's reader thread would kill it without an A-ABORT.
    """

    max_size = 0
    written = 0
    failure = ""
    #: Its loss was reported already.
    reported = False
    on_too_large: Callable[[SpoolFile], None] | None = None

    @property
    def file(self) -> SpoolFile:
        return self

    def flush(self) -> None:
        # pynetdicom flushes after every fragment, also after a too-large
        # object closed the file; there is no buffer to flush in any case.
        if not self.closed:
            super().flush()

    def write(self, data: Any) -> int:
        length = len(data)
        self.written += length
        if self.max_size and self.written > self.max_size:
            if not self.failure:
                self.failure = f"larger than the {human_size(self.max_size)} limit on one object"
                self.close()
                Path(str(self.name)).unlink(missing_ok=True)
                if self.on_too_large is not None:
                    self.on_too_large(self)
            return length
        if self.failure:
            return length
        self._write_views([memoryview(data)])
        return length

    def write_all(self, pieces: list[memoryview]) -> None:
        """``write`` each piece in turn, in as few system calls as they fit in."""
        length = sum(map(len, pieces))
        if self.failure or (self.max_size and self.written + length > self.max_size):
            for piece in pieces:
                self.write(piece)
            return
        self.written += length
        self._write_views(pieces)

    def _write_views(self, views: list[memoryview]) -> None:
        # writev writes nothing for empty pieces, so they are left out, lest a
        # 0 read as a disk that accepts no more (a peer may send empty fragments).
        views = [view for view in views if len(view)]
        first = 0  # views[first:] are still to write
        try:
            while first < len(views):
                done = os.writev(self.fileno(), views[first : first + WRITEV_AT_MOST])
                if not done:
                    raise OSError(errno.EIO, "the disk accepted no more data")
                while first < len(views) and done >= len(views[first]):
                    done -= len(views[first])
                    first += 1
                if done:
                    views[first] = views[first][done:]
        except OSError as exc:
            self.failure = exc.strerror or str(exc)
        except ValueError:  # closed on another thread: the object was lost already
            self.failure = self.failure or "the file was closed while it was being written"


def _spool_file(*_args: Any, **_kwargs: Any) -> SpoolFile:
    # pynetdicom keeps this file open while the data set arrives and closes it.
    return open_spool_file()


def open_spool_file(prepare_next: bool = True) -> SpoolFile:
    """A new partial file for a data set arriving through the current DUL thread
    (the association's spare, the next one then made on the helper thread unless
    ``prepare_next`` is false: see :func:`prepare_spool_file_here`)."""
    target = _spool_by_thread.get(threading.current_thread()) or SpoolTarget(None)
    if target.spares is not None:
        fd, name = target.spares.take(prepare_next)
    else:
        fd, name = make_partial(target.directory)
    spool = SpoolFile(fd, "wb", closefd=True)
    spool.name = name
    spool.max_size = target.max_object_size
    spool.on_too_large = target.on_too_large
    return spool


def prepare_spool_file_here() -> None:
    """Make the current DUL thread's next partial file now, on this thread."""
    target = _spool_by_thread.get(threading.current_thread())
    if target is not None and target.spares is not None:
        target.spares.make_here()
