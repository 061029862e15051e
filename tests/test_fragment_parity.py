"""PS3.8 E.1: each fragment of a message shall consist of an even number of bytes.

pynetdicom cuts a message at the peer's max PDU - 6 bytes, so a peer that offers an
odd max PDU (dcmjs-dimse takes any it is given; DCMTK rounds its own down to even)
got odd fragments (tests/test_interop_dcmjs.py saw them on the wire). ``p_data_pdus``
rounds the cut down to even.
"""

from __future__ import annotations

import pytest

from dicomtui.core.dicom.dimse import p_data_pdus


def fragment_lengths(max_pdu: int, size: int) -> list[int]:
    buffers = p_data_pdus(1, False, bytes(size), max_pdu)
    return [len(fragment) for fragment in buffers[1::2]]


@pytest.mark.parametrize("max_pdu", [16384, 4096, 0])
def test_fragments_are_even_for_an_even_max_pdu(max_pdu: int) -> None:
    lengths = fragment_lengths(max_pdu, 100_000)
    assert sum(lengths) == 100_000
    assert all(length % 2 == 0 for length in lengths)


@pytest.mark.parametrize("max_pdu", [4097, 16383, 9])
def test_fragments_are_even_for_an_odd_max_pdu(max_pdu: int) -> None:
    lengths = fragment_lengths(max_pdu, 100_000)
    assert sum(lengths) == 100_000
    assert all(length + 6 <= max_pdu for length in lengths)
    assert all(length % 2 == 0 for length in lengths), lengths[:3]
