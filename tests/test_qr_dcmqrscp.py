"""Query/retrieve against DCMTK's dcmqrscp, with a configuration and a database
(indexed by dcmqridx) made by the test: C-FIND, C-MOVE into our receiver, and
0xA801 for a move destination it does not know."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import DICOMTUI, Processes, free_port, require_tool, run, stored_files, wait_for_port
from test_orthanc import make_study

from dicomtui.core.qr.find import FindJob
from dicomtui.core.qr.models import Model
from dicomtui.core.qr.query import build_query
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def qrscp(tmp_path: Path, processes: Processes) -> Any:
    server, index = require_tool("dcmqrscp"), require_tool("dcmqridx")
    db = tmp_path / "db"
    db.mkdir()
    port, store_port = free_port(), free_port()
    config = tmp_path / "dcmqrscp.cfg"
    config.write_text(
        f"""NetworkTCPPort = {port}
MaxPDUSize = 16384
MaxAssociations = 16
HostTable BEGIN
ourstore = (STORESCP, 127.0.0.1, {store_port})
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
QRSCP {db} RW (200, 1024mb) ANY
AETable END
"""
    )
    files = make_study(tmp_path / "study")
    copies = []
    for path in files:  # dcmqridx indexes files where they are: keep them in the database folder
        copy = db / path.name
        copy.write_bytes(path.read_bytes())
        copies.append(str(copy))
    done = run([index, str(db), *copies])
    assert done.returncode == 0, done.stderr
    proc = processes.start([server, "-c", str(config)], env={"TCP_NODELAY": "1"})
    wait_for_port(port, proc=proc)

    class QR:
        pass

    qr = QR()
    qr.port, qr.store_port, qr.files = port, store_port, files  # type: ignore[attr-defined]
    qr.proc = proc  # type: ignore[attr-defined]
    return qr


def test_find_studies_and_series(qrscp: Any) -> None:
    net = SenderSettings(port=qrscp.port, called_ae_title="QRSCP", calling_ae_title="FINDSCU")
    # Patient root needs the study key for a series query: ask for the study first.
    studies = FindJob(
        net,
        build_query(["QueryRetrieveLevel=STUDY", "PatientID=PID-ORTHANC", "StudyInstanceUID="]),
        EventBus(),
        model=Model.STUDY,
    )
    assert studies.run().status == 0
    assert len(studies.matches) == 1
    job = FindJob(
        net,
        build_query(
            [
                "QueryRetrieveLevel=SERIES",
                f"StudyInstanceUID={studies.matches[0].StudyInstanceUID}",
                "SeriesInstanceUID=",
                "Modality=",
            ]
        ),
        EventBus(),
        model=Model.STUDY,
    )
    result = job.run()
    assert result.status == 0, (result, processes_output(qrscp))
    assert sorted(m.Modality for m in job.matches) == ["CT", "MR", "OT"]


def test_move_into_our_receiver_and_unknown_destination(qrscp: Any, tmp_path: Path) -> None:
    out = tmp_path / "moved"
    base = [
        *DICOMTUI, "movescu", "127.0.0.1", str(qrscp.port), "-aec", "QRSCP", "-S",
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={_study(qrscp)}",
    ]  # fmt: skip
    done = run([*base, "--store", "--store-port", str(qrscp.store_port), "-od", str(out)])
    assert done.returncode == 0, done.stderr
    assert len(stored_files(out)) == len(qrscp.files)

    done = run([*base, "-aem", "NOBODY"])
    assert done.returncode == 1
    assert "E: Move SCP Result: 0xA801 (Failure - Move destination unknown)" in done.stderr
    assert "The PACS does not know the move destination NOBODY" in done.stderr
    assert "our AE title, host and port" in done.stderr


def _study(qrscp: Any) -> str:
    from pydicom import dcmread

    return str(dcmread(qrscp.files[0], stop_before_pixels=True).StudyInstanceUID)


def processes_output(qrscp: Any) -> str:
    return Processes.stop(qrscp.proc)
