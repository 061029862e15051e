"""Ending an association request that is still waiting for the peer's answer.

``AE.associate()`` blocks until the peer answers or the ACSE timeout (30 s by
default) passes, and ``Association.abort()`` does not wake it: it stops the
DUL, so nothing reaches the queue the request waits on. Closing the socket
under it does: the DUL reads the end of the connection and hands the waiting
request an A-P-ABORT, so ``associate()`` returns at once, aborted.

The socket is reached as ``observer.set_tcp_nodelay`` reaches it (public
attributes, not in ``seam.CHECKED``): if a later pynetdicom moves it, nothing is
hung up and the request ends at the ACSE timeout as it would by itself.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any


def hang_up(assoc: Any) -> bool:
    """Close the association's connection; False if it has no socket (yet)."""
    sock = getattr(getattr(getattr(assoc, "dul", None), "socket", None), "socket", None)
    if sock is None:
        return False
    # Already closed by the peer or by pynetdicom: the request ends by itself.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    return True
