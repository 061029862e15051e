"""Look inside one DICOM file: its tags as a tree and its first frame as a grey picture.

Renderer-neutral: the UI draws the tree and the picture; this module only reads.
Large values (pixel data above all) are never loaded for the tree, and the picture
decodes only the first frame, so both stay cheap on a file of hundreds of megabytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom import dcmread
from pydicom.datadict import (
    dictionary_description,
    dictionary_keyword,
    dictionary_VR,
    private_dictionary_description,
)
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag

#: Values longer than this (in bytes) are not read for the tree: only their length shows.
DEFER_SIZE = 64 * 1024
#: Value text longer than this is cut (with an ellipsis).
MAX_VALUE_CHARS = 120
#: Frames larger than this (in either direction) are averaged down before windowing:
#: no terminal shows more, and it bounds the memory the picture keeps.
MAX_FRAME_SIDE = 1024

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float, Double Float Pixel Data


class InspectError(Exception):
    """The file cannot be inspected; the message says why, in words for the user."""


@dataclass(frozen=True, slots=True)
class TagNode:
    """One row of the tree: a data element, or one item of a sequence."""

    #: "(0010,0010)"; empty for a sequence item.
    tag: str
    #: "PatientName"; empty for private and unknown tags and for items.
    keyword: str
    #: "Patient's Name", "[Full fidelity]" (private), "Item 1".
    name: str
    vr: str
    #: The value as text: cut at MAX_VALUE_CHARS, bytes as "<N bytes>", sequences as counts.
    value: str
    is_private: bool = False
    children: tuple[TagNode, ...] = ()
    #: 1-based number of a sequence item; 0 for a data element.
    item: int = 0
    #: Set by filter_tags on the nodes the query hit (their ancestors are kept unset).
    matched: bool = False

    @property
    def is_item(self) -> bool:
        return self.item > 0

    @property
    def hex_tag(self) -> str:
        """The tag as eight hex digits, "00100010" (empty for an item)."""
        return self.tag[1:5] + self.tag[6:10] if self.tag else ""


# --- reading ---------------------------------------------------------------------------------


def read_dataset(path: str | Path, *, defer_size: int = DEFER_SIZE) -> Dataset:
    """Read ``path`` with large values left on disk; InspectError says why it cannot."""
    path = Path(path)
    try:
        if path.is_dir():
            raise InspectError(f"{path.name} is a folder, not a file")
        if path.stat().st_size == 0:
            raise InspectError(f"{path.name} is empty")
        return dcmread(path, defer_size=defer_size, force=False)
    except InspectError:
        raise
    except InvalidDicomError:
        raise InspectError(
            f"{path.name} is not a DICOM file (no 'DICM' after the 128-byte preamble)"
        ) from None
    except OSError as exc:
        raise InspectError(f"Cannot open {path.name}: {exc.strerror or exc}") from None
    except Exception as exc:  # pydicom raises many kinds on a broken file
        raise InspectError(f"Cannot read {path.name}: {_reason(exc)}") from None


def tag_tree(ds: Dataset, *, max_value_chars: int = MAX_VALUE_CHARS) -> tuple[TagNode, ...]:
    """The file meta group (when present) then the data set, sequences nested."""
    meta = getattr(ds, "file_meta", None)
    nodes: list[TagNode] = []
    if meta is not None:
        nodes.extend(_nodes(meta, max_value_chars))
    nodes.extend(_nodes(ds, max_value_chars))
    return tuple(nodes)


def inspect_tags(path: str | Path) -> tuple[TagNode, ...]:
    return tag_tree(read_dataset(path))


def _nodes(ds: Dataset, max_chars: int) -> list[TagNode]:
    return [_node(ds, tag, max_chars) for tag in sorted(ds.keys())]


def _node(ds: Dataset, tag: BaseTag, max_chars: int) -> TagNode:
    text = f"({tag.group:04X},{tag.element:04X})"
    private = tag.is_private
    raw = ds.get_item(tag, keep_deferred=True)
    if isinstance(raw, RawDataElement) and raw.value is None and raw.length:
        # Deferred: left on disk. Name it from the dictionaries and show only its length.
        vr = raw.VR or _dictionary_vr(tag)
        keyword, name = _names(ds, tag)
        return TagNode(text, keyword, name, vr, f"<{raw.length} bytes>", private)
    try:
        elem = ds[tag]
    except Exception as exc:
        keyword, name = _names(ds, tag)
        vr = getattr(raw, "VR", None) or ""
        return TagNode(text, keyword, name, vr, f"<cannot read: {_reason(exc)}>", private)
    keyword = "" if private else elem.keyword
    name = elem.name
    vr = str(elem.VR or "")
    if vr == "SQ" and elem.value is not None:
        items = list(elem.value)
        children = tuple(
            TagNode(
                "",
                "",
                f"Item {index}",
                "",
                _count(len(item), "element"),
                private,
                tuple(_nodes(item, max_chars)),
                item=index,
            )
            for index, item in enumerate(items, 1)
        )
        return TagNode(text, keyword, name, vr, _count(len(items), "item"), private, children)
    return TagNode(text, keyword, name, vr, value_text(elem, max_chars), private)


def _names(ds: Dataset, tag: BaseTag) -> tuple[str, str]:
    """(keyword, name) of a tag from the dictionaries, without reading its value."""
    if tag.is_private:
        if tag.is_private_creator:
            return "", "Private Creator"
        creator_tag = Tag(tag.group, tag.element >> 8)
        creator = ds.get_item(creator_tag, keep_deferred=True) if creator_tag in ds else None
        value = creator.value if creator is not None else None
        if isinstance(value, bytes):
            value = value.decode("latin-1").strip(" \x00")
        if isinstance(value, str) and value:
            try:
                return "", f"[{private_dictionary_description(tag, value)}]"
            except KeyError:
                pass
        return "", "Private tag data"
    try:
        return dictionary_keyword(tag), dictionary_description(tag)
    except KeyError:
        return "", "Unknown tag"


def _dictionary_vr(tag: BaseTag) -> str:
    if tag.is_private:
        return "UN"
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def value_text(elem: DataElement, max_chars: int = MAX_VALUE_CHARS) -> str:
    """The value of a (non-sequence) element as one line of text."""
    value: Any = elem.value
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        text = value
    elif isinstance(value, MultiValue | list | tuple):
        parts: list[str] = []
        size = 0
        for part in value:  # stop early: a value may hold thousands of numbers
            parts.append(str(part))
            size += len(parts[-1]) + 1
            if size > max_chars:
                break
        text = "\\".join(parts)
    else:
        text = str(value)
    return shorten(text, max_chars)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def shorten(text: str, max_chars: int = MAX_VALUE_CHARS) -> str:
    """One line (control characters become spaces), cut at ``max_chars`` with an ellipsis."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- searching -------------------------------------------------------------------------------


