"""The config file: what it keeps, and what a file with mistakes does."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from dicomtui.core.config.file import ConfigNotSaved, load_config, save_config
from dicomtui.core.config.schema import AppPreferences, Node, RetrieveMethod
from dicomtui.core.scp.settings import PreferredSyntax, ReceiverSettings
from dicomtui.core.scp.storage import StorageLayout
from dicomtui.core.scu.settings import RequestSyntax, SenderSettings

RECEIVER = ReceiverSettings(port=11112, ae_title="DICOMTUI")
SENDER = SenderSettings(calling_ae_title="DICOMTUI")


def test_settings_nodes_and_keys_survive_a_save_and_a_load(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "config.toml"
    config, problems = load_config(path, RECEIVER, SENDER)
    assert problems == []
    config.set_receiver(
        ReceiverSettings(
            port=4242,
            ae_title="WORKSTATION",
            output_directory=tmp_path / "in",
            layout=StorageLayout.PATIENT,
            filename_extension=".dcm",
            preferred_syntax=PreferredSyntax.LITTLE,
            allowed_calling_ae_titles=("CT1", "MR2"),
            tls_ca=None,
        ),
        was=RECEIVER,
    )
    config.set_sender(
        SenderSettings(
            host="ignored", calling_ae_title="ME", request_syntax=RequestSyntax.IMPLICIT, tls=True
        ),
        was=SENDER,
    )
    config.set_app(AppPreferences(log_level="debug", theme="nord"))
    config.set_keys({"sender.send": "f6,ctrl+t"}, was={})
    config.change_node(None, Node("PACS", "10.0.0.5", 104, "ORTHANC", "WS1", tls=True))
    config.change_node(None, Node("CT", "ct.local", 11112))
    save_config(config)

    again, problems = load_config(path, RECEIVER, SENDER)
    assert problems == []
    assert again.receiver == config.receiver
    # The destination is the node's, not a sender default.
    assert again.sender == SenderSettings(
        calling_ae_title="ME", request_syntax=RequestSyntax.IMPLICIT, tls=True
    )
    assert (again.app.log_level, again.app.theme) == ("debug", "nord")
    assert again.keys == {"sender.send": "f6,ctrl+t"}
    assert again.nodes == config.nodes
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]


def test_each_mistake_is_named_and_keeps_its_default(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
[receiver]
port = 70000
ae_title = "THIS TITLE IS FAR TOO LONG"
layout = "by-date"
max_pdu = "big"
filename_extension = "/x"
output_directory = "~/inbox"
colour = "red"

[app]
log_level = "loud"

[[nodes]]
name = "PACS"
host = "pacs"
port = 104

[[nodes]]
name = "PACS"
host = "other"
port = 105

[[nodes]]
name = "NOPORT"
host = "x"

[weird]
"""
    )
    config, problems = load_config(path, RECEIVER, SENDER)
    text = "\n".join(problems)
    for needle in (
        "port = 70000",
        "ae_title",
        "layout = 'by-date': expected one of 'flat', 'study', 'patient'",
        "max_pdu",
        "filename_extension",
        "colour: not a setting",
        "log_level = 'loud'",
        "already a node named 'PACS'",
        "NOPORT): needs port",
        "unknown section [weird]",
    ):
        assert needle in text, text
    assert config.receiver.port == 11112
    assert config.receiver.ae_title == "DICOMTUI"
    assert config.receiver.output_directory == Path.home() / "inbox"
    assert config.app.log_level == "verbose"
    assert [n.host for n in config.nodes] == ["pacs"]


