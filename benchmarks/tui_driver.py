"""Drive the real app headless for the benchmarks.

    tui_driver.py receive PORT INBOX   # receiver running, log at verbose, until SIGTERM
    tui_driver.py send PORT FOLDER     # send FOLDER from the sender pane; prints seconds

While receiving it presses a key (F9, follow/pause the log) every 100 ms and times
how long until the app has run its action and painted the next frame: what the user
waits for. With BENCH_LATENCY_FILE set, the times (seconds) are written there.
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

from textual import events
from textual.widgets import Input

from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.events import Level
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
    app = app_for(port, inbox, inbox.parent, receive=True)
    latencies: list[float] = []
    handled = asyncio.Event()
    painted = asyncio.Event()
    action = app.action_toggle_follow

    def timed_action() -> None:
        action()
        handled.set()

    app.action_toggle_follow = timed_action  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        # After the app's start: it installs its own (quit as Ctrl+Q does), which
        # would leave this loop waiting for ever.
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        app.log_pane.level = Level.INFO
        screen = app.screen
        paint = screen._compositor_refresh

        def timed_paint() -> None:
            paint()
            if handled.is_set():
                painted.set()

        screen._compositor_refresh = timed_paint  # type: ignore[method-assign]
        while not stop.is_set():
            if app.receiver_pane.tracker.active and not os.environ.get("BENCH_NO_KEYS"):
                handled.clear()
                painted.clear()
                started = time.perf_counter()
                key = events.Key("f9", None)
                key.set_sender(app)
                app._driver.send_message(key)  # as a terminal would deliver it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(painted.wait(), 5)
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
        records, _ = app.send_report.snapshot()
        failures = [r for r in records if r.result != "Success"][:5]
        print(f"{finished}\n{failures}", file=sys.stderr)
        sys.exit(1)
    print(f"{finished.seconds:.4f}")


def main() -> None:
    mode, port, path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    asyncio.run(receive(port, path) if mode == "receive" else send(port, path))


if __name__ == "__main__":
    main()
