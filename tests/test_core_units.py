"""Small, fast checks of the core's pure parts: names, planning, bus, wording."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dicomtui.core.dicom.files import DicomFile
from dicomtui.core.scp.storage import (
    DuplicatePolicy,
    DuplicateRefused,
    UnsafePath,
    object_filename,
    path_inside,
    place_received_file,
    safe_uid,
)
from dicomtui.core.scu.planning import plan_batches
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus, EventQueue
from dicomtui.core.stream.events import (
    AssociationAborted,
    AssociationAccepted,
    DimseMessage,
    Level,
    LogMessage,
    ObjectReceived,
    Side,
)
from dicomtui.core.stream.log_format import format_event

CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize(
    ("uid", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("../../etc/passwd", "invalid-uid-"),
        ("1.2/../../x", "1.2_.._.._"),
        ("/abs/path", "invalid-uid-"),
        ("a\\b\\c", "invalid-uid-"),
        ("1.2\x003", "1.2_3"),
        ("", "invalid-uid-"),
        ("...", "invalid-uid-"),
        ("1.2.3\x00", "1.2.3"),
    ],
)
def test_safe_uid_keeps_digits_and_dots_only(uid: str, expected: str) -> None:
    cleaned = safe_uid(uid)
    assert cleaned.startswith(expected)
    assert "/" not in cleaned and "\\" not in cleaned and "\x00" not in cleaned
    assert cleaned not in ("", ".", "..")


def test_over_long_uids_are_shortened_stably() -> None:
    uid = "1." * 200 + "9"
    assert len(safe_uid(uid)) <= 128
    assert safe_uid(uid) == safe_uid(uid)
    assert safe_uid(uid) != safe_uid(uid + "1")


@pytest.mark.parametrize("uid", ["..", "../..", "/", "../../../tmp/x", "\x00", "." * 300])
def test_object_names_never_leave_the_folder(tmp_path: Path, uid: str) -> None:
    name = object_filename(CT, uid)
    assert path_inside(tmp_path, name).parent == tmp_path.resolve()


def test_path_inside_refuses_escapes(tmp_path: Path) -> None:
    for name in ("../x", "/etc/passwd", "..", ".", "a/b"):
        with pytest.raises(UnsafePath):
            path_inside(tmp_path, name)


def test_duplicate_policies(tmp_path: Path) -> None:
    def partial(content: bytes) -> Path:
        path = tmp_path / f".partial-{content.decode()}"
        path.write_bytes(content)
        return path

    first = place_received_file(partial(b"1"), tmp_path, "CT.1", DuplicatePolicy.KEEP_BOTH)
    second = place_received_file(partial(b"2"), tmp_path, "CT.1", DuplicatePolicy.KEEP_BOTH)
    assert (first.name, second.name) == ("CT.1", "CT.1~2")
    assert (first.read_bytes(), second.read_bytes()) == (b"1", b"2")

    with pytest.raises(DuplicateRefused):
        place_received_file(partial(b"3"), tmp_path, "CT.1", DuplicatePolicy.REFUSE)
    assert first.read_bytes() == b"1"

    place_received_file(partial(b"4"), tmp_path, "CT.1", DuplicatePolicy.OVERWRITE)
    assert first.read_bytes() == b"4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CT.1", "CT.1~2"]


def sendable(index: int, sop_class: str, syntax: str) -> DicomFile:
    return DicomFile(Path(f"{index}.dcm"), 10, sop_class, f"1.2.{index}", syntax)


def test_batches_never_exceed_128_contexts() -> None:
    files = [sendable(i, f"1.2.840.10008.5.1.4.1.1.{i}", "1.2.840.10008.1.2.1") for i in range(150)]
    batches = plan_batches(files, SenderSettings())
    assert [len(b.keys) for b in batches] == [128, 128, 44]
    assert [f for b in batches for f in b.files] == files


def test_required_contexts_propose_exactly_what_files_need() -> None:
    files = [
        sendable(1, CT, "1.2.840.10008.1.2.1"),
        sendable(2, CT, "1.2.840.10008.1.2.4.50"),
        sendable(3, CT, "1.2.840.10008.1.2.1"),
    ]
    [batch] = plan_batches(files, SenderSettings(required_contexts=True))
    assert list(batch.keys) == [(CT, ("1.2.840.10008.1.2.1",)), (CT, ("1.2.840.10008.1.2.4.50",))]


def test_event_queue_wakes_once_per_burst_and_counts_drops() -> None:
    wakes = []
    queue = EventQueue(lambda: wakes.append(1), maxlen=3)
    bus = EventBus()
    bus.subscribe(queue)
    for n in range(5):
        bus.publish(LogMessage(side=Side.RECEIVER, level=Level.INFO, text=str(n)))
    events, dropped = queue.drain()
    assert len(wakes) == 1
    assert [e.text for e in events] == ["2", "3", "4"]  # type: ignore[attr-defined]
    assert dropped == 2
    bus.publish(LogMessage(side=Side.RECEIVER, level=Level.INFO, text="again"))
    assert len(wakes) == 2


def test_event_queue_loses_nothing_under_concurrent_publishers() -> None:
    queue = EventQueue(lambda: None, maxlen=1_000_000)
    bus = EventBus()
    bus.subscribe(queue)

    def publish_many() -> None:
        for n in range(5_000):
            bus.publish(LogMessage(side=Side.SENDER, level=Level.INFO, text=str(n)))

    threads = [threading.Thread(target=publish_many) for _ in range(4)]
    for t in threads:
        t.start()
    seen = 0
    while any(t.is_alive() for t in threads) or len(queue):
        seen += len(queue.drain()[0])
    for t in threads:
        t.join()
    assert seen == 20_000


def lines(event: object) -> list[str]:
    return [line.render() for line in format_event(event)]  # type: ignore[arg-type]


def test_wording_follows_the_manuals() -> None:
    accepted = AssociationAccepted(
        side=Side.RECEIVER,
        peer_address="127.0.0.1",
        peer_port=1234,
        calling_ae_title="A",
        called_ae_title="B",
        local_max_pdu=16382,
        peer_max_pdu=16382,
        accepted=(),
        rejected=(),
    )
    assert lines(accepted) == ["I: Accepting Association"]
    stored = ObjectReceived(
        side=Side.RECEIVER,
        sop_class=CT,
        sop_instance="1.2.3",
        transfer_syntax="1.2.840.10008.1.2",
        size=10,
        filename="CT.1.2.3",
        path="/x/CT.1.2.3",
        status=0,
    )
    assert lines(stored) == ["I: Storing DICOM file: CT.1.2.3"]
    response = DimseMessage(
        side=Side.SENDER,
        incoming=True,
        message_type="C-STORE RSP",
        context_id=1,
        message_id=None,
        responded_to=1,
        sop_class=CT,
        sop_instance="1.2.3",
        status=0xB000,
    )
    rendered = lines(response)
    assert rendered[0] == "I: Received Store Response (Status: 0xB000 - Warning)"
    assert "D: Status                        : 0xB000 - Warning" in rendered
    no_contexts = AssociationAborted(side=Side.SENDER, reason="no accepted presentation contexts")
    assert lines(no_contexts) == ["E: No accepted presentation contexts"]


def test_core_never_imports_textual() -> None:
    code = (
        "import sys, pkgutil, importlib, dicomtui.core as c\n"
        "names = [m.name for m in pkgutil.walk_packages(c.__path__, 'dicomtui.core.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "assert 'dicomtui.core.scp.receiver' in names and 'dicomtui.core.qr.find' in names\n"
        "import dicomtui.headless.storescp, dicomtui.headless.storescu, dicomtui.headless.echo\n"
        "import dicomtui.headless.findscu, dicomtui.headless.movescu, dicomtui.headless.getscu\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] == 'textual'"
        " or n.startswith('dicomtui.ui')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("value", "folder"),
    [
        ("PID.1", "PID.1"),
        ("A_B", "A_B"),
        ("../../ID 7/x", "ID_7_x-84e1521f"),
        ("A/B", "A_B-239c020a"),  # never the folder of "A B" or "A_B"
        ("A B", "A_B-8aabb8bc"),
        ("", "none"),
        ("..", "none-9d891e73"),
        ("x" * 100, "x" * 55 + "-50e48369"),
    ],
)
def test_folder_names_from_any_text_stay_plain(value: str, folder: str) -> None:
    from dicomtui.core.scp.storage import safe_folder

    assert safe_folder(value, "none") == folder


def test_a_spool_file_writes_pieces_whole_when_the_system_takes_a_few_bytes_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """writev may write less than it was given; what follows must not be lost or doubled."""
    import os

    from dicomtui.core.net.spool_file import SpoolFile

    real_writev = os.writev

    def stingy_writev(fd: int, buffers: list[memoryview]) -> int:
        taken, budget = [], 7
        for buffer in buffers:
            taken.append(buffer[:budget])
            budget -= len(taken[-1])
            if not budget:
                break
        return real_writev(fd, taken)

    monkeypatch.setattr(os, "writev", stingy_writev)
    pieces = [bytes([n]) * size for n, size in enumerate([5, 1, 0, 13, 7, 30])]
    path = tmp_path / "partial"
    with SpoolFile(str(path), "wb") as spool:
        spool.write_all([memoryview(p) for p in pieces[:3]])
        spool.write(pieces[3])
        spool.write_all([memoryview(p) for p in pieces[3:]])
    assert path.read_bytes() == b"".join(pieces[:4]) + b"".join(pieces[3:])
    assert spool.written == path.stat().st_size and not spool.failure