_TAG_PUNCTUATION = re.compile(r"[\s(),]")
_HEX = re.compile(r"[0-9a-fA-F]{4,8}")


def filter_tags(nodes: Sequence[TagNode], query: str) -> tuple[TagNode, ...]:
    """Nodes whose keyword or name contains ``query`` (any case), or whose tag is or
    starts with it ("0010,0010", "00100010", "(0010,0010)", a group "0010"), with
    their ancestors kept. A matched node keeps all its children; an ancestor keeps
    only the branches that lead to a match. An empty query gives every node."""
    query = query.strip()
    if not query:
        return tuple(nodes)
    words = query.casefold()
    digits = _TAG_PUNCTUATION.sub("", query)
    tag_prefix = digits.upper() if _HEX.fullmatch(digits) else ""

    def hit(node: TagNode) -> bool:
        if node.is_item:
            return False
        if tag_prefix and node.hex_tag.startswith(tag_prefix):
            return True
        return words in node.keyword.casefold() or words in node.name.casefold()

    def keep(node: TagNode) -> TagNode | None:
        if hit(node):
            return replace(node, matched=True)
        kept = tuple(k for k in (keep(child) for child in node.children) if k is not None)
        return replace(node, children=kept, matched=False) if kept else None

    return tuple(k for k in (keep(node) for node in nodes) if k is not None)


