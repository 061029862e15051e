"""Orthanc (Debian's orthanc package) as a peer: started on 127.0.0.1 with its own
configuration in a folder, reached through its REST API, stopped by pid.

Shared by the tests (test_orthanc's ``start_orthanc`` fixture) and by
screenshots/make_screenshots.py, so it imports nothing from pytest.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from helpers import free_port

ORTHANC_AET = "ORTHANC"
OUR_AET = "DICOMTUI"


def orthanc_executable() -> str | None:
    """Orthanc's server, by absolute path, or None when it is not installed."""
    return shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin:/usr/bin")


class Orthanc:
    """One running Orthanc, its ports, and its REST API through urllib."""

    def __init__(
        self, proc: subprocess.Popen[bytes], http_port: int, dicom_port: int, our_port: int
    ) -> None:
        self.proc = proc
        self.http_port = http_port
        self.dicom_port = dicom_port
        #: The port our receiver must listen on: Orthanc's "dicomtui" modality.
        self.our_port = our_port

    def request(self, method: str, path: str, body: Any = None) -> bytes:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = f"http://127.0.0.1:{self.http_port}{path}"
        req = urllib.request.Request(url, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as response:
            return bytes(response.read())

    def get(self, path: str) -> Any:
        return json.loads(self.request("GET", path))

    def post(self, path: str, body: Any) -> Any:
        return json.loads(self.request("POST", path, body) or b"null")

    def lookup(self, sop_instance: str) -> str:
        """Orthanc's id of the instance with this SOP Instance UID."""
        found = self.post("/tools/lookup", sop_instance.encode())
        instances = [entry["ID"] for entry in found if entry["Type"] == "Instance"]
        assert len(instances) == 1, f"{sop_instance}: {found}"
        return str(instances[0])

    def stop(self) -> None:
        stop(self.proc)


def wait_for_rest(orthanc: Orthanc, log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if orthanc.proc.poll() is not None:
            raise AssertionError(
                f"Orthanc exited with {orthanc.proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            system = orthanc.get("/system")
        except (OSError, urllib.error.URLError, ValueError):
            time.sleep(0.1)
            continue
        assert system["DicomAet"] == ORTHANC_AET
        assert system["DicomPort"] == orthanc.dicom_port
        return
    raise AssertionError(f"Orthanc's REST API did not answer within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by pid, then SIGKILL if it lingers: never a stalled teardown."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def launch_orthanc(
    executable: str, folder: Path, *, verbose: bool = False, **overrides: Any
) -> Orthanc:
    """Start Orthanc with a configuration written into ``folder`` (``overrides``
    are added to it) and wait for its REST API; it knows our AE title as the
    modality "dicomtui" at ``our_port``. Stopped again if it does not come up.
    ``verbose``: its log (``orthanc.log`` in ``folder``) names each association."""
    folder.mkdir(parents=True)
    http_port, dicom_port, our_port = free_port(), free_port(), free_port()
    config = {
        "Name": "dicomtui-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": ORTHANC_AET,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomModalities": {"dicomtui": [OUR_AET, "127.0.0.1", our_port]},
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomCheckCalledAet": False,
        "DicomScuTimeout": 15,
        "DicomAssociationCloseDelay": 0,
        "StorageCompression": False,
        "SaveJobs": False,
        "Plugins": [],
        **overrides,
    }
    config_path = folder / "config.json"
    config_path.write_text(json.dumps(config, indent=2))
    log = folder / "orthanc.log"
    with log.open("wb") as out:  # a file, not a pipe nobody reads
        proc = subprocess.Popen(
            [executable, *(["--verbose"] if verbose else []), str(config_path)],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    orthanc = Orthanc(proc, http_port, dicom_port, our_port)
    try:
        wait_for_rest(orthanc, log)
    except BaseException:
        stop(proc)
        raise
    return orthanc
