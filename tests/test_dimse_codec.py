"""The hand-written C-STORE codec against pynetdicom's own, byte for byte."""

from __future__ import annotations

from io import BytesIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.filewriter import write_dataset
from pynetdicom.dimse_messages import C_STORE_RQ, C_STORE_RSP
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import decode
from pynetdicom.pdu import P_DATA_TF

from dicomtui.core.dicom.dimse import (
    StoreRequest,
    StoreResponse,
    decode_store_request,
    decode_store_response,
    encode_store_request,
    encode_store_response,
    p_data_pdus,
    pdv_items,
)

uids = st.builds(
    lambda first, rest: ".".join([first, *rest]),
    st.from_regex(r"[1-9][0-9]{0,5}", fullmatch=True),
    st.lists(st.from_regex(r"0|[1-9][0-9]{0,8}", fullmatch=True), min_size=0, max_size=6),
).filter(lambda uid: len(uid) <= 64)
ae_titles = st.from_regex(r"[A-Za-z0-9_\-][A-Za-z0-9_\- ]{0,14}[A-Za-z0-9_\-]?", fullmatch=True)
comments = st.from_regex(r"[A-Za-z0-9 .,:;()_\-]{0,64}", fullmatch=True).map(str.strip)
us = st.integers(0, 0xFFFF)

requests = st.builds(
    StoreRequest,
    message_id=us,
    sop_class_uid=uids,
    sop_instance_uid=uids,
    priority=st.sampled_from([0, 1, 2]),
    move_originator_ae=st.none() | ae_titles,
    move_originator_id=st.none() | us,
)
responses = st.builds(
    StoreResponse,
    responded_to=us,
    status=us,
    sop_class_uid=st.none() | uids,
    sop_instance_uid=st.none() | uids,
    error_comment=st.none() | comments.filter(bool),
    offending_elements=st.none()
    | st.lists(st.integers(0, 0xFFFFFFFF), min_size=1, max_size=4).map(tuple),
)


def pynetdicom_request(request: StoreRequest, data_set: bytes = b"\x08\x00") -> C_STORE_RQ:
    primitive = C_STORE()
    primitive.MessageID = request.message_id
    primitive.AffectedSOPClassUID = request.sop_class_uid
    primitive.AffectedSOPInstanceUID = request.sop_instance_uid
    primitive.Priority = request.priority
    primitive.MoveOriginatorApplicationEntityTitle = request.move_originator_ae
    primitive.MoveOriginatorMessageID = request.move_originator_id
    primitive.DataSet = BytesIO(data_set)
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    return message


def pynetdicom_response(response: StoreResponse) -> C_STORE_RSP:
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = response.responded_to
    primitive.Status = response.status
    primitive.AffectedSOPClassUID = response.sop_class_uid
    primitive.AffectedSOPInstanceUID = response.sop_instance_uid
    primitive.ErrorComment = response.error_comment
    primitive.OffendingElement = (
        None if response.offending_elements is None else list(response.offending_elements)
    )
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    return message


def command_bytes(command_set: Dataset) -> bytes:
    buffer = BytesIO()
    write_dataset(_as_implicit(buffer), command_set)
    return buffer.getvalue()


def _as_implicit(buffer: BytesIO) -> object:
    from pydicom.filebase import DicomFileLike

    fp = DicomFileLike(buffer)
    fp.is_little_endian = True
    fp.is_implicit_VR = True
    return fp


@settings(max_examples=300, deadline=None)
@given(requests)
def test_a_request_is_encoded_as_pynetdicom_encodes_it(request: StoreRequest) -> None:
    expected = command_bytes(pynetdicom_request(request).command_set)
    assert encode_store_request(request) == expected


@settings(max_examples=300, deadline=None)
@given(responses)
def test_a_response_is_encoded_as_pynetdicom_encodes_it(response: StoreResponse) -> None:
    expected = command_bytes(pynetdicom_response(response).command_set)
    assert encode_store_response(response) == expected


@settings(max_examples=300, deadline=None)
@given(requests)
def test_a_request_decodes_to_what_pynetdicom_reads(request: StoreRequest) -> None:
    encoded = command_bytes(pynetdicom_request(request).command_set)
    decoded = decode_store_request(encoded)
    assert decoded == request
    command = decode(BytesIO(encoded), True, True)
    assert decoded is not None
    assert decoded.sop_instance_uid == command.AffectedSOPInstanceUID
    assert decoded.message_id == command.MessageID


@settings(max_examples=300, deadline=None)
@given(responses)
def test_a_response_decodes_to_what_pynetdicom_reads(response: StoreResponse) -> None:
    encoded = command_bytes(pynetdicom_response(response).command_set)
    decoded = decode_store_response(encoded)
    assert decoded == response
    command = decode(BytesIO(encoded), True, True)
    assert decoded is not None
    assert decoded.status == command.Status


@settings(max_examples=200, deadline=None)
@given(
    requests,
    st.binary(min_size=0, max_size=3000),
    # Even maximums: at odd ones pynetdicom cuts odd fragments, which PS3.8 E.1
    # does not allow (tests/test_fragment_parity.py).
    st.sampled_from([0, 8, 64, 100, 1000, 16384]),
    st.integers(1, 255).filter(lambda n: n % 2 == 1),
)
def test_pdus_are_the_ones_pynetdicom_sends(
    request: StoreRequest, data_set: bytes, max_pdu: int, context_id: int
) -> None:
    message = pynetdicom_request(request, data_set)
    expected = b"".join(_pdu(p_data) for p_data in message.encode_msg(context_id, max_pdu))
    ours = p_data_pdus(context_id, True, encode_store_request(request), max_pdu)
    ours += p_data_pdus(context_id, False, data_set, max_pdu)
    assert b"".join(ours) == expected


def _pdu(p_data: object) -> bytes:
    pdu = P_DATA_TF()
    pdu.from_primitive(p_data)  # type: ignore[arg-type]
    return bytes(pdu.encode())


def test_pdv_items_name_each_fragment() -> None:
    pdus = b"".join(p_data_pdus(5, False, b"abcdefgh", 0))
    body = pdus[6:]
    assert pdv_items(body, len(body)) == [(5, 0b10, 6, 14)]
    assert pdv_items(body, len(body) + 1) is None
    assert pdv_items(body[:-1] + b"\0\0", len(body) + 1) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1],  # cut short
        lambda raw: raw + b"\x00\x00\x00\x10\x02\x00\x00\x00\x41\x42",  # unknown element
        lambda raw: raw.replace(
            b"\x00\x01\x02\x00\x00\x00\x01\x00", b"\x00\x01\x02\x00\x00\x00\x20\x00"
        ),
        lambda raw: b"\x08\x00" + raw[2:],  # not group 0000
    ],
)
def test_anything_odd_is_left_to_pynetdicom(mangle: object) -> None:
    raw = encode_store_request(StoreRequest(1, "1.2.3", "1.2.3.4"))
    assert decode_store_request(raw) is not None
    assert decode_store_request(mangle(raw)) is None  # type: ignore[operator]


def test_a_request_without_data_set_or_with_a_bad_uid_is_not_ours() -> None:
    raw = encode_store_request(StoreRequest(1, "1.2.3", "1.2.3.4"))
    no_data = raw.replace(b"\x00\x08\x02\x00\x00\x00\x01\x00", b"\x00\x08\x02\x00\x00\x00\x01\x01")
    assert decode_store_request(no_data) is None
    bad_uid = encode_store_request(StoreRequest(1, "1.2.3", "1..2"))
    assert decode_store_request(bad_uid) is None
    assert decode_store_response(raw) is None
