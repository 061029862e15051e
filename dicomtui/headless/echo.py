"""``dicomtui echo``: one C-ECHO to check a peer."""

from __future__ import annotations

import argparse

from dicomtui import __version__
from dicomtui.headless.lean_imports import leave_out_pixel_packages
from dicomtui.headless.options import (
    add_general_options,
    add_network_options,
    add_tls_options,
    check_common,
    network_from_args,
    sender_tls_usable,
    threshold,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicomtui echo",
        usage="dicomtui echo [options] addr port",
        description="Send one C-ECHO (Verification) to a peer and report its status.",
    )
    parser.add_argument("addr", help="TCP/IP address or hostname of DICOM peer")
    parser.add_argument("port", type=int, help="TCP/IP port number of peer")
    add_general_options(parser)
    add_network_options(parser, scp=False)
    add_tls_options(parser, scp=False)
    parser.add_argument("--version", action="version", version=f"dicomtui echo {__version__}")
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_common(parser, args)
    leave_out_pixel_packages()  # a C-ECHO carries no data set
    # The engine, once the arguments are known to be usable (see options.py).
    from dicomtui.core.scu.echo import echo
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.core.stream.events import Level
    from dicomtui.core.stream.log_format import format_event
    from dicomtui.headless.printer import LinePrinter

    bus = EventBus()
    printer = LinePrinter(threshold(args))
    bus.subscribe(printer)
    settings = network_from_args(args)
    if not sender_tls_usable(settings, quiet=printer.threshold is None):
        return 1
    result = echo(settings, bus, want_pdu_dumps=printer.pdu_dumps)
    # The result is the point of this command: show it unless quiet, even when
    # the level hides successes.
    if result.status == 0 and printer.threshold is not None and printer.threshold > Level.INFO:
        for line in format_event(result):
            print(line.render())
    return 0 if result.status == 0 else 1
