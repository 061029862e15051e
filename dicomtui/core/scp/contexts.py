"""The presentation contexts the receiver supports, made from one checked template."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydicom.uid import UID
from pynetdicom.presentation import PresentationContext

from dicomtui.core.dicom.tables import STORAGE_SOP_CLASSES
from dicomtui.core.dicom.uids import VERIFICATION_SOP_CLASS
from dicomtui.core.scp.settings import ReceiverSettings, accepted_transfer_syntaxes


class SharedContext(PresentationContext):
    """A supported context that copies cheaply.

    pynetdicom deep-copies every supported context for each association it
    accepts: 172 SOP classes times 45 transfer syntaxes cost about 40 ms, a
    ceiling of some 25 associations a second for modalities that open one per
    image. Everything in a context is immutable but the list of transfer
    syntaxes, so copying that list gives the same isolation.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedContext:
        clone = copy.copy(self)
        clone._transfer_syntax = list(self._transfer_syntax)
        return clone


def context_maker(settings: ReceiverSettings) -> Callable[[str], PresentationContext]:
    """Makes a supported context for a SOP class with the receiver's transfer syntaxes.

    pynetdicom checks each transfer syntax UID as it is set: 45 syntaxes for each
    of 172 classes took 120 ms at every start (and F2's restart). They are checked
    once here, and each context is a copy of that one (4 ms for all).
    """
    template = SharedContext()
    template.transfer_syntax = list[str | bytes | UID](
        accepted_transfer_syntaxes(settings.preferred_syntax)
    )

    def make(sop_class: str) -> PresentationContext:
        context = copy.deepcopy(template)
        context.abstract_syntax = sop_class
        return context

    return make


def supported_contexts(settings: ReceiverSettings) -> list[PresentationContext]:
    classes = list(STORAGE_SOP_CLASSES)
    if settings.echo:
        classes.append(VERIFICATION_SOP_CLASS)
    make = context_maker(settings)
    return [make(sop_class) for sop_class in classes]
