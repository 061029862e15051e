"""``dicomtui getscu``: pynetdicom's getscu (C-GET), headless: the objects come back
on the same association and are stored as our receiver stores them."""

from __future__ import annotations

from pathlib import Path

from dicomtui.headless.options import network_from_args
from dicomtui.headless.qr_options import (
    add_retrieve_negotiation,
    build_parser,
    extended_options,
    parse,
    printer_for,
    query_from_args,
    run_cancellable,
    summary_wanted,
)


def main(argv: list[str]) -> int:
    parser = build_parser(
        "getscu",
        "GETSCU",
        "A Query/Retrieve Get SCU: retrieves the matching objects over the same "
        "association and stores them (as pynetdicom's getscu).",
    )
    add_retrieve_negotiation(parser)
    out = parser.add_argument_group("Output Options")
    out.add_argument(
        "-od",
        "--output-directory",
        metavar="[d]irectory",
        default=".",
        help="write received objects to directory d (default: the current folder)",
    )
    out.add_argument("--ignore", action="store_true", help="receive data but don't store it")
    args = parse(parser, argv)
    # The engine, once the arguments are known to be usable (see options.py).
    from dicomtui.core.qr.get import GetJob
    from dicomtui.core.scp.settings import ReceiverSettings
    from dicomtui.core.stream.log_format import retrieve_summary

    query = query_from_args(parser, args)
    bus, printer = printer_for(args, "getscu")
    job = GetJob(
        network_from_args(args),
        query,
        bus,
        ReceiverSettings(output_directory=Path(args.output_directory), ignore=args.ignore),
        model=args.model,
        extended=extended_options(args),
        want_pdu_dumps=printer.pdu_dumps,
    )
    result = run_cancellable(job, printer)
    if result is None:
        return 1
    if summary_wanted(printer) and result.ok:
        print(retrieve_summary(result))
    return 0 if result.ok else 1
