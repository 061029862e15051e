"""Mistakes on the command line: one line that names the option and the value, exit 2,
never a traceback, and nothing sent or listened on."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from factory import copy_ct
from helpers import DICOMTUI, run

from dicomtui.cli import main
from dicomtui.core.stream.events import ObjectReceived


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """What ``dicomtui ARGV`` says on stderr, asserting it stops with a usage error."""
    with pytest.raises(SystemExit) as stopped:
        main(list(argv))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", ["storescu", "echo"])
@pytest.mark.parametrize("port", ["0", "65536", "70000"])
def test_a_peer_port_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: str, port: str
) -> None:
    paths = ["x.dcm"] if command == "storescu" else []
    line = usage_error(capsys, command, "127.0.0.1", port, *paths)
    assert line.endswith(f"error: The port must be a number from 1 to 65535, not {port}")


def test_the_receivers_port_may_be_0_but_not_above_65535(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = usage_error(capsys, "storescp", "65536")
    assert line.endswith("error: The port must be a number from 0 to 65535, not 65536")


def test_echo_to_a_port_above_65535_prints_no_traceback() -> None:
    result = run([*DICOMTUI, "echo", "127.0.0.1", "70000"], timeout=30)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "The port must be a number from 1 to 65535, not 70000" in result.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["storescu", "127.0.0.1", "104", "x.dcm", "-aet", "A\\B"],
            "-aet/--calling-aet: The calling AE title must not contain a backslash",
        ),
        (
            ["storescu", "127.0.0.1", "104", "x.dcm", "-aec", "A\\B"],
            "-aec/--called-aet: The called AE title must not contain a backslash",
        ),
        (
            ["storescu", "127.0.0.1", "104", "x.dcm", "-aec", "RÖNTGEN"],
            "-aec/--called-aet: The called AE title must be printable ASCII characters: 'Ö' is not",
        ),
        (
            ["echo", "127.0.0.1", "104", "-aet", "É"],
            "-aet/--calling-aet: The calling AE title must be printable ASCII characters:"
            " 'É' is not",
        ),
        (
            ["echo", "127.0.0.1", "104", "-aec", "   "],
            "-aec/--called-aet: The called AE title must not be empty",
        ),
        (
            ["storescp", "0", "-aet", "ABCDEFGHIJKLMNOPQ"],
            "-aet/--ae-title: The AE title must be at most 16 characters, not 17",
        ),
        (
            ["storescp", "0", "--allow-calling", "OK", "--allow-calling", "ABCDEFGHIJKLMNOPQ"],
            "--allow-calling: The allowed calling AE title must be at most 16 characters, not 17",
        ),
        (
            ["storescp", "0", "--allow-calling", "A\\B"],
            "--allow-calling: The allowed calling AE title must not contain a backslash",
        ),
    ],
    ids=[
        "storescu-aet-backslash",
        "storescu-aec-backslash",
        "storescu-aec-non-ascii",
        "echo-aet-non-ascii",
        "echo-aec-blank",
        "storescp-aet-17",
        "storescp-allow-calling-17",
        "storescp-allow-calling-backslash",
    ],
)
def test_every_ae_title_option_is_checked_in_full(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert usage_error(capsys, *argv).endswith(f"error: {expected}")


def test_a_bad_calling_ae_title_prints_no_traceback() -> None:
    result = run([*DICOMTUI, "storescu", "127.0.0.1", "104", "x.dcm", "-aet", "A\\B"], timeout=30)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "The calling AE title must not contain a backslash" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["storescu", "127.0.0.1", "104", "x.dcm", "--tls-cert", "c.pem"],
        ["echo", "127.0.0.1", "104", "--tls-cert", "c.pem"],
        ["echo", "127.0.0.1", "104", "--tls-key", "k.pem"],
        ["storescp", "0", "--tls-cert", "c.pem"],
    ],
    ids=["storescu", "echo", "echo-key-only", "storescp"],
)
def test_a_tls_certificate_without_its_key_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert usage_error(capsys, *argv).endswith("error: --tls-cert and --tls-key go together")


@pytest.mark.parametrize(
    ("bind", "host", "expected"),
    [
        (
            "no.such.host.invalid",
            "127.0.0.1",
            "(cannot resolve the bind address 'no.such.host.invalid' (",
        ),
        (
            "192.0.2.1",
            "127.0.0.1",
            "(cannot send from 192.0.2.1: it is not an address of this machine)",
        ),
        (
            "127.0.0.1",
            "::1",
            "(cannot reach ::1 from the bind address 127.0.0.1: one is IPv4, the other IPv6)",
        ),
    ],
    ids=["unresolvable", "not-local", "other-family"],
)
@pytest.mark.parametrize("command", ["storescu", "echo"])
def test_a_bad_bind_address_is_named_not_the_peer(
    tmp_path: Path, command: str, bind: str, host: str, expected: str
) -> None:
    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    paths = [str(copy_ct(tmp_path / "ct.dcm"))] if command == "storescu" else []
    result = run([*DICOMTUI, command, host, "104", *paths, "-ba", bind], timeout=60)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("E: ")]
    assert line.startswith(f"E: Association request failed: unable to connect to {host}:104 ")
    assert expected in line
    assert "Traceback" not in result.stderr


def test_a_missing_input_path_is_reported_and_fails_the_exit_status(
    tmp_path: Path,
    start_receiver,  # type: ignore[no-untyped-def]
) -> None:
    receiver = start_receiver()
    good = copy_ct(tmp_path / "ct.dcm")
    missing = tmp_path / "no-such.dcm"
    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(receiver.port), str(good), str(missing)])
    assert result.returncode == 1
    assert f"E: Cannot access path: {missing}" in result.stderr.splitlines()
    assert "1 sent, 0 with warnings, 0 failed, 1 skipped" in result.stdout
    assert len(receiver.of_type(ObjectReceived)) == 1  # the rest still went


def test_a_linked_folder_skipped_during_recursion_is_reported(
    tmp_path: Path,
    start_receiver,  # type: ignore[no-untyped-def]
) -> None:
    receiver = start_receiver()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy_ct(elsewhere / "ct.dcm")
    folder = tmp_path / "send"
    (folder / "sub").mkdir(parents=True)
    copy_ct(folder / "sub" / "ct.dcm")
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "link.dcm").symlink_to(elsewhere / "ct.dcm")

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(receiver.port), str(folder), "-r"])
    assert result.returncode == 0, result.stderr
    errors = result.stderr.splitlines()
    assert (
        "E: Symbolic link (not followed: select its target instead): " + str(folder / "linked")
        in errors
    )
    assert (
        "E: Symbolic link (not followed: select its target instead): " + str(folder / "link.dcm")
        in errors
    )
    assert "1 sent, 0 with warnings, 0 failed, 2 skipped" in result.stdout
    assert len(receiver.of_type(ObjectReceived)) == 1
