"""The user's config file: receiver and sender defaults, app preferences, key map, nodes.

One TOML file in the user's config folder (``platformdirs``), or the one that
``--config`` or ``DICOMTUI_CONFIG`` names. A file with mistakes never stops the
app: each mistake becomes a problem to show and that value keeps its default. A
file that cannot be parsed at all is kept aside (``config.toml.broken``) before the
app writes a new one, so nothing the user typed is lost.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import tomllib
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import tomli_w

from dicomtui.core.receiver import ReceiverSettings
from dicomtui.core.sender import SenderSettings
from dicomtui.core.storage import check_extension

CONFIG_ENV = "DICOMTUI_CONFIG"
LOG_LEVELS = ("quiet", "verbose", "debug")

#: Set per destination (or per run), never saved as a sender default.
_SENDER_NOT_SAVED = frozenset({"host", "port", "called_ae_title", "recurse"})

Settings = TypeVar("Settings", ReceiverSettings, SenderSettings)


@dataclass(frozen=True)
class Node:
    """A peer in the address book."""

    name: str
    host: str
    port: int
    called_ae_title: str = "ANY-SCP"
    #: Empty: the sender's own calling AE title.
    calling_ae_title: str = ""
    tls: bool = False

    def sender_settings(self, base: SenderSettings) -> SenderSettings:
        return dataclasses.replace(
            base,
            host=self.host,
            port=self.port,
            called_ae_title=self.called_ae_title,
            calling_ae_title=self.calling_ae_title or base.calling_ae_title,
            tls=self.tls,
        )


@dataclass
class AppPreferences:
    log_level: str = "verbose"
    theme: str = "textual-dark"
    start_receiver: bool = True
    #: The node picked as destination at start (by name); empty: the app's own receiver.
    destination: str = ""


@dataclass
class Config:
    path: Path
    receiver: ReceiverSettings
    sender: SenderSettings
    app: AppPreferences = field(default_factory=AppPreferences)
    #: Command id -> keys ("sender.send" = "f6,ctrl+enter").
    keys: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    #: The file on disk could not be parsed; keep it aside before writing.
    unparsable: bool = False

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)


def default_config_path() -> Path:
    given = os.environ.get(CONFIG_ENV)
    if given:
        return Path(given).expanduser()
    return platformdirs.user_config_path("dicomtui") / "config.toml"


def load_config(
    path: Path, receiver: ReceiverSettings, sender: SenderSettings
) -> tuple[Config, list[str]]:
    """The config at ``path`` over the given defaults, and what was wrong with it."""
    config = Config(path=path, receiver=receiver, sender=sender)
    try:
        with path.open("rb") as fp:
            data = tomllib.load(fp)
    except FileNotFoundError:
        return config, []
    except OSError as exc:
        return config, [f"{path}: cannot be read ({exc.strerror or exc}); using the defaults"]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        config.unparsable = True
        return config, [f"{path} is not valid TOML ({exc}); using the defaults"]

    problems: list[str] = []
    config.receiver = _settings_from(data.pop("receiver", {}), receiver, "receiver", problems)
    config.sender = _settings_from(
        data.pop("sender", {}), sender, "sender", problems, skip=_SENDER_NOT_SAVED
    )
    config.app = _preferences_from(data.pop("app", {}), problems)
    config.keys = _keys_from(data.pop("keys", {}), problems)
    config.nodes = _nodes_from(data.pop("nodes", []), problems)
    problems.extend(f"{path}: unknown section [{name}] ignored" for name in data)
    return config, problems


def save_config(config: Config) -> None:
    """Write the whole config atomically (a reader never sees half a file)."""
    path = config.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if config.unparsable and path.exists():
        os.replace(path, path.with_name(path.name + ".broken"))
        config.unparsable = False
    document = {
        "app": dataclasses.asdict(config.app),
        "receiver": _settings_to(config.receiver),
        "sender": _settings_to(config.sender, skip=_SENDER_NOT_SAVED),
        "keys": dict(config.keys),
        "nodes": [_node_to(node) for node in config.nodes],
    }
    fd, temporary = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            tomli_w.dump(document, out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- settings dataclasses <-> TOML tables ------------------------------------------------


def _settings_to(settings: object, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, f.name)
        if f.name in skip:
            continue
        if value is None:
            value = ""
        elif isinstance(value, Enum):
            value = value.value
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        table[f.name] = value
    return table


def _settings_from(
    table: object,
    base: Settings,
    section: str,
    problems: list[str],
    skip: frozenset[str] = frozenset(),
) -> Settings:
    if not isinstance(table, dict):
        problems.append(f"[{section}] must be a table; using the defaults")
        return base
    hints = typing.get_type_hints(type(base))
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key not in hints or key in skip:
            problems.append(f"[{section}] {key}: not a setting; ignored")
            continue
        try:
            changes[key] = _check(key, _convert(hints[key], value))
        except (TypeError, ValueError) as exc:
            problems.append(f"[{section}] {key} = {value!r}: {exc}; using {getattr(base, key)!r}")
    return dataclasses.replace(base, **changes)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        (other,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        return None if value == "" else _convert(other, value)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError("expected a list of strings")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("expected a number")
        return float(value)
    if not isinstance(value, str):
        raise TypeError("expected a string")
    if hint is Path:
        return Path(value).expanduser()
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(repr(member.value) for member in hint)
            raise ValueError(f"expected one of {choices}") from None
    return value


def _check(key: str, value: Any) -> Any:
    """The limits a form would enforce, for values typed into the file."""
    if key == "port" and not 0 <= value <= 65535:
        raise ValueError("a port is 0 to 65535")
    if key.endswith("ae_title") and isinstance(value, str) and not 1 <= len(value) <= 16:
        raise ValueError("an AE title is 1 to 16 characters")
    if key.endswith("timeout") and value <= 0:
        raise ValueError("a timeout is more than 0 seconds")
    if key.startswith("max_") and isinstance(value, int) and value < 0:
        raise ValueError("cannot be negative")
    if key == "filename_extension":
        check_extension(value)
    return value


def _preferences_from(table: object, problems: list[str]) -> AppPreferences:
    preferences = AppPreferences()
    if not isinstance(table, dict):
        problems.append("[app] must be a table; using the defaults")
        return preferences
    hints = typing.get_type_hints(AppPreferences)
    for key, value in table.items():
        if key not in hints:
            problems.append(f"[app] {key}: not a setting; ignored")
            continue
        try:
            converted = _convert(hints[key], value)
        except (TypeError, ValueError) as exc:
            problems.append(f"[app] {key} = {value!r}: {exc}; ignored")
            continue
        if key == "log_level" and converted not in LOG_LEVELS:
            problems.append(f"[app] log_level = {value!r}: expected one of {', '.join(LOG_LEVELS)}")
            continue
        setattr(preferences, key, converted)
    return preferences


def _keys_from(table: object, problems: list[str]) -> dict[str, str]:
    if not isinstance(table, dict):
        problems.append("[keys] must be a table of command id = keys; ignored")
        return {}
    keys: dict[str, str] = {}
    for command, value in table.items():
        if isinstance(value, str) and value.strip():
            keys[command] = value.strip()
        else:
            problems.append(f'[keys] {command}: expected keys such as "f6"; ignored')
    return keys


def _node_to(node: Node) -> dict[str, Any]:
    return dataclasses.asdict(node)


def _nodes_from(entries: object, problems: list[str]) -> list[Node]:
    if not isinstance(entries, list):
        problems.append("nodes must be written as [[nodes]] tables; ignored")
        return []
    hints = typing.get_type_hints(Node)
    nodes: list[Node] = []
    for number, entry in enumerate(entries, 1):
        try:
            if not isinstance(entry, dict):
                raise TypeError("expected a table")
            missing = {"name", "host", "port"} - entry.keys()
            if missing:
                raise ValueError(f"needs {', '.join(sorted(missing))}")
            unknown = entry.keys() - hints.keys()
            if unknown:
                raise ValueError(f"unknown keys {', '.join(sorted(unknown))}")
            values = {key: _convert(hints[key], v) for key, v in entry.items()}
            node = check_node(Node(**values), nodes)
        except (TypeError, ValueError) as exc:
            problems.append(f"node {number} ({_label(entry)}): {exc}; ignored")
            continue
        nodes.append(node)
    return nodes


def check_node(node: Node, others: list[Node]) -> Node:
    """The node if it can be used; raises ValueError saying what to fix."""
    if not node.name.strip():
        raise ValueError("a node needs a name")
    if not node.host.strip():
        raise ValueError("a node needs a host")
    if not 1 <= node.port <= 65535:
        raise ValueError("the port must be 1 to 65535")
    for title in (node.called_ae_title, node.calling_ae_title):
        if len(title) > 16 or "\\" in title:
            raise ValueError("AE titles are at most 16 characters, without backslashes")
    if not node.called_ae_title:
        raise ValueError("a node needs a called AE title")
    if any(other.name == node.name for other in others):
        raise ValueError(f"there is already a node named {node.name!r}")
    return node


def _label(entry: object) -> str:
    if isinstance(entry, dict):
        return str(entry.get("name", "no name"))
    return "not a table"
