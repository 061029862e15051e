"""Command-line options shared by the headless commands, as the manuals spell them.

Building a parser and checking its arguments must not load the engine (pynetdicom,
pydicom and numpy take most of a second): ``--help`` and usage errors answer at
once, and the functions used after parsing import what they need.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dicomtui.core.config.validation import check_port, parse_ae_title

if TYPE_CHECKING:
    from dicomtui.core.scu.settings import SenderSettings
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.core.stream.events import Level

DEFAULT_MAX_PDU = 16382

#: -ll's choices, and the name of the Level each stands for.
_LEVELS = {
    "critical": "CRITICAL",
    "error": "ERROR",
    "warning": "WARNING",
    "warn": "WARNING",
    "info": "INFO",
    "debug": "DEBUG",
}


def add_general_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("General Options")
    output = group.add_mutually_exclusive_group()
    output.add_argument(
        "-q",
        "--quiet",
        dest="log_type",
        action="store_const",
        const="q",
        help="quiet mode, prints no warnings or errors",
    )
    output.add_argument(
        "-v",
        "--verbose",
        dest="log_type",
        action="store_const",
        const="v",
        help="verbose mode, prints processing details",
    )
    output.add_argument(
        "-d",
        "--debug",
        dest="log_type",
        action="store_const",
        const="d",
        help="debug mode, prints debugging information",
    )
    group.add_argument(
        "-ll",
        "--log-level",
        metavar="[l]evel",
        choices=sorted(_LEVELS),
        help="one of critical, error, warning, info, debug: print messages of that level or higher",
    )


def threshold(args: argparse.Namespace) -> Level | None:
    """The lowest level to print, or None for quiet mode (errors only by default)."""
    from dicomtui.core.stream.events import Level

    if args.log_type == "q":
        return None
    if args.log_level:
        return Level[_LEVELS[args.log_level]]
    return {"v": Level.INFO, "d": Level.DEBUG}.get(args.log_type, Level.ERROR)


def add_network_options(parser: argparse.ArgumentParser, *, scp: bool) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("Network Options")
    if scp:
        group.add_argument(
            "-aet",
            "--ae-title",
            metavar="[a]etitle",
            default="STORESCP",
            help="set the local AE title (default: STORESCP)",
        )
    else:
        group.add_argument(
            "-aet",
            "--calling-aet",
            metavar="[a]etitle",
            default="STORESCU",
            help="set the local AE title (default: STORESCU)",
        )
        group.add_argument(
            "-aec",
            "--called-aet",
            metavar="[a]etitle",
            default="ANY-SCP",
            help="set the called AE title for the peer AE (default: ANY-SCP)",
        )
    for short, long, what in (
        ("-ta", "--acse-timeout", "ACSE messages"),
        ("-td", "--dimse-timeout", "DIMSE messages"),
        ("-tn", "--network-timeout", "the network"),
    ):
        group.add_argument(
            short,
            long,
            metavar="[s]econds",
            type=float,
            default=30.0,
            help=f"timeout for {what} (default: 30)",
        )
    group.add_argument(
        "-pdu",
        "--max-pdu",
        metavar="[n]umber of bytes",
        type=int,
        default=DEFAULT_MAX_PDU,
        help=f"set maximum receive PDU bytes to n (0 for unlimited, default: {DEFAULT_MAX_PDU})",
    )
    group.add_argument(
        "-ba",
        "--bind-address",
        metavar="[a]ddress",
        default="",
        help="the local address to "
        + ("listen on (default: all interfaces)" if scp else "send from"),
    )
    return group


#: Every AE title option: its flags and what the validator calls it.
_AE_TITLE_OPTIONS = {
    "ae_title": ("-aet/--ae-title", "AE title"),
    "calling_aet": ("-aet/--calling-aet", "calling AE title"),
    "called_aet": ("-aec/--called-aet", "called AE title"),
}


def check_common(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, listening: bool = False
) -> None:
    """Usage errors shared by the commands. ``listening``: the port is our own
    (0 picks a free one); otherwise it is the peer's."""
    try:
        check_port(args.port, allow_zero=listening)
    except ValueError as exc:
        parser.error(f"{exc}, not {args.port}")
    if args.max_pdu < 0:
        parser.error("-pdu/--max-pdu must be 0 (unlimited) or a positive number of bytes")
    for name in ("acse_timeout", "dimse_timeout", "network_timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be a positive number of seconds")
    for name, (flags, what) in _AE_TITLE_OPTIONS.items():
        value = getattr(args, name, None)
        if value is not None:
            setattr(args, name, checked(parser, flags, parse_ae_title, value, what))
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")


