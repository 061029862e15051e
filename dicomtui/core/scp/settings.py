"""The receiver's settings: storescp's options and the admission limits, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from dicomtui.core.config.validation import (
    ae_titles,
    check_addresses,
    check_ae_title,
    check_count,
    check_max_pdu,
    check_port,
    checked,
    seconds,
)
from dicomtui.core.dicom.uids import EXPLICIT_BIG, EXPLICIT_LITTLE, IMPLICIT_LITTLE
from dicomtui.core.scp.storage import (
    DuplicatePolicy,
    StorageLayout,
    check_extension,
)

if TYPE_CHECKING:
    from dicomtui.core.scp.admission import AdmissionPolicy

DEFAULT_MAX_PDU = 16382


class PreferredSyntax(StrEnum):
    """storescp's preferred-transfer-syntax options."""

    DEFAULT = "default"
    UNCOMPRESSED = "uncompressed"  # -x=
    LITTLE = "little"  # -xe
    BIG = "big"  # -xb
    IMPLICIT = "implicit"  # -xi


def accepted_transfer_syntaxes(preference: PreferredSyntax) -> list[str]:
    """Transfer syntaxes in the order the receiver prefers them.

    By default a compressed syntax the sender offers is taken as it is (the
    sender need not decompress, and the file keeps its pixel data as made),
    then pynetdicom's storescp order. The options put the user's choice first.
    """
    # Imported here (pydicom and pynetdicom): storescp's option parser imports this module.
    from dicomtui.core.dicom.tables import ALL_TRANSFER_SYNTAXES_ACCEPTED, is_uncompressed

    syntaxes = list(ALL_TRANSFER_SYNTAXES_ACCEPTED)
    if preference is PreferredSyntax.DEFAULT:
        return [ts for ts in syntaxes if not is_uncompressed(ts)] + [
            ts for ts in syntaxes if is_uncompressed(ts)
        ]
    if preference is PreferredSyntax.UNCOMPRESSED:
        syntaxes.remove(IMPLICIT_LITTLE)
        syntaxes.append(IMPLICIT_LITTLE)
    elif preference is PreferredSyntax.LITTLE:
        syntaxes.remove(EXPLICIT_LITTLE)
        syntaxes.insert(0, EXPLICIT_LITTLE)
    elif preference is PreferredSyntax.BIG:
        syntaxes.remove(EXPLICIT_BIG)
        syntaxes.insert(0, EXPLICIT_BIG)
    elif preference is PreferredSyntax.IMPLICIT:
        syntaxes = [IMPLICIT_LITTLE]
    return syntaxes


@dataclass(frozen=True, slots=True)
class ReceiverSettings:
    port: int = checked(11112, lambda value: check_port(value, allow_zero=True))
    ae_title: str = checked("STORESCP", check_ae_title)
    bind_address: str = ""
    acse_timeout: float = seconds(30.0, "acse timeout")
    dimse_timeout: float = seconds(30.0, "dimse timeout")
    network_timeout: float = seconds(30.0, "network timeout")
    max_pdu: int = checked(DEFAULT_MAX_PDU, check_max_pdu)
    preferred_syntax: PreferredSyntax = PreferredSyntax.DEFAULT
    output_directory: Path = Path(".")
    ignore: bool = False
    echo: bool = True
    #: Accept SOP classes that no registry knows (private, newer) as storage (-pm).
    promiscuous: bool = False
    duplicates: DuplicatePolicy = DuplicatePolicy.KEEP_BOTH
    layout: StorageLayout = StorageLayout.FLAT
    #: Added to every stored file's name (``.dcm``); empty as in the manual.
    filename_extension: str = checked("", check_extension)
    #: Associations open at once (only peers that asked count, not idle sockets).
    max_associations: int = checked(10, lambda value: check_count(value, "max associations", 1))
    #: Connections open at once, associated or not.
    max_connections: int = checked(100, lambda value: check_count(value, "max connections", 1))
    #: How long a connection may stay silent before its A-ASSOCIATE-RQ.
    handshake_timeout: float = seconds(5.0, "handshake timeout")
    #: The largest object accepted, in bytes (0: no limit).
    max_object_size: int = checked(4 * 1024**3, lambda value: check_count(value, "largest object"))
    allowed_calling_ae_titles: tuple[str, ...] = checked((), ae_titles)
    allowed_addresses: tuple[str, ...] = checked((), check_addresses)
    check_called_ae_title: bool = False
    #: TLS: the receiver's certificate and key (PEM); with a CA, peers must present
    #: a certificate it signed.
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None

    def admission_policy(self) -> AdmissionPolicy:
        from dicomtui.core.scp.admission import AdmissionPolicy

        return AdmissionPolicy(
            max_associations=self.max_associations,
            max_connections=self.max_connections,
            handshake_timeout=self.handshake_timeout,
            allowed_calling_ae_titles=self.allowed_calling_ae_titles,
            allowed_addresses=self.allowed_addresses,
            check_called_ae_title=self.check_called_ae_title,
        )


def pdu_limit(max_pdu: int) -> int:
    """The largest PDU a peer may send: what we offered, with room for the header.

    pynetdicom reads a PDU of whatever length the peer declares into memory; a
    peer that ignores our maximum is cut off instead.
    """
    return (max_pdu or 64 * 1024 * 1024) + 64 * 1024
