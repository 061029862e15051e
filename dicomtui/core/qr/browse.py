"""The PACS browser's side of query/retrieve, without Textual.

A search is one C-FIND at study level (study root): the search fields are study
attributes (date, modality, accession number, description) and patient ones that
every study-level answer carries, so one request finds the studies and their
patients at once; the browser groups them by patient. A study's series are asked
for when it is opened. Retrieving a patient, a study or a series is one C-MOVE or
C-GET each, one after the other (:class:`BatchRetrieve`), with the sub-operation
counts added up and the objects that arrived counted from the bus.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydicom.dataset import Dataset

from dicomtui.core.qr.find import FindJob
from dicomtui.core.qr.get import GetJob
from dicomtui.core.qr.models import DEFAULT_CHARACTER_SET, Model, Operation
from dicomtui.core.qr.move import MoveJob
from dicomtui.core.qr.query import apply_path
from dicomtui.core.qr.status import explanation, status_words
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings
from dicomtui.core.stream.bus import EventBus
from dicomtui.core.stream.events import (
    Event,
    LogMessage,
    ObjectReceived,
    RetrieveFinished,
    RetrieveProgress,
    Side,
)
from dicomtui.core.stream.events import Level as LogLevel

_DATE = re.compile(r"^(\d{4})[-./]?(\d{2})[-./]?(\d{2})$")

STUDY_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
SERIES_KEYS = (
    "SeriesInstanceUID",
    "SeriesNumber",
    "Modality",
    "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)
INSTANCE_KEYS = ("SOPInstanceUID", "SOPClassUID", "InstanceNumber")


def dicom_date(text: str, what: str = "date") -> str:
    """``YYYYMMDD`` from ``YYYYMMDD``, ``YYYY-MM-DD`` or ``YYYY.MM.DD`` ("" stays "");
    ValueError saying which field is wrong."""
    text = text.strip()
    if not text:
        return ""
    found = _DATE.match(text)
    if not found:
        raise ValueError(f"{what}: {text!r} is not a date (YYYY-MM-DD or YYYYMMDD)")
    year, month, day = found.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        raise ValueError(f"{what}: {text!r} is not a date")
    return year + month + day


def date_range(start: str, end: str) -> str:
    """A DICOM date range (``start-end``, ``start-``, ``-end``), or one date."""
    if start and end:
        if end < start:
            raise ValueError("the study date range ends before it starts")
        return start if start == end else f"{start}-{end}"
    if start:
        return f"{start}-"
    if end:
        return f"-{end}"
    return ""


def _pattern(text: str) -> str:
    """What the user typed, matched as a prefix unless it has wildcards already."""
    text = text.strip()
    if text and not any(c in text for c in "*?"):
        return text + "*"
    return text


@dataclass(frozen=True)
class SearchFields:
    """The browser's search fields, as typed."""

    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    study_date_from: str = ""
    study_date_to: str = ""
    modality: str = ""
    accession_number: str = ""
    description: str = ""

    def query(self) -> Dataset:
        """The study-level identifier (ValueError names a field that is wrong).

        The patient's name and the study's description match as prefixes unless they
        have wildcards (``*``, ``?``); the other fields match exactly.
        """
        values = {
            "PatientName": _pattern(self.patient_name),
            "PatientID": self.patient_id.strip(),
            "PatientBirthDate": dicom_date(self.birth_date, "Birth date"),
            "StudyDate": date_range(
                dicom_date(self.study_date_from, "Study date from"),
                dicom_date(self.study_date_to, "Study date to"),
            ),
            "AccessionNumber": self.accession_number.strip(),
            "StudyDescription": _pattern(self.description),
            "ModalitiesInStudy": self.modality.strip().upper(),
        }
        return identifier("STUDY", {key: values.get(key, "") for key in STUDY_KEYS})


def identifier(level: str, values: dict[str, str]) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = DEFAULT_CHARACTER_SET
    ds.QueryRetrieveLevel = level
    for keyword, value in values.items():
        apply_path(ds, f"{keyword}={value}")
    return ds


def series_query(study_uid: str) -> Dataset:
    """The series of one study (study root, series level)."""
    values = {"StudyInstanceUID": study_uid} | dict.fromkeys(SERIES_KEYS, "")
    return identifier("SERIES", values)


