"""Who may associate with the receiver, and how many at once.

pynetdicom counts every open connection against its association limit, including
sockets that never send an A-ASSOCIATE-RQ: a dozen idle connections lock every
real peer out until the ACSE timeout. Here only associations that were requested
count; silent connections are closed after ``handshake_timeout``; and past
``max_connections`` new connections are closed at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dicomtui.core.net.observer import association_id
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import AssociationRejected, Level, LogMessage, Side

# A-ASSOCIATE-RJ (result, source, diagnostic), PS3.8 9.3.4
REJECT_NOT_ALLOWED = (0x01, 0x01, 0x01)  # permanent, service user, no reason given
REJECT_CALLING_AE = (0x01, 0x01, 0x03)  # permanent, service user, calling AE not recognised
REJECT_CALLED_AE = (0x01, 0x01, 0x07)  # permanent, service user, called AE not recognised
REJECT_BUSY = (0x02, 0x03, 0x02)  # transient, presentation provider, local limit exceeded


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    max_associations: int = 10
    max_connections: int = 100
    handshake_timeout: float = 5.0
    #: Empty: any calling AE title may associate.
    allowed_calling_ae_titles: tuple[str, ...] = ()
    #: Empty: any peer address; otherwise addresses or networks ("10.0.0.0/8").
    allowed_addresses: tuple[str, ...] = ()
    #: Refuse associations whose called AE title is not ours.
    check_called_ae_title: bool = False


def parse_networks(entries: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The allow-list as networks; raises ValueError naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {entry!r}") from None
    return networks


class Admission:
    """pynetdicom handlers that apply an :class:`AdmissionPolicy`."""

    def __init__(self, policy: AdmissionPolicy, own_ae_title: str, bus: EventBus) -> None:
        self.policy = policy
        self.own_ae_title = own_ae_title.strip()
        self.bus = bus
        self.networks = parse_networks(policy.allowed_addresses)
        self.allowed_titles = {t.strip() for t in policy.allowed_calling_ae_titles if t.strip()}
        self._lock = threading.Lock()
        # Associations (pynetdicom threads) by weak reference: one that ends
        # without any event is forgotten all the same.
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._requested: weakref.WeakSet[Any] = weakref.WeakSet()
        self._admitted: weakref.WeakSet[Any] = weakref.WeakSet()

    @staticmethod
    def _live(associations: weakref.WeakSet[Any]) -> int:
        return sum(1 for assoc in list(associations) if _connected(assoc))

    # --- connections -----------------------------------------------------------------

    def on_conn_open(self, event: Any) -> None:
        assoc = event.assoc
        with self._lock:
            self._connections.add(assoc)
            crowded = self._live(self._connections) > self.policy.max_connections
        if crowded:
            self._log(
                Level.WARNING,
                f"Closing connection from {_peer(event)}: more than "
                f"{self.policy.max_connections} connections are open",
            )
            close_connection(assoc)
            return
        timer = threading.Timer(self.policy.handshake_timeout, self._drop_if_silent, (assoc, event))
        timer.daemon = True
        timer.start()

    def on_conn_close(self, event: Any) -> None:
        with self._lock:
            self._connections.discard(event.assoc)
            self._admitted.discard(event.assoc)

    def on_association_ended(self, event: Any) -> None:
        with self._lock:
            self._admitted.discard(event.assoc)

    def _drop_if_silent(self, assoc: Any, event: Any) -> None:
        with self._lock:
            silent = assoc not in self._requested and _connected(assoc)
        if silent:
            self._log(
                Level.WARNING,
                f"Closing connection from {_peer(event)}: no association "
                f"request within {self.policy.handshake_timeout:g} s",
            )
            close_connection(assoc)

    # --- association requests --------------------------------------------------------------

    def on_requested(self, event: Any) -> None:
        assoc = event.assoc
        if assoc.is_aborted or assoc.is_rejected:
            return  # aborted already (it could not be prepared): nothing to admit
        number = association_id(assoc)
        with self._lock:
            self._requested.add(assoc)
        refusal = self._refusal(assoc)
        if refusal is None:
            with self._lock:
                if self._live(self._admitted) >= self.policy.max_associations:
                    refusal = (
                        REJECT_BUSY,
                        f"{self.policy.max_associations} associations are open already",
                    )
                else:
                    self._admitted.add(assoc)
        if refusal is None:
            return
        (result, source, diagnostic), reason = refusal
        host, port = _address(assoc)
        self.bus.publish(
            AssociationRejected(
                side=Side.RECEIVER,
                assoc_id=number,
                peer_address=host,
                peer_port=port,
                reason=reason,
            )
        )
        assoc.acse.send_reject(result, source, diagnostic)
        assoc.is_rejected = True
        assoc.kill()

    def _refusal(self, assoc: Any) -> tuple[tuple[int, int, int], str] | None:
        request = assoc.requestor.primitive
        calling = str(getattr(request, "calling_ae_title", "") or "").strip()
        called = str(getattr(request, "called_ae_title", "") or "").strip()
        host, _port = _address(assoc)
        if self.networks:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                address = None
            if address is None or not any(address in network for network in self.networks):
                return REJECT_NOT_ALLOWED, f"address {host} is not on the allow-list"
        if self.allowed_titles and calling not in self.allowed_titles:
            return REJECT_CALLING_AE, f"calling AE title {calling!r} is not on the allow-list"
        if self.policy.check_called_ae_title and called != self.own_ae_title:
            return REJECT_CALLED_AE, f"called AE title {called!r} is not {self.own_ae_title!r}"
        return None

    def _log(self, level: Level, text: str) -> None:
        self.bus.publish(LogMessage(side=Side.RECEIVER, level=level, text=text))

    def handlers(self, events: Any) -> list[tuple[Any, Callable[..., Any]]]:
        return [
            (events.EVT_CONN_OPEN, self.on_conn_open),
            (events.EVT_CONN_CLOSE, self.on_conn_close),
            (events.EVT_REQUESTED, self.on_requested),
            (events.EVT_RELEASED, self.on_association_ended),
            (events.EVT_ABORTED, self.on_association_ended),
        ]


def _address(assoc: Any) -> tuple[str, int]:
    try:
        return str(assoc.requestor.address), int(assoc.requestor.port)
    except Exception:
        return "", 0


def _peer(event: Any) -> str:
    address = getattr(event, "address", None) or _address(event.assoc)
    return f"{address[0]}:{address[1]}"


def _connected(assoc: Any) -> bool:
    """The association's thread runs and its socket is open."""
    sock = getattr(getattr(assoc, "dul", None), "socket", None)
    return bool(assoc.is_alive() and getattr(sock, "socket", None) is not None)


def close_connection(assoc: Any) -> None:
    """End a connection that never became an association.

    Closing the socket ends pynetdicom's reader; the association thread would
    still wait the whole ACSE timeout for a request, so it is woken with the
    "nothing came" it waits for.
    """
    dul = getattr(assoc, "dul", None)
    sock = getattr(dul, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.close()
    queue = getattr(dul, "to_user_queue", None)
    if queue is not None:
        queue.put(None)
