"""The config file: what it keeps, and what a file with mistakes does."""

from __future__ import annotations

from pathlib import Path

from dicomtui.core.config import Node, load_config, save_config
from dicomtui.core.receiver import PreferredSyntax, ReceiverSettings
from dicomtui.core.sender import RequestSyntax, SenderSettings
from dicomtui.core.storage import StorageLayout

RECEIVER = ReceiverSettings(port=11112, ae_title="DICOMTUI")
SENDER = SenderSettings(calling_ae_title="DICOMTUI")


def test_settings_nodes_and_keys_survive_a_save_and_a_load(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "config.toml"
    config, problems = load_config(path, RECEIVER, SENDER)
    assert problems == []
    config.receiver = ReceiverSettings(
        port=4242,
        ae_title="WORKSTATION",
        output_directory=tmp_path / "in",
        layout=StorageLayout.PATIENT,
        filename_extension=".dcm",
        preferred_syntax=PreferredSyntax.LITTLE,
        allowed_calling_ae_titles=("CT1", "MR2"),
        tls_ca=None,
    )
    config.sender = SenderSettings(
        host="ignored", calling_ae_title="ME", request_syntax=RequestSyntax.IMPLICIT, tls=True
    )
    config.app.log_level = "debug"
    config.app.theme = "nord"
    config.keys = {"sender.send": "f6,ctrl+t"}
    config.nodes = [
        Node("PACS", "10.0.0.5", 104, "ORTHANC", "WS1", tls=True),
        Node("CT", "ct.local", 11112),
    ]
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

    save_config(config)
    assert (tmp_path / "config.toml.broken").read_text() == "[receiver\nport = "
    assert load_config(path, RECEIVER, SENDER)[1] == []


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
