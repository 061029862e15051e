"""Helpers for tests that open sockets, start processes and make DICOM files."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest

from dicomtui.core.dicom.files import DicomFile, inspect_file

DICOMTUI = [sys.executable, "-m", "dicomtui"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Any, within: float = 10.0) -> None:
    """Poll ``condition`` until it holds or ``within`` seconds pass; the caller
    then asserts what it waited for."""
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_for_port(
    port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"process exited with {proc.returncode} before listening:\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on port {port} within {timeout} s")


def _native_tool(name: str) -> str | None:
    """The first ``name`` on PATH that is a compiled program.

    pynetdicom installs Python scripts called storescp, storescu, echoscu... into
    the virtual environment, ahead of DCMTK's on PATH; those are not the peer.
    """
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder, name)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            with candidate.open("rb") as fp:
                if fp.read(4) == b"\x7fELF":
                    return str(candidate)
    return None


def missing_peer(name: str, install: str) -> NoReturn:
    """Skip the test for want of a peer, or fail it when CI says the peers must be there."""
    if os.environ.get("DICOMTUI_REQUIRE_PEERS"):
        pytest.fail(f"{name} is required (DICOMTUI_REQUIRE_PEERS is set) but not installed")
    pytest.skip(f"{name} is not installed ({install})")


def require_tool(name: str, package: str = "dcmtk") -> str:
    """A peer's compiled program ``name`` (DCMTK's unless ``package`` says), by
    absolute path; skips when missing, unless CI says the peers must be there."""
    path = _native_tool(name)
    if path is None:
        missing_peer(name, f"apt-get install {package}")
    return path


class Processes:
    """Starts processes in their own session and ends every one of them by id."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 5.0) -> str:
        """Signal the process, wait, kill it if it lingers; returns what it printed."""
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        return out

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            if proc.stdout:
                proc.stdout.close()


def run(
    cmd: Sequence[str],
    timeout: float = 60,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def dataset_bytes(path: Path) -> bytes:
    """The encoded data set of a DICOM file: everything after the file meta group."""
    data = Path(path).read_bytes()
    assert data[128:132] == b"DICM", f"{path} is not a DICOM file"
    pos = 132
    while pos + 8 <= len(data) and data[pos : pos + 2] == b"\x02\x00":
        vr = data[pos + 4 : pos + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN"):
            length = int.from_bytes(data[pos + 8 : pos + 12], "little")
            pos += 12 + length
        else:
            length = int.from_bytes(data[pos + 6 : pos + 8], "little")
            pos += 8 + length
    return data[pos:]


def stored_files(directory: Path) -> list[Path]:
    """Completed objects in a receiver's folder (no partial files)."""
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def same_content(a: Path, b: Path) -> bool:
    """Equal data sets once decoded, ignoring what DCMTK drops when it re-encodes:
    group lengths (xxxx,0000) and trailing padding (FFFC,FFFC). Uncompressed pixel
    data is compared as pixel values, so a change of byte order is no difference."""
    from pydicom import dcmread

    def strip(path: Path) -> Any:
        ds = dcmread(path)
        for elem in list(ds):
            if elem.tag.element == 0 or elem.tag == 0xFFFCFFFC:
                del ds[elem.tag]
        return ds

    first, second = strip(a), strip(b)
    syntaxes = (first.file_meta.TransferSyntaxUID, second.file_meta.TransferSyntaxUID)
    if "PixelData" in first and not any(ts.is_compressed for ts in syntaxes):
        if first.pixel_array.tolist() != second.pixel_array.tolist():
            return False
        del first.PixelData, second.PixelData
    return bool(first == second)


def sendable(path: Path) -> DicomFile:
    """The file as the sender sees it; fails the test if the sender would skip it."""
    found = inspect_file(path)
    assert isinstance(found, DicomFile), found
    return found


class PDataSizes:
    """A relay on loopback for one connection, between a peer and our receiver,
    that notes the length of every P-DATA-TF PDU the peer sends."""

    def __init__(self, target_port: int) -> None:
        self.lengths: list[int] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(15)
        self.port = int(self.server.getsockname()[1])
        self.target_port = target_port
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()

    def _relay(self) -> None:
        with contextlib.suppress(OSError):
            peer, _ = self.server.accept()
            ours = socket.create_connection(("127.0.0.1", self.target_port), timeout=15)
            back = threading.Thread(target=self._pump, args=(ours, peer, False), daemon=True)
            back.start()
            self._pump(peer, ours, True)
            back.join(15)

    def _pump(self, source: socket.socket, sink: socket.socket, note: bool) -> None:
        pending = b""
        with contextlib.suppress(OSError):
            source.settimeout(15)
            while chunk := source.recv(65536):
                sink.sendall(chunk)
                pending += chunk
                while note and len(pending) >= 6:
                    pdu_type, length = pending[0], int.from_bytes(pending[2:6], "big")
                    if len(pending) < 6 + length:
                        break
                    if pdu_type == 0x04:
                        self.lengths.append(length)
                    pending = pending[6 + length :]
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.thread.join(15)
        self.server.close()


def start_our_scp(
    processes: Processes, inbox: Path, *options: str
) -> tuple[int, subprocess.Popen[bytes]]:
    """``dicomtui storescp -v`` on a free port, listening."""
    port = free_port()
    scp = processes.start([*DICOMTUI, "storescp", str(port), "-od", str(inbox), "-v", *options])
    wait_for_port(port, proc=scp)
    return port, scp


def stop_our_scp(scp: subprocess.Popen[bytes]) -> str:
    """Stop our storescp; it must end by itself with status 0, its log clean."""
    log = Processes.stop(scp)
    assert scp.returncode == 0, log
    assert "Traceback" not in log, log
    assert not [line for line in log.splitlines() if line.startswith(("E:", "W:"))], log
    return log
