"""The request identifier: a query file (``-f``) updated by ``-k`` element paths.

A path names an element by keyword or ``(gggg,eeee)``, and may go into sequence
items: ``ReferencedStudySequence[0].ReferencedSOPClassUID=1.2.3``. ``Element=``
asks for the element back (universal matching); a sequence without an item
(``ScheduledProcedureStepSequence=``) is an empty sequence, and ``Seq[0]=`` one
empty item. Values are converted for the element's VR as pynetdicom's findscu
does: numbers for numeric VRs, hexadecimal for bytes, ``\\`` between values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pydicom import dcmread
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag, Tag

from dicomtui.core.qr.models import DEFAULT_CHARACTER_SET

_COMPONENT = re.compile(r"^(?P<name>[^\[\]]+)(?:\[(?P<item>\d+)\])?$")
_TAG = re.compile(r"^\(?(?P<group>[0-9A-Fa-f]{4}),(?P<element>[0-9A-Fa-f]{4})\)?$")
_STRING_VRS = frozenset(
    [
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    ]
)
_INT_VRS = frozenset(["SL", "SS", "SV", "UL", "US", "UV"])
_FLOAT_VRS = frozenset(["FD", "FL"])


class QueryError(ValueError):
    """A ``-k`` path or query file that cannot make an identifier."""


def element_tag(name: str) -> BaseTag:
    """The tag of a keyword or ``(gggg,eeee)``."""
    found = _TAG.match(name.strip())
    if found:
        return Tag(int(found["group"], 16), int(found["element"], 16))
    tag = tag_for_keyword(name.strip())
    if tag is None:
        raise QueryError(f"unknown element keyword {name.strip()!r}")
    return Tag(tag)


def element_vr(tag: BaseTag) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"  # private or unknown: bytes, as findscu treats it


def convert(vr: str, text: str) -> object:
    """The value of ``text`` for an element of ``vr``."""
    if vr in _STRING_VRS or vr == "SQ" or not text:
        return text
    parts = text.split("\\")
    try:
        values: list[object]
        if vr == "AT":
            values = [element_tag(part) for part in parts]
        elif vr in _INT_VRS:
            values = [int(part) for part in parts]
        elif vr in _FLOAT_VRS:
            values = [float(part) for part in parts]
        else:
            return bytes.fromhex(text)
    except ValueError as exc:
        raise QueryError(f"{text!r} is not a valid {vr} value") from exc
    return values[0] if len(values) == 1 else values


def apply_path(ds: Dataset, path: str) -> None:
    """Add or replace the element that ``path`` (``a[0].b=value``) names in ``ds``."""
    spec, _, text = path.partition("=")
    components = spec.split(".")
    if not spec or not all(components):
        raise QueryError(f"cannot read the element path {path!r}")
    current = ds
    for position, component in enumerate(components):
        found = _COMPONENT.match(component.strip())
        if not found:
            raise QueryError(f"cannot read {component!r} in {path!r}")
        tag = element_tag(found["name"])
        vr = element_vr(tag)
        last = position == len(components) - 1
        item = found["item"]
        if item is None:
            if not last:
                raise QueryError(f"{component!r} in {path!r} needs an item number, as in [0]")
            if vr == "SQ":
                current.add_new(tag, vr, [])
            else:
                current.add_new(tag, vr, convert(vr, text))
            return
        if vr != "SQ":
            raise QueryError(f"{found['name']} is not a sequence, in {path!r}")
        if tag not in current:
            current.add_new(tag, vr, [])
        items = current[tag].value
        while len(items) <= int(item):
            items.append(Dataset())
        current = items[int(item)]
        if last:
            if text:
                raise QueryError(f"a sequence item takes no value, in {path!r}")
            return


def read_query_file(path: Path) -> Dataset:
    try:
        ds = dcmread(path, force=True)
        list(ds.iterall())  # pydicom decodes lazily: find a broken file now
    except (OSError, InvalidDicomError, ValueError, TypeError, KeyError) as exc:
        raise QueryError(f"cannot read the query file {path}: {exc}") from exc
    return Dataset(ds)  # the data set only, without the file's meta information


def build_query(
    keywords: Iterable[str] = (),
    file: Path | None = None,
    character_set: str = DEFAULT_CHARACTER_SET,
) -> Dataset:
    """The identifier: ``file`` (if any) updated by each ``-k`` path in turn, with
    Specific Character Set ``character_set`` unless the file or a path set it."""
    ds = read_query_file(file) if file is not None else Dataset()
    for path in keywords:
        apply_path(ds, path)
    if "SpecificCharacterSet" not in ds and character_set:
        ds.SpecificCharacterSet = character_set
    return ds
