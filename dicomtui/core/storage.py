"""Where received objects go on disk: safe names, atomic placement, duplicates."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
from enum import StrEnum
from pathlib import Path

from dicomtui.core.dicom_tables import modality_prefix

#: Names of files still being received; never mistaken for a stored object.
PARTIAL_PREFIX = ".dicomtui-incoming-"
PARTIAL_SUFFIX = ".part"

# mkstemp makes files only the owner can read; a stored object should get the
# permissions any new file would. The umask can only be read by setting it, so
# read it once, at import, before any receiver thread runs.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK

_UNSAFE = re.compile(r"[^0-9.]")
_MAX_UID_CHARS = 128


class DuplicatePolicy(StrEnum):
    """What to do when an object's file name is already taken."""

    KEEP_BOTH = "keep"
    OVERWRITE = "overwrite"
    REFUSE = "refuse"


class DuplicateRefused(Exception):
    """The object exists already and the policy is to refuse it."""


class UnsafePath(Exception):
    """A name would have put a file outside the output folder."""


def safe_uid(uid: str) -> str:
    """The UID as it may appear in a file name: digits and dots only.

    Anything else (``/``, ``\\``, NUL, letters...) becomes ``_`` as in pynetdicom's
    storescp; an empty, dots-only or over-long UID gets a stable hashed name.
    """
    cleaned = _UNSAFE.sub("_", uid.strip(" \x00"))
    if not cleaned.strip("._"):
        digest = hashlib.sha1(uid.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return f"invalid-uid-{digest}"
    if len(cleaned) > _MAX_UID_CHARS:
        digest = hashlib.sha1(cleaned.encode()).hexdigest()[:16]
        return f"{cleaned[: _MAX_UID_CHARS - 17]}_{digest}"
    return cleaned


def object_filename(sop_class: str, sop_instance: str) -> str:
    """``<modality prefix>.<SOP Instance UID>``, the name the storescp manual prints."""
    return f"{modality_prefix(sop_class)}.{safe_uid(sop_instance)}"


def path_inside(directory: Path, name: str) -> Path:
    """``directory / name``, refusing any name that is not a plain file name.

    A plain name cannot leave ``directory``, whatever the folder holds: files are
    placed by link or rename, which never follow a link at the final name.
    """
    if name in ("", ".", "..") or any(c in name for c in ("/", "\\", "\x00", os.sep)):
        raise UnsafePath(f"refusing to write {name!r} outside {directory}")
    return directory / name


def spool_directory(output_directory: Path | None) -> Path:
    """Where pynetdicom writes data sets as they arrive.

    Inside the output folder when it exists, so that storing is a rename on the
    same file system; otherwise the system's temporary folder.
    """
    if output_directory is not None and output_directory.is_dir():
        return output_directory
    return Path(tempfile.gettempdir())


def place_received_file(partial: Path, directory: Path, name: str, policy: DuplicatePolicy) -> Path:
    """Move a completely received file to its final name; returns that path.

    The partial file is renamed (or, across file systems, copied beside the final
    name and then renamed), so a reader never sees a half-written object under a
    final name.
    """
    final = path_inside(directory, name)
    try:
        return _place(partial, final, policy)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    return _place(_copy_beside(partial, directory), final, policy)


def _place(partial: Path, final: Path, policy: DuplicatePolicy) -> Path:
    if policy is DuplicatePolicy.OVERWRITE:
        os.replace(partial, final)
        return final
    candidate = final
    for number in range(2, 100_000):
        if _link_if_absent(partial, candidate):
            return candidate
        if policy is DuplicatePolicy.REFUSE:
            partial.unlink(missing_ok=True)
            raise DuplicateRefused(f"{final.name} exists already")
        candidate = final.with_name(f"{final.name}~{number}")
    raise FileExistsError(errno.EEXIST, "too many copies", str(final))


def _link_if_absent(partial: Path, target: Path) -> bool:
    """Give ``partial`` the name ``target`` unless that name exists (atomic where links work)."""
    try:
        os.link(partial, target)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links on this file system: check then rename (a small race).
        if target.exists():
            return False
        os.replace(partial, target)
        return True
    partial.unlink()
    return True


def _copy_beside(partial: Path, directory: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX, dir=directory)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as out, partial.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    partial.unlink(missing_ok=True)
    return Path(name)