def instance_query(study_uid: str, series_uid: str) -> Dataset:
    """The instances of one series (study root, image level)."""
    values = {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}
    return identifier("IMAGE", values | dict.fromkeys(INSTANCE_KEYS, ""))


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:  # a value that its character set cannot decode
        return "?"
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _count(ds: Dataset, keyword: str) -> int | None:
    text = _text(ds, keyword)
    try:
        return int(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class StudyRow:
    patient_name: str
    patient_id: str
    birth_date: str
    study_uid: str
    date: str
    accession: str
    description: str
    modalities: str
    series: int | None
    instances: int | None

    @classmethod
    def of(cls, ds: Dataset) -> StudyRow:
        return cls(
            patient_name=_text(ds, "PatientName"),
            patient_id=_text(ds, "PatientID"),
            birth_date=_text(ds, "PatientBirthDate"),
            study_uid=_text(ds, "StudyInstanceUID"),
            date=_text(ds, "StudyDate"),
            accession=_text(ds, "AccessionNumber"),
            description=_text(ds, "StudyDescription"),
            modalities=_text(ds, "ModalitiesInStudy"),
            series=_count(ds, "NumberOfStudyRelatedSeries"),
            instances=_count(ds, "NumberOfStudyRelatedInstances"),
        )


@dataclass(frozen=True)
class SeriesRow:
    study_uid: str
    series_uid: str
    number: str
    modality: str
    description: str
    instances: int | None

    @classmethod
    def of(cls, ds: Dataset, study_uid: str) -> SeriesRow:
        return cls(
            study_uid=study_uid,
            series_uid=_text(ds, "SeriesInstanceUID"),
            number=_text(ds, "SeriesNumber"),
            modality=_text(ds, "Modality"),
            description=_text(ds, "SeriesDescription"),
            instances=_count(ds, "NumberOfSeriesRelatedInstances"),
        )


@dataclass(frozen=True)
class InstanceRow:
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    number: str

    @classmethod
    def of(cls, ds: Dataset, study_uid: str, series_uid: str) -> InstanceRow:
        return cls(
            study_uid=study_uid,
            series_uid=series_uid,
            sop_instance_uid=_text(ds, "SOPInstanceUID"),
            sop_class_uid=_text(ds, "SOPClassUID"),
            number=_text(ds, "InstanceNumber"),
        )


@dataclass
class PatientRow:
    name: str
    patient_id: str
    birth_date: str
    studies: list[StudyRow] = field(default_factory=list)

    @property
    def instances(self) -> int | None:
        counts = [s.instances for s in self.studies]
        return None if any(c is None for c in counts) else sum(c or 0 for c in counts)


def by_patient(studies: Iterable[StudyRow]) -> list[PatientRow]:
    """The studies grouped by patient (ID and name), patients by name, studies newest first."""
    patients: dict[tuple[str, str], PatientRow] = {}
    for study in studies:
        key = (study.patient_id, study.patient_name)
        patient = patients.setdefault(
            key, PatientRow(study.patient_name, study.patient_id, study.birth_date)
        )
        patient.studies.append(study)
    for patient in patients.values():
        patient.studies.sort(key=lambda s: s.date, reverse=True)
    return sorted(patients.values(), key=lambda p: (p.name.upper(), p.patient_id))


def _by_number(number: str, uid: str) -> tuple[int, str]:
    try:
        return (int(number), uid)
    except ValueError:
        return (1 << 30, uid)


def sort_series(series: Iterable[SeriesRow]) -> list[SeriesRow]:
    return sorted(series, key=lambda row: _by_number(row.number, row.series_uid))


def sort_instances(instances: Iterable[InstanceRow]) -> list[InstanceRow]:
    return sorted(instances, key=lambda row: _by_number(row.number, row.sop_instance_uid))


# --- retrieving -------------------------------------------------------------------------


class Level(StrEnum):
    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"


@dataclass(frozen=True)
class RetrieveItem:
    """One patient, study, series or instance to retrieve."""

    level: Level
    patient_id: str = ""
    study_uid: str = ""
    series_uid: str = ""
    label: str = ""
    sop_instance_uid: str = ""

    def request(self) -> tuple[Model, Dataset]:
        """The information model and identifier: patient root for a patient, study
        root for a study, a series or an instance."""
        if self.level is Level.PATIENT:
            return Model.PATIENT, identifier("PATIENT", {"PatientID": self.patient_id})
        values = {"StudyInstanceUID": self.study_uid}
        if self.level in (Level.SERIES, Level.IMAGE):
            values["SeriesInstanceUID"] = self.series_uid
        if self.level is Level.IMAGE:
            values["SOPInstanceUID"] = self.sop_instance_uid
        return Model.STUDY, identifier(self.level.value, values)

    def holds(self, event: ObjectReceived) -> bool:
        """Whether a received object belongs to this item."""
        if self.level is Level.PATIENT:
            return event.patient_id == self.patient_id
        if self.level is Level.STUDY:
            return event.study_uid == self.study_uid
        if self.level is Level.SERIES:
            return event.series_uid == self.series_uid
        return event.sop_instance == self.sop_instance_uid

    def covers(self, other: RetrieveItem) -> bool:
        """Whether retrieving this one brings ``other`` too."""
        if self == other:
            return False
        if self.level is Level.PATIENT:
            return other.level is not Level.PATIENT and other.patient_id == self.patient_id
        if self.level is Level.STUDY:
            return other.level in (Level.SERIES, Level.IMAGE) and other.study_uid == self.study_uid
        if self.level is Level.SERIES:
            return other.level is Level.IMAGE and other.series_uid == self.series_uid
        return False


def without_covered(items: Sequence[RetrieveItem]) -> list[RetrieveItem]:
    """The items, without those that another one (a patient, a study) brings already."""
    unique = list(dict.fromkeys(items))
    return [i for i in unique if not any(o.covers(i) for o in unique)]


@dataclass(frozen=True)
class RetrieveTally:
    """Where a batch is: the sub-operation counts of the items done and of the current one."""

    operation: Operation
    items: int
    items_done: int = 0
    current: str = ""
    completed: int = 0
    failed: int = 0
    warning: int = 0
    remaining: int = 0
    #: Objects of these items that arrived (our receiver, or the C-GET association).
    arrived: int = 0
    finished: bool = False
    cancelled: bool = False
    seconds: float = 0.0
    #: The sub-operation counts are known (a PACS may send none before the end).
    counted: bool = False

    @property
    def total(self) -> int:
        return self.completed + self.failed + self.warning + self.remaining


@dataclass(frozen=True)
class BatchResult:
    tally: RetrieveTally
    results: tuple[tuple[RetrieveItem, RetrieveFinished], ...]

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for _, r in self.results)

    def summary(self) -> str:
        """One sentence: what arrived, and why the rest did not."""
        t = self.tally
        word = t.operation.word
        arrived = f"{t.arrived} object{'' if t.arrived == 1 else 's'}"
        counts = f"{t.completed} completed, {t.failed} failed, {t.warning} with warnings"
        if t.remaining:
            counts += f", {t.remaining} not sent"
        if t.cancelled:
            return (
                f"{word} cancelled (C-CANCEL sent): {arrived} had arrived; the PACS reported"
                f" {counts}"
            )
        problems = [(item, r) for item, r in self.results if not r.ok]
        if not problems:
            return f"{word} done: {arrived} arrived ({counts}) in {t.seconds:.1f} s"
        item, failed = problems[0]
        what = f" ({item.label})" if item.label and len(self.results) > 1 else ""
        if failed.status is None:
            reason = failed.error or "no response"
        else:
            reason = status_words(t.operation, failed.status)
            hint = explanation(t.operation, failed.status, failed.destination)
            if hint:
                reason += ". " + hint
        return f"{word} failed{what}: {reason}. {arrived} arrived ({counts})"