def checked(
    parser: argparse.ArgumentParser,
    flags: str,
    check: Callable[[str, str], str],
    value: str,
    what: str,
) -> str:
    """``check(value, what)``, or a usage error that names the option."""
    try:
        return check(value, what)
    except ValueError as exc:
        parser.error(f"{flags}: {exc}")


def add_tls_options(parser: argparse.ArgumentParser, *, scp: bool) -> None:
    group = parser.add_argument_group("TLS")
    if scp:
        group.add_argument(
            "--tls-cert", metavar="PEM", help="accept TLS only, with this certificate"
        )
        group.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
        group.add_argument(
            "--tls-ca", metavar="PEM", help="require client certificates signed by this CA"
        )
    else:
        group.add_argument("--tls", action="store_true", help="connect with TLS")
        group.add_argument(
            "--tls-ca", metavar="PEM", help="trust this CA for the peer (default: the system's)"
        )
        group.add_argument(
            "--tls-cert", metavar="PEM", help="client certificate, if the peer asks for one"
        )
        group.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")


def sender_tls_usable(settings: SenderSettings, quiet: bool) -> bool:
    """Whether the sender's certificate, key and CA files can be used; if not, says
    which and why in one line, before anything is sent."""
    from dicomtui.core.scu.association import client_tls_context
    from dicomtui.core.tls import TlsFileError

    try:
        client_tls_context(settings)
    except TlsFileError as exc:
        if not quiet:
            print(f"E: {exc}", file=sys.stderr)
        return False
    return True


def optional_path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def add_report_option(parser: argparse.ArgumentParser, when: str) -> None:
    parser.add_argument(
        "--report",
        metavar="FILE",
        help=f"write what happened to each object (UID, file, status, bytes, time) to FILE "
        f"{when}: CSV, or JSON if FILE ends in .json",
    )


def report_writer(
    parser: argparse.ArgumentParser, args: argparse.Namespace, bus: EventBus
) -> Callable[[], bool]:
    """Subscribe a report to ``bus`` if ``--report`` was given; the result writes it
    (False if it could not). A folder that cannot take the report fails at once."""
    from dicomtui.core.stream.events import Level
    from dicomtui.core.stream.report import TransferReport, write_report

    if not args.report:
        return lambda: True
    path = Path(args.report).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--report: cannot make {path.parent}: {exc.strerror or exc}")
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        parser.error(f"--report: cannot write {path}")
    report = TransferReport()
    bus.subscribe(report)

    def write() -> bool:
        try:
            count, _left_out = write_report(report, path)
        except OSError as exc:
            print(f"E: Cannot write the report {path}: {exc.strerror or exc}", file=sys.stderr)
            return False
        level = threshold(args)
        if level is not None and level <= Level.INFO:
            print(f"I: Report of {count} objects written to {path}", file=sys.stderr)
        return True

    return write


def network_from_args(args: argparse.Namespace) -> SenderSettings:
    """The peer, titles, timeouts, PDU size, bind address and TLS every SCU takes."""
    from dicomtui.core.scu.settings import SenderSettings

    return SenderSettings(
        host=args.addr,
        port=args.port,
        called_ae_title=args.called_aet,
        calling_ae_title=args.calling_aet,
        acse_timeout=args.acse_timeout,
        dimse_timeout=args.dimse_timeout,
        network_timeout=args.network_timeout,
        max_pdu=args.max_pdu,
        bind_address=args.bind_address,
        tls=args.tls or bool(args.tls_ca),
        tls_ca=optional_path(args.tls_ca),
        tls_certificate=optional_path(args.tls_cert),
        tls_key=optional_path(args.tls_key),
    )
