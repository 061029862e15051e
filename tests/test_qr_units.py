"""Query identifiers from -k paths, and status words, without a network."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from dicomtui.core.qr.models import Model, Operation, model_uid
from dicomtui.core.qr.query import QueryError, build_query
from dicomtui.core.qr.status import status_words
from dicomtui.core.stream.events import RetrieveFinished, Side
from dicomtui.core.stream.log_format import format_event


def test_keyword_tag_and_sequence_paths() -> None:
    ds = build_query(
        [
            "QueryRetrieveLevel=STUDY",
            "(0010,0010)=MÜLLER*",
            "StudyDate=20240101-20241231",
            "ReferencedStudySequence[0].ReferencedSOPClassUID=1.2.3",
            "ScheduledProcedureStepSequence=",
            "NumberOfStudyRelatedInstances=",
        ]
    )
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "MÜLLER*"
    assert ds.ReferencedStudySequence[0].ReferencedSOPClassUID == "1.2.3"
    assert len(ds.ScheduledProcedureStepSequence) == 0
    assert ds.NumberOfStudyRelatedInstances == ""  # universal matching: asked for, empty


def test_character_set_of_the_file_or_a_path_wins() -> None:
    assert build_query(["SpecificCharacterSet=ISO_IR 100"]).SpecificCharacterSet == "ISO_IR 100"
    assert build_query(["PatientID="], character_set="").get("SpecificCharacterSet") is None


@pytest.mark.parametrize("path", ["NoSuchKeyword=1", "PatientName[0]=", "Rows=abc", "a..b="])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(QueryError):
        build_query([path])


def test_worklist_has_no_retrieve() -> None:
    assert model_uid(Model.WORKLIST, Operation.FIND) == "1.2.840.10008.5.1.4.31"
    with pytest.raises(ValueError):
        model_uid(Model.WORKLIST, Operation.MOVE)


def test_status_words() -> None:
    assert status_words(Operation.FIND, 0xA700) == "0xA700 (Failure - Refused: Out of Resources)"
    assert status_words(Operation.FIND, 0xA900).startswith("0xA900 (Failure - Identifier Does")
    comment = Dataset()
    comment.ErrorComment = "bad level"
    assert status_words(Operation.FIND, 0xC123, comment) == (
        "0xC123 (Failure - Unable to Process: bad level)"
    )
    assert status_words(Operation.MOVE, 0xFE00) == (
        "0xFE00 (Cancel - Sub-operations terminated due to Cancel)"
    )


def test_failed_instances_are_listed_and_b000_is_not_ok() -> None:
    event = RetrieveFinished(
        side=Side.SENDER,
        operation="C-MOVE",
        status=0xB000,
        completed=2,
        failed=1,
        warning=0,
        remaining=0,
        failed_instances=("1.2.3.4",),
        seconds=1.0,
        destination="STORESCP",
    )
    assert not event.ok
    lines = [line.render() for line in format_event(event)]
    assert lines[0].startswith("E: Move to STORESCP: 2 completed, 1 failed")
    assert "E: Failed SOP Instance UID List:" in lines
    assert "E:   1.2.3.4" in lines
