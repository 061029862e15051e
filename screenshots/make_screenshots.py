"""Take the README's screenshots from the real app, mid-transfer, over real associations.

    python screenshots/make_screenshots.py

Runs the app headless (120x40), makes studies of small CT and MR objects in a
temporary folder, and saves SVGs here: the receiver with live associations, the
sender with its progress, the debug log, a file inspected, the address book, and
the PACS browser with its results and with a C-MOVE under way. The PACS is an
Orthanc (Debian's orthanc package) that the script starts with its own
configuration (tests/orthanc_peer.py), fills through its REST API, and stops by
pid at the end whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from textual.pilot import Pilot
from textual.widgets import Input, Select

from dicomtui.core.config.schema import Node
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import AssociationRequested, Side
from dicomtui.ui.app import DicomTuiApp, LaunchConfig
from dicomtui.ui.inspect_screen import DicomPicture, InspectScreen
from dicomtui.ui.nodes_screen import NodesScreen
from dicomtui.ui.pacs_screen import PacsScreen, PacsTree
from dicomtui.ui.text_line import TextLine

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
from orthanc_peer import Orthanc, launch_orthanc, orthanc_executable  # noqa: E402

SIZE = (120, 40)
PATIENTS = ["DOE^JANE", "ROE^RICHARD", "POE^EDGAR", "LOVELACE^ADA"]


def make_study(
    folder: Path,
    count: int,
    source: str,
    patient: str,
    study: str = "",
    series: str = "",
    **tags: object,
) -> Path:
    """``count`` copies of a pydicom test file as one series, ``tags`` set on each."""
    folder.mkdir(parents=True, exist_ok=True)
    template = dcmread(str(get_testdata_file(source)))
    study, series = study or generate_uid(), series or generate_uid()
    for keyword, value in tags.items():
        setattr(template, keyword, value)
    for n in range(count):
        template.PatientName = patient
        template.StudyInstanceUID, template.SeriesInstanceUID = study, series
        template.SOPInstanceUID = generate_uid()
        template.InstanceNumber = n + 1
        template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
        template.save_as(folder / f"IM{n:05d}.dcm", enforce_file_format=True)
    return folder


#: What the PACS holds: (patient, ID, born, [(date, accession, description,
#: [(modality, series description, instances)])]).
PACS_PATIENTS = [
    (
        "DOE^JANE", "100234", "19610314", [
            ("20240502", "A24-18831", "CT CHEST W/O CONTRAST",
             [("CT", "SCOUT", 2), ("CT", "AXIAL 5MM", 60), ("CT", "LUNG 1MM", 240)]),
            ("20220914", "A22-07710", "MR BRAIN W/WO",
             [("MR", "SAG T1", 20), ("MR", "AX FLAIR", 24)]),
        ],
    ),
    (
        "ROE^RICHARD", "100871", "19751102", [
            ("20240428", "A24-17502", "MR KNEE LEFT",
             [("MR", "COR PD FS", 24), ("MR", "SAG T2", 24)]),
        ],
    ),
    (
        "LOVELACE^ADA", "098812", "19481210", [
            ("20240503", "A24-18907", "CT HEAD W/O", [("CT", "AXIAL 5MM", 32)]),
        ],
    ),
    (
        "POE^EDGAR", "101120", "19830119", [
            ("20240311", "A24-09954", "CT ABDOMEN PELVIS",
             [("CT", "AXIAL 5MM", 40), ("CT", "COR MPR", 30)]),
        ],
    ),
]  # fmt: skip


def fill_pacs(orthanc: Orthanc, folder: Path) -> int:
    """Make the studies of PACS_PATIENTS and POST them to Orthanc; how many objects."""
    sent = 0
    for patient, patient_id, born, studies in PACS_PATIENTS:
        for date, accession, description, series in studies:
            study = generate_uid()
            for number, (modality, series_description, count) in enumerate(series, 1):
                made = make_study(
                    folder / f"{patient_id}-{accession}-{number}",
                    count,
                    "CT_small.dcm" if modality == "CT" else "MR_small.dcm",
                    patient,
                    study=study,
                    PatientID=patient_id,
                    PatientBirthDate=born,
                    StudyDate=date,
                    AccessionNumber=accession,
                    StudyDescription=description,
                    SeriesNumber=number,
                    SeriesDescription=series_description,
                    Modality=modality,
                )
                for path in sorted(made.iterdir()):
                    orthanc.request("POST", "/instances", path.read_bytes())
                    sent += 1
    return sent


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], object], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(0.05)


def modality_sender(port: int, folder: Path, calling: str) -> threading.Thread:
    """Another machine sending to the app's receiver: a SendJob with its own bus."""
    settings = SenderSettings(
        host="127.0.0.1",
        port=port,
        called_ae_title="DICOMTUI",
        calling_ae_title=calling,
        max_pdu=4096,
    )
    job = SendJob(settings, [folder], EventBus())
    thread = threading.Thread(target=job.run, daemon=True)
    thread.start()
    return thread


