"""Outgoing PDUs paced: the sending thread waits while about 4 MiB wait for the socket."""

from __future__ import annotations

import time
from typing import Any

#: Bytes of P-DATA queued for pynetdicom's socket thread before the sender waits
#: (measured: 4 MiB of 16 KB PDUs sends faster than an unbounded queue, in 55 MB).
OUTGOING_BYTES = 4 * 1024 * 1024


def pace_outgoing(dul: Any, pdu_size: int) -> None:
    """Make the sending thread wait while about 4 MiB of PDUs wait for the socket.

    pynetdicom cuts a data set into PDUs as fast as it reads the file and queues
    them all for its socket thread: sending a 1 GB object took 1 GB of memory
    (the file read into the queue ahead of the network). This DUL's ``send_pdu``
    now waits while its queue is full, and stops waiting once the reactor stops.
    """
    limit = max(8, OUTGOING_BYTES // pdu_size) if pdu_size > 0 else 8
    send_pdu = dul.send_pdu
    pending = dul.to_provider_queue

    def paced(primitive: Any) -> None:
        send_pdu(primitive)
        while pending.qsize() > limit and not dul._kill_thread and dul.is_alive():
            time.sleep(0.0005)

    dul.send_pdu = paced
