"""The limits on settings, checked the same way in the forms and in the config file.

``check_*`` take a typed value; ``parse_*`` take the text of a form field. Both
raise ValueError with a sentence that says what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import Field, field
from pathlib import Path
from typing import Any

MAX_PDU_LIMIT = 0xFFFFFFFF


def check_port(value: int, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if not low <= value <= 65535:
        raise ValueError(f"The port must be a number from {low} to 65535")
    return value


def check_ae_title(value: str, what: str = "AE title") -> str:
    """1 to 16 printable ASCII characters, not all spaces, no backslash (PS3.5 AE).

    The error names what is wrong with this value, not only the rule.
    """
    if not value.strip():
        raise ValueError(f"The {what} must not be empty")
    if len(value) > 16:
        raise ValueError(f"The {what} must be at most 16 characters, not {len(value)}")
    if "\\" in value:
        raise ValueError(f"The {what} must not contain a backslash")
    for char in value:
        if not " " <= char <= "~":
            raise ValueError(f"The {what} must be printable ASCII characters: {char!r} is not")
    return value


def check_seconds(value: float, what: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"The {what} must be a number of seconds more than 0")
    return value


def check_count(value: int, what: str, low: int = 0, high: int | None = None) -> int:
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise ValueError(f"The {what} must be a whole number of at least {low}{upper}")
    return value


#: At most this many associations for one send: a peer's threads, not ours, are the limit.
MAX_SEND_ASSOCIATIONS = 16


def check_send_associations(value: int) -> int:
    return check_count(value, "number of associations", 1, MAX_SEND_ASSOCIATIONS)


def check_max_pdu(value: int) -> int:
    return check_count(value, "maximum PDU size", 0, MAX_PDU_LIMIT)


def check_addresses(entries: tuple[str, ...]) -> tuple[str, ...]:
    # Imported here: the command-line parsers use this module and must not load the engine.
    from dicomtui.core.scp.admission import parse_networks

    parse_networks(entries)  # raises ValueError naming the bad one
    return entries


def parse_port(text: str, *, allow_zero: bool = False) -> int:
    if not text.strip().isdigit():
        return check_port(-1, allow_zero=allow_zero)
    return check_port(int(text), allow_zero=allow_zero)


def parse_ae_title(text: str, what: str) -> str:
    return check_ae_title(text.strip(), what)


def parse_seconds(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"The {what} must be a number of seconds") from None
    return check_seconds(value, what)


def parse_count(text: str, what: str, low: int = 0, high: int | None = None) -> int:
    if not text.strip().isdigit():
        return check_count(low - 1, what, low, high)
    return check_count(int(text), what, low, high)


def parse_megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("The largest object must be a number of megabytes") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("The largest object must be 0 (no limit) or more megabytes")
    return value


def parse_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_addresses(text: str) -> tuple[str, ...]:
    return check_addresses(parse_list(text))


def parse_optional_file(text: str, what: str) -> Path | None:
    if not text.strip():
        return None
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        raise ValueError(f"The {what} {path} is not a file")
    return path


#: The key of a dataclass field's metadata that holds its check.
CHECK = "dicomtui.check"


def checked(default: Any, check: Callable[[Any], Any]) -> Any:
    """A settings field whose value, typed into the config file, ``check`` takes
    (returning it, perhaps normalised) or refuses with ValueError."""
    return field(default=default, metadata={CHECK: check})


def field_check(found: Field[Any]) -> Callable[[Any], Any] | None:
    check: Callable[[Any], Any] | None = found.metadata.get(CHECK)
    return check


def seconds(default: float, what: str) -> Any:
    return checked(default, lambda value: check_seconds(value, what))


def ae_titles(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(check_ae_title(title) for title in value)
