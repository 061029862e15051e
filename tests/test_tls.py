"""TLS for the receiver and the sender, with certificates made by the test."""

from __future__ import annotations

import datetime
import ipaddress
import re
import socket
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from factory import copy_ct, make_object
from helpers import (
    DICOMTUI,
    Processes,
    dataset_bytes,
    free_port,
    run,
    stored_files,
    wait_for_port,
    wait_until,
)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(
    path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> tuple[Path, Path]:
    key_path = path.with_suffix(".key")
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key_path


def make_pki(folder: Path) -> dict[str, Path]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test CA"))
        .issuer_name(_name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": _write(folder / "ca.pem", ca_key, ca)[0]}
    for role, serial in (("server", 2), ("client", 3)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"test {role}"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        paths[f"{role}_cert"], paths[f"{role}_key"] = _write(folder / f"{role}.pem", key, cert)
    return paths


def test_tls_both_ways_with_client_certificates(tmp_path: Path, processes: Processes) -> None:
    pki = make_pki(tmp_path)
    inbox, port = tmp_path / "inbox", free_port()
    scp = processes.start(
        [
            *DICOMTUI,
            "storescp",
            str(port),
            "-od",
            str(inbox),
            "--tls-cert",
            str(pki["server_cert"]),
            "--tls-key",
            str(pki["server_key"]),
            "--tls-ca",
            str(pki["ca"]),
        ]
    )
    wait_for_port(port, proc=scp)
    source = copy_ct(tmp_path / "ct.dcm")
    # ~0.5 MB: dozens of PDUs, read as they arrive from the TLS stream
    big = make_object(tmp_path / "big.dcm", rows=512, columns=512, bits=16)
    base = [*DICOMTUI, "storescu", "127.0.0.1", str(port), str(source), str(big), "-ta", "5"]

    trusted = run(
        [
            *base,
            "--tls-ca",
            str(pki["ca"]),
            "--tls-cert",
            str(pki["client_cert"]),
            "--tls-key",
            str(pki["client_key"]),
        ]
    )
    no_client_cert = run([*base, "--tls-ca", str(pki["ca"])])
    plain = run(base)
    echo = run(
        [
            *DICOMTUI,
            "echo",
            "127.0.0.1",
            str(port),
            "--tls-ca",
            str(pki["ca"]),
            "--tls-cert",
            str(pki["client_cert"]),
            "--tls-key",
            str(pki["client_key"]),
        ]
    )
    Processes.stop(scp)

    assert trusted.returncode == 0, trusted.stderr
    assert echo.returncode == 0, echo.stderr
    assert no_client_cert.returncode == 1
    assert plain.returncode == 1
    stored = sorted(dataset_bytes(path) for path in stored_files(inbox))
    assert stored == sorted([dataset_bytes(source), dataset_bytes(big)])
    assert "Traceback" not in no_client_cert.stderr + plain.stderr


def test_a_sender_refuses_an_untrusted_receiver(tmp_path: Path, processes: Processes) -> None:
    pki = make_pki(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other")
    port = free_port()
    scp = processes.start(
        [
            *DICOMTUI,
            "storescp",
            str(port),
            "-od",
            str(tmp_path / "inbox"),
            "--tls-cert",
            str(pki["server_cert"]),
            "--tls-key",
            str(pki["server_key"]),
        ]
    )
    wait_for_port(port, proc=scp)
    result = run(
        [
            *DICOMTUI,
            "storescu",
            "127.0.0.1",
            str(port),
            str(copy_ct(tmp_path / "ct.dcm")),
            "--tls-ca",
            str(other["ca"]),
            "-ta",
            "5",
        ]
    )
    Processes.stop(scp)
    assert result.returncode == 1
    assert (
        "CERTIFICATE_VERIFY_FAILED" in result.stderr or "certificate verify failed" in result.stderr
    )


def _tls_mistakes(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Options naming unusable files, and the line each must print."""
    pki = make_pki(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other")
    missing = tmp_path / "missing.pem"
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a certificate")
    cert, key = str(pki["server_cert"]), str(pki["server_key"])
    return {
        "missing-cert": (
            ["--tls-cert", str(missing), "--tls-key", key],
            f"E: Cannot read the TLS certificate {missing}: No such file or directory",
        ),
        "missing-key": (
            ["--tls-cert", cert, "--tls-key", str(missing)],
            f"E: Cannot read the TLS key {missing}: No such file or directory",
        ),
        "missing-ca": (
            ["--tls-cert", cert, "--tls-key", key, "--tls-ca", str(missing)],
            f"E: Cannot read the TLS CA file {missing}: No such file or directory",
        ),
        "folder-as-cert": (
            ["--tls-cert", str(tmp_path), "--tls-key", key],
            f"E: Cannot read the TLS certificate {tmp_path}: Is a directory",
        ),
        "mismatched-key": (
            ["--tls-cert", cert, "--tls-key", str(other["server_key"])],
            f"E: The TLS key {other['server_key']} does not match the certificate {cert}",
        ),
        "key-as-cert": (
            ["--tls-cert", key, "--tls-key", key],
            f"E: The TLS certificate {key} holds no PEM certificate",
        ),
        "cert-as-key": (
            ["--tls-cert", cert, "--tls-key", cert],
            f"E: The TLS key {cert} holds no PEM private key",
        ),
        "garbage-ca": (
            ["--tls-cert", cert, "--tls-key", key, "--tls-ca", str(garbage)],
            f"E: The TLS CA file {garbage} holds no PEM certificate",
        ),
    }


MISTAKES = [
    "missing-cert",
    "missing-key",
    "missing-ca",
    "folder-as-cert",
    "mismatched-key",
    "key-as-cert",
    "cert-as-key",
    "garbage-ca",
]


@pytest.mark.parametrize("mistake", MISTAKES)
def test_the_receiver_names_a_tls_file_it_cannot_use(tmp_path: Path, mistake: str) -> None:
    options, line = _tls_mistakes(tmp_path)[mistake]
    port = free_port()
    result = run([*DICOMTUI, "storescp", str(port), "-od", str(tmp_path / "in"), *options])
    assert result.returncode == 1
    assert result.stderr.strip() == line
    assert "Cannot listen" not in result.stderr


@pytest.mark.parametrize("command", ["storescu", "echo"])
@pytest.mark.parametrize("mistake", MISTAKES)
def test_the_sender_names_a_tls_file_it_cannot_use(
    tmp_path: Path, command: str, mistake: str
) -> None:
    options, line = _tls_mistakes(tmp_path)[mistake]
    paths = [str(copy_ct(tmp_path / "ct.dcm"))] if command == "storescu" else []
    # Nothing listens there: the files must be refused before any connection.
    argv = [*DICOMTUI, command, "127.0.0.1", str(free_port()), *paths, "--tls", *options]
    result = run(argv)
    assert result.returncode == 1
    assert result.stderr.strip() == line
    assert result.stdout == ""


def test_the_apps_receiver_and_sender_say_the_same(tmp_path: Path) -> None:
    """The app starts the same core receiver and sender: their events carry the words."""
    from dicomtui.core.scp.receiver import Receiver
    from dicomtui.core.scp.settings import ReceiverSettings
    from dicomtui.core.scu.echo import echo
    from dicomtui.core.scu.settings import SenderSettings
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.core.stream.events import AssociationFailed, ReceiverFailed

    pki = make_pki(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other")
    events: list[object] = []
    bus = EventBus()
    bus.subscribe(events.append)
    receiver = Receiver(
        ReceiverSettings(
            port=0,
            output_directory=tmp_path / "in",
            tls_certificate=pki["server_cert"],
            tls_key=other["server_key"],
        ),
        bus,
    )
    with pytest.raises(OSError):
        receiver.start()
    assert not receiver.running
    mismatch = f"The TLS key {other['server_key']} does not match the certificate"
    [failed] = [e for e in events if isinstance(e, ReceiverFailed)]
    assert failed.reason.startswith(mismatch)

    missing = tmp_path / "missing.pem"
    result = echo(SenderSettings(port=free_port(), tls=True, tls_ca=missing), bus)
    assert result.error == f"Cannot read the TLS CA file {missing}: No such file or directory"
    [failed_echo] = [e for e in events if isinstance(e, AssociationFailed)]
    assert failed_echo.reason == result.error


def test_peers_that_fail_the_tls_handshake_are_named_in_the_receivers_log(
    tmp_path: Path, processes: Processes
) -> None:
    pki = make_pki(tmp_path)
    port = free_port()
    scp = processes.start(
        [
            *DICOMTUI,
            "storescp",
            str(port),
            "-v",
            "-od",
            str(tmp_path / "inbox"),
            "--tls-cert",
            str(pki["server_cert"]),
            "--tls-key",
            str(pki["server_key"]),
            "--tls-ca",
            str(pki["ca"]),
        ]
    )
    wait_for_port(port, proc=scp)
    source = str(copy_ct(tmp_path / "ct.dcm"))
    plain = run([*DICOMTUI, "echo", "127.0.0.1", str(port), "-ta", "5"])
    no_client_cert = run(
        [*DICOMTUI, "storescu", "127.0.0.1", str(port), source, "--tls-ca", str(pki["ca"])]
    )
    log = Processes.stop(scp)

    assert plain.returncode == 1 and no_client_cert.returncode == 1
    lines = [line for line in log.splitlines() if line.startswith("W: Closing connection from")]
    # One line for each: wait_for_port's probe, the plain peer, the one without a
    # certificate (the sender no longer connects again to find out why it failed).
    assert len(lines) == 3, log
    assert lines[0].endswith(": it closed the connection during the TLS handshake")
    assert re.fullmatch(
        r"W: Closing connection from 127\.0\.0\.1:\d+: it does not speak TLS"
        r" \(the TLS handshake failed: wrong version number\)",
        lines[1],
    )
    assert re.fullmatch(
        r"W: Closing connection from 127\.0\.0\.1:\d+: the TLS handshake failed:"
        r" peer did not return a certificate",
        lines[2],
    )
    assert plain.stderr.splitlines() == [
        f"E: Association request to 127.0.0.1:{port} failed: the peer closed the connection"
        " without answering the association request"
    ]
    assert "Traceback" not in log


def test_a_silent_connection_does_not_hold_up_other_tls_peers(
    tmp_path: Path,
    start_receiver,  # type: ignore[no-untyped-def]
) -> None:
    from dicomtui.core.scu.echo import echo
    from dicomtui.core.scu.settings import SenderSettings
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.core.stream.events import LogMessage

    pki = make_pki(tmp_path)
    receiver = start_receiver(
        tls_certificate=pki["server_cert"], tls_key=pki["server_key"], handshake_timeout=2.0
    )
    results: list[object] = []
    with socket.create_connection(("127.0.0.1", receiver.port)):
        settings = SenderSettings(port=receiver.port, tls=True, tls_ca=pki["ca"], acse_timeout=10)
        thread = threading.Thread(target=lambda: results.append(echo(settings, EventBus())))
        thread.start()
        thread.join(10)
        done = not thread.is_alive()
        wait_until(lambda: receiver.of_type(LogMessage))
    thread.join(30)
    assert done, "the echo waited on the silent connection's TLS handshake"
    assert [r.status for r in results] == [0]  # type: ignore[attr-defined]
    texts = [e.text for e in receiver.of_type(LogMessage)]
    assert any(
        re.fullmatch(r"Closing connection from 127\.0\.0\.1:\d+: no TLS handshake within 2 s", t)
        for t in texts
    ), texts
