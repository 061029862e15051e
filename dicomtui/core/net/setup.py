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
- Its File Meta Information is encoded directly (``file_meta``), not through
  a pydicom data set."""

from __future__ import annotations

import threading

from pynetdicom import _config, dimse_messages

from dicomtui.core.dicom.file_meta import FileMeta, write_received_file_meta
from dicomtui.core.net.seam import SeamCheck
from dicomtui.core.net.seam import check as check_seam
from dicomtui.core.net.spool_file import _spool_file

_lock = threading.Lock()

_configured = False


def configure_pynetdicom() -> SeamCheck:
    """Configure pynetdicom once: its documented options (``_config``) always, and
    its module globals only when :mod:`seam` found them as expected."""
    global _configured
    seam = check_seam()
    with _lock:
        if _configured:
            return seam
        _config.LOG_HANDLER_LEVEL = "none"
        _config.STORE_RECV_CHUNKED_DATASET = True
        _config.STORE_SEND_CHUNKED_DATASET = True
        _configured = True
        if not seam.usable:
            return seam
        # pynetdicom looks this name up in its module at each C-STORE it receives.
        dimse_messages.NamedTemporaryFile = _spool_file  # type: ignore[attr-defined,assignment]
        dimse_messages.create_file_meta = FileMeta  # type: ignore[attr-defined,assignment]
        dimse_messages.write_file_meta_info = write_received_file_meta  # type: ignore[attr-defined,assignment]
    return seam