async def shoot(work: Path, orthanc: Orthanc) -> None:
    studies = work / "studies"
    make_study(studies / "ct-head", 400, "CT_small.dcm", PATIENTS[0])
    make_study(studies / "mr-knee", 300, "MR_small.dcm", PATIENTS[1])
    make_study(studies / "two-slices", 2, "MR_small.dcm", PATIENTS[1])
    incoming_ct = make_study(work / "modality-ct", 1500, "CT_small.dcm", PATIENTS[2])
    incoming_mr = make_study(work / "modality-mr", 1500, "MR_small.dcm", PATIENTS[3])

    config = LaunchConfig(
        # On the port where Orthanc knows DICOMTUI, for the C-MOVE.
        receiver=ReceiverSettings(
            port=orthanc.our_port, ae_title="DICOMTUI", output_directory=work / "dicom-inbox"
        ),
        sender=SenderSettings(
            host="127.0.0.1", port=0, called_ae_title="DICOMTUI", calling_ae_title="DICOMTUI"
        ),
        browse_path=studies,
    )
    app = DicomTuiApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.receiver is not None and app.receiver.running)
        assert app.receiver is not None
        port = app.receiver.port
        app.query_one("#dest-port", Input).value = str(port)
        for box in app.query(Input):
            box.cursor_blink = False

        # Two modalities send at once.
        modality_sender(port, incoming_ct, "CT_SCANNER_01")
        modality_sender(port, incoming_mr, "MR_3T_EAST")
        await wait_for(
            pilot, lambda: app.receiver_pane.tracker.active == 2 and app.receiver_pane.stored > 60
        )
        app.save_screenshot("receiver-live-associations.svg", str(HERE))

        # The user sends a study from the file browser.
        tree = app.sender_pane.file_tree
        tree.focus()
        await wait_for(pilot, lambda: len(tree.root.children) == 3)
        tree.move_cursor(tree.root.children[0])
        await pilot.press("space")
        app.sender_settings = SenderSettings(
            host="127.0.0.1",
            port=port,
            called_ae_title="DICOMTUI",
            calling_ae_title="DICOMTUI",
            max_pdu=4096,
        )
        await pilot.press("f6")
        await wait_for(pilot, lambda: 120 < app.sender_pane.progress.done < 400)
        app.save_screenshot("sender-progress.svg", str(HERE))

        # The debug log, maximized, from the start of the next association: the
        # A-ASSOCIATE dumps, then the DIMSE messages.
        await wait_for(pilot, lambda: app.sender_pane.progress.finished is not None, timeout=120)
        await pilot.press("ctrl+x")
        await pilot.press("f4")  # verbose -> debug
        tree.move_cursor(tree.root.children[2])
        await pilot.press("space")
        await pilot.press("f6")
        await wait_for(pilot, lambda: app.sender_pane.progress.finished is not None, timeout=60)
        await pilot.pause(0.5)
        # Show only that association, as Enter on its row would.
        app.log_pane.assoc_filter = max(
            e.assoc_id
            for e in app.log_pane.events
            if isinstance(e, AssociationRequested) and e.side is Side.SENDER and e.assoc_id
        )
        app.log_pane.follow = False
        log = app.query_one("#log")
        log.focus()
        app.screen.maximize(log)
        await pilot.pause(0.3)
        log.scroll_home(animate=False)
        await pilot.pause(0.2)
        app.save_screenshot("debug-log.svg", str(HERE))
        app.screen.minimize()
        app.sender_pane.file_tree.focus()

        # Inspect a file of the browser: its tags beside its picture.
        folder = tree.root.children[0]
        folder.expand()
        await wait_for(pilot, lambda: len(folder.children) > 0)
        tree.move_cursor(folder.children[0])
        await pilot.press("f10")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen))
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        await wait_for(pilot, lambda: screen.loaded)
        await wait_for(pilot, lambda: screen.query_one(DicomPicture).picture is not None)
        await pilot.pause(0.3)
        app.save_screenshot("inspect.svg", str(HERE))
        await pilot.press("escape")

        # The address book after "echo all": who answers.
        app.settings_file.nodes = [
            Node("THIS-APP", "127.0.0.1", port, "DICOMTUI"),
            Node("PACS", "127.0.0.1", orthanc.dicom_port, "ORTHANC"),
            Node("OLD-ARCHIVE", "127.0.0.1", closed_port(), "ARCHIVE"),
            Node("CT-SCANNER", "127.0.0.1", port, "CT_SCANNER_01", calling_ae_title="WS1"),
        ]
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, NodesScreen))
        await pilot.press("x")
        nodes = app.screen
        assert isinstance(nodes, NodesScreen)
        await wait_for(
            pilot, lambda: all(a.startswith(("yes", "no")) for a in nodes.answers.values())
        )
        await pilot.pause(0.3)
        app.save_screenshot("address-book.svg", str(HERE))
        await pilot.press("escape")

        await pacs_browser(pilot, app)
        await pilot.press("ctrl+q")


