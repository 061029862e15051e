"""Where to export a transfer report, and of which side."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.widget import Widget
from textual.widgets import Input, Select

from dicomtui.ui.settings_screens import SettingsForm, choice


@dataclass(frozen=True)
class ReportChoice:
    receiver: bool
    path: Path


class ReportScreen(SettingsForm):
    TITLE = "Export a transfer report (per object: UID, file, status, bytes, time)"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def default_path(self, side: str, extension: str) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return str(self.folder / f"dicomtui-{side}-{stamp}.{extension}")

    def fields(self) -> list[tuple[str, Widget]]:
        return [
            (
                "Report on",
                choice(
                    [("The receiver", "receiver"), ("The last send", "send")], "receiver", "side"
                ),
            ),
            ("Format", choice([("CSV", "csv"), ("JSON", "json")], "csv", "format")),
            ("File", Input(self.default_path("receiver", "csv"), id="report-path")),
        ]

    @on(Select.Changed)
    def _suggest_name(self) -> None:
        self.query_one("#report-path", Input).value = self.default_path(
            self.value("side"), self.value("format")
        )

    def build(self) -> ReportChoice:
        text = str(self.value("report-path")).strip()
        if not text:
            raise ValueError("Name a file for the report")
        path = Path(text).expanduser()
        if path.is_dir():
            raise ValueError(f"{path} is a folder; name a file")
        if self.value("format") == "json" and path.suffix.lower() != ".json":
            path = path.with_name(path.name + ".json")
        return ReportChoice(receiver=self.value("side") == "receiver", path=path)
