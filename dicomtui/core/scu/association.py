"""Requesting an association: TLS, the bind address, our reactor installed, and
why it failed, in one phrase."""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Any

from pynetdicom import AE, evt

from dicomtui.core.net.observer import RequestWatch, rejection, rejection_text
from dicomtui.core.net.pacing import pace_outgoing
from dicomtui.core.net.requestor_reactor import own_responses, owns_responses
from dicomtui.core.net.seam import check as check_seam
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    AssociationFailed,
    Side,
)
from dicomtui.core.tls import TlsFileError, client_context


def client_tls_context(settings: SenderSettings) -> ssl.SSLContext | None:
    """None without TLS; raises :class:`TlsFileError` naming a file that cannot be used."""
    if not settings.tls:
        return None
    return client_context(settings.tls_ca, settings.tls_certificate, settings.tls_key)


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
