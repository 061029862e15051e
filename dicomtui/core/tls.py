"""TLS contexts from PEM files, with errors that name the file and what is wrong.

OpenSSL's own errors say ``No such file or directory`` without the file, or
``[SSL] PEM lib`` for a key that is not the certificate's; these say which file
and why. The receiver's handshake is done on the connection's own thread, not in
pynetdicom's accept loop (where it is silent about failures, and where one peer
that never speaks would hold up every other), so a failed one can be logged.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

#: OpenSSL's reasons when the first bytes are not a TLS record: a plain peer.
_NOT_TLS = {
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "UNKNOWN_PROTOCOL",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "UNSUPPORTED_PROTOCOL",
}


class TlsFileError(ValueError):
    """A certificate, key or CA file that cannot be used; the message says which and why."""


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsFileError(f"Cannot read the {what} {path}: {exc.strerror or exc}") from None


def load_certificate(context: ssl.SSLContext, certificate: Path, key: Path | None) -> None:
    """``context.load_cert_chain`` with an error that says what to fix."""
    cert_text = _read(certificate, "TLS certificate")
    key_text = _read(key, "TLS key") if key is not None else cert_text
    if b"-----BEGIN CERTIFICATE-----" not in cert_text:
        raise TlsFileError(f"The TLS certificate {certificate} holds no PEM certificate")
    if b"PRIVATE KEY-----" not in key_text:
        if key is None:
            raise TlsFileError(
                f"The TLS certificate {certificate} holds no private key: give its key file too"
            )
        raise TlsFileError(f"The TLS key {key} holds no PEM private key")
    if b"ENCRYPTED" in key_text:
        raise TlsFileError(
            f"The TLS key {key or certificate} is protected by a password; give a key without one"
        )
    try:
        # A password callback, so that OpenSSL never prompts on the terminal.
        context.load_cert_chain(certificate, key, password=lambda: b"")
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsFileError(
                f"The TLS key {key or certificate} does not match the certificate {certificate}"
            ) from None
        raise TlsFileError(
            f"Cannot use the TLS certificate {certificate} with the key {key or certificate}: "
            f"{reason_words(exc)}"
        ) from None
    except OSError as exc:  # gone or changed since it was read
        raise TlsFileError(
            f"Cannot read the TLS certificate {certificate} or its key: {exc.strerror or exc}"
        ) from None


def _ca_text(ca: Path) -> str:
    text = _read(ca, "TLS CA file")
    if b"-----BEGIN CERTIFICATE-----" not in text:
        raise TlsFileError(f"The TLS CA file {ca} holds no PEM certificate")
    return text.decode("ascii", errors="replace")


def client_context(ca: Path | None, certificate: Path | None, key: Path | None) -> ssl.SSLContext:
    """Verify the peer against ``ca`` (or the system's CAs); present a client
    certificate when one is given. Raises :class:`TlsFileError`."""
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cadata=_ca_text(ca) if ca is not None else None
        )
    except ssl.SSLError as exc:
        raise TlsFileError(f"Cannot use the TLS CA file {ca}: {reason_words(exc)}") from None
    if certificate is not None:
        load_certificate(context, certificate, key)
    return context


class ServerContext(ssl.SSLContext):
    """A server context whose sockets do their handshake later, on their own
    thread (:func:`server_handshake`), not in pynetdicom's accept loop."""

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock, server_side, False, suppress_ragged_eofs, server_hostname, session
        )


def server_context(certificate: Path, key: Path | None, ca: Path | None) -> ssl.SSLContext:
    """The receiver's certificate; with ``ca``, peers must present a certificate
    it signed. Raises :class:`TlsFileError`."""
    context = ServerContext(ssl.PROTOCOL_TLS_SERVER)
    load_certificate(context, certificate, key)
    if ca is not None:
        try:
            context.load_verify_locations(cadata=_ca_text(ca))
        except ssl.SSLError as exc:
            raise TlsFileError(f"Cannot use the TLS CA file {ca}: {reason_words(exc)}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def reason_words(exc: ssl.SSLError) -> str:
    """``certificate verify failed`` rather than ``[SSL: CERTIFICATE_VERIFY_FAILED] ...``."""
    reason = exc.reason or ""
    if reason:
        return reason.replace("_", " ").lower()
    return str(exc.strerror or exc)


def server_handshake(sock: object, timeout: float) -> str:
    """Complete the TLS handshake of an accepted connection; "" when done, else why
    not, as the end of "Closing connection from ADDR: ..."."""
    if not isinstance(sock, ssl.SSLSocket):
        return ""
    previous = sock.gettimeout()
    try:
        sock.settimeout(timeout)
        sock.do_handshake()
    except TimeoutError:
        return f"no TLS handshake within {timeout:g} s"
    except ssl.SSLEOFError:
        return "it closed the connection during the TLS handshake"
    except ssl.SSLError as exc:
        if exc.reason in _NOT_TLS:
            return f"it does not speak TLS (the TLS handshake failed: {reason_words(exc)})"
        return f"the TLS handshake failed: {reason_words(exc)}"
    except OSError as exc:
        return f"the TLS handshake failed: {exc.strerror or exc}"
    sock.settimeout(previous)
    return ""
