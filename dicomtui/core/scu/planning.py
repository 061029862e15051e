"""What a send proposes: presentation contexts per file, batches within 128
contexts, and when to decompress."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pynetdicom import build_context
from pynetdicom.presentation import PresentationContext

from dicomtui.core.dicom.files import DicomFile
from dicomtui.core.dicom.tables import sop_class_name, transfer_syntax_name
from dicomtui.core.dicom.transcode import Loss
from dicomtui.core.dicom.uids import DEFLATED_LITTLE, EXPLICIT_LITTLE, IMPLICIT_LITTLE
from dicomtui.core.scu.settings import RequestSyntax, SenderSettings, requested_syntaxes
from dicomtui.core.stream.events import (
    Level,
)

#: DICOM allows at most 128 presentation contexts in one association (PS3.8 9.3.2.2).
MAX_CONTEXTS_PER_ASSOCIATION = 128

ContextKey = tuple[str, tuple[str, ...]]

#: The syntaxes a decompressed (explicit VR little endian) data set can go in:
#: pynetdicom converts between these, not to big endian.
LITTLE_ENDIAN_UNCOMPRESSED = (EXPLICIT_LITTLE, IMPLICIT_LITTLE, DEFLATED_LITTLE)

_REQUEST_FLAGS = {
    RequestSyntax.LITTLE: "-xe",
    RequestSyntax.BIG: "-xb",
    RequestSyntax.IMPLICIT: "-xi",
}


def context_keys(item: DicomFile, settings: SenderSettings) -> list[ContextKey]:
    """The presentation contexts one file needs.

    With ``-cx`` exactly its own SOP class and transfer syntax. With ``-xe``,
    ``-xb`` or ``-xi`` that one syntax. By default, a context with the file's own
    syntax (so its bytes go as they are, compressed or not) and one with the four
    uncompressed syntaxes for the peer to choose from when it declines the first.
    """
    own = (item.sop_class, (item.transfer_syntax,))
    if settings.required_contexts:
        return [own]
    syntaxes = requested_syntaxes(settings.request_syntax)
    if settings.request_syntax is not RequestSyntax.DEFAULT:
        return [(item.sop_class, syntaxes)]
    return [own, (item.sop_class, syntaxes)]


def decompressed_target(sop_class: str, accepted: Iterable[tuple[str, str]]) -> str | None:
    """The syntax a decompressed file of ``sop_class`` would go in, or None if the
    peer accepted no little endian uncompressed syntax for it.

    Explicit VR little endian when accepted (the data set is sent as decoded),
    else the first one accepted, as pynetdicom picks it when it re-encodes.
    """
    syntaxes = [ts for sop, ts in accepted if sop == sop_class and ts in LITTLE_ENDIAN_UNCOMPRESSED]
    if EXPLICIT_LITTLE in syntaxes:
        return EXPLICIT_LITTLE
    return syntaxes[0] if syntaxes else None


def decompression_note(
    item: DicomFile, target: str, loss: Loss, settings: SenderSettings
) -> tuple[Level, str]:
    """The log line that says a file is decompressed, why, and what its source lost."""
    source = transfer_syntax_name(item.transfer_syntax)
    if settings.request_syntax is RequestSyntax.DEFAULT:
        why = f"the peer does not accept that syntax for {sop_class_name(item.sop_class)}"
    else:
        flag = _REQUEST_FLAGS[settings.request_syntax]
        why = f"{flag} proposes {transfer_syntax_name(target)} only"
    text = f"Decompressing {item.path} from {source} to {transfer_syntax_name(target)}: {why}"
    if loss is Loss.NONE:
        return Level.INFO, text
    verb = "was" if loss is Loss.LOSSY else "may have been"
    text += f"; the pixel data {verb} lossy-compressed at source (nothing further is lost)"
    return Level.WARNING, text


@dataclass
class Batch:
    """Files that share one association, and the contexts it proposes."""

    keys: dict[ContextKey, None] = field(default_factory=dict)
    files: list[DicomFile] = field(default_factory=list)

    def contexts(self) -> list[PresentationContext]:
        return [build_context(sop_class, list(syntaxes)) for sop_class, syntaxes in self.keys]


def plan_batches(files: Iterable[DicomFile], settings: SenderSettings) -> list[Batch]:
    """Group files, in order, so that no association needs more than 128 contexts."""
    batches: list[Batch] = []
    current = Batch()
    for item in files:
        new = [k for k in context_keys(item, settings) if k not in current.keys]
        if current.files and len(current.keys) + len(new) > MAX_CONTEXTS_PER_ASSOCIATION:
            batches.append(current)
            current = Batch()
            new = context_keys(item, settings)
        current.keys.update(dict.fromkeys(new))
        current.files.append(item)
    if current.files:
        batches.append(current)
    return batches


@contextmanager
def sendable_path(item: DicomFile) -> Iterator[Path]:
    """The file to send as it is, or a copy padded to an even length.

    A deflated data set may have an odd length; the standard then appends one
    NUL byte (PS3.5 A.5), and peers such as DCMTK refuse odd PDV fragments.
    """
    if item.dataset_length % 2 == 0 or item.transfer_syntax != DEFLATED_LITTLE:
        yield item.path
        return
    with tempfile.TemporaryDirectory(prefix="dicomtui-send-") as folder:
        padded = Path(folder, item.path.name)
        shutil.copyfile(item.path, padded)
        with padded.open("ab") as fp:
            fp.write(b"\x00")
        yield padded
