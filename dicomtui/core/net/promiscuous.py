"""Promiscuous mode (``--promiscuous``, ``-pm``): SOP classes nobody told us of are
accepted and stored too, as DCMTK's ``storescp -pm`` and dicom-rs' ``store-scp
--promiscuous`` do: private classes, and classes newer than our UID registry.

A UID the registry knows but that is no Storage SOP class (a query model, Storage
Commitment, a transfer syntax...) is still refused: its requests would not be
C-STOREs.

pynetdicom's own switch (``_config.UNRESTRICTED_STORAGE_SERVICE``) is process-wide,
so it would make every receiver in the process promiscuous (the app's and the
tests'), and it accepts whatever transfer syntax the peer proposes first, whatever
``-x=``/``-xe``/``-xb``/``-xi`` say. Here it is done per association, by two
handlers:

* ``EVT_REQUESTED``, before pynetdicom negotiates: each unknown abstract syntax
  proposed becomes one more supported context of this association, with the
  receiver's own transfer syntaxes;
* ``EVT_ACCEPTED``, before any request is served: pynetdicom serves a request by
  the service class of its SOP class and aborts the association for a class it
  knows no service of. SOP Class Common Extended Negotiation (PS3.7 D.3.3.6) is the
  standard's way to name the service of such a class, and pynetdicom looks there
  first; so the accepted unknown classes are entered in the association's table of
  accepted items as Storage (``ServiceUser._common_ext``, pynetdicom 3.0.4,
  checked when the receiver starts). Nothing is sent to the peer for them: that
  negotiation has no reply.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import pynetdicom.sop_class
from pydicom._uid_dict import UID_dictionary
from pydicom.uid import RE_VALID_UID, UID
from pynetdicom.association import ServiceUser
from pynetdicom.pdu_primitives import SOPClassCommonExtendedNegotiation
from pynetdicom.presentation import PresentationContext

#: The Storage Service Class (PS3.4 B; PS3.6 Annex A).
STORAGE_SERVICE_CLASS = "1.2.840.10008.4.2"


def _known_uids() -> frozenset[str]:
    known = set(UID_dictionary)
    known.update(
        str(value)
        for value in vars(pynetdicom.sop_class).values()
        if isinstance(value, pynetdicom.sop_class.SOPClass)
    )
    return frozenset(known)


_KNOWN = _known_uids()


def is_unknown_class(uid: str) -> bool:
    """A well-formed UID that neither pydicom's registry nor pynetdicom knows."""
    return uid not in _KNOWN and len(uid) <= 64 and RE_VALID_UID.match(uid) is not None


def check_pynetdicom() -> None:
    """Raise RuntimeError unless pynetdicom keeps its accepted common extended
    negotiation where this module writes it (pynetdicom 3.0.4's ``ServiceUser``)."""
    ae = types.SimpleNamespace(implementation_class_uid="")
    user = ServiceUser(types.SimpleNamespace(ae=ae), "acceptor")  # type: ignore[arg-type]
    table = getattr(user, "_common_ext", None)
    if not isinstance(table, dict):
        raise RuntimeError("promiscuous mode needs pynetdicom 3.0.4 (ServiceUser._common_ext)")
    uid = UID("1.2.3.4")
    table[uid] = _as_storage(uid)
    if user.accepted_common_extended.get(uid, (None,))[0] != STORAGE_SERVICE_CLASS:
        raise RuntimeError("promiscuous mode needs pynetdicom 3.0.4 (accepted_common_extended)")


@functools.lru_cache(maxsize=1024)  # read only: the same class comes back in every association
def _as_storage(uid: UID) -> SOPClassCommonExtendedNegotiation:
    item = SOPClassCommonExtendedNegotiation()
    item.sop_class_uid = uid
    item.service_class_uid = STORAGE_SERVICE_CLASS
    return item


class Promiscuous:
    """The two handlers, for a receiver whose contexts ``make_context`` makes."""

    def __init__(self, make_context: Callable[[str], PresentationContext]) -> None:
        check_pynetdicom()
        self.make_context = make_context

    def on_requested(self, event: Any) -> None:
        assoc = event.assoc
        if assoc.is_rejected or assoc.is_aborted:  # the admission refused it
            return
        supported = assoc.acceptor.supported_contexts
        have = {str(cx.abstract_syntax) for cx in supported}
        extra = []
        for proposed in assoc.requestor.primitive.presentation_context_definition_list:
            uid = str(proposed.abstract_syntax)
            if uid not in have and is_unknown_class(uid):
                have.add(uid)
                extra.append(self.make_context(uid))
        if extra:
            assoc.acceptor.supported_contexts = [*supported, *extra]

    def on_accepted(self, event: Any) -> None:
        assoc = event.assoc
        table = assoc.acceptor._common_ext
        for context in assoc.accepted_contexts:
            uid = str(context.abstract_syntax)
            if is_unknown_class(uid) and uid not in table:
                table[UID(uid)] = _as_storage(UID(uid))

    def handlers(self, events: Any) -> list[tuple[Any, Callable[..., Any]]]:
        return [
            (events.EVT_REQUESTED, self.on_requested),
            (events.EVT_ACCEPTED, self.on_accepted),
        ]
