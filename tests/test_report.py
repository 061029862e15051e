"""The transfer report's bounds, and the throughput behind the sparklines."""

from __future__ import annotations

import csv
from pathlib import Path

from dicomtui.core.stream.events import FileSent, ObjectLost, ObjectReceived, Side
from dicomtui.core.stream.report import Throughput, TransferReport, write_report

CT = "1.2.840.10008.5.1.4.1.1.2"


def received(n: int, timestamp: float, size: int = 1000, status: int = 0) -> ObjectReceived:
    return ObjectReceived(
        side=Side.RECEIVER,
        assoc_id=1,
        timestamp=timestamp,
        sop_class=CT,
        sop_instance=f"1.2.{n}",
        transfer_syntax="1.2.840.10008.1.2",
        size=size,
        filename=f"CT.1.2.{n}",
        path=f"/in/CT.1.2.{n}",
        status=status,
    )


def test_a_long_running_receiver_keeps_the_newest_objects_and_says_how_many_are_left_out(
    tmp_path: Path,
) -> None:
    report = TransferReport(limit=100)
    for n in range(250):
        report(received(n, 1000.0 + n))  # as the bus calls it
    report(
        ObjectLost(side=Side.RECEIVER, assoc_id=1, timestamp=2000.0, sop_class=CT,
                   sop_instance="1.2.999", bytes_received=10, reason="aborted")
    )  # fmt: skip
    assert (len(report.records), report.total, report.left_out) == (100, 251, 151)

    path = tmp_path / "r.csv"
    assert write_report(report, path) == (100, 151)
    with path.open(newline="") as fp:
        rows = list(csv.DictReader(fp))
    assert rows[0]["sop_instance"] == "1.2.151"
    assert rows[0]["sop_class"] == CT  # the UID, not a short name such as "CT"
    assert (rows[-1]["result"], rows[-1]["error"], rows[-1]["status"]) == ("Lost", "aborted", "")
    assert float(rows[1]["seconds"]) == 1.0  # one second after the previous object


def test_throughput_counts_bytes_per_second_over_the_window() -> None:
    meter = Throughput(ObjectReceived, seconds=5)
    for n in range(10):
        meter.add_events([received(n, 100.0 + n * 0.5, size=1_000)])
    meter.add_events(
        [FileSent(side=Side.SENDER, path="x", sop_class=CT, sop_instance="9",
                  transfer_syntax="", size=10**6, status=0, timestamp=104.2)]
    )  # fmt: skip
    assert meter.series(104.9) == [2000.0, 2000.0, 2000.0, 2000.0, 2000.0]
    assert meter.series(107.0) == [2000.0, 2000.0, 0.0, 0.0, 0.0]
    assert meter.latest_rate(meter.series(105.5)) == 2000.0