def test_a_file_that_is_not_toml_is_kept_aside_before_a_new_one_is_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[receiver\nport = ")
    config, problems = load_config(path, RECEIVER, SENDER)
    assert "is not valid TOML" in problems[0]
    assert config.receiver == RECEIVER

    config.set_receiver(ReceiverSettings(port=4444, ae_title="DICOMTUI"), was=RECEIVER)
    save_config(config)
    assert (tmp_path / "config.toml.broken").read_text() == "[receiver\nport = "
    again, problems = load_config(path, RECEIVER, SENDER)
    assert problems == [] and again.receiver.port == 4444


def test_a_node_gives_its_destination_and_keeps_the_senders_options() -> None:
    base = SenderSettings(calling_ae_title="DICOMTUI", max_pdu=0, stop_on_failure=True)
    settings = Node("PACS", "pacs.example", 11113, "ORTHANC").sender_settings(base)
    assert (settings.host, settings.port, settings.called_ae_title) == (
        "pacs.example",
        11113,
        "ORTHANC",
    )
    assert settings.calling_ae_title == "DICOMTUI"
    assert settings.max_pdu == 0 and settings.stop_on_failure


def test_saving_a_change_keeps_everything_else_the_user_wrote(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = """# my workstation
[receiver]
port = "eleven"   # a mistake, reported and kept
ae_title = "WS1"  # the title the PACS knows
colour = "red"

[keys]
"some.future.command" = "f12"

[[nodes]]
name = "PACS"
host = "pacs"
port = 104
aet = "TYPO"

[[nodes]]
name = "CT"  # the scanner in room 2
host = "ct"
port = 11112

[plugins]
x = 1
"""
    path.write_text(original)
    config, problems = load_config(path, RECEIVER, SENDER)
    assert any("node 1 (PACS): unknown keys aet" in p for p in problems), problems
    assert [n.name for n in config.nodes] == ["CT"]

    # A run with --port 4000 (never saved) changes only the layout in F2.
    shown = dataclasses.replace(config.receiver, port=4000)
    config.set_receiver(dataclasses.replace(shown, layout=StorageLayout.STUDY), was=shown)
    config.change_node(None, Node("NEW", "new", 104, "NEW"))
    config.change_node(config.nodes[0], dataclasses.replace(config.nodes[0], port=11113))
    config.set_keys({"sender.send": "ctrl+t"}, was={})
    save_config(config)

    text = path.read_text()
    for kept in (
        "# my workstation",
        'port = "eleven"   # a mistake, reported and kept',
        'ae_title = "WS1"  # the title the PACS knows',
        'colour = "red"',
        '"some.future.command" = "f12"',
        'aet = "TYPO"',
        'name = "CT"  # the scanner in room 2',
        "port = 11113",
        "[plugins]",
    ):
        assert kept in text, text
    assert "4000" not in text
    again, _ = load_config(path, RECEIVER, SENDER)
    assert again.receiver.layout is StorageLayout.STUDY
    assert [(n.name, n.port) for n in again.nodes] == [("CT", 11113), ("NEW", 104)]
    assert text.index('name = "PACS"') < text.index('name = "CT"') < text.index('name = "NEW"')
    assert again.keys == {"some.future.command": "f12", "sender.send": "ctrl+t"}


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("acse_timeout = inf", "acse timeout"),
        ("handshake_timeout = nan", "handshake timeout"),
        ("max_pdu = 99999999999", "maximum PDU size"),
        ('allowed_addresses = ["not-an-ip"]', "not-an-ip"),
        ('ae_title = "A\\\\B"', "AE title"),
        ('ae_title = "   "', "AE title"),
        ('allowed_calling_ae_titles = ["OK", "WAY TOO LONG A TITLE"]', "AE title"),
        ("max_associations = 0", "max associations"),
    ],
)
def test_values_the_receiver_cannot_use_are_refused(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[receiver]\n{line}\n")
    config, problems = load_config(path, RECEIVER, SENDER)
    assert len(problems) == 1 and needle in problems[0], problems
    assert config.receiver == RECEIVER


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "at least 1 and at most 16"),
        ("17", "at least 1 and at most 16"),
        ('"x"', "expected a whole number"),
        ("2.5", "expected a whole number"),
    ],
)
def test_the_associations_of_a_send_are_1_to_16(tmp_path: Path, value: str, problem: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[sender]\nassociations = {value}\n")
    config, problems = load_config(path, RECEIVER, SENDER)
    assert len(problems) == 1 and problem in problems[0], problems
    assert config.sender.associations == 1
    path.write_text("[sender]\nassociations = 4\n")
    config, problems = load_config(path, RECEIVER, SENDER)
    assert (problems, config.sender.associations) == ([], 4)


def test_an_unreadable_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[receiver]\nae_title = '\xff\xfe'\n")  # not UTF-8
    config, problems = load_config(path, RECEIVER, SENDER)
    assert "could not be read" in problems[0]
    config.set_receiver(ReceiverSettings(port=1), was=RECEIVER)
    with pytest.raises(ConfigNotSaved):
        save_config(config)
    assert path.read_bytes() == b"[receiver]\nae_title = '\xff\xfe'\n"


def test_a_linked_config_file_stays_a_link(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "dicomtui.toml"
    target.parent.mkdir()
    target.write_text('[app]\ntheme = "nord"\n')
    link = tmp_path / "config.toml"
    os.symlink(target, link)
    config, _ = load_config(link, RECEIVER, SENDER)
    config.set_app(AppPreferences(theme="nord", log_level="debug"))
    save_config(config)
    assert link.is_symlink()
    assert 'log_level = "debug"' in target.read_text()


def test_sections_written_inline_or_with_dotted_keys_keep_their_values(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'receiver = { port = 2000, ae_title = "MYAE" }\n'
        'sender.calling_ae_title = "ME"\n'
        'nodes = [{ name = "A", host = "a", port = 1 }, { name = "B", bad = 1 }]\n'
    )
    config, _ = load_config(path, RECEIVER, SENDER)
    assert (config.receiver.port, config.receiver.ae_title) == (2000, "MYAE")
    config.set_receiver(
        dataclasses.replace(config.receiver, filename_extension=".dcm"), config.receiver
    )
    config.set_sender(dataclasses.replace(config.sender, max_pdu=0), config.sender)
    config.change_node(None, Node("C", "c", 3))
    save_config(config)

    again, problems = load_config(path, RECEIVER, SENDER)
    assert (again.receiver.port, again.receiver.ae_title, again.receiver.filename_extension) == (
        2000,
        "MYAE",
        ".dcm",
    )
    assert (again.sender.calling_ae_title, again.sender.max_pdu) == ("ME", 0)
    assert [n.name for n in again.nodes] == ["A", "C"]
    assert any("node 2 (B)" in p for p in problems)  # still there, still reported


def test_edits_made_by_hand_while_the_app_runs_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[app]\ntheme = "nord"\n')
    config, _ = load_config(path, RECEIVER, SENDER)
    with path.open("a") as editor:
        editor.write('\n[[nodes]]  # added in an editor\nname = "HAND"\nhost = "h"\nport = 104\n')
    config.set_app(dataclasses.replace(config.app, log_level="debug"))
    save_config(config)
    text = path.read_text()
    assert "# added in an editor" in text and 'log_level = "debug"' in text

    path.write_text("[app\n")  # broken by hand: the app's change waits, the file stays
    config.set_app(dataclasses.replace(config.app, theme="gruvbox"))
    with pytest.raises(ConfigNotSaved, match="changed outside the app"):
        save_config(config)
    assert path.read_text() == "[app\n"


def test_a_broken_allow_list_keeps_the_receiver_closed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[receiver]\nallowed_addresses = ["10.0.0.0/33"]\n')
    config, _ = load_config(path, RECEIVER, SENDER)
    assert config.unsafe_receiver and "allow-list" in config.unsafe_receiver
    assert config.receiver.allowed_addresses == ()  # not used: the receiver stays stopped


def test_a_nodes_retrieve_method_is_kept_and_old_files_mean_c_move(tmp_path: Path) -> None:
    """``retrieve`` (the PACS browser's C-MOVE or C-GET) is written only when it is
    not the default, so files written before it existed stay valid and mean C-MOVE."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[[nodes]]\nname = "OLD"  # written before retrieve existed\nhost = "old"\nport = 104\n'
        '\n[[nodes]]\nname = "GETTER"\nhost = "g"\nport = 4242\nretrieve = "get"\n'
        '\n[[nodes]]\nname = "BAD"\nhost = "b"\nport = 1\nretrieve = "email"\n'
    )
    config, problems = load_config(path, RECEIVER, SENDER)
    assert [(n.name, n.retrieve) for n in config.nodes] == [
        ("OLD", RetrieveMethod.MOVE),
        ("GETTER", RetrieveMethod.GET),
    ]
    assert any("node 3 (BAD)" in p and "'move', 'get'" in p for p in problems), problems

    old, getter = config.nodes
    config.change_node(old, dataclasses.replace(old, retrieve=RetrieveMethod.GET))
    config.change_node(getter, dataclasses.replace(getter, retrieve=RetrieveMethod.MOVE))
    config.change_node(None, Node("NEW", "new", 104, retrieve=RetrieveMethod.GET))
    save_config(config)
    text = path.read_text()
    assert "# written before retrieve existed" in text
    assert text.count('retrieve = "get"') == 2  # OLD and NEW; GETTER back to the default
    assert 'retrieve = "email"' in text  # the unusable node stays as written
    again, _ = load_config(path, RECEIVER, SENDER)
    assert [(n.name, n.retrieve) for n in again.nodes] == [
        ("OLD", RetrieveMethod.GET),
        ("GETTER", RetrieveMethod.MOVE),
        ("NEW", RetrieveMethod.GET),
    ]
