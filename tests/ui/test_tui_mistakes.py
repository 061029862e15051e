"""The app's forms check ports, AE titles and TLS files with the same validators
as the commands, and say what is wrong in the same words."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_tls import make_pki
from textual.widgets import Button, Input, Switch

from dicomtui.ui.app import DicomTuiApp
from dicomtui.ui.nodes_screen import NodesScreen
from ui.tui_helpers import SIZE, make_app, wait_for


async def refused(pilot, app: DicomTuiApp, **fields: str) -> str:  # type: ignore[no-untyped-def]
    """Fill the open form's fields, press Apply, and return the error it shows
    (after the name of the field it is about, which the form puts first)."""
    for widget_id, value in fields.items():
        app.screen.query_one(f"#{widget_id.replace('_', '-')}", Input).value = value
    app.screen.query_one("#apply", Button).press()
    await pilot.pause()
    field, _, error = str(app.screen.query_one("#form-error").render()).partition(": ")
    assert field and error, f"the error names no field: {field!r}"
    return error


def test_the_forms_say_what_is_wrong(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other")
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a certificate")

    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f2")
            await wait_for(pilot, lambda: app.screen.query("#ae-title"), what="the F2 form")
            assert await refused(pilot, app, port="70000") == (
                "The port must be a number from 0 to 65535"
            )
            assert await refused(pilot, app, port="0", ae_title="A\\B") == (
                "The AE title must not contain a backslash"
            )
            assert await refused(
                pilot, app, ae_title="DICOMTUI", allow_calling="OK, ABCDEFGHIJKLMNOPQ"
            ) == ("The allowed calling AE title must be at most 16 characters, not 17")
            assert await refused(
                pilot,
                app,
                allow_calling="",
                tls_cert=str(pki["server_cert"]),
                tls_key=str(other["server_key"]),
            ) == (
                f"The TLS key {other['server_key']} does not match the certificate"
                f" {pki['server_cert']}"
            )
            await pilot.press("escape")

            await pilot.press("f3")
            await wait_for(pilot, lambda: app.screen.query("#calling"), what="the F3 form")
            assert await refused(pilot, app, calling="RÖNTGEN") == (
                "The calling AE title must be printable ASCII characters: 'Ö' is not"
            )
            app.screen.query_one("#tls", Switch).value = True
            assert await refused(pilot, app, calling="WS1", tls_ca=str(garbage)) == (
                f"The TLS CA file {garbage} holds no PEM certificate"
            )
            await pilot.press("escape")

            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: isinstance(app.screen, NodesScreen))
            await pilot.press("a")
            await wait_for(pilot, lambda: app.screen.query("#node-name"), what="the node form")
            assert await refused(pilot, app, node_name="PACS", node_host="pacs", node_port="0") == (
                "The port must be a number from 1 to 65535"
            )
            assert await refused(pilot, app, node_port="104", node_called="A\\B") == (
                "The called AE title must not contain a backslash"
            )

    asyncio.run(scenario())
