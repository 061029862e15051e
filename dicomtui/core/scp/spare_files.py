"""Partial files made one object ahead, on a helper thread.

Creating a file took 0.2 to 0.5 ms on this machine's ext4 while a transfer was
writing, and pynetdicom creates it on the association's reader thread while the
peer waits: an eighth of the time per tiny object. Each association keeps one
empty partial file ready; taking it starts making the next.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from dicomtui.core.scp.storage import FILE_MODE, PARTIAL_PREFIX, PARTIAL_SUFFIX

_maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dicomtui-spare-file")


def make_partial(directory: Path | None) -> tuple[int, str]:
    """A new, empty partial file in ``directory``: (descriptor, path).

    When the folder went away or is read-only, one in the system's temporary
    folder: the C-STORE handler then reports the failure to store it.
    """
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX)
    except OSError:
        fd, name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX)
    os.fchmod(fd, FILE_MODE)
    return fd, name


def _remove(made: Future[tuple[int, str]]) -> None:
    with contextlib.suppress(Exception):
        fd, name = made.result()
        os.close(fd)
        Path(name).unlink(missing_ok=True)


class SpareFiles:
    """One association's next partial file, made before it is asked for."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._spare: Future[tuple[int, str]] | None = None
        self._discarded = False

    def prepare(self) -> None:
        """Start making the next file, unless one is ready or being made."""
        with self._lock:
            if self._spare is None and not self._discarded:
                try:
                    self._spare = _maker.submit(make_partial, self.directory)
                except RuntimeError:  # the interpreter is shutting down
                    self._spare = None

    def take(self, prepare: bool = True) -> tuple[int, str]:
        """The spare file (waiting for it if it is still being made), or a new one;
        then the next is made on the helper thread, unless ``prepare`` is false."""
        with self._lock:
            spare, self._spare = self._spare, None
        made: tuple[int, str] | None = None
        if spare is not None:
            with contextlib.suppress(OSError):
                made = spare.result()
        if made is None:
            made = make_partial(self.directory)
        if prepare:
            self.prepare()
        return made

    def make_here(self) -> None:
        """Make the next file on this thread, unless one is ready or being made.

        For a thread that is waiting for the network anyway: handing the work
        to the helper thread costs it the interpreter lock for longer than the
        work itself takes.
        """
        with self._lock:
            if self._spare is not None or self._discarded:
                return
        try:
            made: Future[tuple[int, str]] = Future()
            made.set_result(make_partial(self.directory))
        except OSError:
            return  # take() makes one then, and says why if it cannot
        with self._lock:
            if self._spare is None and not self._discarded:
                self._spare = made
                return
        _remove(made)

    def discard(self) -> None:
        """The association ended: remove the spare (once made); make no more."""
        with self._lock:
            self._discarded = True
            spare, self._spare = self._spare, None
        if spare is not None:
            _remove(spare)
