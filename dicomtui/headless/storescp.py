"""``dicomtui storescp``: the Storage SCP of the storescp manual, headless."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from dicomtui import __version__
from dicomtui.core.config.validation import check_ae_title
from dicomtui.core.scp.settings import PreferredSyntax, ReceiverSettings
from dicomtui.core.scp.storage import DuplicatePolicy, StorageLayout, check_extension
from dicomtui.headless.lean_imports import leave_out_pixel_packages
from dicomtui.headless.options import (
    add_general_options,
    add_network_options,
    add_report_option,
    add_tls_options,
    check_common,
    checked,
    optional_path,
    report_writer,
    threshold,
)
from dicomtui.headless.stop_signals import POLL, StopSignals


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicomtui storescp",
        usage="dicomtui storescp [options] port",
        description=(
            "A Storage SCP: listens on port for associations and stores the objects "
            "that Storage SCUs send (as pynetdicom's storescp)."
        ),
    )
    parser.add_argument("port", type=int, help="TCP/IP port number to listen on")
    add_general_options(parser)
    add_network_options(parser, scp=True)
    group = parser.add_argument_group("Preferred Transfer Syntaxes").add_mutually_exclusive_group()
    for flags, value, text in (
        (
            ("-x=", "--prefer-uncompr"),
            PreferredSyntax.UNCOMPRESSED,
            "prefer explicit VR local byte order",
        ),
        (
            ("-xe", "--prefer-little"),
            PreferredSyntax.LITTLE,
            "prefer explicit VR little endian transfer syntax",
        ),
        (
            ("-xb", "--prefer-big"),
            PreferredSyntax.BIG,
            "prefer explicit VR big endian transfer syntax",
        ),
        (
            ("-xi", "--implicit"),
            PreferredSyntax.IMPLICIT,
            "accept implicit VR little endian transfer syntax only",
        ),
    ):
        group.add_argument(*flags, dest="preferred", action="store_const", const=value, help=text)
    out = parser.add_argument_group("Output")
    out.add_argument(
        "-od",
        "--output-directory",
        metavar="[d]irectory",
        default=".",
        help="write received objects to directory d (default: the current folder)",
    )
    out.add_argument("--ignore", action="store_true", help="receive data but don't store it")
    out.add_argument(
        "--duplicates",
        choices=[p.value for p in DuplicatePolicy],
        default=DuplicatePolicy.KEEP_BOTH.value,
        help="when a file of the same name exists: keep both (default, adds ~2, ~3...), "
        "overwrite, or refuse the object with status 0x0111",
    )
    out.add_argument(
        "--layout",
        choices=[layout.value for layout in StorageLayout],
        default=StorageLayout.FLAT.value,
        help="flat: PREFIX.UID in the output folder (default); study: in a folder per "
        "Study Instance UID; patient: in Patient ID/Study UID/Series UID folders",
    )
    out.add_argument(
        "-fe",
        "--filename-extension",
        metavar="EXT",
        default="",
        type=extension_argument,
        help="add EXT (such as .dcm) to every stored file's name (default: none)",
    )
    misc = parser.add_argument_group("Miscellaneous")
    misc.add_argument("--no-echo", action="store_true", help="don't act as a verification SCP")
    misc.add_argument(
        "-pm",
        "--promiscuous",
        action="store_true",
        help="promiscuous mode: accept and store SOP classes no registry knows "
        "(private or newer ones) too",
    )
    misc.add_argument(
        "--max-associations",
        type=int,
        default=10,
        metavar="n",
        help="how many associations may be open at once (default: 10)",
    )
    guard = parser.add_argument_group("Who may send, and how much")
    guard.add_argument(
        "--allow-calling",
        metavar="AET",
        action="append",
        default=[],
        help="accept only these calling AE titles (repeat the option for more)",
    )
    guard.add_argument(
        "--allow-address",
        metavar="ADDR",
        action="append",
        default=[],
        help="accept only peers at these addresses or networks, e.g. 10.0.0.0/8 (repeatable)",
    )
    guard.add_argument(
        "--check-called-aet",
        action="store_true",
        help="refuse associations whose called AE title is not -aet",
    )
    guard.add_argument(
        "--max-object-size",
        type=int,
        default=4 * 1024**3,
        metavar="bytes",
        help="refuse objects larger than this (default: 4 GiB; 0: no limit)",
    )
    guard.add_argument(
        "--max-connections",
        type=int,
        default=100,
        metavar="n",
        help="connections open at once, associated or not (default: 100)",
    )
    guard.add_argument(
        "--handshake-timeout",
        type=float,
        default=5.0,
        metavar="seconds",
        help="close connections that send no association request within this (default: 5)",
    )
    add_tls_options(parser, scp=True)
    add_report_option(parser, "when the receiver stops")
    parser.add_argument("--version", action="version", version=f"dicomtui storescp {__version__}")
    return parser


def extension_argument(text: str) -> str:
    try:
        return check_extension(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def settings_from_args(args: argparse.Namespace) -> ReceiverSettings:
    return ReceiverSettings(
        port=args.port,
        ae_title=args.ae_title,
        bind_address=args.bind_address,
        acse_timeout=args.acse_timeout,
        dimse_timeout=args.dimse_timeout,
        network_timeout=args.network_timeout,
        max_pdu=args.max_pdu,
        preferred_syntax=args.preferred or PreferredSyntax.DEFAULT,
        output_directory=Path(args.output_directory),
        ignore=args.ignore,
        echo=not args.no_echo,
        promiscuous=args.promiscuous,
        duplicates=DuplicatePolicy(args.duplicates),
        layout=StorageLayout(args.layout),
        filename_extension=args.filename_extension,
        max_associations=args.max_associations,
        max_connections=args.max_connections,
        handshake_timeout=args.handshake_timeout,
        max_object_size=args.max_object_size,
        allowed_calling_ae_titles=tuple(args.allow_calling),
        allowed_addresses=tuple(args.allow_address),
        check_called_ae_title=args.check_called_aet,
        tls_certificate=optional_path(args.tls_cert),
        tls_key=optional_path(args.tls_key),
        tls_ca=optional_path(args.tls_ca),
    )


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_common(parser, args, listening=True)
    leave_out_pixel_packages()  # objects are stored as they come, never decoded
    # The engine, once the options are parsed (see options.py).
    from dicomtui.core.scp.admission import parse_networks
    from dicomtui.core.scp.receiver import Receiver
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.core.stream.events import Level, LogMessage, Side
    from dicomtui.headless.printer import LinePrinter

    args.allow_calling = [
        checked(parser, "--allow-calling", check_ae_title, title, "allowed calling AE title")
        for title in args.allow_calling
    ]
    try:
        parse_networks(tuple(args.allow_address))
    except ValueError as exc:
        parser.error(f"--allow-address: {exc}")

    bus = EventBus()
    printer = LinePrinter(threshold(args))
    bus.subscribe(printer)
    if printer.wants_debug:
        bus.publish(
            LogMessage(
                side=Side.RECEIVER, level=Level.DEBUG, text=f"dicomtui storescp v{__version__}"
            )
        )
        bus.publish(LogMessage(side=Side.RECEIVER, level=Level.DEBUG, text=""))

    write_report = report_writer(parser, args, bus)
    # Before listening: a signal as soon as the port opens must stop us cleanly.
    signals = StopSignals()
    receiver = Receiver(settings_from_args(args), bus, want_pdu_dumps=printer.pdu_dumps)
    try:
        receiver.start()
    except OSError as exc:
        if printer.threshold is not None and printer.threshold > Level.ERROR:
            print(f"E: {exc.strerror or exc}", file=sys.stderr)
        return 1

    signals.wait()
    # Stopping waits for each association's end; a second signal does not.
    stopping = threading.Thread(target=receiver.stop, name="stop", daemon=True)
    stopping.start()
    while stopping.is_alive():
        stopping.join(POLL)
        if signals.count > 1:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
    return 0 if write_report() else 1