def count_nodes(nodes: Iterable[TagNode]) -> int:
    return sum(1 + count_nodes(node.children) for node in nodes)


def count_matches(nodes: Iterable[TagNode]) -> int:
    return sum(1 if node.matched else count_matches(node.children) for node in nodes)


# --- the picture -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    """The first frame as grey levels (rows x columns, uint8), or why there is none."""

    pixels: NDArray[np.uint8] | None
    #: Why there is no picture ("No image in this file", "Cannot decode: ..."); "" if any.
    message: str = ""
    #: What is shown: "512 x 512 MONOCHROME2, frame 1 of 30, window 40/400".
    description: str = ""

    @property
    def ok(self) -> bool:
        return self.pixels is not None


def first_frame(path: str | Path, ds: Dataset | None = None) -> Picture:
    """Decode the first frame only, apply the modality rescale and the window from the
    file (min/max when it has none), invert MONOCHROME1 and turn colour into luminance.
    Never raises: a file that cannot be shown gives a Picture with a message."""
    path = Path(path)
    try:
        if ds is None:
            ds = read_dataset(path)
    except InspectError as exc:
        return Picture(None, str(exc))
    if not any(tag in ds for tag in PIXEL_TAGS):
        return Picture(None, "No image in this file")
    try:
        from pydicom.pixels.utils import pixel_array

        raw = pixel_array(path, index=0)
    except Exception as exc:  # a missing plugin, a broken stream: say which
        return Picture(None, f"Cannot decode: {_reason(exc)}")
    try:
        return _grey(raw, ds)
    except Exception as exc:
        return Picture(None, f"Cannot show the image: {_reason(exc)}")


def _grey(raw: NDArray[Any], ds: Dataset) -> Picture:
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    frames = _number(ds.get("NumberOfFrames"), 1.0)
    frames_text = f", frame 1 of {int(frames)}" if frames > 1 else ""
    size = f"{raw.shape[1]} x {raw.shape[0]}" if raw.ndim >= 2 else "?"
    described = f"{size} {photometric or 'image'}{frames_text}"
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim not in (2, 3) or 0 in raw.shape:
        return Picture(None, f"Cannot show an image of shape {raw.shape}")
    bits = int(_number(ds.get("BitsStored"), 8))
    if raw.ndim == 2 and photometric == "PALETTE COLOR":
        from pydicom.pixels.processing import apply_color_lut

        raw = apply_color_lut(raw, ds)
        bits = 8 * raw.dtype.itemsize  # the LUT's entries, not the indices, are the colours
    if raw.ndim == 3:
        # Colour: pydicom gives RGB (YBR is converted); show the luminance.
        full = float(np.iinfo(raw.dtype).max) if raw.dtype.kind in "ui" else 0.0
        rgb = _shrink(raw, MAX_FRAME_SIDE)
        luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
        top = min(float((1 << bits) - 1), full) if full and 0 < bits < 64 else full
        low, high = (0.0, top) if top else (float(luma.min()), float(luma.max()))
        return Picture(_linear(luma, low, high), description=described)
    values = _shrink(raw, MAX_FRAME_SIDE)
    slope, intercept = _rescale(ds)
    if (slope, intercept) != (1.0, 0.0):
        values = values * np.float32(slope) + np.float32(intercept)
    window = _window(ds)
    if window is not None:
        center, width = window
        grey = _windowed(values, center, width)
        described += f", window {center:g}/{width:g}"
    else:
        grey = _linear(values, float(values.min()), float(values.max()))
        described += ", min/max"
    if photometric == "MONOCHROME1":
        grey = np.subtract(255, grey, dtype=np.uint8)
    return Picture(grey, description=described)


def _number(value: Any, default: float) -> float:
    """The first value of a (possibly multi-valued or empty) numeric element."""
    if value is None or (isinstance(value, str | bytes) and not value):
        return default
    if not isinstance(value, str | bytes) and isinstance(value, Sequence):
        if not value:
            return default
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default


