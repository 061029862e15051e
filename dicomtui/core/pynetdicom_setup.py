"""Process-wide pynetdicom configuration, applied once.

- No standard logging handlers: our observer publishes events instead, and
  pynetdicom's would copy every received data set just to log "Present".
- Data sets are received straight to a file (``STORE_RECV_CHUNKED_DATASET``)
  and sent straight from one (``STORE_SEND_CHUNKED_DATASET``): nothing is
  decoded and memory stays flat for large objects.
- The file being received is created in the receiving association's output
  folder under a partial name, so storing it is a rename on the same file
  system. pynetdicom creates that file on the association's DUL thread, which
  is how the right folder is found.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from pynetdicom import _config, dimse_messages

from dicomtui.core.storage import FILE_MODE, PARTIAL_PREFIX, PARTIAL_SUFFIX

_lock = threading.Lock()
_configured = False
_spool_by_thread: weakref.WeakKeyDictionary[threading.Thread, Path] = weakref.WeakKeyDictionary()


def set_spool_directory(dul_thread: threading.Thread, directory: Path | None) -> None:
    """Data sets arriving through ``dul_thread`` are written into ``directory``."""
    with _lock:
        if directory is None:
            _spool_by_thread.pop(dul_thread, None)
        else:
            _spool_by_thread[dul_thread] = directory


class SpoolFile(io.FileIO):
    """A file being received: unbuffered, so each PDU's data goes straight to the
    operating system, with the ``.file`` that pynetdicom flushes (a no-op here)
    and ``.name`` as a path."""

    @property
    def file(self) -> SpoolFile:
        return self


def _spool_file(*_args: Any, **_kwargs: Any) -> SpoolFile:
    # pynetdicom keeps this file open while the data set arrives and closes it.
    directory = _spool_by_thread.get(threading.current_thread())
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX)
    except OSError:
        # The output folder went away or is read-only: receive into the system's
        # temporary folder and let the C-STORE handler report the failure.
        fd, name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX)
    os.fchmod(fd, FILE_MODE)
    spool = SpoolFile(fd, "wb", closefd=True)
    spool.name = name
    return spool


def configure_pynetdicom() -> None:
    global _configured
    with _lock:
        if _configured:
            return
        _config.LOG_HANDLER_LEVEL = "none"
        _config.STORE_RECV_CHUNKED_DATASET = True
        _config.STORE_SEND_CHUNKED_DATASET = True
        # pynetdicom looks this name up in its module at each C-STORE it receives.
        dimse_messages.NamedTemporaryFile = _spool_file  # type: ignore[attr-defined,assignment]
        _configured = True
