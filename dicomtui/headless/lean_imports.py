"""Leave numpy and the image codecs out of a headless command that cannot need them.

pydicom imports numpy and every pylibjpeg plugin (libjpeg, openjpeg, rle) as soon as
it is itself imported, when they are installed: its decoders ask at import which
plugins are available. That is about half of what a plain send or receive spends
starting up. A command that will decode no pixel data marks them missing before it
loads the engine: ``sys.modules[name] = None`` makes ``import name`` raise
ImportError, which pydicom takes as "not installed" for the rest of the process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from dicomtui.core.dicom.meta_peek import NotPart10, transfer_syntax
from dicomtui.core.dicom.uids import DEFLATED_LITTLE, EXPLICIT_BIG, EXPLICIT_LITTLE, IMPLICIT_LITTLE

PIXEL_PACKAGES = ("numpy", "pylibjpeg", "openjpeg", "libjpeg", "rle", "PIL", "gdcm", "jpeg_ls")

#: Syntaxes whose pixel data the sender never decodes.
_PLAIN_SYNTAXES = frozenset({IMPLICIT_LITTLE, EXPLICIT_LITTLE, EXPLICIT_BIG, DEFLATED_LITTLE})

#: Beyond this many input files, looking costs more than it could save: load everything.
MAX_LOOKED_AT = 64


def leave_out_pixel_packages() -> bool:
    """Make :data:`PIXEL_PACKAGES` unimportable in this process, unless pydicom is
    loaded already (the TUI, a test run): then it is too late to matter, and whoever
    loaded it may decode pixel data. True if they were left out."""
    if "pydicom" in sys.modules:
        return False
    for name in PIXEL_PACKAGES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    return True


def decodes_no_pixels(paths: Iterable[str | Path], recurse: bool) -> bool:
    """True only when no file among ``paths`` (folders as storescu walks them) could
    need decompressing: every one that looks like a DICOM file is in an uncompressed
    syntax. Files that cannot be sent at all (missing, unreadable, links, not DICOM)
    need no decoding either; anything unclear counts as compressed."""
    try:
        for count, path in enumerate(_files(paths, recurse), start=1):
            if count > MAX_LOOKED_AT:
                return False
            if path.is_symlink():
                continue  # refused without being read
            try:
                syntax = transfer_syntax(path)
            except (NotPart10, OSError):
                continue  # refused as not sendable, never decoded
            if syntax not in _PLAIN_SYNTAXES:
                return False
    except OSError:  # a folder that cannot be listed: let the send say so
        return False
    return True


def _files(paths: Iterable[str | Path], recurse: bool) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if recurse:
                for root, _dirs, names in os.walk(path):
                    yield from (Path(root, name) for name in names)
            else:
                yield from (child for child in path.iterdir() if not child.is_dir())
        elif path.exists() or path.is_symlink():
            yield path