def _lookup(ds: Dataset, keyword: str, sequence: str) -> Any:
    """``keyword`` from the data set, or for enhanced multi-frame objects from the
    shared then the first frame's functional groups (inside ``sequence``)."""
    value = ds.get(keyword)
    if value is not None and value != "":
        return value
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        outer = ds.get(groups)
        if not outer:
            continue
        inner = outer[0].get(sequence)
        if inner:
            value = inner[0].get(keyword)
            if value is not None and value != "":
                return value
    return None


def _rescale(ds: Dataset) -> tuple[float, float]:
    slope = _number(_lookup(ds, "RescaleSlope", "PixelValueTransformationSequence"), 1.0)
    intercept = _number(_lookup(ds, "RescaleIntercept", "PixelValueTransformationSequence"), 0.0)
    return (slope or 1.0), intercept


def _window(ds: Dataset) -> tuple[float, float] | None:
    center = _number(_lookup(ds, "WindowCenter", "FrameVOILUTSequence"), np.nan)
    width = _number(_lookup(ds, "WindowWidth", "FrameVOILUTSequence"), np.nan)
    if np.isnan(center) or np.isnan(width) or width < 1:
        return None
    return center, width


def _windowed(values: NDArray[np.float32], center: float, width: float) -> NDArray[np.uint8]:
    """The linear VOI function of PS3.3 C.11.2.1.2.1, onto 0..255."""
    if width <= 1:
        binary: NDArray[np.uint8] = np.where(values > center - 0.5, 255, 0).astype(np.uint8)
        return binary
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    grey: NDArray[np.uint8] = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return grey


def _linear(values: NDArray[np.float32], low: float, high: float) -> NDArray[np.uint8]:
    if high <= low:
        return np.full(values.shape, 128 if high else 0, dtype=np.uint8)
    scaled = (values - np.float32(low)) * np.float32(255.0 / (high - low))
    grey: NDArray[np.uint8] = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return grey


def _shrink(values: NDArray[Any], side: int) -> NDArray[np.float32]:
    """``values`` as float32, at most ``side`` pixels either way. A frame far larger is
    first thinned (every n-th pixel, no copy) so the float copy stays small."""
    rows, cols = values.shape[:2]
    step = max(rows, cols) // (2 * side)
    if step > 1:
        values = values[::step, ::step]
        rows, cols = values.shape[:2]
    scale = min(1.0, side / max(rows, cols))
    if scale >= 1.0:
        return values.astype(np.float32)
    return _resample(values, max(1, round(rows * scale)), max(1, round(cols * scale)))


def _resample(values: NDArray[Any], rows: int, cols: int) -> NDArray[np.float32]:
    """Area average where it shrinks, nearest neighbour where it grows (axes 0 and 1)."""
    out = values.astype(np.float32, copy=False)
    for axis, size in ((0, rows), (1, cols)):
        old = out.shape[axis]
        if size == old:
            continue
        starts = (np.arange(size) * old) // size
        if size < old:
            counts = np.diff(np.append(starts, old)).astype(np.float32)
            shape = [1] * out.ndim
            shape[axis] = size
            sums = np.add.reduceat(out, starts, axis=axis)
            out = (sums / counts.reshape(shape)).astype(np.float32, copy=False)
        else:
            out = np.take(out, starts, axis=axis)
    return out


def fit_to_cells(pixels: NDArray[np.uint8], cols: int, rows: int) -> NDArray[np.uint8]:
    """``pixels`` scaled to fit ``cols`` x ``rows`` terminal cells drawn with half
    blocks (two pixels a cell, one above the other), keeping the aspect ratio."""
    height, width = pixels.shape[:2]
    cols, rows = max(1, cols), max(1, rows)
    scale = min(cols / width, rows * 2 / height)
    out_w = min(cols, max(1, round(width * scale)))
    out_h = min(rows * 2, max(1, round(height * scale)))
    if (out_h, out_w) == (height, width):
        return pixels
    return np.clip(np.rint(_resample(pixels, out_h, out_w)), 0, 255).astype(np.uint8)


def picture(path: str | Path, cols: int, rows: int, ds: Dataset | None = None) -> Picture:
    """The first frame fitted to ``cols`` x ``rows`` half-block cells."""
    frame = first_frame(path, ds)
    if frame.pixels is None:
        return frame
    return replace(frame, pixels=fit_to_cells(frame.pixels, cols, rows))
