"""Transfer reports exported from the app, and the throughput lines."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from pathlib import Path

from factory import copy_ct
from helpers import DICOMTUI, run, sendable, stored_files
from textual.widgets import Input, Select

from dicomtui.ui.report_screen import ReportScreen
from dicomtui.ui.text_line import TextLine
from dicomtui.ui.throughput_line import ThroughputLine
from ui.tui_helpers import SIZE, listening_port, make_app, select_paths, table_rows, wait_for


def test_export_the_receivers_and_the_last_sends_reports(tmp_path: Path) -> None:
    browse, inbox = tmp_path / "browse", tmp_path / "inbox"
    browse.mkdir()
    sources = [copy_ct(browse / f"ct{n}.dcm") for n in range(3)]
    uids = sorted(sendable(s).sop_instance for s in sources)

    async def export(pilot, app, side: str, fmt: str, path: Path) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen))
        app.screen.query_one("#side", Select).value = side
        app.screen.query_one("#format", Select).value = fmt
        await pilot.pause()
        app.screen.query_one("#report-path", Input).value = str(path)
        await pilot.click("#apply")
        await wait_for(pilot, path.exists, what=str(path))

    async def scenario() -> None:
        app = make_app(browse, inbox)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            port = listening_port(app)
            result = await asyncio.to_thread(
                run,
                [*DICOMTUI, "storescu", "127.0.0.1", str(port), str(browse), "-aec", "DICOMTUI"],
            )
            assert result.returncode == 0, result.stderr
            await wait_for(pilot, lambda: len(table_rows(app, "received")) == 3)
            await wait_for(
                pilot,
                lambda: (
                    "MB/s, peak"
                    in app.query_one("#receiver-throughput .throughput-rate", TextLine).text
                ),
                what="the receiver's throughput",
            )
            # Every byte stored is in the last minute's bins (the line shows their rate).
            meter = app.query_one("#receiver-throughput", ThroughputLine).meter
            stored = sum(p.stat().st_size for p in stored_files(inbox))
            assert sum(meter.series(time.time())) == stored > 0

            await export(pilot, app, "receiver", "csv", tmp_path / "received.csv")
            with (tmp_path / "received.csv").open(newline="") as fp:
                rows = list(csv.DictReader(fp))
            assert sorted(r["sop_instance"] for r in rows) == uids
            assert {(r["result"], r["status"], r["ae_title"]) for r in rows} == {
                ("Success", "0x0000", "STORESCU")
            }
            assert all(Path(r["file"]).parent == inbox.resolve() for r in rows)

            app.query_one("#dest-port", Input).value = str(port)
            await select_paths(pilot, app, sources[:2])
            await pilot.press("f6")
            await wait_for(pilot, lambda: app.sender_pane.progress.finished is not None)
            await export(pilot, app, "send", "json", tmp_path / "sent.json")
            sent = json.loads((tmp_path / "sent.json").read_text())["objects"]
            assert sorted(o["file"] for o in sent) == sorted(map(str, sources[:2]))
            assert {o["result"] for o in sent} == {"Success"}

    asyncio.run(scenario())
