"""The user's config file: receiver and sender defaults, app preferences, key map, nodes.

One TOML file in the user's config folder (``platformdirs``), or the one that
``--config`` or ``DICOMTUI_CONFIG`` names. A file with mistakes never stops the
app: each mistake becomes a problem to show and that value keeps its default.

Saving changes only what was changed in the app: the document is edited in place
(``tomlkit``), so comments, unknown keys, values with mistakes and nodes that
could not be used stay as the user wrote them. A file that is not TOML at all is
kept aside (``config.toml.broken``) before a new one is written; a file that could
not be read is never overwritten."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import types
import typing
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT
from tomlkit.toml_document import TOMLDocument

from dicomtui.core.config.schema import AppPreferences, Node, RetrieveMethod, check_node
from dicomtui.core.config.validation import (
    field_check,
)
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings

CONFIG_ENV = "DICOMTUI_CONFIG"

HEADER = "dicomtui settings: changed by the app (F2, F3, Ctrl+O, Ctrl+N) or by hand."

#: Set per destination (or per run), never saved as a sender default.
_SENDER_NOT_SAVED = frozenset({"host", "port", "called_ae_title", "recurse"})

Settings = TypeVar("Settings", ReceiverSettings, SenderSettings)


class ConfigNotSaved(Exception):
    """The file is kept as it is; the message says why."""


#: One change made in the app, applied to the document when it is saved.
Edit = Callable[[TOMLDocument], None]


@dataclass
class Config:
    path: Path
    receiver: ReceiverSettings
    sender: SenderSettings
    app: AppPreferences = field(default_factory=AppPreferences)
    #: Command id -> keys ("sender.send" = "f6,ctrl+t").
    keys: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    #: The file as last read or written.
    document: TOMLDocument = field(default_factory=tomlkit.document)
    #: The file's (mtime, size) then: a file edited by hand since is read again.
    stamp: tuple[int, int] | None = None
    #: Changes not saved yet.
    pending: list[Edit] = field(default_factory=list)
    #: The file on disk could not be parsed; keep it aside before writing.
    unparsable: bool = False
    #: Why the file must not be written at all (it could not be read), or "".
    read_error: str = ""
    #: Why the receiver must not start as configured (a broken allow-list), or "".
    unsafe_receiver: str = ""

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def set_receiver(self, new: ReceiverSettings, was: ReceiverSettings) -> None:
        """The fields the user changed from ``was`` (what the form showed) to ``new``:
        values the command line gave for this run only are never written."""
        changed = _changed(was, new)
        self.receiver = dataclasses.replace(self.receiver, **changed)
        self._edit("receiver", changed)
        if changed.keys() & _ADMISSION:
            self.unsafe_receiver = ""

    def set_sender(self, new: SenderSettings, was: SenderSettings) -> None:
        changed = _changed(was, new, skip=_SENDER_NOT_SAVED)
        self.sender = dataclasses.replace(self.sender, **changed)
        self._edit("sender", changed)

    def set_app(self, new: AppPreferences) -> None:
        changed = _changed(self.app, new)
        self.app = dataclasses.replace(self.app, **changed)
        self._edit("app", changed)

    def set_keys(self, new: dict[str, str], was: dict[str, str]) -> None:
        """The keys the user changed; every other entry stays as written."""
        changed = {c: new.get(c) for c in new.keys() | was.keys() if new.get(c) != was.get(c)}
        for command, keys in changed.items():
            if keys is None:
                self.keys.pop(command, None)
            else:
                self.keys[command] = keys

        def edit(document: TOMLDocument) -> None:
            table = _section(document, "keys")
            for command, keys in changed.items():
                if keys is not None:
                    table[command] = keys
                elif command in table:
                    del table[command]

        self.pending.append(edit)

    def change_node(self, old: Node | None, new: Node | None) -> None:
        """Add (``old`` None), edit, or delete (``new`` None) one node, in place in the
        file: its comments, the other nodes and the unusable ones stay as written."""
        if old is None and new is not None:
            self.nodes.append(new)
        elif old is not None:
            index = self.nodes.index(old)
            if new is None:
                del self.nodes[index]
            else:
                self.nodes[index] = new

        def edit(document: TOMLDocument) -> None:
            entries = document.get("nodes")
            if not isinstance(entries, list):
                entries = AoT([])
                document["nodes"] = entries
            at = next(
                (
                    i
                    for i, entry in enumerate(entries)
                    if old is not None
                    and isinstance(entry, MutableMapping)
                    and entry.get("name") == old.name
                ),
                None,
            )
            if new is None:
                if at is not None:
                    del entries[at]
            elif at is None or old is None:
                entries.append(_node_table(new, inline=not isinstance(entries, AoT)))
            else:
                _update_node(entries[at], old, new)

        self.pending.append(edit)

    def _edit(self, section: str, changed: dict[str, Any]) -> None:
        if not changed:
            return

        def edit(document: TOMLDocument) -> None:
            table = _section(document, section)
            for name, value in changed.items():
                table[name] = _to_toml(value)

        self.pending.append(edit)


#: Receiver settings that decide who may send: a mistake in one must not open the door.
_ADMISSION = frozenset({"allowed_calling_ae_titles", "allowed_addresses", "check_called_ae_title"})


def _changed(was: Any, new: Any, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        f.name: getattr(new, f.name)
        for f in dataclasses.fields(new)
        if f.name not in skip and getattr(new, f.name) != getattr(was, f.name)
    }


def _section(document: TOMLDocument, name: str) -> MutableMapping[str, Any]:
    """The section as the user wrote it ([table], inline table or dotted keys)."""
    table = document.get(name)
    if not isinstance(table, MutableMapping):  # absent, or a mistake already reported
        table = tomlkit.table()
        document[name] = table
    return table


def _update_node(entry: MutableMapping[str, Any], old: Node, new: Node) -> None:
    for f in dataclasses.fields(Node):
        value = getattr(new, f.name)
        if value == getattr(old, f.name) and f.name in entry:
            continue
        if value == f.default and f.name not in ("name", "host", "port"):
            entry.pop(f.name, None)  # back to the default: say nothing
        else:
            entry[f.name] = _to_toml(value)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        config.document.add(tomlkit.comment(HEADER))
        return config, []
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        config.read_error = f"{path} could not be read ({reason})"
        return config, [f"{config.read_error}; using the defaults, and not saving changes"]
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        config.unparsable = True
        return config, [f"{path} is not valid TOML ({exc}); using the defaults"]
    config.document = document
    config.stamp = _stamp(path)
    data = document.unwrap()

    problems: list[str] = []
    config.receiver = _settings_from(data.pop("receiver", {}), receiver, "receiver", problems)
    config.sender = _settings_from(
        data.pop("sender", {}), sender, "sender", problems, skip=_SENDER_NOT_SAVED
    )
    config.app = _preferences_from(data.pop("app", {}), problems)
    config.keys = _keys_from(data.pop("keys", {}), problems)
    config.nodes = _nodes_from(data.pop("nodes", []), problems)
    unsafe = [p for p in problems if p.startswith(tuple(f"[receiver] {k} " for k in _ADMISSION))]
    if unsafe:
        config.unsafe_receiver = (
            "the receiver is not started: its allow-list in the config file has a mistake, "
            "and without it anyone could send; fix it in F2 (or in the file), then F5"
        )
    problems.extend(f"{path}: unknown section [{name}] ignored" for name in data)
    return config, problems


def save_config(config: Config) -> None:
    """Apply the pending changes to the file and write it atomically.

    A file edited by hand since it was read is read again first, so those edits
    stay; a symbolic link (a dotfiles folder) stays a link. Raises ConfigNotSaved
    or OSError (the changes stay pending).
    """
    if config.read_error:
        raise ConfigNotSaved(f"{config.read_error} at start, so it is not overwritten")
    path = config.path.resolve() if config.path.is_symlink() else config.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if config.unparsable and path.exists():
        os.replace(path, path.with_name(path.name + ".broken"))
        config.unparsable = False
        config.pending.clear()
        document = _rebuilt(config)
    else:
        document = _current_document(config, path)
        for edit in config.pending:
            edit(document)
    fd, temporary = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(tomlkit.dumps(document))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    config.document = document
    config.pending.clear()
    config.stamp = _stamp(path)


def _current_document(config: Config, path: Path) -> TOMLDocument:
    """A copy of the document to change: the file again if it was edited since."""
    if _stamp(path) == config.stamp:
        return tomlkit.parse(tomlkit.dumps(config.document))
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = tomlkit.document()
        document.add(tomlkit.comment(HEADER))
        return document
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise ConfigNotSaved(
            f"{path} was changed outside the app and cannot be read now ({exc}); "
            "fix it and change the setting again"
        ) from exc


def _rebuilt(config: Config) -> TOMLDocument:
    """A whole new document from what the app holds (the old file was not TOML)."""
    document = tomlkit.document()
    document.add(tomlkit.comment(HEADER))
    for section, value in (
        ("app", config.app),
        ("receiver", config.receiver),
        ("sender", config.sender),
    ):
        table = tomlkit.table()
        skip = _SENDER_NOT_SAVED if section == "sender" else frozenset()
        for f in dataclasses.fields(value):
            if f.name not in skip:
                table[f.name] = _to_toml(getattr(value, f.name))
        document[section] = table
    document["keys"] = dict(config.keys)
    entries = AoT([])
    for node in config.nodes:
        entries.append(_node_table(node, inline=False))
    document["nodes"] = entries
    return document


def _to_toml(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _node_table(node: Node, inline: bool) -> Any:
    table = tomlkit.inline_table() if inline else tomlkit.table()
    table["name"] = node.name
    table["host"] = node.host
    table["port"] = node.port
    table["called_ae_title"] = node.called_ae_title
    if node.calling_ae_title:
        table["calling_ae_title"] = node.calling_ae_title
    if node.tls:
        table["tls"] = True
    if node.retrieve is not RetrieveMethod.MOVE:
        table["retrieve"] = node.retrieve.value
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
    fields = {f.name: f for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key not in hints or key in skip:
            problems.append(f"[{section}] {key}: not a setting; ignored")
            continue
        try:
            changes[key] = _check(fields[key], _convert(hints[key], value))
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


def _check(found: dataclasses.Field[Any], value: Any) -> Any:
    """The limits the forms enforce (core/config/validation.py), declared with each field."""
    check = field_check(found)
    return value if check is None else check(value)


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


def _nodes_from(entries: object, problems: list[str]) -> list[Node]:
    """The usable nodes (the others stay in the file as they are)."""
    if not isinstance(entries, list):
        problems.append("nodes must be written as [[nodes]] tables; ignored")
        return []
    hints = typing.get_type_hints(Node)
    nodes: list[Node] = []
    for index, entry in enumerate(entries):
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
            problems.append(f"node {index + 1} ({_label(entry)}): {exc}; kept in the file, unused")
            continue
        nodes.append(node)
    return nodes


def _label(entry: object) -> str:
    if isinstance(entry, dict):
        return str(entry.get("name", "no name"))
    return "not a table"
