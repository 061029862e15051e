"""TLS for the receiver and the sender, with certificates made by the test."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

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
