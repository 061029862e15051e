"""What a query/retrieve association proposes: the information model's context,
SOP Class Extended Negotiation (findscu's and getscu's flags), and for C-GET the
storage contexts, with SCP/SCU role selection, for the objects that come back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import StoragePresentationContexts, build_context, build_role
from pynetdicom.pdu_primitives import SOPClassExtendedNegotiation
from pynetdicom.presentation import PresentationContext

from dicomtui.core.dicom.tables import sop_class_name
from dicomtui.core.scu.planning import MAX_CONTEXTS_PER_ASSOCIATION

QUERY_TRANSFER_SYNTAXES = (
    str(ExplicitVRLittleEndian),
    str(ImplicitVRLittleEndian),
    str(ExplicitVRBigEndian),
)

#: Offered for every storage context of a C-GET: uncompressed first, then the
#: compressed syntaxes PACSs store most, so objects come back as they are kept.
RETRIEVE_TRANSFER_SYNTAXES = (
    str(ExplicitVRLittleEndian),
    str(ImplicitVRLittleEndian),
    str(DeflatedExplicitVRLittleEndian),
    str(ExplicitVRBigEndian),
    str(JPEGLosslessSV1),
    str(JPEGBaseline8Bit),
    str(JPEGExtended12Bit),
    str(JPEGLSLossless),
    str(JPEGLSNearLossless),
    str(JPEG2000Lossless),
    str(JPEG2000),
    str(RLELossless),
)


@dataclass(frozen=True, slots=True)
class ExtendedOptions:
    """findscu's, movescu's and getscu's extended negotiation flags."""

    relational: bool = False  # --relational-query / --relational-retrieval
    datetime_matching: bool = False  # --dt-matching (C-FIND)
    fuzzy_names: bool = False  # --fuzzy-names (C-FIND)
    timezone_adjustment: bool = False  # --timezone-adj (C-FIND)
    enhanced_conversion: bool = False  # --enhanced-conversion


def _item(sop_class: str, flags: Iterable[bool]) -> SOPClassExtendedNegotiation:
    item = SOPClassExtendedNegotiation()
    item.sop_class_uid = sop_class
    item.service_class_application_information = bytes(1 if f else 0 for f in flags)
    return item


def find_extended_negotiation(
    model_uid: str, options: ExtendedOptions, worklist: bool = False
) -> list[Any]:
    """As pynetdicom's findscu: five flags for Q/R, or the worklist's four bytes."""
    o = options
    if worklist:
        if not (o.fuzzy_names or o.timezone_adjustment):
            return []
        return [_item(model_uid, (True, True, o.fuzzy_names, o.timezone_adjustment))]
    flags = (
        o.relational,
        o.datetime_matching,
        o.fuzzy_names,
        o.timezone_adjustment,
        o.enhanced_conversion,
    )
    return [_item(model_uid, flags)] if any(flags) else []


def retrieve_extended_negotiation(model_uid: str, options: ExtendedOptions) -> list[Any]:
    """As pynetdicom's movescu and getscu: relational retrieval, enhanced conversion."""
    flags = (options.relational, options.enhanced_conversion)
    return [_item(model_uid, flags)] if any(flags) else []


def query_context(model_uid: str) -> PresentationContext:
    return build_context(model_uid, list(QUERY_TRANSFER_SYNTAXES))


def retrieve_storage_classes(wanted: Sequence[str] = (), room: int = 127) -> list[str]:
    """The storage SOP classes a C-GET proposes (at most ``room``): ``wanted`` first
    (classes the caller knows are coming), then pynetdicom's common storage classes."""
    classes = dict.fromkeys(wanted)
    for cx in StoragePresentationContexts:
        classes.setdefault(str(cx.abstract_syntax))
    return list(classes)[:room]


def get_contexts(model_uid: str, storage_classes: Sequence[str]) -> list[PresentationContext]:
    contexts = [query_context(model_uid)]
    contexts += [build_context(uid, list(RETRIEVE_TRANSFER_SYNTAXES)) for uid in storage_classes]
    if len(contexts) > MAX_CONTEXTS_PER_ASSOCIATION:
        raise ValueError(f"{len(contexts)} presentation contexts: one association takes 128")
    return contexts


def storage_roles(storage_classes: Sequence[str]) -> list[Any]:
    """SCP/SCU role selection: we are the Storage SCP for what the C-GET brings."""
    return [build_role(uid, scp_role=True) for uid in storage_classes]


def refused_storage(assoc: Any, storage_classes: Sequence[str]) -> list[str]:
    """The proposed storage classes we cannot receive on this association: the peer
    rejected the context, or did not agree that we act as its SCP."""
    usable = {
        str(cx.abstract_syntax) for cx in assoc.accepted_contexts if getattr(cx, "as_scp", False)
    }
    return [uid for uid in storage_classes if uid not in usable]


def describe_refused(refused: Sequence[str], proposed: int, at_most: int = 8) -> str:
    names = [sop_class_name(uid) for uid in refused[:at_most]]
    more = f" and {len(refused) - at_most} more" if len(refused) > at_most else ""
    return (
        f"The peer refused {len(refused)} of the {proposed} storage SOP classes proposed for"
        f" the objects coming back (objects of these classes will fail): {', '.join(names)}{more}"
    )
