"""C-CANCEL goes out when asked, not at the next response: a PACS that sends
nothing more until it is cancelled is cancelled all the same."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import free_port
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore

from dicomtui.core.qr.find import FindJob
from dicomtui.core.qr.models import Model
from dicomtui.core.qr.query import build_query
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import LogMessage

pytestmark = pytest.mark.timeout(60)

#: How long the PACS waits for a C-CANCEL before it answers the query in full.
PACS_PATIENCE = 15.0


@pytest.fixture
def stalling_pacs() -> Iterator[tuple[int, list[str]]]:
    """A C-FIND SCP that sends one match, then nothing until it is cancelled."""
    seen: list[str] = []

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        match = Dataset()
        match.QueryRetrieveLevel = "STUDY"
        match.StudyInstanceUID = "1.2.3.4"
        yield 0xFF00, match
        deadline = time.monotonic() + PACS_PATIENCE
        while time.monotonic() < deadline:
            if event.is_cancelled:
                seen.append("cancelled")
                yield 0xFE00, None
                return
            time.sleep(0.02)
        seen.append("answered in full")
        yield 0x0000, None

    ae = AE("STALLING")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)]
    )
    try:
        yield port, seen
    finally:
        server.shutdown()


def test_a_cancel_between_responses_goes_out_at_once(
    stalling_pacs: tuple[int, list[str]],
) -> None:
    port, seen = stalling_pacs
    bus = EventBus()
    logged: list[str] = []
    bus.subscribe(lambda e: logged.append(e.text) if isinstance(e, LogMessage) else None)
    first_match = threading.Event()
    job = FindJob(
        SenderSettings(port=port, called_ae_title="STALLING"),
        build_query(["QueryRetrieveLevel=STUDY", "StudyInstanceUID="]),
        bus,
        model=Model.STUDY,
        on_match=lambda _identifier: first_match.set(),
    )

    def cancel_once_waiting() -> None:
        # From another thread, while the job waits for a response that will not
        # come until the PACS is cancelled (the app's Esc does this).
        if first_match.wait(10):
            time.sleep(0.3)
            job.cancel()

    canceller = threading.Thread(target=cancel_once_waiting)
    canceller.start()
    result = job.run()
    canceller.join()
    assert seen == ["cancelled"]
    assert result.status == 0xFE00 and result.cancelled
    assert result.matches == 1
    assert logged.count("Sending C-CANCEL request") == 1


def test_a_cancel_before_the_request_sends_no_request(
    stalling_pacs: tuple[int, list[str]],
) -> None:
    port, seen = stalling_pacs
    job = FindJob(
        SenderSettings(port=port, called_ae_title="STALLING"),
        build_query(["QueryRetrieveLevel=STUDY", "StudyInstanceUID="]),
        EventBus(),
        model=Model.STUDY,
    )
    job.cancel()
    result = job.run()
    assert result.cancelled and result.matches == 0
    assert seen == []
