"""The headless commands start quickly because they load only what they need:
``--help`` none of the engine, a plain send, receive or echo neither numpy nor the
image codecs, and no command Textual. What each process had imported is printed
when it exits; these tests look at that, never at the time taken."""

from __future__ import annotations

import json
import shutil
import signal
import sys
from pathlib import Path

import pytest
from factory import make_object
from helpers import Processes, free_port, run, same_content, stored_files, wait_for_port
from pydicom.data import get_testdata_file
from pydicom.uid import ImplicitVRLittleEndian, JPEG2000Lossless

from dicomtui.core.dicom.meta_peek import NotPart10, transfer_syntax
from dicomtui.headless.lean_imports import MAX_LOOKED_AT, decodes_no_pixels

#: Runs ``dicomtui`` with the given arguments; at exit, prints the top-level
#: packages it imported (those left out as None do not count).
_REPORTING = (
    "import atexit, json, sys\n"
    "def report():\n"
    "    names = {n.split('.')[0] for n, m in sys.modules.items() if m is not None}\n"
    "    print('IMPORTED ' + json.dumps(sorted(names)), file=sys.stderr, flush=True)\n"
    "atexit.register(report)\n"
    "from dicomtui.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
DICOMTUI_REPORTING = [sys.executable, "-c", _REPORTING]

ENGINE = {"pydicom", "pynetdicom"}
PIXEL_PACKAGES = {"numpy", "pylibjpeg", "openjpeg", "libjpeg", "rle"}
UI = {"textual", "rich"}


def imported(output: str) -> set[str]:
    lines = [line for line in output.splitlines() if line.startswith("IMPORTED ")]
    assert lines, f"the process did not report its imports:\n{output}"
    return set(json.loads(lines[-1].removeprefix("IMPORTED ")))


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "command", ["storescu", "storescp", "echo", "findscu", "movescu", "getscu"]
)
def test_help_loads_no_engine(command: str) -> None:
    result = run([*DICOMTUI_REPORTING, command, "--help"])
    assert result.returncode == 0
    assert "usage: dicomtui" in result.stdout
    assert not imported(result.stderr) & (ENGINE | PIXEL_PACKAGES | UI)


@pytest.mark.timeout(60)
def test_a_usage_error_loads_no_engine() -> None:
    result = run([*DICOMTUI_REPORTING, "storescu", "127.0.0.1", "99999", "x.dcm"])
    assert result.returncode == 2
    assert "port" in result.stderr
    assert not imported(result.stderr) & (ENGINE | PIXEL_PACKAGES | UI)


@pytest.mark.timeout(120)
def test_a_plain_send_receive_and_echo_load_no_pixel_packages(
    tmp_path: Path, processes: Processes
) -> None:
    sources = tmp_path / "in"
    sources.mkdir()
    sent = [
        make_object(sources / "explicit.dcm"),
        make_object(sources / "implicit.dcm", transfer_syntax="1.2.840.10008.1.2"),
    ]
    out = tmp_path / "out"
    port = free_port()
    receiver = processes.start([*DICOMTUI_REPORTING, "storescp", "-od", str(out), str(port)])
    wait_for_port(port, proc=receiver)

    send = run([*DICOMTUI_REPORTING, "storescu", "127.0.0.1", str(port), str(sources)])
    echo = run([*DICOMTUI_REPORTING, "echo", "127.0.0.1", str(port)])
    received = Processes.stop(receiver, signal.SIGTERM)

    assert send.returncode == 0, send.stderr
    assert "2 sent" in send.stdout
    assert echo.returncode == 0, echo.stderr
    assert receiver.returncode == 0, received
    stored = stored_files(out)
    assert len(stored) == 2
    assert all(any(same_content(f, s) for s in sent) for f in stored)
    for output in (send.stderr, echo.stderr, received):
        packages = imported(output)
        assert packages >= ENGINE
        assert not packages & (PIXEL_PACKAGES | UI)


@pytest.mark.timeout(120)
def test_a_folder_with_a_compressed_file_is_still_decoded_for_a_peer_that_needs_it(
    tmp_path: Path, processes: Processes
) -> None:
    """One file that may need decoding among plain ones: storescu loads the codecs,
    and an implicit-VR-only peer gets every object."""
    sources = tmp_path / "in"
    sources.mkdir()
    make_object(sources / "plain.dcm")
    shutil.copyfile(get_testdata_file("MR_small_RLE.dcm"), sources / "rle.dcm")
    out = tmp_path / "out"
    port = free_port()
    receiver = processes.start([*DICOMTUI_REPORTING, "storescp", "-xi", "-od", str(out), str(port)])
    wait_for_port(port, proc=receiver)
    send = run([*DICOMTUI_REPORTING, "storescu", "127.0.0.1", str(port), str(sources)])
    Processes.stop(receiver, signal.SIGTERM)

    assert send.returncode == 0, send.stderr
    assert "2 sent" in send.stdout
    stored = stored_files(out)
    assert len(stored) == 2
    for path in stored:
        assert transfer_syntax(path) == ImplicitVRLittleEndian


def test_transfer_syntax_is_read_without_pydicom(tmp_path: Path) -> None:
    syntaxes = [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.4.50",
        str(JPEG2000Lossless),
    ]
    for number, syntax in enumerate(syntaxes):
        path = make_object(tmp_path / f"{number}.dcm", transfer_syntax=syntax)
        assert transfer_syntax(path) == syntax
    not_dicom = tmp_path / "plain.txt"
    not_dicom.write_bytes(b"x" * 300)
    with pytest.raises(NotPart10):
        transfer_syntax(not_dicom)
    no_syntax = tmp_path / "cut.dcm"
    no_syntax.write_bytes(make_object(tmp_path / "whole.dcm").read_bytes()[:140])
    assert transfer_syntax(no_syntax) is None  # cut short: unknown, not uncompressed


def test_anything_that_may_need_decoding_loads_the_codecs(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    make_object(plain / "a.dcm")
    (plain / "readme").write_text("not DICOM")
    assert decodes_no_pixels([plain, tmp_path / "missing.dcm"], recurse=False)

    nested = plain / "deeper"
    nested.mkdir()
    make_object(nested / "j2k.dcm", transfer_syntax=JPEG2000Lossless)
    assert decodes_no_pixels([plain], recurse=False)  # the folder is not walked
    assert not decodes_no_pixels([plain], recurse=True)
    assert not decodes_no_pixels([nested / "j2k.dcm"], recurse=False)

    cut = tmp_path / "cut.dcm"
    cut.write_bytes((plain / "a.dcm").read_bytes()[:140])
    assert not decodes_no_pixels([cut], recurse=False)

    many = tmp_path / "many"
    many.mkdir()
    for number in range(MAX_LOOKED_AT + 1):
        make_object(many / f"{number}.dcm")
    assert not decodes_no_pixels([many], recurse=False)


def test_the_tui_is_not_loaded_by_a_command(tmp_path: Path) -> None:
    """Even a failing send (nothing listens) stays out of the TUI's packages."""
    source = make_object(tmp_path / "a.dcm")
    result = run(
        [*DICOMTUI_REPORTING, "storescu", "-ta", "2", "127.0.0.1", str(free_port()), str(source)],
        timeout=60,
    )
    assert result.returncode == 1
    assert not imported(result.stderr) & UI
