"""What the app does with the config file when the user changes a setting.

Each change goes into the file at once, as the user made it; a file that cannot
be written is said in one line (never fatal). Textual-free, so tests call it
directly; the app only shows what it returns.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dicomtui.core.config.file import Config, ConfigNotSaved, save_config
from dicomtui.core.config.schema import AppPreferences, Node
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings

#: (severity, message) for the user when the file was not written, else None.
Problem = tuple[str, str] | None


class SettingsKeeper:
    def __init__(self, config: Config) -> None:
        self.config = config

    def receiver_changed(self, new: ReceiverSettings, was: ReceiverSettings) -> Problem:
        self.config.set_receiver(new, was)
        return self.save()

    def sender_changed(self, new: SenderSettings, was: SenderSettings) -> Problem:
        self.config.set_sender(new, was)
        return self.save()

    def node_changed(self, old: Node | None, new: Node | None) -> Problem:
        """Add (``old`` None), edit or delete (``new`` None) a node; the destination
        chosen at start follows its node's new name, or goes with it."""
        self.config.change_node(old, new)
        if old is not None and self.config.app.destination == old.name:
            self._set_app(destination=new.name if new is not None else "")
        return self.save()

    def destination_picked(self, node: Node) -> Problem:
        self._set_app(destination=node.name)
        return self.save()

    def preferences_changed(
        self, preferences: AppPreferences, keys: dict[str, str], was_keys: dict[str, str]
    ) -> Problem:
        self.config.set_app(preferences)
        self.config.set_keys(keys, was=was_keys)
        return self.save()

    def preference_changed(self, **changes: Any) -> Problem:
        """One preference the app changed by itself (the log level, the last folder)."""
        self._set_app(**changes)
        return self.save()

    def _set_app(self, **changes: Any) -> None:
        self.config.set_app(dataclasses.replace(self.config.app, **changes))

    def save(self) -> Problem:
        try:
            save_config(self.config)
        except ConfigNotSaved as exc:
            return "warning", f"Settings not saved: {exc}"
        except OSError as exc:
            return "error", f"Could not save {self.config.path}: {exc.strerror or exc}"
        return None
