"""The sender's settings: storescu's options, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from dicomtui.core.config.validation import (
    check_ae_title,
    check_max_pdu,
    check_port,
    check_send_associations,
    checked,
    seconds,
)
from dicomtui.core.dicom.uids import EXPLICIT_BIG, EXPLICIT_LITTLE, IMPLICIT_LITTLE

DEFAULT_MAX_PDU = 16382


class RequestSyntax(StrEnum):
    """storescu's transfer syntax options."""

    DEFAULT = "default"
    LITTLE = "little"  # -xe
    BIG = "big"  # -xb
    IMPLICIT = "implicit"  # -xi


def requested_syntaxes(choice: RequestSyntax) -> tuple[str, ...]:
    if choice is RequestSyntax.LITTLE:
        return (EXPLICIT_LITTLE,)
    if choice is RequestSyntax.BIG:
        return (EXPLICIT_BIG,)
    if choice is RequestSyntax.IMPLICIT:
        return (IMPLICIT_LITTLE,)
    # Imported here (pydicom and pynetdicom): storescu's option parser imports this module.
    from dicomtui.core.dicom.tables import UNCOMPRESSED_TRANSFER_SYNTAXES

    return UNCOMPRESSED_TRANSFER_SYNTAXES


@dataclass(frozen=True, slots=True)
class SenderSettings:
    host: str = "127.0.0.1"
    port: int = checked(11112, check_port)
    called_ae_title: str = checked("ANY-SCP", check_ae_title)
    calling_ae_title: str = checked("STORESCU", check_ae_title)
    acse_timeout: float = seconds(30.0, "acse timeout")
    dimse_timeout: float = seconds(30.0, "dimse timeout")
    network_timeout: float = seconds(30.0, "network timeout")
    max_pdu: int = checked(DEFAULT_MAX_PDU, check_max_pdu)
    request_syntax: RequestSyntax = RequestSyntax.DEFAULT
    #: storescu's -cx: propose exactly each file's SOP class and transfer syntax.
    required_contexts: bool = False
    #: Decompress a file (losslessly, to explicit VR little endian) when the peer
    #: accepted none of its own syntaxes but an uncompressed one for its SOP class.
    transcode: bool = True
    recurse: bool = False
    stop_on_failure: bool = False
    #: Associations opened at once to the peer for one send, the files shared between them.
    associations: int = checked(1, check_send_associations)
    bind_address: str = ""
    #: TLS: verify the peer against ``tls_ca`` (or the system's CAs); present
    #: ``tls_certificate`` and ``tls_key`` if the peer asks for a client certificate.
    tls: bool = False
    tls_ca: Path | None = None
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    #: Send files whose bytes go as they are through our own C-STORE path
    #: (core/net/fast_send.py); off: pynetdicom's, to compare.
    fast_path: bool = True
