"""The File Meta Information written for received objects: pydicom's bytes, made faster."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from io import BytesIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.filewriter import write_file_meta_info
from pynetdicom.dsutils import create_file_meta

from dicomtui.core.dicom.file_meta import FileMeta, encode_file_meta, write_received_file_meta


@pytest.fixture(autouse=True, scope="module")
def quiet_pydicom() -> Iterator[None]:
    """pydicom warns about every invalid UID it is given here."""
    logger = logging.getLogger("pydicom")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


def by_pydicom(sop_class: object, sop_instance: object, syntax: object) -> bytes:
    out = BytesIO()
    meta = create_file_meta(
        sop_class_uid=sop_class,  # type: ignore[arg-type]
        sop_instance_uid=sop_instance,  # type: ignore[arg-type]
        transfer_syntax=syntax,  # type: ignore[arg-type]
    )
    write_file_meta_info(out, meta, enforce_standard=False)
    return out.getvalue()


def by_us(sop_class: object, sop_instance: object, syntax: object) -> bytes:
    out = BytesIO()
    write_received_file_meta(out, FileMeta(sop_class, sop_instance, syntax))
    return out.getvalue()


@pytest.mark.parametrize(
    "uid", ["1.2.3", "1.2.34", "", "1." * 100 + "9", "../../escape", "a\x00b", "1.2\\3.4"]
)
def test_the_same_bytes_as_pydicom_for_odd_even_empty_and_hostile_uids(uid: str) -> None:
    assert encode_file_meta(FileMeta(CT, uid, EXPLICIT)) is not None
    assert by_us(CT, uid, EXPLICIT) == by_pydicom(CT, uid, EXPLICIT)


# Values decoded from a command set's bytes: code points up to 255.
WIRE_TEXT = st.text(alphabet=st.characters(max_codepoint=255), max_size=80)


@settings(max_examples=300, deadline=None)
@given(WIRE_TEXT, st.text(alphabet="0123456789.", max_size=64))
def test_any_text_is_written_as_pydicom_writes_it(instance: str, sop_class: str) -> None:
    assert by_us(sop_class, instance, EXPLICIT) == by_pydicom(sop_class, instance, EXPLICIT)


def test_a_missing_uid_is_left_to_pydicom() -> None:
    assert encode_file_meta(FileMeta(CT, None, EXPLICIT)) is None
    assert by_us(CT, None, EXPLICIT) == by_pydicom(CT, None, EXPLICIT)
