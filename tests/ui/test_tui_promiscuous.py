"""The F2 form's switch for promiscuous mode, over a real association."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydicom.uid import generate_uid
from pynetdicom import AE
from textual.widgets import Switch

from dicomtui.core.config.file import default_config_path
from ui.tui_helpers import SIZE, listening_port, make_app, wait_for

EXPLICIT = "1.2.840.10008.1.2.1"


def accepts(port: int, sop_class: str) -> bool:
    ae = AE(ae_title="PRIVATESCU")
    ae.acse_timeout = ae.network_timeout = 10
    ae.add_requested_context(sop_class, EXPLICIT)
    ae.add_requested_context("1.2.840.10008.1.1", EXPLICIT)  # so that the association holds
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMTUI")
    assert assoc.is_established
    taken = sop_class in {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
    assoc.release()
    return taken


def test_promiscuous_switch_in_the_form_accepts_unknown_classes_and_is_saved(
    tmp_path: Path,
) -> None:
    private = generate_uid(prefix="1.2.826.0.1.3680043.9.7433.")

    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            assert not await asyncio.to_thread(accepts, listening_port(app), private)

            await pilot.press("f2")
            await wait_for(pilot, lambda: app.screen.query("#promiscuous"))
            switch = app.screen.query_one("#promiscuous", Switch)
            assert switch.value is False
            switch.value = True
            await pilot.click("#apply")
            await wait_for(
                pilot,
                lambda: listening_port(app) and app.receiver.settings.promiscuous,
                what="the restarted receiver",
            )
            assert await asyncio.to_thread(accepts, listening_port(app), private)

    asyncio.run(scenario())
    assert "promiscuous = true" in default_config_path().read_text()
