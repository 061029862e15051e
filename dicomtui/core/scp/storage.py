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


class StorageLayout(StrEnum):
    """Where under the output folder a received object goes."""

    #: ``PREFIX.UID`` directly in the output folder (the storescp manual).
    FLAT = "flat"
    #: ``<Study Instance UID>/PREFIX.UID`` (DCMTK's ``--sort-on-study-uid``).
    STUDY = "study"
    #: ``<Patient ID>/<Study Instance UID>/<Series Instance UID>/PREFIX.UID``.
    PATIENT = "patient"


class DuplicateRefused(Exception):
    """The object exists already and the policy is to refuse it."""


class UnsafePath(Exception):
    """A name would have put a file outside the output folder."""


def _digest(text: str, length: int = 16) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:length]


def safe_uid(uid: str) -> str:
    """The UID as it may appear in a file name: digits and dots only.

    Anything else (``/``, ``\\``, NUL, letters...) becomes ``_`` as in pynetdicom's
    storescp; an empty, dots-only or over-long UID gets a stable hashed name.
    """
    cleaned = _UNSAFE.sub("_", uid.strip(" \x00"))
    if not cleaned.strip("._"):
        return f"invalid-uid-{_digest(uid)}"
    if len(cleaned) > _MAX_UID_CHARS:
        return f"{cleaned[: _MAX_UID_CHARS - 17]}_{_digest(cleaned)}"
    return cleaned


def object_filename(sop_class: str, sop_instance: str, extension: str = "") -> str:
    """``<modality prefix>.<SOP Instance UID>``, the name the storescp manual prints."""
    # Imported here (pydicom's tables): storescp's option parser imports this module.
    from dicomtui.core.dicom.tables import modality_prefix

    return f"{modality_prefix(sop_class)}.{safe_uid(sop_instance)}{extension}"


_UNSAFE_FOLDER = re.compile(r"(?:[^A-Za-z0-9._-]|\.\.)+")
_MAX_FOLDER_CHARS = 64


def safe_folder(value: str, missing: str) -> str:
    """A folder name made of any text (a Patient ID may hold ``/`` or ``..``).

    A value that had to change (or be cut) gets a hash of itself, so that two
    IDs that clean alike (``A/B`` and ``A B``) never share a folder.
    """
    text = value.strip(" \x00")
    if not text:
        return missing
    cleaned = _UNSAFE_FOLDER.sub("_", text).strip("._")
    if cleaned == text and len(text) <= _MAX_FOLDER_CHARS:
        return text
    return f"{(cleaned or missing)[: _MAX_FOLDER_CHARS - 9]}-{_digest(text, 8)}"


def layout_folders(layout: StorageLayout, summary: dict[str, str]) -> tuple[str, ...]:
    """The sub-folders (each a plain name) an object goes into under the output folder."""
    if layout is StorageLayout.FLAT:
        return ()
    study = safe_folder(summary.get("StudyInstanceUID", ""), "no-study-uid")
    if layout is StorageLayout.STUDY:
        return (study,)
    return (
        safe_folder(summary.get("PatientID", ""), "no-patient-id"),
        study,
        safe_folder(summary.get("SeriesInstanceUID", ""), "no-series-uid"),
    )


_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}")


def check_extension(extension: str) -> str:
    """``""`` or a dot and up to 8 letters or digits (``.dcm``); raises ValueError otherwise."""
    if extension and not _EXTENSION.fullmatch(extension):
        raise ValueError(
            f"The file name extension must be a dot and 1 to 8 letters or digits, not {extension!r}"
        )
    return extension


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


def folder_inside(directory: Path, folders: tuple[str, ...]) -> Path:
    """``directory/folders...``, made if missing; every part must be a plain name.

    Names from the wire can never climb out; a link the user put in the output
    folder is followed like any folder of theirs.
    """
    for folder in folders:
        directory = path_inside(directory, folder)
    if folders:
        os.makedirs(directory, exist_ok=True)
    return directory


def place_received_file(
    partial: Path, directory: Path, name: str, policy: DuplicatePolicy, extension: str = ""
) -> Path:
    """Move a completely received file to ``name + extension``; returns its path.

    The partial file is renamed (or, across file systems, copied beside the final
    name and then renamed), so a reader never sees a half-written object under a
    final name. A kept duplicate is ``name~2 + extension``.
    """
    final = path_inside(directory, name + extension)
    try:
        return _place(partial, final, policy, extension)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    return _place(_copy_beside(partial, directory), final, policy, extension)


def _place(partial: Path, final: Path, policy: DuplicatePolicy, extension: str) -> Path:
    if policy is DuplicatePolicy.OVERWRITE:
        os.replace(partial, final)
        return final
    candidate = final
    stem = final.name.removesuffix(extension) if extension else final.name
    for number in range(2, 100_000):
        if _link_if_absent(partial, candidate):
            return candidate
        if policy is DuplicatePolicy.REFUSE:
            partial.unlink(missing_ok=True)
            raise DuplicateRefused(f"{final.name} exists already")
        candidate = final.with_name(f"{stem}~{number}{extension}")
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
