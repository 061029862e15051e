"""``dicomtui storescu``: the Storage SCU of the storescu manual, headless."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import threading

from dicomtui import __version__
from dicomtui.core.config.validation import MAX_SEND_ASSOCIATIONS, parse_count
from dicomtui.core.scu.settings import RequestSyntax, SenderSettings
from dicomtui.headless.lean_imports import decodes_no_pixels, leave_out_pixel_packages
from dicomtui.headless.options import (
    add_general_options,
    add_network_options,
    add_report_option,
    add_tls_options,
    check_common,
    network_from_args,
    report_writer,
    sender_tls_usable,
    threshold,
)
from dicomtui.headless.stop_signals import POLL, StopSignals


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicomtui storescu",
        usage="dicomtui storescu [options] addr port path [path ...]",
        description=(
            "A Storage SCU: associates with a peer and sends the DICOM files given "
            "(folders too) with C-STORE (as pynetdicom's storescu)."
        ),
    )
    parser.add_argument("addr", help="TCP/IP address or hostname of DICOM peer")
    parser.add_argument("port", type=int, help="TCP/IP port number of peer")
    parser.add_argument("path", nargs="+", help="DICOM file or directory to be transmitted")
    add_general_options(parser)
    inputs = parser.add_argument_group("Input Options")
    inputs.add_argument(
        "-r", "--recurse", action="store_true", help="recursively search the given directory"
    )
    network = add_network_options(parser, scp=False)
    network.add_argument(
        "--associations",
        metavar="[n]umber",
        default="1",
        help=(
            "send over n associations at once, sharing the files (1 to "
            f"{MAX_SEND_ASSOCIATIONS}, default: 1); for peers that take several in parallel"
        ),
    )
    syntax_options = parser.add_argument_group("Transfer Syntax Options")
    group = syntax_options.add_mutually_exclusive_group()
    for flags, value, text in (
        (
            ("-xe", "--request-little"),
            RequestSyntax.LITTLE,
            "request explicit VR little endian TS only",
        ),
        (("-xb", "--request-big"), RequestSyntax.BIG, "request explicit VR big endian TS only"),
        (
            ("-xi", "--request-implicit"),
            RequestSyntax.IMPLICIT,
            "request implicit VR little endian TS only",
        ),
    ):
        group.add_argument(*flags, dest="request", action="store_const", const=value, help=text)
    syntax_options.add_argument(
        "--no-transcode",
        dest="transcode",
        action="store_false",
        help=(
            "never decompress: a compressed file the peer accepts in none of its own "
            "syntaxes fails (default: decode it, losslessly, and send it in explicit VR "
            "little endian or another uncompressed syntax the peer accepted)"
        ),
    )
    misc = parser.add_argument_group("Miscellaneous Options")
    misc.add_argument(
        "-cx",
        "--single-context",
        "--required-contexts",
        dest="required_contexts",
        action="store_true",
        help="only request the presentation contexts required for the input DICOM file(s)",
    )
    misc.add_argument(
        "--stop-on-failure",
        action="store_true",
        help="stop at the first object the peer does not store (default: go on with the rest)",
    )
    misc.add_argument(
        "--no-fast-path",
        dest="fast_path",
        action="store_false",
        help=(
            "send every file through pynetdicom's C-STORE (default: files whose bytes "
            "go as they are take dicomtui's own, faster path)"
        ),
    )
    add_tls_options(parser, scp=False)
    add_report_option(parser, "when the send ends")
    parser.add_argument("--version", action="version", version=f"dicomtui storescu {__version__}")
    return parser


def settings_from_args(args: argparse.Namespace) -> SenderSettings:
    return dataclasses.replace(
        network_from_args(args),
        request_syntax=args.request or RequestSyntax.DEFAULT,
        required_contexts=args.required_contexts,
        transcode=args.transcode,
        recurse=args.recurse,
        stop_on_failure=args.stop_on_failure,
        associations=args.associations,
        fast_path=args.fast_path,
    )


def check_associations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    try:
        args.associations = parse_count(
            args.associations, "number of associations", 1, MAX_SEND_ASSOCIATIONS
        )
    except ValueError as exc:
        parser.error(f"--associations: {exc}, not {args.associations or '(empty)'}")


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_common(parser, args)
    check_associations(parser, args)
    if not args.transcode or decodes_no_pixels(args.path, args.recurse):
        leave_out_pixel_packages()
    # The engine, once the arguments are known to be usable (see options.py).
    from dicomtui.core.scu.send_job import SendJob
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.core.stream.events import Level, LogMessage, Side
    from dicomtui.core.stream.log_format import send_summary
    from dicomtui.headless.printer import LinePrinter

    bus = EventBus()
    printer = LinePrinter(threshold(args))
    bus.subscribe(printer)
    if printer.wants_debug:
        bus.publish(
            LogMessage(
                side=Side.SENDER, level=Level.DEBUG, text=f"dicomtui storescu v{__version__}"
            )
        )
        bus.publish(LogMessage(side=Side.SENDER, level=Level.DEBUG, text=""))

    write_report = report_writer(parser, args, bus)
    settings = settings_from_args(args)
    if not sender_tls_usable(settings, quiet=printer.threshold is None):
        return 1
    job = SendJob(settings, args.path, bus, want_pdu_dumps=printer.pdu_dumps)
    worker = threading.Thread(target=job.run, name="storescu", daemon=True)
    signals = StopSignals()
    worker.start()
    while worker.is_alive():
        worker.join(POLL)
        if signals.count == 1 and not job.cancelled:
            job.cancel()  # the object in flight completes, then the association is aborted
        elif signals.count > 1:
            # A second signal: stop waiting. pynetdicom's threads are not daemons and
            # may wait out a timeout (30 s to associate) before Python could exit.
            if printer.threshold is not None:
                print("E: Interrupted before the send ended", file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)

    result = job.result
    reported = write_report()
    if result is None or not reported:
        return 1
    total = result.sent + result.warned + result.failed + result.not_attempted
    if total == 0 and not result.association_error:
        if printer.threshold is not None:
            print("E: No suitable DICOM files found", file=sys.stderr)
        return 1
    if printer.threshold is not None and printer.threshold > Level.INFO:
        # Verbose modes printed it already, from the event.
        print(send_summary(result))
    ok = (
        result.failed == 0
        and result.not_attempted == 0
        and not result.association_error
        and not job.missing_paths
    )
    return 0 if ok and not result.cancelled else 1