async def pacs_browser(pilot: Pilot[None], app: DicomTuiApp) -> None:
    """The PACS browser on the address book's PACS (Orthanc): studies since 2022 as
    patients → studies, one study opened to its series, then that study moved here."""
    await pilot.press("f11")
    await wait_for(pilot, lambda: isinstance(app.screen, PacsScreen))
    screen = app.screen
    assert isinstance(screen, PacsScreen)
    for box in screen.query(Input):
        box.cursor_blink = False
    screen.query_one("#pacs-node", Select).value = "PACS"
    await pilot.pause()
    status = screen.query_one("#pacs-status", TextLine)
    screen.query_one("#pacs-from", Input).focus()
    await pilot.press(*"2022-01-01", "enter")
    await wait_for(pilot, lambda: status.text.startswith("5 studies of 4 patients"))
    tree = screen.query_one(PacsTree)
    for patient in tree.root.children:
        patient.expand()
    await pilot.pause()
    [chest] = [
        study
        for patient in tree.root.children
        for study in patient.children
        if "CT CHEST" in study.label.plain
    ]
    tree.move_cursor(chest)
    await pilot.press("enter")
    await wait_for(pilot, lambda: chest.data is not None and chest.data.loaded)
    tree.move_cursor(chest)
    await pilot.pause(0.3)
    app.save_screenshot("pacs-browser.svg", str(HERE))

    # Mark the study and move it to our receiver: the shot while objects arrive
    # (or, on a machine fast enough to finish first, once it is done).
    await pilot.press("space", "f6")
    progress = screen.query_one("#pacs-progress-text", TextLine)

    def shown_arriving() -> bool:
        arrived = re.match(r"Move: (\d+) arrived .* remaining", progress.text)
        return arrived is not None and int(arrived[1]) >= 80

    await wait_for(pilot, lambda: shown_arriving() or screen.last_result is not None)
    if screen.last_result is not None:
        await pilot.pause(0.3)
    app.save_screenshot("pacs-retrieve.svg", str(HERE))
    await wait_for(pilot, lambda: screen.last_result is not None, timeout=120)
    result = screen.last_result
    assert result is not None and result.ok, status.text
    await pilot.press("escape")


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (the PACS that does not answer)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SHOTS = (
    "receiver-live-associations.svg",
    "sender-progress.svg",
    "debug-log.svg",
    "inspect.svg",
    "address-book.svg",
    "pacs-browser.svg",
    "pacs-retrieve.svg",
)


def main() -> None:
    executable = orthanc_executable()
    if executable is None:
        sys.exit("The PACS browser's screenshots need Orthanc (apt-get install orthanc)")
    with tempfile.TemporaryDirectory() as work:
        # Never the user's own config file.
        os.environ["DICOMTUI_CONFIG"] = str(Path(work) / "config.toml")
        orthanc = launch_orthanc(executable, Path(work) / "orthanc")
        try:
            print(f"{fill_pacs(orthanc, Path(work) / 'pacs')} objects in Orthanc")
            asyncio.run(shoot(Path(work), orthanc))
        finally:
            orthanc.stop()
    for name in SHOTS:
        print(HERE / name)


if __name__ == "__main__":
    main()
