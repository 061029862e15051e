"""dicomtui storescu -> dicomtui storescp, as separate processes over 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest
from factory import CT_IMAGE, MR_IMAGE, copy_ct, ct_small, make_object
from helpers import (
    DICOMTUI,
    Processes,
    dataset_bytes,
    free_port,
    run,
    sendable,
    stored_files,
    wait_for_port,
)
from pydicom import dcmread
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    RLELossless,
)


def start_scp(processes: Processes, directory: Path, *options: str) -> tuple[int, object]:
    port = free_port()
    level = [] if {"-d", "-q", "-v"} & set(options) else ["-v"]
    proc = processes.start(
        [*DICOMTUI, "storescp", str(port), "-od", str(directory), *level, *options]
    )
    wait_for_port(port, proc=proc)
    return port, proc


def test_sends_and_stores_byte_identical_datasets(tmp_path: Path, processes: Processes) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_scp(processes, inbox)
    sources = [ct_small(), make_object(tmp_path / "mr.dcm", MR_IMAGE, bits=16)]

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), *map(str, sources), "-v"])
    log = Processes.stop(scp, signal.SIGINT)

    assert result.returncode == 0, result.stderr
    assert "I: Received Store Response (Status: 0x0000 - Success)" in result.stderr
    assert "2 sent, 0 with warnings, 0 failed" in result.stderr
    for source in sources:
        sent = sendable(source)
        prefix = "CT" if sent.sop_class == CT_IMAGE else "MR"
        stored = inbox / f"{prefix}.{sent.sop_instance}"
        assert stored.exists(), sorted(inbox.iterdir())
        assert dataset_bytes(stored) == dataset_bytes(source)
        assert f"I: Storing DICOM file: {stored.name}" in log
    assert "I: Accepting Association" in log
    assert "I: Association Released" in log


@pytest.mark.parametrize(
    "syntax",
    [
        ImplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
        ExplicitVRBigEndian,
        JPEGBaseline8Bit,
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        JPEGLosslessSV1,
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.92",
        "1.2.840.10008.1.2.4.93",
        RLELossless,
    ],
)
def test_every_transfer_syntax_of_the_manual_arrives_as_sent(
    tmp_path: Path, processes: Processes, syntax: str
) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_scp(processes, inbox)
    source = make_object(tmp_path / "obj.dcm", transfer_syntax=syntax, bits=16)

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(source)])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    [stored] = stored_files(inbox)
    assert dcmread(stored).file_meta.TransferSyntaxUID == syntax
    assert dataset_bytes(stored) == dataset_bytes(source)


def test_ignore_receives_but_writes_nothing(tmp_path: Path, processes: Processes) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    port, scp = start_scp(processes, inbox, "--ignore")

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(ct_small())])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert list(inbox.iterdir()) == []


def test_no_echo_refuses_verification(tmp_path: Path, processes: Processes) -> None:
    port, scp = start_scp(processes, tmp_path / "inbox", "--no-echo")
    refused = run([*DICOMTUI, "echo", "127.0.0.1", str(port)])
    Processes.stop(scp)

    port, scp = start_scp(processes, tmp_path / "inbox")
    answered = run([*DICOMTUI, "echo", "127.0.0.1", str(port)])
    Processes.stop(scp)

    assert refused.returncode == 1
    assert "No accepted presentation contexts" in refused.stderr
    assert answered.returncode == 0, answered.stderr
    assert "0x0000 - Success" in answered.stdout


def test_implicit_only_receiver_gets_implicit_and_refuses_compressed(
    tmp_path: Path, processes: Processes
) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_scp(processes, inbox, "-xi")
    explicit = make_object(tmp_path / "explicit.dcm", transfer_syntax=ExplicitVRLittleEndian)
    jpeg = make_object(tmp_path / "jpeg.dcm", transfer_syntax=JPEGBaseline8Bit)

    converted = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(explicit)])
    refused = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(jpeg), "-cx"])
    Processes.stop(scp)

    assert converted.returncode == 0, converted.stderr
    [stored] = stored_files(inbox)
    assert dcmread(stored).file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert dcmread(stored).PixelData == dcmread(explicit).PixelData
    assert refused.returncode == 1
    assert "No accepted presentation contexts" in refused.stderr


def test_required_contexts_with_mixed_compressed_and_uncompressed(
    tmp_path: Path, processes: Processes
) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_scp(processes, inbox, "-d")
    files = [
        make_object(tmp_path / "a.dcm", transfer_syntax=ExplicitVRLittleEndian),
        make_object(tmp_path / "b.dcm", transfer_syntax=JPEGBaseline8Bit),
        make_object(tmp_path / "c.dcm", transfer_syntax=RLELossless),
        make_object(tmp_path / "d.dcm", transfer_syntax=ImplicitVRLittleEndian),
    ]

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), *map(str, files), "-cx", "-d"])
    log = Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert len(stored_files(inbox)) == 4
    stored_syntaxes = {str(dcmread(p).file_meta.TransferSyntaxUID) for p in stored_files(inbox)}
    assert stored_syntaxes == {
        str(ExplicitVRLittleEndian),
        str(JPEGBaseline8Bit),
        str(RLELossless),
        str(ImplicitVRLittleEndian),
    }
    # Exactly four contexts proposed, one per file: the A-ASSOCIATE-RQ dump lists them.
    request = log[log.index("INCOMING A-ASSOCIATE-RQ PDU") : log.index("END A-ASSOCIATE-RQ PDU")]
    assert request.count("Context ID:") == 4, request


def test_recursion_only_with_r(tmp_path: Path, processes: Processes) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    copy_ct(tree / "top.dcm")
    copy_ct(tree / "sub" / "one.dcm")
    copy_ct(tree / "sub" / "deeper" / "two.dcm")

    flat_box, deep_box = tmp_path / "flat", tmp_path / "deep"
    port, scp = start_scp(processes, flat_box)
    flat = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(tree)])
    Processes.stop(scp)
    port, scp = start_scp(processes, deep_box)
    deep = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(tree), "-r"])
    Processes.stop(scp)

    assert flat.returncode == 0 and deep.returncode == 0, (flat.stderr, deep.stderr)
    assert len(stored_files(flat_box)) == 1
    assert len(stored_files(deep_box)) == 3


def test_non_dicom_input_is_skipped_and_the_rest_sent(tmp_path: Path, processes: Processes) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_scp(processes, inbox)
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "notes.txt").write_text("not DICOM\n" * 40)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 300)
    (folder / "empty.dcm").write_bytes(b"")
    copy_ct(folder / "ct1.dcm")
    copy_ct(folder / "ct2.dcm")

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(folder)])
    Processes.stop(scp)

    assert result.returncode == 0, result.stderr
    assert len(stored_files(inbox)) == 2
    assert (
        f"E: Not a DICOM file (no DICM prefix at byte 128): {folder / 'notes.txt'}" in result.stderr
    )
    assert f"E: Empty file: {folder / 'empty.dcm'}" in result.stderr
    assert "2 sent, 0 with warnings, 0 failed, 3 skipped" in result.stdout


def test_unreachable_peer_gives_one_clear_line_and_nonzero_exit(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(ct_small())], timeout=30)

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == [
        f"E: Association request failed: unable to connect to 127.0.0.1:{port} (Connection refused)"
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_unresolvable_host_gives_one_clear_line(tmp_path: Path) -> None:
    result = run(
        [*DICOMTUI, "storescu", "no-such-host.invalid", "104", str(ct_small())], timeout=30
    )

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "cannot resolve 'no-such-host.invalid'" in errors[0], errors


def test_port_in_use_is_a_one_line_error(tmp_path: Path, processes: Processes) -> None:
    port, scp = start_scp(processes, tmp_path / "a")
    second = run([*DICOMTUI, "storescp", str(port), "-od", str(tmp_path / "b")], timeout=30)
    Processes.stop(scp)

    assert second.returncode == 1
    assert second.stderr.strip() == f"E: Cannot listen on *:{port}: the port is already in use"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_receiver_stops_promptly_on_signal(tmp_path: Path, processes: Processes, sig: int) -> None:
    port, scp = start_scp(processes, tmp_path / "inbox")
    started = time.monotonic()
    scp.send_signal(sig)  # type: ignore[attr-defined]
    code = scp.wait(10)  # type: ignore[attr-defined]
    assert code == 0
    assert time.monotonic() - started < 3.0
    with socket.socket() as sock:  # the port is free again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", port))
        sock.listen()


def test_patient_study_series_layout_with_extension(tmp_path: Path, processes: Processes) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_scp(processes, inbox, "--layout", "patient", "-fe", ".dcm")
    study = "1.2.826.0.1.3680043.8.498.100"
    series = ["1.2.826.0.1.3680043.8.498.101", "1.2.826.0.1.3680043.8.498.102"]
    sources = [
        make_object(
            tmp_path / f"{n}.dcm",
            CT_IMAGE,
            patient_id="../../ID 7/x",
            study_uid=study,
            series_uid=series[n % 2],
        )
        for n in range(4)
    ]
    hostile_uid = make_object(tmp_path / "odd.dcm", CT_IMAGE, patient_id="", study_uid="..")

    result = run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(tmp_path), "-v"])
    log = Processes.stop(scp, signal.SIGINT)

    assert result.returncode == 0, result.stderr
    for n, source in enumerate(sources):
        sent = sendable(source)
        stored = inbox / "ID_7_x-84e1521f" / study / series[n % 2] / f"CT.{sent.sop_instance}.dcm"
        assert dataset_bytes(stored) == dataset_bytes(source)
        assert f"Storing DICOM file: {stored.relative_to(inbox)}" in log
    odd = sendable(hostile_uid)
    (stored_odd,) = inbox.glob(f"no-patient-id/*/*/CT.{odd.sop_instance}.dcm")
    assert stored_odd.parent.parent.name.startswith("no-study-uid-")
    assert dataset_bytes(stored_odd) == dataset_bytes(hostile_uid)
    assert all(p.resolve().is_relative_to(inbox.resolve()) for p in inbox.rglob("*"))


def test_study_layout_keeps_duplicates_before_the_extension(
    tmp_path: Path, processes: Processes
) -> None:
    inbox = tmp_path / "inbox"
    port, scp = start_scp(processes, inbox, "--layout", "study", "--filename-extension", ".dcm")
    source = make_object(tmp_path / "a.dcm", CT_IMAGE, study_uid="1.2.3.4")
    for _ in range(2):
        assert run([*DICOMTUI, "storescu", "127.0.0.1", str(port), str(source)]).returncode == 0
    Processes.stop(scp, signal.SIGINT)

    uid = sendable(source).sop_instance
    assert sorted(p.name for p in (inbox / "1.2.3.4").iterdir()) == [
        f"CT.{uid}.dcm",
        f"CT.{uid}~2.dcm",
    ]


def test_a_bad_extension_is_refused_before_listening() -> None:
    result = run([*DICOMTUI, "storescp", "0", "-fe", "/../x"])
    assert result.returncode == 2
    assert "extension must be a dot" in result.stderr


def test_reports_of_a_send_and_of_the_receiver(tmp_path: Path, processes: Processes) -> None:
    import csv
    import json

    inbox = tmp_path / "inbox"
    received_report = tmp_path / "reports" / "received.json"
    port, scp = start_scp(processes, inbox, "--report", str(received_report))
    folder = tmp_path / "send"
    folder.mkdir()
    sources = [make_object(folder / f"{n}.dcm", CT_IMAGE) for n in range(3)]
    (folder / "notes.txt").write_text("not DICOM")
    sent_report = tmp_path / "sent.csv"

    result = run(
        [*DICOMTUI, "storescu", "127.0.0.1", str(port), str(folder), "--report", str(sent_report)]
    )
    Processes.stop(scp, signal.SIGINT)

    assert result.returncode == 0, result.stderr
    with sent_report.open(newline="") as fp:
        rows = list(csv.DictReader(fp))
    by_file = {row["file"]: row for row in rows}
    for source in sources:
        row = by_file[str(source)]
        assert row["sop_instance"] == sendable(source).sop_instance
        assert (row["status"], row["result"], row["sop_class"]) == ("0x0000", "Success", CT_IMAGE)
        assert int(row["bytes"]) == source.stat().st_size
        assert row["peer"] == f"127.0.0.1:{port}" and float(row["seconds"]) >= 0
    skipped = by_file[str(folder / "notes.txt")]
    assert skipped["result"] == "Skipped" and "DICOM" in skipped["error"]

    received = json.loads(received_report.read_text())
    assert received["left_out"] == 0
    objects = received["objects"]
    assert sorted(o["sop_instance"] for o in objects) == sorted(
        sendable(s).sop_instance for s in sources
    )
    for entry in objects:
        assert entry["result"] == "Success" and entry["ae_title"] == "STORESCU"
        assert dataset_bytes(Path(entry["file"])) in {dataset_bytes(s) for s in sources}


def test_a_report_that_cannot_be_written_fails_before_listening(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run([*DICOMTUI, "storescp", "0", "--report", str(blocker / "report.csv")])
    assert result.returncode == 2
    assert "--report: cannot make" in result.stderr
