"""The dicomtui application: a receiver pane, a sender pane and one live log."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input
from textual.worker import Worker, WorkerState

from dicomtui.core.config.file import Config, default_config_path
from dicomtui.core.config.keeper import Problem, SettingsKeeper
from dicomtui.core.config.schema import AppPreferences, Node
from dicomtui.core.dicom.files import collect_paths
from dicomtui.core.scp.receiver import Receiver
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.echo import echo
from dicomtui.core.scu.send_job import SendJob
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus, EventQueue
from dicomtui.core.stream.events import EchoResult, Event, Level, LogMessage, ReceiverStarted, Side
from dicomtui.core.stream.report import TransferReport, write_report
from dicomtui.ui.commands import BINDINGS, COMMANDS, CommandsProvider
from dicomtui.ui.confirm_screen import ConfirmScreen
from dicomtui.ui.file_tree import DicomDirectoryTree
from dicomtui.ui.help_screen import HelpScreen
from dicomtui.ui.inspect_screen import InspectScreen
from dicomtui.ui.log_pane import LEVEL_NAMES, LogPane
from dicomtui.ui.messages import EventsPending
from dicomtui.ui.nodes_screen import NodesScreen
from dicomtui.ui.pacs_screen import open_pacs_browser
from dicomtui.ui.preferences_screen import PreferencesScreen
from dicomtui.ui.receiver_pane import ReceiverPane
from dicomtui.ui.report_screen import ReportChoice, ReportScreen
from dicomtui.ui.sender_pane import FieldError, SenderPane
from dicomtui.ui.settings_screens import ReceiverSettingsScreen, SenderOptionsScreen
from dicomtui.ui.text_line import TextLine

#: How often the UI takes in events: often while they trickle in, less often in a
#: burst, when every redraw would take the CPU (and the GIL) from the transfers.
DRAIN_INTERVAL = 0.05
BUSY_DRAIN_INTERVAL = 0.5
BUSY_EVENTS_PER_SECOND = 100
#: Narrower than this, the receiver and the sender are stacked, and only the one in
#: use shows its tables and browser (the other shows its live lines).
NARROW_WIDTH = 110
#: Shorter than this: no title bar, no sparklines, a smaller log.
SHORT_HEIGHT = 32
PANES = ("receiver", "sender", "log-pane")


@dataclass
class LaunchConfig:
    receiver: ReceiverSettings
    sender: SenderSettings
    browse_path: Path
    start_receiver: bool = True
    #: Problems found before the app opened, shown once it has.
    notices: list[str] = field(default_factory=list)
    #: The config file: where changes made in the app are saved.
    settings: Config | None = None
    #: The address book's node the sender starts with, if any.
    destination_node: Node | None = None


class DicomTuiApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "dicomtui"
    #: The palette finds our commands by their names and by what they do.
    COMMANDS = App.COMMANDS | {CommandsProvider}
    BINDINGS: ClassVar[list[BindingType]] = list(BINDINGS)

    def __init__(self, config: LaunchConfig, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.config = config
        self.receiver_settings = config.receiver
        self.sender_settings = config.sender
        self.settings_file = config.settings or Config(
            path=default_config_path(), receiver=config.receiver, sender=config.sender
        )
        self.settings_keeper = SettingsKeeper(self.settings_file)
        self.clock = clock
        self.bus = EventBus()
        self.queue = EventQueue(self._wake)
        self.bus.subscribe(self.queue)
        self.receiver: Receiver | None = None
        #: The key map given to Textual's set_keymap (command id -> keys).
        self.keys_in_use: dict[str, str] = {}
        self._receiver_lock = threading.Lock()
        self.send_job: SendJob | None = None
        #: What happened to each object, for export (Ctrl+E).
        #: Fed on pynetdicom's threads, so that none is lost when the UI's queue overflows.
        self.receiver_report = TransferReport()
        self.send_report = TransferReport()
        self.bus.subscribe(self._report_event)
        #: The address book's node sent to, while the destination typed is still its own.
        self.destination_node: Node | None = config.destination_node
        self._last_drain = 0.0
        self._drain_interval = DRAIN_INTERVAL
        self._drain_scheduled = False

    # --- layout --------------------------------------------------------------------------

    #: The pane that has the whole screen but the others' live lines (Ctrl+Z), if any.
    zoomed: str | None = None
    #: Of the receiver and the sender, the one shown whole when they are stacked.
    stacked_pane = "sender"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="panes"):
            yield ReceiverPane(id="receiver")
            yield SenderPane(
                self.config.browse_path,
                host=self.sender_settings.host,
                port=self.sender_settings.port or None,
                called_ae_title=self.sender_settings.called_ae_title,
                id="sender",
            )
        yield LogPane(id="log-pane")
        yield Footer()

    @property
    def receiver_pane(self) -> ReceiverPane:
        return self.query_one(ReceiverPane)

    @property
    def sender_pane(self) -> SenderPane:
        return self.query_one(SenderPane)

    @property
    def log_pane(self) -> LogPane:
        return self.query_one(LogPane)

    def on_mount(self) -> None:
        self.sub_title = "Storage SCP and SCU"
        self.receiver_pane.update_status()
        self._apply_preferences()
        for notice in self.config.notices:
            self.bus.publish(LogMessage(side=Side.RECEIVER, level=Level.ERROR, text=notice))
            self.notify(notice, severity="error", timeout=10)
        if self.config.start_receiver:
            self.start_receiver()
        self._ticker = self.set_interval(1.0, self._tick)
        self.query_one("#files").focus()
        self.update_layout()
        self._quit_on_signals()

    def on_resize(self, event: events.Resize) -> None:
        self.update_layout(event.size)

    @property
    def narrow(self) -> bool:
        return self.size.width < NARROW_WIDTH

    def update_layout(self, size: Size | None = None) -> None:
        """Which panes show whole and which only their live lines, for this size.

        Side by side (wide), every pane is whole. Stacked (narrow, or a pane zoomed),
        the pane in use is whole and the others keep their live lines: the receiver's
        state and counts, the send's progress and summary, the log's newest lines.
        """
        width, height = size or self.size
        try:
            main = self.screen_stack[0]
            panes = main.query_one("#panes")
        except (IndexError, NoMatches):
            return
        narrow = width < NARROW_WIDTH
        main.set_class(height < SHORT_HEIGHT, "-short")
        main.set_class(narrow, "-narrow")
        panes.set_class(narrow or self.zoomed is not None, "stacked")
        # The log zoomed: the panes above keep only their live lines, and no more room.
        main.set_class(self.zoomed == "log-pane", "-log-zoomed")
        if self.zoomed is not None:
            whole = {self.zoomed}
        elif narrow:
            whole = {self.stacked_pane, "log-pane"}
        else:
            whole = set(PANES)
        for pane_id in PANES:
            main.query_one(f"#{pane_id}").set_class(pane_id not in whole, "collapsed")

    @on(events.DescendantFocus)
    def _focus_moved(self, event: events.DescendantFocus) -> None:
        """Stacked, the pane the focus goes to is the one shown whole."""
        pane = next(
            (a.id for a in event.widget.ancestors_with_self if a.id in ("receiver", "sender")),
            None,
        )
        if pane is not None and pane != self.stacked_pane:
            self.stacked_pane = pane
            self.update_layout()

    def action_zoom(self) -> None:
        """Give the pane in use the whole screen (again: back to all panes)."""
        if self.zoomed is not None:
            self.zoomed = None
        else:
            focused = self.focused
            pane = None
            if focused is not None:
                pane = next((a.id for a in focused.ancestors_with_self if a.id in PANES), None)
            self.zoomed = pane or self.stacked_pane
        self.update_layout()
        if self.zoomed is not None:
            self.notify(
                f"Zoomed: {self.zoomed.removesuffix('-pane')} (Ctrl+Z again for all)", timeout=2
            )

    def action_switch_pane(self) -> None:
        """Move to the next pane (receiver, sender, log): stacked or zoomed, it is shown whole."""
        focused = self.focused
        current = None
        if focused is not None:
            current = next((a.id for a in focused.ancestors_with_self if a.id in PANES), None)
        order = list(PANES)
        target = order[(order.index(current) + 1) % len(order)] if current else "sender"
        if target in ("receiver", "sender"):
            self.stacked_pane = target
        if self.zoomed is not None:
            self.zoomed = target
        self.update_layout()
        first = {"receiver": "#associations", "sender": "#files", "log-pane": "#log"}[target]
        self.call_after_refresh(self.query_one(first).focus)

    def _quit_on_signals(self) -> None:
        """SIGTERM, SIGHUP and SIGINT from outside quit as Ctrl+Q does (the receiver
        stops cleanly); asyncio's handlers only write to a pipe that the loop reads."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError):  # not the main thread (tests)
                loop.add_signal_handler(sig, self._on_quit_signal)

    def _on_quit_signal(self) -> None:
        self._quit_signals += 1
        if self._quit_signals == 1:
            # A worker, so that the message loop stays free for a second signal.
            self.run_worker(self.quit_now(), group="quit", exit_on_error=False)
        else:
            self.exit(return_code=130)  # a second one: do not wait for the receiver

    _quit_signals = 0

    # --- the event stream ------------------------------------------------------------------

    def _wake(self) -> None:
        """Called on pynetdicom's threads: only post a message (thread-safe, never blocks)."""
        self.post_message(EventsPending())

    @on(EventsPending)
    def _events_pending(self) -> None:
        wait = self._last_drain + self._drain_interval - time.monotonic()
        if wait <= 0:
            self.drain_events()
        elif not self._drain_scheduled:
            self._drain_scheduled = True
            self.set_timer(wait, self.drain_events)

    def drain_events(self) -> None:
        self._drain_scheduled = False
        now_monotonic = time.monotonic()
        since = now_monotonic - self._last_drain
        self._last_drain = now_monotonic
        events, dropped = self.queue.drain()
        busy = len(events) > BUSY_EVENTS_PER_SECOND * max(since, DRAIN_INTERVAL)
        self._drain_interval = BUSY_DRAIN_INTERVAL if busy else DRAIN_INTERVAL
        if not events and not dropped:
            return
        now = self.clock()
        try:
            with self.batch_update():
                self.receiver_pane.apply(events, now)
                self.sender_pane.apply(events, now)
                self._follow_receiver(events)
                self.log_pane.add_events(events, dropped)
        except NoMatches:  # the app is closing: the panes (or their parts) are gone
            return

    def _report_event(self, event: Event) -> None:
        """Called on pynetdicom's threads (each report takes its own lock)."""
        (self.receiver_report if event.side is Side.RECEIVER else self.send_report)(event)

    def _tick(self) -> None:
        now = self.clock()
        try:
            self.receiver_pane.tick(now)
            self.sender_pane.tick(now)
        except NoMatches:  # the app is closing: the panes (or their parts) are gone
            return

    def wants_pdu_dumps(self) -> bool:
        """Asked on pynetdicom's threads; reads one attribute."""
        return self._debug

    _debug = False

    # --- the receiver ------------------------------------------------------------------------

    def start_receiver(self, settings: ReceiverSettings | None = None) -> None:
        """Start (or, with new settings, restart) the receiver; a worker builds it."""
        if settings is not None:
            self.receiver_settings = settings
        self._receiver_wanted = True
        self._start_receiver(self.receiver_settings)

    @work(thread=True, group="receiver", exit_on_error=False)
    def _start_receiver(self, settings: ReceiverSettings) -> Receiver:
        """Stop the running receiver (its port is free afterwards), then build, start and
        return the new one. A port in use raises here and ends the worker in error, which
        the one Worker.StateChanged handler reports. Never cancelled: a thread worker
        cancelled mid-start would leave its receiver listening with nobody to stop it."""
        with self._receiver_lock:
            previous, self.receiver = self.receiver, None
            if previous is not None:
                previous.stop()
            receiver = Receiver(settings, self.bus, want_pdu_dumps=self.wants_pdu_dumps)
            receiver.start()
            self.receiver = receiver
            return receiver

    async def stop_receiver(self) -> None:
        """Stop the receiver cleanly (associations aborted, port closed)."""
        self._receiver_wanted = False
        await asyncio.to_thread(self._stop_receiver_now)

    def _stop_receiver_now(self) -> None:
        with self._receiver_lock:
            receiver, self.receiver = self.receiver, None
            if receiver is not None:
                receiver.stop()

    @property
    def receiver_running(self) -> bool:
        receiver = self.receiver
        return receiver is not None and receiver.running

    _receiver_wanted = False

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place where work on other threads reports how it ended."""
        # A send cancelled as the app closes finds its pane gone.
        with contextlib.suppress(NoMatches):
            self._worker_ended(event)

    def _worker_ended(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "receiver" and event.state is WorkerState.SUCCESS:
            if not self._receiver_wanted:  # stopped (or quitting) while it started
                self.run_worker(self.stop_receiver(), group="receiver-stop")
            return
        if event.state is not WorkerState.ERROR:
            if worker.group == "send" and event.state in (
                WorkerState.SUCCESS,
                WorkerState.CANCELLED,
            ):
                self.sender_pane.set_sending(False)
                self._send_over_while_asked()
            return
        error = worker.error
        if worker.group == "receiver":
            self._receiver_wanted = False  # it could not start: F5 tries again
        if worker.group == "receiver" and isinstance(error, OSError):
            # Receiver.start logged why (ReceiverFailed); make sure it is seen.
            message = error.strerror or str(error)
            self.notify(f"{message}. F2 changes the settings.", severity="error", timeout=10)
            return
        if worker.group == "send":
            self.sender_pane.set_sending(False)
            self._send_over_while_asked()
            self.notify(f"Sending stopped: {error}", severity="error", timeout=10)
        else:
            self.notify(f"{worker.name or worker.group}: {error}", severity="error")
        side = Side.RECEIVER if worker.group == "receiver" else Side.SENDER
        self.bus.publish(LogMessage(side=side, level=Level.ERROR, text=f"{worker.group}: {error}"))

    # --- the sender ---------------------------------------------------------------------------

    def _destination_settings(self) -> SenderSettings | None:
        try:
            host, port, called = self.sender_pane.destination()
        except FieldError as exc:
            self.notify(str(exc), severity="warning")
            box = self.query_one(f"#{exc.field_id}", Input)
            box.focus()
            box.cursor_position = len(box.value)  # what was typed stays, to be fixed
            return None
        node = self.destination_node
        if node is not None and (node.host, node.port, node.called_ae_title) == (
            host,
            port,
            called,
        ):
            # The node's own TLS and calling AE title, over the sender's options.
            return node.sender_settings(self.sender_settings)
        return dataclasses.replace(
            self.sender_settings, host=host, port=port, called_ae_title=called
        )

    def send_paths(self, paths: Iterable[Path]) -> SendJob | None:
        settings = self._destination_settings()
        paths = list(paths)
        if settings is None:
            return None
        if not paths:
            self.notify(
                "Select files or folders to send first (Space in the file browser)",
                severity="warning",
            )
            return None
        if self._sending():
            self.notify("A send is already running (F8 cancels it)", severity="warning")
            return None
        job = SendJob(
            dataclasses.replace(settings, recurse=True), paths, self.bus, self.wants_pdu_dumps
        )
        self.send_job = job
        self.send_report.clear()
        self.sender_pane.reset_results()
        self.sender_pane.set_sending(True)
        self._run_send(job)
        return job

    def _sending(self) -> bool:
        return any(w.group == "send" and w.is_running for w in self.workers)

    @work(thread=True, exclusive=True, group="send", exit_on_error=False)
    def _run_send(self, job: SendJob) -> None:
        job.run()

    @work(thread=True, group="echo", exit_on_error=False)
    def _run_echo(self, settings: SenderSettings) -> None:
        echo(settings, self.bus, self.wants_pdu_dumps)

    # --- actions -------------------------------------------------------------------------------

    async def action_toggle_receiver(self) -> None:
        # By what the user asked last: while it starts, it is not running yet.
        if self._receiver_wanted:
            await self.stop_receiver()
        else:
            self.start_receiver()

    def action_receiver_settings(self) -> None:
        was = self.receiver_settings

        def apply(settings: ReceiverSettings | None) -> None:
            if settings is not None:
                self._dest_follows_receiver = self._sending_to_own_receiver()
                self.start_receiver(settings)
                self.said(self.settings_keeper.receiver_changed(settings, was))

        self.push_screen(ReceiverSettingsScreen(was), apply)

    #: The destination is this app's receiver, to be moved to where it listens next.
    _dest_follows_receiver = False

    def _sending_to_own_receiver(self) -> bool:
        if self.destination_node is not None:
            return False
        pane = self.sender_pane
        host = pane.query_one("#dest-host", Input).value.strip()
        port = pane.query_one("#dest-port", Input).value.strip()
        called = pane.query_one("#dest-aet", Input).value.strip()
        receiver = self.receiver
        ports = {str(self.receiver_settings.port)}
        if receiver is not None and receiver.running:
            ports.add(str(receiver.port))
        own_hosts = ("127.0.0.1", "localhost", "::1", self.receiver_settings.bind_address)
        return host in own_hosts and port in ports and called == self.receiver_settings.ae_title

    def _follow_receiver(self, events: list[Event]) -> None:
        """The destination "this app's receiver" follows it to its new port and AE title."""
        if not self._dest_follows_receiver:
            return
        for event in events:
            if isinstance(event, ReceiverStarted):
                self._dest_follows_receiver = False
                host = self.sender_pane.query_one("#dest-host", Input).value.strip()
                self.sender_pane.set_destination(host, event.port, event.ae_title)

    def action_sender_options(self) -> None:
        was = self.sender_settings

        def apply(settings: SenderSettings | None) -> None:
            if settings is not None:
                self.sender_settings = settings
                self.said(self.settings_keeper.sender_changed(settings, was))

        self.push_screen(SenderOptionsScreen(was), apply)

    def action_nodes(self) -> None:
        def echo_node(node: Node) -> EchoResult:
            return echo(node.sender_settings(self.sender_settings), self.bus, self.wants_pdu_dumps)

        def node_changed(old: Node | None, new: Node | None) -> None:
            if old is not None and self.destination_node == old:
                # The destination follows its node: new address, TLS, name, or gone.
                self.destination_node = new
                if new is not None:
                    self.sender_pane.set_destination(new.host, new.port, new.called_ae_title)
            self.said(self.settings_keeper.node_changed(old, new))

        def picked(node: Node | None) -> None:
            if node is None:
                return
            self.destination_node = node
            self.sender_pane.set_destination(node.host, node.port, node.called_ae_title)
            self.said(self.settings_keeper.destination_picked(node))
            where = f"{node.called_ae_title} at {node.host}:{node.port}"
            self.notify(f"Destination: {node.name} ({where}). F6 sends the selection, F7 echoes.")

        self.push_screen(NodesScreen(self.settings_file.nodes, echo_node, node_changed), picked)

    def action_pacs(self) -> None:
        open_pacs_browser(self)

    def action_preferences(self) -> None:
        known = {c.id for c in COMMANDS}
        shown_keys = {k: v for k, v in self.settings_file.keys.items() if k in known}

        def apply(result: tuple[AppPreferences, dict[str, str]] | None) -> None:
            if result is not None:
                preferences, keys = result
                problem = self.settings_keeper.preferences_changed(preferences, keys, shown_keys)
                self._apply_preferences()
                self.said(problem)

        self.push_screen(
            PreferencesScreen(
                self.settings_file.app, self.settings_file.keys, list(self.available_themes)
            ),
            apply,
        )

    def _apply_preferences(self) -> None:
        preferences = self.settings_file.app
        if preferences.theme in self.available_themes:
            self.theme = preferences.theme
        else:
            self.notify(f"No theme named {preferences.theme!r}", severity="warning")
        level = {name: level for level, name in LEVEL_NAMES.items()}[preferences.log_level]
        self.log_pane.level = level
        self._debug = level <= Level.DEBUG
        known = {c.id for c in COMMANDS}
        unknown = sorted(set(self.settings_file.keys) - known)
        if unknown:
            self.notify(f"Unknown commands in [keys]: {', '.join(unknown)}", severity="warning")
        self.keys_in_use = {k: v for k, v in self.settings_file.keys.items() if k in known}
        self.set_keymap(self.keys_in_use)

    def said(self, problem: Problem) -> None:
        """A config file that could not be written is said, never fatal."""
        if problem is not None:
            severity, message = problem
            self.notify(message, severity="error" if severity == "error" else "warning")

    def action_send(self) -> None:
        self.send_paths(self.sender_pane.selected)

    def action_retry_failed(self) -> None:
        """Send again what the last send did not get through: the objects that failed
        and those a cancel (or a stop at the first failure) left not attempted."""
        job = self.send_job
        if job is None:
            self.notify("Nothing was sent yet: F6 sends the selection", severity="warning")
            return
        if self._sending():
            self.notify("A send is already running (F8 cancels it)", severity="warning")
            return
        files, _missing = collect_paths(job.paths, recurse=True)
        done = self.sender_pane.done_paths
        left = [path for path in files if str(path) not in done]
        if not left:
            self.notify("Everything in the last send went through: nothing to resume")
            return
        failed = self.sender_pane.progress.failed
        if self.send_paths(left) is not None:
            self.notify(f"Resuming: {len(left)} files ({failed} failed, the rest not attempted)")

    def action_echo(self) -> None:
        settings = self._destination_settings()
        if settings is not None:
            self.sender_pane.query_one("#echo-status", TextLine).update("Echoing...")
            self._run_echo(settings)

    def action_cancel_send(self) -> None:
        if self.send_job is not None and self._sending():
            self.send_job.cancel()
            self.notify("Cancelling: the association is aborted after the object in flight")
        else:
            self.notify("No send is running: nothing to cancel", severity="warning")

    def action_clear_selection(self) -> None:
        self.sender_pane.file_tree.clear_marks()

    def action_cycle_log_level(self) -> None:
        level = self.log_pane.cycle_level()
        self._debug = level <= Level.DEBUG
        # Ctrl+O shows it, and the next start keeps it.
        self.said(self.settings_keeper.preference_changed(log_level=LEVEL_NAMES[level]))
        self.notify(f"Log level: {LEVEL_NAMES[level]}", timeout=2)

    def action_toggle_wrap(self) -> None:
        self.log_pane.wrap = not self.log_pane.wrap

    def action_toggle_follow(self) -> None:
        self.log_pane.follow = not self.log_pane.follow

    def action_filter_log(self) -> None:
        self.log_pane.open_filter()

    def action_show_all_associations(self) -> None:
        self.log_pane.assoc_filter = None

    def action_save_log(self) -> None:
        path = Path.cwd() / time.strftime("dicomtui-log-%Y%m%d-%H%M%S.txt")
        try:
            count = self.log_pane.save(path)
        except OSError as exc:
            self.notify(f"Could not save the log: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Saved {count} lines to {path}")

    def action_inspect(self) -> None:
        """Inspect the received object under the cursor when the focus is in the
        receiver's pane, else the file under the browser's cursor."""
        if isinstance(self.screen, InspectScreen):
            return
        focused = self.focused
        if focused is not None and (
            focused is self.receiver_pane or self.receiver_pane in focused.ancestors
        ):
            path = self.receiver_pane.received_path()
            if path is None:
                self.notify("That object was not stored: there is no file to inspect")
                return
        else:
            node = self.sender_pane.file_tree.cursor_node
            if node is None or node.data is None or node.data.path.is_dir():
                self.notify("Move the browser's cursor to a file to inspect it", severity="warning")
                return
            path = node.data.path
        self.inspect(path)

    def inspect(self, path: Path) -> None:
        self.push_screen(InspectScreen(path))

    def action_export_report(self) -> None:
        def export(choice: ReportChoice | None) -> None:
            if choice is None:
                return
            report = self.receiver_report if choice.receiver else self.send_report
            try:
                count, left_out = write_report(report, choice.path)
            except OSError as exc:
                self.notify(
                    f"Could not write {choice.path}: {exc.strerror or exc}", severity="error"
                )
                return
            older = f" (the {left_out} oldest were not kept)" if left_out else ""
            self.notify(f"Wrote {count} objects to {choice.path}{older}")

        self.push_screen(ReportScreen(Path.cwd()), export)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.current_keys()))

    def current_keys(self) -> dict[str, str]:
        return {c.id: self.keys_in_use.get(c.id, c.key) for c in COMMANDS}

    async def action_quit(self) -> None:
        """Quit (Ctrl+Q); during a send, only once the user says so."""
        if not self._sending():
            await self.quit_now()
            return

        async def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                await self.quit_now()

        p = self.sender_pane.progress
        self._quit_question = ConfirmScreen(
            f"A send is running ({p.done} of {p.total_files} objects done). Quit and"
            f" abort it? The {max(p.total_files - p.done, 0)} objects left will not be sent.",
            yes="Quit",
            no="Keep sending",
        )
        self.push_screen(self._quit_question, answered)

    _quit_question: ConfirmScreen | None = None

    def _send_over_while_asked(self) -> None:
        """The send ended while Ctrl+Q's question about it is open: say so there."""
        question = self._quit_question
        if question is None or question not in self.screen_stack:
            return
        # The job's own result: the pane may not have drawn its last events yet.
        result = self.send_job.result if self.send_job is not None else None
        if result is None:
            text = "The send has ended. Quit?"
        else:
            done = result.sent + result.warned
            outcome = f"{done} sent" + (f", {result.failed} failed" if result.failed else "")
            text = f"The send has ended ({outcome}). Quit?"
        question.ask(text, no="Stay")

    async def quit_now(self) -> None:
        """Stop sending and receiving cleanly, then quit."""
        self._ticker.stop()
        if self.send_job is not None:
            self.send_job.cancel()
        await self.stop_receiver()
        self.exit(return_code=130 if self._quit_signals > 1 else 0)

    @on(Button.Pressed, "#send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#echo")
    def _echo_pressed(self) -> None:
        self.action_echo()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel_send()

    @on(DicomDirectoryTree.FolderChanged)
    def _folder_changed(self, message: DicomDirectoryTree.FolderChanged) -> None:
        """Remembered in the config file: the next start (without a PATH) opens it."""
        self.said(self.settings_keeper.preference_changed(last_folder=str(message.path)))

    @on(ReceiverPane.AssociationChosen)
    def _association_chosen(self, message: ReceiverPane.AssociationChosen) -> None:
        self.log_pane.assoc_filter = message.assoc_id
        self.notify(
            f"The log shows association #{message.assoc_id} only (Ctrl+A shows all)", timeout=3
        )

    @on(ReceiverPane.ObjectChosen)
    def _object_chosen(self, message: ReceiverPane.ObjectChosen) -> None:
        self.inspect(message.path)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications quote paths, AE titles and peers' errors: never read them as
        markup (a ``[/x]`` in one would stop the app)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Textual's own (theme, keys, screenshot...); ours come from CommandsProvider.
        yield from super().get_system_commands(screen)
