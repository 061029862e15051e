"""The address book and preferences: made in the app, kept in the config file, used at start."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from factory import copy_ct
from helpers import free_port, stored_files
from textual.widgets import DataTable, Input, Select

from dicomtui.core.config.file import load_config, save_config
from dicomtui.core.config.schema import Node
from dicomtui.core.stream.events import Level
from dicomtui.ui.app import DicomTuiApp, LaunchConfig
from dicomtui.ui.launch import app_defaults, build_parser, config_from_args
from dicomtui.ui.nodes_screen import NodesScreen
from dicomtui.ui.preferences_screen import PreferencesScreen, key_field
from ui.tui_helpers import SIZE, listening_port, make_app, wait_for


def node_rows(app: DicomTuiApp) -> list[list[str]]:
    table: DataTable[str] = app.screen.query_one("#node-table", DataTable)
    return [[str(cell) for cell in table.get_row(key)] for key in table.rows]


async def add_node(pilot, app: DicomTuiApp, name: str, port: int, called: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("a")
    await wait_for(pilot, lambda: app.screen.query("#node-name"), what="the node form")
    form = app.screen
    form.query_one("#node-name", Input).value = name
    form.query_one("#node-host", Input).value = "127.0.0.1"
    form.query_one("#node-port", Input).value = str(port)
    form.query_one("#node-called", Input).value = called
    await pilot.click("#apply")
    await wait_for(pilot, lambda: isinstance(app.screen, NodesScreen), what="the address book")


def test_nodes_added_in_the_app_are_saved_echoed_and_sent_to(
    tmp_path: Path, own_config_file: Path
) -> None:
    browse, inbox = tmp_path / "browse", tmp_path / "inbox"
    browse.mkdir()
    source = copy_ct(browse / "ct.dcm")
    nobody = free_port()

    async def scenario() -> None:
        app = make_app(browse, inbox, dest=("127.0.0.1", 1, "NOWHERE"))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            port = listening_port(app)
            assert port is not None
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: isinstance(app.screen, NodesScreen))
            assert "No nodes yet" in str(app.screen.query_one("#nodes-hint").render())
            await add_node(pilot, app, "SELF", port, "DICOMTUI")
            await add_node(pilot, app, "NOBODY", nobody, "PACS")

            # A second node of the same name is refused in the form.
            await pilot.press("a")
            await wait_for(pilot, lambda: app.screen.query("#node-name"))
            app.screen.query_one("#node-name", Input).value = "SELF"
            app.screen.query_one("#node-host", Input).value = "elsewhere"
            await pilot.click("#apply")
            assert "already a node named 'SELF'" in str(
                app.screen.query_one("#form-error").render()
            )
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, NodesScreen))

            await pilot.press("x")
            await wait_for(
                pilot,
                lambda: all(row[-1].startswith(("yes", "no:")) for row in node_rows(app)),
                what="both echoes",
            )
            answers = {row[0]: row[-1] for row in node_rows(app)}
            assert answers["SELF"].startswith("yes, ")
            assert answers["NOBODY"].startswith("no: ")

            saved, problems = load_config(own_config_file, *app_defaults())
            assert problems == []
            assert [(n.name, n.port, n.called_ae_title) for n in saved.nodes] == [
                ("SELF", port, "DICOMTUI"),
                ("NOBODY", nobody, "PACS"),
            ]

            await pilot.press("up", "enter")  # the cursor was on NOBODY
            await wait_for(pilot, lambda: not isinstance(app.screen, NodesScreen))
            assert app.query_one("#dest-port", Input).value == str(port)
            assert app.query_one("#dest-aet", Input).value == "DICOMTUI"
            app.sender_pane.file_tree.mark([source])
            await pilot.press("f6")
            await wait_for(pilot, lambda: stored_files(inbox) if inbox.exists() else [])
            assert load_config(own_config_file, *app_defaults())[0].app.destination == "SELF"

    asyncio.run(scenario())


def test_preferences_change_the_keys_and_the_log_and_come_back_next_time(
    tmp_path: Path, own_config_file: Path
) -> None:
    async def first_run() -> None:
        app = make_app(tmp_path, tmp_path / "inbox", start_receiver=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+o")
            await wait_for(pilot, lambda: isinstance(app.screen, PreferencesScreen))
            form = app.screen
            form.query_one("#log-level", Select).value = "debug"
            form.query_one("#theme", Select).value = "nord"
            form.query_one(f"#{key_field('receiver.toggle')}", Input).value = "f12"
            await pilot.click("#apply")
            await wait_for(pilot, lambda: not isinstance(app.screen, PreferencesScreen))
            assert app.log_pane.level is Level.DEBUG
            assert app.theme == "nord"
            await pilot.pause()  # the new key map is taken up after a refresh
            await pilot.press("f12")  # the receiver starts on its new key
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")

    asyncio.run(first_run())

    saved, _ = load_config(own_config_file, *app_defaults())
    assert saved.keys == {"receiver.toggle": "f12"}
    assert (saved.app.log_level, saved.app.theme) == ("debug", "nord")

    async def second_run() -> None:
        args = build_parser().parse_args([str(tmp_path), "--no-receiver"])
        config = config_from_args(args)
        assert isinstance(config, LaunchConfig)
        app = DicomTuiApp(config)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.log_pane.level is Level.DEBUG
            assert app.theme == "nord"
            assert app.current_keys()["receiver.toggle"] == "f12"

    asyncio.run(second_run())


def test_the_config_gives_the_receiver_and_a_node_picks_the_destination(
    tmp_path: Path, own_config_file: Path
) -> None:
    config, _ = load_config(own_config_file, *app_defaults())
    config.set_receiver(
        dataclasses.replace(
            config.receiver, port=4321, ae_title="WORKSTATION", output_directory=tmp_path / "in"
        ),
        was=config.receiver,
    )
    config.change_node(None, Node("PACS", "pacs.example", 11113, "ORTHANC", tls=True))
    save_config(config)

    launch = config_from_args(build_parser().parse_args(["--dest", "PACS", "--aet", "OTHER"]))
    assert isinstance(launch, LaunchConfig)
    assert (launch.receiver.port, launch.receiver.ae_title) == (4321, "OTHER")
    assert launch.receiver.output_directory == tmp_path / "in"
    sender = launch.sender
    assert (sender.host, sender.port, sender.called_ae_title) == ("pacs.example", 11113, "ORTHANC")
    assert sender.calling_ae_title == "OTHER"
    assert launch.destination_node is not None and launch.destination_node.tls

    launch = config_from_args(build_parser().parse_args(["--dest", "NOSUCH"]))
    assert isinstance(launch, LaunchConfig)
    assert any("NOSUCH" in notice for notice in launch.notices)


def test_a_nodes_tls_and_calling_title_apply_only_while_it_is_the_destination(
    tmp_path: Path, own_config_file: Path
) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            port = listening_port(app)
            assert port is not None
            app.settings_file.change_node(
                None, Node("SECURE", "127.0.0.1", port, "DICOMTUI", "WS1", True)
            )
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: isinstance(app.screen, NodesScreen))
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, NodesScreen))
            settings = app._destination_settings()
            assert settings is not None and settings.tls and settings.calling_ae_title == "WS1"

            # Another destination typed in: the sender's own options again.
            app.query_one("#dest-aet", Input).value = "ELSEWHERE"
            settings = app._destination_settings()
            assert settings is not None
            assert (settings.tls, settings.calling_ae_title) == (False, "DICOMTUI")
            await pilot.press("f7")
            await wait_for(
                pilot,
                lambda: "Success" in str(app.query_one("#echo-status").render()),
                what="the echo",
            )

            # F3 saves the sender's options, never the node's.
            await pilot.press("f3")
            await wait_for(pilot, lambda: app.screen.query("#apply"))
            await pilot.click("#apply")
            await wait_for(pilot, lambda: not app.screen.query("#apply"))
            saved, _ = load_config(own_config_file, *app_defaults())
            assert (saved.sender.tls, saved.sender.calling_ae_title) == (False, "DICOMTUI")

    asyncio.run(scenario())


def test_one_off_options_are_not_saved_and_an_edited_destination_keeps_its_tls(
    tmp_path: Path, own_config_file: Path
) -> None:
    config, _ = load_config(own_config_file, *app_defaults())
    config.change_node(None, Node("SECURE", "127.0.0.1", 104, "PACS", "WS1", tls=True))
    config.set_keys({"sender.echo": "f7,[/x]"}, was={})  # a key that looks like markup
    save_config(config)
    args = ["--port", "0", "--aet", "ONEOFF", "-od", str(tmp_path / "x"), "--dest", "SECURE"]

    async def scenario() -> None:
        launch = config_from_args(build_parser().parse_args([str(tmp_path), *args]))
        assert isinstance(launch, LaunchConfig)
        app = DicomTuiApp(launch)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            await pilot.press("f2")
            await wait_for(pilot, lambda: app.screen.query("#layout"))
            app.screen.query_one("#layout", Select).value = "study"
            await pilot.click("#apply")
            await wait_for(pilot, lambda: not app.screen.query("#layout"))

            # Edit the destination node: it stays the destination, TLS and all.
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: isinstance(app.screen, NodesScreen))
            await pilot.press("e")
            await wait_for(pilot, lambda: app.screen.query("#node-name"))
            app.screen.query_one("#node-name", Input).value = "VAULT"
            app.screen.query_one("#node-port", Input).value = "105"
            await pilot.click("#apply")
            await wait_for(pilot, lambda: isinstance(app.screen, NodesScreen))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, NodesScreen))
            settings = app._destination_settings()
            assert settings is not None
            assert (settings.port, settings.tls, settings.calling_ae_title) == (105, True, "WS1")

            await pilot.press("f1")  # the help lists "f7,[/x]" as it is
            await pilot.pause()
            assert app.is_running

    asyncio.run(scenario())
    text = own_config_file.read_text()
    assert 'layout = "study"' in text
    for one_off in ("ONEOFF", "port = 0", str(tmp_path / "x"), "max_object_size"):
        assert one_off not in text, text
    saved, _ = load_config(own_config_file, *app_defaults())
    assert saved.app.destination == ""  # --dest chose it for that run only
    assert [(n.name, n.port, n.tls) for n in saved.nodes] == [("VAULT", 105, True)]


def test_a_broken_allow_list_in_the_file_keeps_the_receiver_stopped(
    tmp_path: Path, own_config_file: Path
) -> None:
    own_config_file.parent.mkdir(parents=True, exist_ok=True)
    own_config_file.write_text('[receiver]\nallowed_calling_ae_titles = ["A\\\\B"]\n')
    launch = config_from_args(build_parser().parse_args([str(tmp_path), "--port", "0"]))
    assert isinstance(launch, LaunchConfig)
    assert not launch.start_receiver
    assert any("not started" in notice for notice in launch.notices)
