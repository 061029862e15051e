"""``dicomtui findscu``: pynetdicom's findscu (C-FIND), headless."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dicomtui.headless.options import network_from_args
from dicomtui.headless.qr_options import (
    add_find_negotiation,
    build_parser,
    extended_options,
    parse,
    printer_for,
    query_from_args,
    run_cancellable,
    write_matches,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: Left out of the table of results: the same in every row.
_NOT_IN_TABLE = {"SpecificCharacterSet", "QueryRetrieveLevel", "RetrieveAETitle"}


def results_table(matches: list[Dataset]) -> list[str]:
    """The matches as a plain table, one row each, columns as the peer sent them."""
    from dicomtui.core.qr.operation import identifier_values

    rows = [dict(identifier_values(m)) for m in matches]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(k for k in row if k not in _NOT_IN_TABLE))
    if not columns:
        return []
    widths = {c: min(64, max(len(c), *(len(r.get(c, "")) for r in rows))) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    for row in rows:
        lines.append(
            "  ".join(row.get(c, "")[: widths[c]].ljust(widths[c]) for c in columns).rstrip()
        )
    return lines


def main(argv: list[str]) -> int:
    parser = build_parser(
        "findscu",
        "FINDSCU",
        "A Query/Retrieve and Basic Worklist Find SCU: sends a C-FIND query and prints "
        "the matches (as pynetdicom's findscu).",
        worklist=True,
    )
    add_find_negotiation(parser)
    out = parser.add_argument_group("Output Options")
    out.add_argument(
        "-w",
        "--write",
        action="store_true",
        help="write the responses to file as rsp000001.dcm, rsp000002.dcm, ...",
    )
    args = parse(parser, argv)
    # The engine, once the arguments are known to be usable (see options.py).
    from dicomtui.core.qr.find import FindJob
    from dicomtui.core.qr.models import Operation, model_uid
    from dicomtui.core.stream.events import Level

    query = query_from_args(parser, args)
    bus, printer = printer_for(args, "findscu")
    job = FindJob(
        network_from_args(args),
        query,
        bus,
        model=args.model,
        extended=extended_options(args),
        want_pdu_dumps=printer.pdu_dumps,
    )
    result = run_cancellable(job, printer)
    if args.write and job.outcome is not None:
        write = write_matches(Path.cwd())
        uid = model_uid(args.model, Operation.FIND)
        for match in job.matches:
            write(match, uid, job.outcome.transfer_syntax)
    # The table is the answer: on stdout unless quiet, or verbose (which printed
    # each identifier as findscu does).
    if printer.threshold is not None and printer.threshold > Level.INFO and job.matches:
        for line in results_table(job.matches):
            print(line)
    sys.stdout.flush()
    return 0 if result is not None and result.status == 0 and not result.error else 1
