"""The app's changes reach the config file through SettingsKeeper, without Textual."""

from __future__ import annotations

from pathlib import Path

from dicomtui.core.config.file import load_config
from dicomtui.core.config.keeper import SettingsKeeper
from dicomtui.core.config.schema import Node
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings


def keeper_at(path: Path) -> SettingsKeeper:
    config, problems = load_config(path, ReceiverSettings(), SenderSettings())
    assert problems == []
    return SettingsKeeper(config)


def test_a_renamed_or_deleted_node_takes_the_chosen_destination_with_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    keeper = keeper_at(path)
    pacs = Node("PACS", "pacs.example.org", 104, "ORTHANC")
    assert keeper.node_changed(None, pacs) is None
    assert keeper.destination_picked(pacs) is None
    renamed = Node("MAIN", "pacs.example.org", 104, "ORTHANC")
    assert keeper.node_changed(pacs, renamed) is None
    again = keeper_at(path).config
    assert (again.app.destination, [n.name for n in again.nodes]) == ("MAIN", ["MAIN"])
    assert keeper.node_changed(renamed, None) is None
    again = keeper_at(path).config
    assert (again.app.destination, again.nodes) == ("", [])


def test_only_what_the_user_changed_is_written(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    keeper = keeper_at(path)
    shown = ReceiverSettings(port=4242)  # from the command line, for this run only
    assert keeper.receiver_changed(ReceiverSettings(port=4242, ae_title="WS1"), shown) is None
    text = path.read_text()
    assert 'ae_title = "WS1"' in text and "4242" not in text


def test_a_file_that_cannot_be_written_is_said_in_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "settings"
    keeper = keeper_at(not_a_folder / "config.toml")
    not_a_folder.write_text("a file where the config folder should be")
    problem = keeper.preference_changed(log_level="debug")
    assert problem is not None and problem[0] == "error"
    assert problem[1].startswith(f"Could not save {not_a_folder / 'config.toml'}")


def test_a_file_unreadable_at_start_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe not utf-8")
    config, problems = load_config(path, ReceiverSettings(), SenderSettings())
    assert problems
    problem = SettingsKeeper(config).preference_changed(log_level="debug")
    assert problem is not None and problem[0] == "warning"
    assert path.read_bytes() == b"\xff\xfe not utf-8"
