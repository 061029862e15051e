"""Sub-operation counts of C-MOVE and C-GET responses, and failed instances."""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset


def _count(status_set: Dataset, keyword: str) -> int | None:
    value = status_set.get(keyword)
    return int(value) if value is not None and value != "" else None


@dataclass(frozen=True, slots=True)
class SubOperations:
    remaining: int | None = None
    completed: int | None = None
    failed: int | None = None
    warning: int | None = None

    @classmethod
    def of(cls, status_set: Dataset) -> SubOperations:
        return cls(
            _count(status_set, "NumberOfRemainingSuboperations"),
            _count(status_set, "NumberOfCompletedSuboperations"),
            _count(status_set, "NumberOfFailedSuboperations"),
            _count(status_set, "NumberOfWarningSuboperations"),
        )

    @property
    def known(self) -> bool:
        return any(v is not None for v in (self.remaining, self.completed, self.failed))

    def merged(self, later: SubOperations) -> SubOperations:
        """These counts updated by a later response's (a final response may omit some)."""
        return SubOperations(
            later.remaining if later.remaining is not None else self.remaining,
            later.completed if later.completed is not None else self.completed,
            later.failed if later.failed is not None else self.failed,
            later.warning if later.warning is not None else self.warning,
        )


def failed_instances(identifier: Dataset | None) -> tuple[str, ...]:
    """(0008,0058) Failed SOP Instance UID List of a final response's identifier."""
    if identifier is None:
        return ()
    value = identifier.get("FailedSOPInstanceUIDList")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(uid for uid in value.split("\\") if uid)
    return tuple(str(uid) for uid in value if uid)
