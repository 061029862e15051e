"""Where the time per object goes on the fast C-STORE paths, when asked.

With ``DICOMTUI_STAGES=1`` in the environment, the fast paths add the time each
stage took (``perf_counter`` seconds) and the headless commands print the table
to stderr when they end, for ``benchmarks/run.py``. Off, each stage costs one
test of a module global.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict

ENABLED = os.environ.get("DICOMTUI_STAGES", "") not in ("", "0")

_lock = threading.Lock()
_seconds: defaultdict[str, float] = defaultdict(float)
_counts: defaultdict[str, int] = defaultdict(int)


def add(stage: str, seconds: float, count: int = 1) -> None:
    """Count ``seconds`` spent in ``stage`` (only call it when ``ENABLED``)."""
    with _lock:
        _seconds[stage] += seconds
        _counts[stage] += count


def snapshot() -> dict[str, tuple[int, float]]:
    """Each stage's count and total seconds."""
    with _lock:
        return {stage: (_counts[stage], _seconds[stage]) for stage in _seconds}


def reset() -> None:
    with _lock:
        _seconds.clear()
        _counts.clear()


def report() -> str:
    """One line per stage: count, total and microseconds per call."""
    lines = []
    for stage, (count, seconds) in sorted(snapshot().items()):
        per_call = seconds / count * 1e6 if count else 0.0
        lines.append(f"stage {stage:<24} {count:>8} x {per_call:>9.1f} us = {seconds:>8.3f} s")
    return "\n".join(lines)
