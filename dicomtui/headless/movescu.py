"""``dicomtui movescu``: pynetdicom's movescu (C-MOVE), headless, with our own receiver."""

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
        "movescu",
        "MOVESCU",
        "A Query/Retrieve Move SCU: asks the peer to send the matching objects to a "
        "move destination, optionally our own receiver (as pynetdicom's movescu).",
    )
    parser.add_argument(
        "-aem",
        "--move-aet",
        metavar="[a]etitle",
        default="STORESCP",
        help="set the move destination AE title (default: STORESCP)",
    )
    add_retrieve_negotiation(parser)
    out = parser.add_argument_group("Output Options")
    out.add_argument(
        "--store",
        action="store_true",
        help="start a Storage SCP that receives what is moved (the PACS must know "
        "--store-aet at this host and --store-port)",
    )
    out.add_argument(
        "--store-port",
        metavar="[p]ort",
        type=int,
        default=11113,
        help="the port of the Storage SCP (default: 11113)",
    )
    out.add_argument(
        "--store-aet",
        metavar="[a]etitle",
        default="STORESCP",
        help="the AE title of the Storage SCP (default: STORESCP)",
    )
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
    from dicomtui.core.qr.move import MoveJob
    from dicomtui.core.scp.receiver import Receiver
    from dicomtui.core.scp.settings import ReceiverSettings
    from dicomtui.core.stream.log_format import retrieve_summary

    query = query_from_args(parser, args)
    bus, printer = printer_for(args, "movescu")

    receiver = None
    if args.store:
        receiver = Receiver(
            ReceiverSettings(
                port=args.store_port,
                ae_title=args.store_aet,
                output_directory=Path(args.output_directory),
                ignore=args.ignore,
                acse_timeout=args.acse_timeout,
                dimse_timeout=args.dimse_timeout,
                network_timeout=args.network_timeout,
            ),
            bus,
            want_pdu_dumps=printer.pdu_dumps,
        )
        try:
            receiver.start()
        except OSError:
            return 1  # the receiver published why
    job = MoveJob(
        network_from_args(args),
        query,
        args.move_aet,
        bus,
        model=args.model,
        extended=extended_options(args),
        want_pdu_dumps=printer.pdu_dumps,
    )
    try:
        result = run_cancellable(job, printer)
    finally:
        if receiver is not None:
            receiver.stop()
    if result is None:
        return 1
    if summary_wanted(printer) and result.ok:
        print(retrieve_summary(result))
    return 0 if result.ok else 1
