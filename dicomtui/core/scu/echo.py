"""C-ECHO: is the peer there, and does it speak DICOM?"""

from __future__ import annotations

import time
from collections.abc import Callable

from dicomtui.core.dicom.uids import VERIFICATION_SOP_CLASS
from dicomtui.core.net.observer import AssociationObserver
from dicomtui.core.net.requestor_reactor import exchange, release
from dicomtui.core.net.seam import forward_warnings
from dicomtui.core.net.seam import report as report_seam
from dicomtui.core.net.setup import configure_pynetdicom
from dicomtui.core.scu.association import make_ae, request_association
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import EchoResult, Side


def echo(
    settings: SenderSettings, bus: EventBus, want_pdu_dumps: Callable[[], bool] | None = None
) -> EchoResult:
    """Associate, send one C-ECHO, release; publishes and returns the result."""
    configure_pynetdicom()
    report_seam(bus, Side.SENDER)
    forward_warnings(bus, Side.SENDER)
    started = time.monotonic()
    ae = make_ae(settings)
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    observer = AssociationObserver(bus, Side.SENDER, want_pdu_dumps)
    assoc, error = request_association(ae, settings, observer.handlers(), bus)
    status: int | None = None
    associated = assoc is not None and assoc.is_established
    if not error:
        with exchange(assoc):
            response = assoc.send_c_echo()
        release(assoc)
        status = response.get("Status") if response is not None else None
        if status is None:
            error = "no response (DIMSE timeout or association aborted)"
    elif error == "no accepted presentation contexts":
        error = "the peer does not accept Verification (C-ECHO)"
    result = EchoResult(
        side=Side.SENDER,
        peer_address=settings.host,
        peer_port=settings.port,
        status=int(status) if status is not None else None,
        seconds=time.monotonic() - started,
        error=error,
        associated=associated,
    )
    bus.publish(result)
    return result
