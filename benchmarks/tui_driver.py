"""Drive the real app headless for the benchmarks.

    tui_driver.py receive PORT INBOX   # receiver running, log at verbose, until SIGTERM
    tui_driver.py send PORT FOLDER     # send FOLDER from the sender pane; prints seconds

While receiving it presses a key every 100 ms and times how long the app takes to
handle it; with BENCH_LATENCY_FILE set, the times (seconds) are written there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from textual.widgets import Input

from dicomtui.core.events import Level
from dicomtui.core.receiver import ReceiverSettings
from dicomtui.core.sender import SenderSettings
from dicomtui.ui.app import DicomTuiApp, LaunchConfig
from dicomtui.ui.launch import DEFAULT_MAX_PDU

SIZE = (160, 48)


def app_for(port: int, inbox: Path, browse: Path, receive: bool) -> DicomTuiApp:
    config = LaunchConfig(
        receiver=ReceiverSettings(
            port=port, ae_title="DICOMTUI", output_directory=inbox, max_pdu=DEFAULT_MAX_PDU
        ),
        sender=SenderSettings(
            host="127.0.0.1", port=port, called_ae_title="ANY-SCP", calling_ae_title="DICOMTUI"
        ),
        browse_path=browse,
        start_receiver=receive,
    )
    return DicomTuiApp(config)


async def receive(port: int, inbox: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    app = app_for(port, inbox, inbox.parent, receive=True)
    latencies: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        app.log_pane.level = Level.INFO
        while not stop.is_set():
            if app.receiver_pane.tracker.active and not os.environ.get("BENCH_NO_KEYS"):
                started = time.perf_counter()
                await pilot.press("f9")  # follow/pause the log: a key with visible work
                latencies.append(time.perf_counter() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        await pilot.press("ctrl+q")
    target = os.environ.get("BENCH_LATENCY_FILE")
    if target:
        Path(target).write_text(json.dumps(latencies))


async def send(port: int, folder: Path) -> None:
    app = app_for(port, folder.parent / "unused-inbox", folder, receive=False)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#dest-aet", Input).value = "ANY-SCP"
        tree = app.sender_pane.file_tree
        tree.focus()
        tree.move_cursor(tree.root)
        await pilot.press("space")
        await pilot.press("f6")
        while app.sender_pane.progress.finished is None:
            await pilot.pause(0.02)
        finished = app.sender_pane.progress.finished
        await pilot.press("ctrl+q")
    if finished.failed or finished.not_attempted:
        sys.exit(1)
    print(f"{finished.seconds:.4f}")


def main() -> None:
    mode, port, path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    asyncio.run(receive(port, path) if mode == "receive" else send(port, path))


if __name__ == "__main__":
    main()
