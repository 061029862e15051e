"""The lean header reader agrees with pydicom on every file it is given."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from factory import copy_ct, make_object
from pydicom.filereader import read_file_meta_info

from dicomtui.core.dicom.files import read_summary
from dicomtui.core.dicom.header_summary import summarize

TEST_FILES = sorted((Path(pydicom.__file__).parent / "data" / "test_files").rglob("*.dcm"))


def readable(path: Path) -> str | None:
    try:
        return str(read_file_meta_info(path).TransferSyntaxUID)
    except Exception:
        return None


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("path", [p for p in TEST_FILES if readable(p)], ids=lambda p: p.name)
def test_agrees_with_pydicom_on_its_test_files(path: Path) -> None:
    assert summarize(path, readable(path) or "") == read_summary(path)


@pytest.mark.parametrize(
    "syntax",
    [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.4.70",
    ],
)
def test_reads_every_syntax_or_falls_back(tmp_path: Path, syntax: str) -> None:
    path = make_object(
        tmp_path / "x.dcm",
        transfer_syntax=syntax,
        patient="ÉCOLE^ANNE",
        patient_id="P7",
        study_uid="1.2.3",
        series_uid="1.2.4",
        modality="MR",
    )
    assert summarize(path, syntax) == {
        "Modality": "MR",
        "PatientName": "ÉCOLE^ANNE",
        "PatientID": "P7",
        "StudyInstanceUID": "1.2.3",
        "SeriesInstanceUID": "1.2.4",
    }


def test_broken_or_truncated_headers_do_not_raise(tmp_path: Path) -> None:
    source = copy_ct(tmp_path / "ct.dcm")
    for cut in (0, 10, 131, 200, 400, 1000):
        broken = tmp_path / f"cut{cut}.dcm"
        broken.write_bytes(source.read_bytes()[:cut])
        result = summarize(broken, "1.2.840.10008.1.2.1")
        assert set(result) == {
            "Modality",
            "PatientName",
            "PatientID",
            "StudyInstanceUID",
            "SeriesInstanceUID",
        }


def test_a_deflated_header_is_read_from_its_inflated_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver inflates a deflated data set once (to check it); its start is
    enough for the summary, without pydicom inflating all of it again."""
    from dicomtui.core.dicom import header_summary
    from dicomtui.core.scp.deflated import inflate_received

    path = make_object(
        tmp_path / "x.dcm", transfer_syntax="1.2.840.10008.1.2.1.99", patient="ÉCOLE^ANNE"
    )
    expected = read_summary(path)
    head = inflate_received(path).head

    def no_pydicom(_path: Path) -> dict[str, str]:
        raise AssertionError("pydicom was asked")

    monkeypatch.setattr(header_summary, "read_summary", no_pydicom)
    assert summarize(path, "1.2.840.10008.1.2.1.99", inflated=head) == expected
    assert expected["PatientName"] == "ÉCOLE^ANNE"