class BatchRetrieve:
    """Retrieve several items one after the other (a worker thread runs :meth:`run`).

    ``destination`` (C-MOVE) is our receiver's AE title; ``storage`` (C-GET) says
    where objects are stored, as the receiver does. Objects are counted from the
    bus: our receiver's :class:`ObjectReceived` (C-MOVE) or the C-GET association's,
    which are published as the receiver's too, so they join its table.
    """

    def __init__(
        self,
        network: SenderSettings,
        items: Sequence[RetrieveItem],
        bus: EventBus,
        operation: Operation,
        *,
        destination: str = "",
        storage: ReceiverSettings | None = None,
        want_pdu_dumps: Callable[[], bool] | None = None,
    ) -> None:
        if operation is Operation.FIND:
            raise ValueError("a retrieve is a C-MOVE or a C-GET")
        self.network = network
        self.items = without_covered(items)
        self.bus = bus
        self.operation = operation
        self.destination = destination
        self.storage = storage or ReceiverSettings()
        self.want_pdu_dumps = want_pdu_dumps
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._job: MoveJob | GetJob | None = None
        self._tally = RetrieveTally(operation, len(self.items))
        #: Counts of the items finished, added to the current item's.
        self._done = (0, 0, 0, 0)

    @property
    def tally(self) -> RetrieveTally:
        with self._lock:
            return self._tally

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._tally = _replace(self._tally, **changes)

    def cancel(self) -> None:
        """C-CANCEL for the item in progress; the others are not started."""
        self._cancel.set()
        with self._lock:
            job = self._job
        if job is not None:
            job.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def _on_event(self, event: Event) -> None:
        # On pynetdicom's threads (our receiver's, or the retrieve's own).
        if isinstance(event, ObjectReceived) and event.side is Side.RECEIVER:
            if any(item.holds(event) for item in self.items) or not (
                event.patient_id or event.study_uid or event.series_uid
            ):
                with self._lock:
                    self._tally = _replace(self._tally, arrived=self._tally.arrived + 1)
        elif isinstance(event, RetrieveProgress) and event.operation == self.operation.value:
            c, f, w, _ = self._done
            with self._lock:
                self._tally = _replace(
                    self._tally,
                    completed=c + event.completed,
                    failed=f + event.failed,
                    warning=w + event.warning,
                    remaining=event.remaining,
                    counted=True,
                )

    def run(self) -> BatchResult:
        started = time.monotonic()
        results: list[tuple[RetrieveItem, RetrieveFinished]] = []
        unsubscribe = self.bus.subscribe(self._on_event)
        items = list(self.items)
        try:
            index = 0
            while index < len(items):
                item = items[index]
                if self._cancel.is_set():
                    break
                self._update(items_done=index, current=item.label)
                job = self._make_job(item)
                with self._lock:
                    self._job = job
                if self._cancel.is_set():
                    job.cancel()
                result = job.run()
                with self._lock:
                    self._job = None
                studies = self._studies_instead(item, job)
                if studies:
                    items[index : index + 1] = studies
                    self._update(items=len(items))
                    continue
                results.append((item, result))
                c, f, w, _ = self._done
                self._done = (c + result.completed, f + result.failed, w + result.warning, 0)
                self._update(
                    items_done=index + 1,
                    completed=self._done[0],
                    failed=self._done[1],
                    warning=self._done[2],
                    remaining=result.remaining,
                    counted=True,
                )
                if result.cancelled:
                    break
                index += 1
        finally:
            unsubscribe()
            cancelled = self._cancel.is_set() or any(r.cancelled for _, r in results)
            self._update(
                finished=True, cancelled=cancelled, seconds=time.monotonic() - started, current=""
            )
        return BatchResult(self.tally, tuple(results))

    def _studies_instead(self, item: RetrieveItem, job: MoveJob | GetJob) -> list[RetrieveItem]:
        """A patient's studies, to retrieve one by one, when the PACS refused the
        Patient Root model (it has Study Root only, as many do); else nothing."""
        if item.level is not Level.PATIENT or job.outcome is None:
            return []
        if not job.outcome.model_refused or self._cancel.is_set():
            return []
        query = identifier("STUDY", {"PatientID": item.patient_id, "StudyInstanceUID": ""})
        finder = FindJob(
            self.network, query, self.bus, model=Model.STUDY, want_pdu_dumps=self.want_pdu_dumps
        )
        with self._lock:
            self._job = None
        found = finder.run()
        uids = list(dict.fromkeys(m.get("StudyInstanceUID", "") for m in finder.matches))
        uids = [uid for uid in uids if uid]
        if found.status != 0 or not uids:
            return []
        self.bus.publish(
            LogMessage(
                side=Side.SENDER,
                level=LogLevel.INFO,
                text=f"The PACS retrieves by study only: {item.label} is retrieved as its"
                f" {len(uids)} {'study' if len(uids) == 1 else 'studies'}",
            )
        )
        return [
            RetrieveItem(
                Level.STUDY,
                patient_id=item.patient_id,
                study_uid=uid,
                label=f"{item.label}, study {number} of {len(uids)}",
            )
            for number, uid in enumerate(uids, 1)
        ]

    def _make_job(self, item: RetrieveItem) -> MoveJob | GetJob:
        model, ds = item.request()
        if self.operation is Operation.MOVE:
            return MoveJob(
                self.network,
                ds,
                self.destination,
                self.bus,
                model=model,
                want_pdu_dumps=self.want_pdu_dumps,
            )
        return GetJob(
            self.network,
            ds,
            self.bus,
            self.storage,
            model=model,
            want_pdu_dumps=self.want_pdu_dumps,
        )


def _replace(tally: RetrieveTally, **changes: object) -> RetrieveTally:
    return dataclasses.replace(tally, **changes)  # type: ignore[arg-type]
