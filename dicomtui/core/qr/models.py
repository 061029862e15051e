"""The query/retrieve information models, as findscu's -P -S -O -W choose them."""

from __future__ import annotations

from enum import StrEnum

#: What queries carry unless the query file or ``-k SpecificCharacterSet=`` says
#: otherwise: UTF-8, so that any name can be asked for and come back.
DEFAULT_CHARACTER_SET = "ISO_IR 192"


class Model(StrEnum):
    PATIENT = "patient"  # -P, the default
    STUDY = "study"  # -S
    PATIENT_STUDY_ONLY = "psonly"  # -O
    WORKLIST = "worklist"  # -W (C-FIND only)


class Operation(StrEnum):
    FIND = "C-FIND"
    MOVE = "C-MOVE"
    GET = "C-GET"

    @property
    def word(self) -> str:
        """How pynetdicom's logs name it: Find, Move, Get."""
        return self.value[2:].capitalize()


#: Find, Move and Get SOP classes of each model (PS3.4 C.6); the worklist has Find only.
_UIDS: dict[Model, tuple[str, ...]] = {
    Model.PATIENT: (
        "1.2.840.10008.5.1.4.1.2.1.1",
        "1.2.840.10008.5.1.4.1.2.1.2",
        "1.2.840.10008.5.1.4.1.2.1.3",
    ),
    Model.STUDY: (
        "1.2.840.10008.5.1.4.1.2.2.1",
        "1.2.840.10008.5.1.4.1.2.2.2",
        "1.2.840.10008.5.1.4.1.2.2.3",
    ),
    Model.PATIENT_STUDY_ONLY: (
        "1.2.840.10008.5.1.4.1.2.3.1",
        "1.2.840.10008.5.1.4.1.2.3.2",
        "1.2.840.10008.5.1.4.1.2.3.3",
    ),
    Model.WORKLIST: ("1.2.840.10008.5.1.4.31",),
}
_INDEX = {Operation.FIND: 0, Operation.MOVE: 1, Operation.GET: 2}


def model_uid(model: Model, operation: Operation) -> str:
    """The SOP class of ``model`` for ``operation``; ValueError if there is none
    (the modality worklist can only be queried)."""
    uids = _UIDS[model]
    if _INDEX[operation] < len(uids):
        return uids[_INDEX[operation]]
    raise ValueError(f"the {model.value} information model has no {operation.value}")
