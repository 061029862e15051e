"""The app driven as a user drives it (Pilot), over real associations on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

from factory import copy_ct, make_object
from helpers import (
    Processes,
    dataset_bytes,
    free_port,
    require_tool,
    run,
    same_content,
    sendable,
    stored_files,
    wait_for_port,
)
from textual.widgets import Input

from ui.tui_helpers import (
    SIZE,
    listening_port,
    make_app,
    screen_text,
    select_paths,
    table_rows,
    wait_for,
)


def make_folder(path: Path, count: int = 3) -> list[Path]:
    path.mkdir(parents=True)
    files = [copy_ct(path / f"ct{i}.dcm") for i in range(count)]
    (path / "notes.txt").write_text("not DICOM")
    return files


def test_send_a_folder_from_the_sender_pane_to_the_apps_own_receiver(tmp_path: Path) -> None:
    browse, inbox = tmp_path / "browse", tmp_path / "inbox"
    sources = make_folder(browse)

    async def scenario() -> None:
        app = make_app(browse, inbox)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            app.query_one("#dest-port", Input).value = str(listening_port(app))
            await select_paths(pilot, app, [browse])
            await wait_for(pilot, lambda: app.sender_pane.selection_files == 4, what="the count")
            await pilot.press("f6")
            await wait_for(
                pilot, lambda: app.sender_pane.progress.finished is not None, what="the send"
            )
            await wait_for(
                pilot, lambda: len(table_rows(app, "received")) == 3, what="received rows"
            )

            sent = table_rows(app, "sent")
            assert [row[2] for row in sent] == ["notes.txt", "ct0.dcm", "ct1.dcm", "ct2.dcm"]
            assert sent[0][0].startswith("Skipped: Not a DICOM file")
            assert all(row[0] == "Success" for row in sent[1:])
            received = table_rows(app, "received")
            assert {row[1] for row in received} == {"Success"}
            [association] = table_rows(app, "associations")
            assert (association[6], association[1], association[2]) == ("DICOMTUI", "released", "3")
            assert "3 sent, 1 skipped;" in str(app.query_one("#progress-text").render())
            log = "\n".join(app.log_pane.visible_lines())
            assert "I: Accepting Association" in log and "I: Storing DICOM file: CT." in log

    asyncio.run(scenario())
    for source in sources:
        uid = sendable(source).sop_instance
        assert dataset_bytes(inbox / f"CT.{uid}") == dataset_bytes(source)


def test_send_to_dcmtk_storescp(tmp_path: Path, processes: Processes) -> None:
    storescp = require_tool("storescp")
    browse, dcmtk_inbox = tmp_path / "browse", tmp_path / "dcmtk"
    sources = make_folder(browse, 2)
    dcmtk_inbox.mkdir()
    port = free_port()
    scp = processes.start(
        [storescp, "+xa", "-od", str(dcmtk_inbox), str(port)], env={"TCP_NODELAY": "1"}
    )
    wait_for_port(port, proc=scp)

    async def scenario() -> None:
        app = make_app(
            browse, tmp_path / "inbox", dest=("127.0.0.1", port, "STORESCP"), start_receiver=False
        )
        async with app.run_test(size=SIZE) as pilot:
            await select_paths(pilot, app, sources)
            await pilot.click("#send")
            await wait_for(
                pilot, lambda: app.sender_pane.progress.finished is not None, what="the send"
            )
            assert [row[0] for row in table_rows(app, "sent")] == ["Success"] * 2

    asyncio.run(scenario())
    Processes.stop(scp)
    received = {sendable(p).sop_instance: p for p in dcmtk_inbox.iterdir()}
    for source in sources:
        assert same_content(received[sendable(source).sop_instance], source)


def test_dcmsend_into_the_receiver_pane(tmp_path: Path) -> None:
    dcmsend = require_tool("dcmsend")
    outgoing, inbox = tmp_path / "outgoing", tmp_path / "inbox"
    sources = make_folder(outgoing, 4)
    sources.append(make_object(outgoing / "mr.dcm", "1.2.840.10008.5.1.4.1.1.4", modality="MR"))

    async def scenario() -> None:
        app = make_app(tmp_path, inbox)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            port = listening_port(app)
            command = [
                dcmsend,
                "-aec",
                "DICOMTUI",
                "+sd",
                "+sp",
                "*.dcm",
                "127.0.0.1",
                str(port),
                str(outgoing),
            ]
            done = await asyncio.to_thread(run, command, 60, {"TCP_NODELAY": "1"})
            assert done.returncode == 0, done.stdout + done.stderr
            await wait_for(
                pilot, lambda: len(table_rows(app, "received")) == 5, what="5 received rows"
            )
            await wait_for(pilot, lambda: table_rows(app, "associations")[0][1] != "established")

            [association] = table_rows(app, "associations")
            assert association[6] == "DCMSEND"
            assert association[1:3] == ["released", "5"]
            assert association[-1] == "ok"
            rows = table_rows(app, "received")
            assert sorted(row[3] for row in rows) == ["CT", "CT", "CT", "CT", "MR"]
            assert {row[1] for row in rows} == {"Success"}
            status = str(app.query_one("#receiver-status").render())
            assert "5 stored" in status

    asyncio.run(scenario())
    stored = {sendable(p).sop_instance: p for p in stored_files(inbox)}
    for source in sources:
        assert same_content(stored[sendable(source).sop_instance], source)


class SlowPeer:
    """A Storage SCP that takes 20 ms per object, so a cancel always lands mid-send."""

    def __init__(self) -> None:
        from pynetdicom import AE, AllStoragePresentationContexts, evt

        self.stored: list[str] = []
        self.aborted = threading.Event()
        ae = AE(ae_title="SLOW")
        ae.supported_contexts = AllStoragePresentationContexts
        self.server = ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, self._store), (evt.EVT_ABORTED, self._aborted)],
        )
        self.port = int(self.server.server_address[1])

    def _store(self, event: Any) -> int:
        time.sleep(0.02)
        self.stored.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    def _aborted(self, _event: Any) -> None:
        self.aborted.set()

    def close(self) -> None:
        self.server.shutdown()


def test_cancel_mid_send_aborts_and_tells_what_was_sent(tmp_path: Path) -> None:
    browse = tmp_path / "browse"
    browse.mkdir()
    for index in range(300):
        make_object(browse / f"{index:03d}.dcm", rows=64, columns=64)
    peer = SlowPeer()

    async def scenario() -> int:
        app = make_app(browse, tmp_path / "inbox", dest=("127.0.0.1", peer.port, "SLOW"))
        async with app.run_test(size=SIZE) as pilot:
            await select_paths(pilot, app, [browse])
            await pilot.press("f6")
            await wait_for(
                pilot, lambda: app.sender_pane.progress.done >= 5, what="a few objects sent"
            )
            await pilot.press("f8")
            await wait_for(
                pilot, lambda: app.sender_pane.progress.finished is not None, what="the cancel"
            )

            finished = app.sender_pane.progress.finished
            assert finished is not None and finished.cancelled
            assert 5 <= finished.sent < 300
            assert finished.not_attempted == 300 - finished.sent
            assert str(app.query_one("#progress-text").render()).startswith(
                f"Cancelled: {finished.sent} sent"
            )
            return finished.sent

    try:
        sent = asyncio.run(scenario())
        assert peer.aborted.wait(5), "the association was not aborted"
        assert len(peer.stored) == sent  # nothing reported sent that did not arrive
    finally:
        peer.close()


def test_port_in_use_is_shown_and_fixed_in_place(tmp_path: Path) -> None:
    blocker = socket.socket()
    blocker.bind(("", 0))
    blocker.listen()
    busy = blocker.getsockname()[1]

    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox", port=busy)
        async with app.run_test(size=SIZE) as pilot:
            status = app.query_one("#receiver-status")
            await wait_for(
                pilot, lambda: "already in use" in str(status.render()), what="the error"
            )
            assert f"Cannot listen on *:{busy}: the port is already in use" in str(status.render())
            assert status.has_class("error")

            await pilot.press("f2")
            port_box = app.screen.query_one("#port", Input)
            port_box.value = "0"
            await pilot.click("#apply")
            await wait_for(pilot, lambda: listening_port(app), what="listening after the fix")
            assert "Listening on *:" in str(status.render())
            assert not status.has_class("error")

    try:
        asyncio.run(scenario())
    finally:
        blocker.close()


def test_debug_level_association_filter_and_quit(tmp_path: Path) -> None:
    browse, inbox = tmp_path / "browse", tmp_path / "inbox"
    make_folder(browse, 1)

    async def scenario() -> int:
        app = make_app(browse, inbox)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            port = listening_port(app)
            assert port is not None
            app.query_one("#dest-port", Input).value = str(port)
            await pilot.press("f4")  # verbose -> debug
            assert "Log: debug" in app.log_pane.title_text
            await pilot.press("f7")  # echo: one association
            await wait_for(pilot, lambda: "Success" in str(app.query_one("#echo-status").render()))
            await select_paths(pilot, app, [browse / "ct0.dcm"])
            await pilot.press("f6")  # send: another association
            await wait_for(pilot, lambda: app.sender_pane.progress.finished is not None)
            await wait_for(pilot, lambda: len(table_rows(app, "associations")) == 2)
            log = "\n".join(app.log_pane.visible_lines())
            assert "INCOMING A-ASSOCIATE-RQ PDU" in log
            assert "D: Message Type                  : C-STORE RQ" in log

            table = app.query_one("#associations")
            table.focus()
            await pilot.press("down", "enter")  # the second association: the C-STORE one
            await pilot.pause()
            shown = app.log_pane.visible_lines()
            assoc_id = table_rows(app, "associations")[1][0]
            assert shown and all(f" #{assoc_id} " in line for line in shown)
            assert any("Storing DICOM file" in line for line in shown)
            assert not any("Echo" in line for line in shown)
            await pilot.press("ctrl+a")
            assert any("Echo" in line for line in app.log_pane.visible_lines())

            await pilot.press("f4")  # debug -> quiet
            assert not any(" I: " in line for line in app.log_pane.visible_lines())
            await pilot.press("ctrl+q")
        return port

    port = asyncio.run(scenario())
    with socket.socket() as sock:  # the receiver let go of its port (closed connections may linger)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", port))
        sock.listen()


def test_missing_path_is_said_and_the_app_still_opens(tmp_path: Path) -> None:
    from dicomtui.ui.launch import build_parser, config_from_args

    config = config_from_args(build_parser().parse_args([str(tmp_path / "nope"), "--port", "0"]))

    async def scenario() -> None:
        from dicomtui.ui.app import DicomTuiApp
        from dicomtui.ui.help_screen import HelpScreen

        app = DicomTuiApp(config)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            lines = app.log_pane.visible_lines()
            assert any("nope does not exist; browsing" in line for line in lines)
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
            assert "Send the selected files to the destination" in screen_text(app)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            await pilot.press("ctrl+q")

    asyncio.run(scenario())


def test_an_allow_list_set_in_the_form_refuses_other_peers(tmp_path: Path) -> None:
    from pynetdicom import AE, build_context

    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            first_port = listening_port(app)
            await pilot.press("f2")
            app.screen.query_one("#allow-calling", Input).value = "MODALITY"
            await pilot.click("#apply")
            await wait_for(
                pilot,
                lambda: listening_port(app) and app.receiver.settings.allowed_calling_ae_titles,
                what="the restarted receiver",
            )
            port = listening_port(app)
            assert port is not None and port != first_port  # port 0 in the test: a new one

            def associate(calling: str) -> bool:
                ae = AE(ae_title=calling)
                ae.requested_contexts = [build_context("1.2.840.10008.1.1")]
                assoc = ae.associate("127.0.0.1", port, ae_title="DICOMTUI")
                if assoc.is_established:
                    assoc.release()
                    return True
                return False

            assert not await asyncio.to_thread(associate, "INTRUDER")
            assert await asyncio.to_thread(associate, "MODALITY")
            await wait_for(
                pilot, lambda: any(r[1] == "rejected" for r in table_rows(app, "associations"))
            )
            log = "\n".join(app.log_pane.visible_lines())
            assert (
                "Rejecting Association: calling AE title 'INTRUDER' is not on the allow-list" in log
            )

    asyncio.run(scenario())


def test_names_from_the_wire_and_the_keyboard_are_shown_as_typed(tmp_path: Path) -> None:
    """A patient name, an AE title or a field holding ``[/x]`` is text, not markup,
    and a control character in one is not sent to the terminal."""
    from pydicom import dcmread
    from pynetdicom import AE

    source = make_object(tmp_path / "odd.dcm", patient="DOE^[/JOHN]\x1b[2J")

    def send(port: int) -> int:
        ae = AE(ae_title="[/CT]")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.1.2.1")
        assoc = ae.associate("127.0.0.1", port, ae_title="DICOMTUI")
        status = assoc.send_c_store(dcmread(source))
        assoc.release()
        return int(status.Status)

    async def scenario() -> None:
        app = make_app(tmp_path, tmp_path / "inbox")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: listening_port(app), what="the receiver")
            assert await asyncio.to_thread(send, listening_port(app)) == 0
            await wait_for(pilot, lambda: table_rows(app, "received"), what="the object")
            await pilot.pause(0.3)
            # ... and an escape sequence never reaches the terminal.
            assert table_rows(app, "received")[0][4] == "DOE^[/JOHN]\ufffd[2J"
            assert table_rows(app, "associations")[0][6] == "[/CT]"

            await pilot.press("f2")
            await wait_for(pilot, lambda: app.screen.query("#extension"))
            app.screen.query_one("#extension", Input).value = "[/x]"
            await pilot.click("#apply")
            await pilot.pause()
            assert "[/x]" in str(app.screen.query_one("#form-error").render())
            await pilot.press("escape")
            app.notify("a path with [/x] in it")
            await pilot.pause(0.2)
            assert app.is_running

    asyncio.run(scenario())


def test_quitting_mid_send_asks_and_the_question_follows_the_send(tmp_path: Path) -> None:
    """Ctrl+Q during a send asks first; if the send ends while the question is
    open, the question says so instead of offering to abort it."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import CTImageStorage  # type: ignore[attr-defined]

    from dicomtui.ui.confirm_screen import ConfirmScreen

    browse = tmp_path / "browse"
    make_folder(browse, count=1)
    answer_now = threading.Event()

    def slow_store(event: Any) -> int:
        answer_now.wait(20)
        return 0x0000

    peer = AE("SLOW")
    peer.add_supported_context(CTImageStorage)
    port = free_port()
    server = peer.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, slow_store)]
    )

    async def scenario() -> None:
        app = make_app(browse, tmp_path / "inbox")
        async with app.run_test(size=SIZE) as pilot:
            app.query_one("#dest-port", Input).value = str(port)
            app.query_one("#dest-aet", Input).value = "SLOW"
            await select_paths(pilot, app, [browse / "ct0.dcm"])
            await pilot.press("f6")
            await wait_for(pilot, app._sending, what="the send")
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="a question")
            assert "A send is running (0 of 1 objects done)" in screen_text(app)
            answer_now.set()
            await wait_for(
                pilot, lambda: "The send has ended (1 sent)" in screen_text(app), what="new text"
            )
            assert "Stay (n)" in screen_text(app)
            await pilot.press("n")
            assert not isinstance(app.screen, ConfirmScreen)
            assert app.sender_pane.progress.finished is not None
            await pilot.press("ctrl+q")  # nothing running: quits without asking

    try:
        asyncio.run(scenario())
    finally:
        answer_now.set()
        server.shutdown()
