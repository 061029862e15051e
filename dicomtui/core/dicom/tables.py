"""SOP classes, transfer syntaxes and file-name prefixes from the seed manuals."""

from __future__ import annotations

import re

from pydicom._uid_dict import UID_dictionary
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AllStoragePresentationContexts
from pynetdicom._globals import ALL_TRANSFER_SYNTAXES
from pynetdicom.apps.common import SOP_CLASS_PREFIXES
from pynetdicom.service_class import ServiceClass, StorageServiceClass
from pynetdicom.sop_class import register_uid, uid_to_service_class

from dicomtui.core.dicom.uids import (
    VERIFICATION_SOP_CLASS,
)

# The storescp manual lists two UIDs that differ from the standard ones (an extra
# ".1" and a transposed component). Peers copying that table may use them, so the
# receiver accepts them beside the standard UIDs.
_MANUAL_ONLY_STORAGE_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.1.4.1.1.3.1": "Digital Intra-Oral X-Ray Image Storage - For Processing",
}

#: Named "... Storage" in the registry but with no network Storage service: the
#: DICOMDIR's SOP class only exists on media (PS3.10).
_NOT_NETWORK_STORAGE = frozenset({"1.2.840.10008.1.3.10"})  # Media Storage Directory Storage

_STORAGE_NAME = re.compile(
    r".+ Storage(?: - (?:For Presentation|For Processing|Trial))?(?: SOP Class)?"
)


def is_storage_class_name(name: str) -> bool:
    """A registry name of a Storage SOP class: "CT Image Storage", "... Storage -
    For Processing", the retired "... Storage - Trial" and "Stored Print Storage
    SOP Class"; not "Storage Commitment Push Model SOP Class"."""
    return _STORAGE_NAME.fullmatch(name) is not None


def _registry_storage_classes() -> dict[str, str]:
    """Every Storage SOP class in pydicom's copy of the standard's UID registry
    (PS3.6 Annex A): the current ones, those defined for DICOS and DICONDE, and
    the retired ones, which old modalities still send (DCMTK's storescp takes them
    too). pynetdicom's list leaves out the retired ones and the Non-Patient Object
    classes (Defined Procedure Protocol, Protocol Approval, Inventory, Hanging
    Protocol, Color Palette, Implant Templates)."""
    return {
        uid: name
        for uid, (name, kind, *_rest) in UID_dictionary.items()
        if kind == "SOP Class" and is_storage_class_name(name) and uid not in _NOT_NETWORK_STORAGE
    }


#: Every Storage SOP class the receiver accepts (uid -> name): the registry's, and
#: pynetdicom's (it knows a few newer than pydicom's registry), and the manual's.
STORAGE_SOP_CLASSES: dict[str, str] = {
    **_registry_storage_classes(),
    **{
        str(cx.abstract_syntax): UID(str(cx.abstract_syntax)).name
        for cx in AllStoragePresentationContexts
    },
    **_MANUAL_ONLY_STORAGE_CLASSES,
}


def ensure_storage_class(uid: str) -> None:
    """Make pynetdicom treat ``uid`` as a Storage SOP class if it knows no service for it.

    pynetdicom refuses to send or serve a C-STORE for a SOP class it does not
    know (private classes, newer ones, the manual's variant UIDs); registering
    the UID with the Storage service is what its documentation prescribes.
    """
    if uid_to_service_class(uid) is not ServiceClass:
        return
    register_uid(uid, "DicomtuiStorage_" + uid.replace(".", "_"), StorageServiceClass)


# The retired, DICOS and DICONDE classes and the manual's variants: pynetdicom
# has no service for them and would abort the association at their C-STORE.
for _uid in STORAGE_SOP_CLASSES:
    ensure_storage_class(_uid)

#: Every transfer syntax the receiver accepts, in pynetdicom's storescp order
#: (implicit VR little endian first; compressed ones accepted as they are).
ALL_TRANSFER_SYNTAXES_ACCEPTED: tuple[str, ...] = tuple(str(ts) for ts in ALL_TRANSFER_SYNTAXES)

#: What the sender proposes by default, in the storescu manual's order of preference.
UNCOMPRESSED_TRANSFER_SYNTAXES: tuple[str, ...] = (
    str(ExplicitVRLittleEndian),
    str(ImplicitVRLittleEndian),
    str(DeflatedExplicitVRLittleEndian),
    str(ExplicitVRBigEndian),
)


def sop_class_name(uid: str) -> str:
    if uid in _MANUAL_ONLY_STORAGE_CLASSES:
        return _MANUAL_ONLY_STORAGE_CLASSES[uid]
    name = UID(uid).name
    return name or uid


def transfer_syntax_name(uid: str) -> str:
    return UID(uid).name or uid


_SHORT_SYNTAX_NAMES = {
    "1.2.840.10008.1.2": "Implicit LE",
    "1.2.840.10008.1.2.1": "Explicit LE",
    "1.2.840.10008.1.2.1.99": "Deflated LE",
    "1.2.840.10008.1.2.2": "Explicit BE",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.4.92": "JPEG 2000 MC Lossless",
    "1.2.840.10008.1.2.4.93": "JPEG 2000 MC",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}


def short_transfer_syntax(uid: str) -> str:
    """A name that fits a table column."""
    return _SHORT_SYNTAX_NAMES.get(uid) or transfer_syntax_name(uid)


def short_status(status: int | None) -> str:
    """``Success``, ``Warning B000``, ``Failure A700`` (or ``No response``)."""
    if status is None:
        return "No response"
    if status == 0:
        return "Success"
    return f"{status_category(status)} {status:04X}"


def is_uncompressed(transfer_syntax: str) -> bool:
    return transfer_syntax in UNCOMPRESSED_TRANSFER_SYNTAXES


def modality_prefix(sop_class: str) -> str:
    """The file-name prefix pynetdicom's storescp uses ("CT", "MR", ...; "UN" if unknown)."""
    entry = SOP_CLASS_PREFIXES.get(sop_class)
    return entry[0] if entry else "UN"


def short_sop_class(sop_class: str) -> str:
    """A short label for tables and log lines: the prefix if known, else the name."""
    entry = SOP_CLASS_PREFIXES.get(sop_class)
    if entry:
        return str(entry[0])
    return sop_class_name(sop_class).replace(" Storage", "")


def status_text(sop_class: str | None, status: int) -> str:
    """``0x0000 - Success`` as pynetdicom's logs write a C-STORE/C-ECHO status."""
    try:
        statuses = uid_to_service_class(sop_class or VERIFICATION_SOP_CLASS).statuses
    except Exception:  # an unknown UID has no service class
        statuses = {}
    if status in statuses:
        return f"0x{status:04X} - {statuses[status][0]}"
    return f"0x{status:04X} - {status_category(status)}"


def status_category(status: int | None) -> str:
    """Success, Warning, Failure (or Unknown) for a C-STORE status."""
    if status is None:
        return "Failure"
    if status == 0x0000:
        return "Success"
    if status in (0x0001, 0x0107, 0x0116) or 0xB000 <= status <= 0xBFFF:
        return "Warning"
    if status in (0xFF00, 0xFF01):
        return "Pending"
    if status == 0xFE00:
        return "Cancel"
    return "Failure"
