"""The app's own preferences: log level, theme, start-up, and the key map."""

from __future__ import annotations

import dataclasses
from collections import Counter

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input, Switch

from dicomtui.core.config.schema import LOG_LEVELS, AppPreferences, LogLevel
from dicomtui.ui.commands import COMMANDS
from dicomtui.ui.settings_screens import SettingsForm, choice


class PreferencesScreen(SettingsForm):
    TITLE = "Preferences (saved in the config file)"

    def __init__(self, preferences: AppPreferences, keys: dict[str, str], themes: list[str]):
        super().__init__()
        self.preferences = preferences
        self.keys = keys
        self.themes = themes

    def fields(self) -> list[tuple[str, Widget]]:
        p = self.preferences
        themes = sorted({*self.themes, p.theme})
        fields: list[tuple[str, Widget]] = [
            ("Log level", choice([(name, name) for name in LOG_LEVELS], p.log_level, "log-level")),
            ("Theme", choice([(Text(name), name) for name in themes], p.theme, "theme")),
            ("Start the receiver at launch", Switch(p.start_receiver, id="start-receiver")),
        ]
        for command in COMMANDS:
            fields.append(
                (
                    f"Key: {command.title}",
                    Input(self.keys.get(command.id, command.key), id=key_field(command.id)),
                )
            )
        return fields

    def build(self) -> tuple[AppPreferences, dict[str, str]]:
        keys: dict[str, str] = {}
        for command in COMMANDS:
            text = ",".join(k.strip() for k in str(self.value(key_field(command.id))).split(","))
            if not text.strip(","):
                raise ValueError(f"{command.title} needs a key")
            if text != command.key:
                keys[command.id] = text
        taken = Counter(key for c in COMMANDS for key in keys.get(c.id, c.key).split(",") if key)
        clashes = sorted(key for key, count in taken.items() if count > 1)
        if clashes:
            raise ValueError(f"Two commands share {', '.join(clashes)}")
        preferences = dataclasses.replace(
            self.preferences,
            log_level=LogLevel(self.value("log-level")),
            theme=self.value("theme"),
            start_receiver=bool(self.value("start-receiver")),
        )
        return preferences, keys


def key_field(command_id: str) -> str:
    return "key-" + command_id.replace(".", "-")
