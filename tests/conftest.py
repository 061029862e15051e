from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Processes

from dicomtui.core.scp.receiver import Receiver
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import Event


@pytest.fixture(autouse=True)
def own_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and every process it starts) gets its own config file, never the user's."""
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("DICOMTUI_CONFIG", str(path))
    return path


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.close()


class RunningReceiver:
    """An in-process receiver on a free port, with every event it published."""

    def __init__(self, receiver: Receiver, events: list[Event], directory: Path) -> None:
        self.receiver = receiver
        self.events = events
        self.directory = directory

    @property
    def port(self) -> int:
        return self.receiver.port

    def of_type(self, cls: type) -> list:
        return [e for e in list(self.events) if isinstance(e, cls)]


@pytest.fixture
def start_receiver(tmp_path: Path) -> Iterator:
    running: list[Receiver] = []

    def start(**overrides: object) -> RunningReceiver:
        directory = Path(overrides.pop("output_directory", tmp_path / "inbox"))  # type: ignore[arg-type]
        settings = ReceiverSettings(
            port=0, ae_title="DICOMTUI", output_directory=directory, **overrides
        )  # type: ignore[arg-type]
        bus = EventBus()
        events: list[Event] = []
        bus.subscribe(events.append)
        receiver = Receiver(settings, bus)
        receiver.start()
        running.append(receiver)
        return RunningReceiver(receiver, events, directory)

    try:
        yield start
    finally:
        for receiver in running:
            receiver.stop()
