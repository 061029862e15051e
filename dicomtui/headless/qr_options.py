"""Options and plumbing shared by ``dicomtui findscu``, ``movescu`` and ``getscu``,
as pynetdicom's apps spell them."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dicomtui import __version__
from dicomtui.core.qr.models import DEFAULT_CHARACTER_SET, Model
from dicomtui.headless.lean_imports import leave_out_pixel_packages
from dicomtui.headless.options import (
    add_general_options,
    add_network_options,
    add_tls_options,
    check_common,
    optional_path,
    threshold,
)
from dicomtui.headless.stop_signals import POLL, StopSignals

if TYPE_CHECKING:  # the parsers load no engine (see options.py); these come after parsing
    from pydicom.dataset import Dataset

    from dicomtui.core.qr.negotiation import ExtendedOptions
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.headless.printer import LinePrinter


def build_parser(
    prog: str, calling_aet: str, description: str, *, worklist: bool = False
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"dicomtui {prog}",
        usage=f"dicomtui {prog} [options] addr port (-k keyword and/or -f file)",
        description=description,
    )
    parser.add_argument("addr", help="TCP/IP address or hostname of DICOM peer")
    parser.add_argument("port", type=int, help="TCP/IP port number of peer")
    add_general_options(parser)
    network = add_network_options(parser, scp=False)
    for action in network._group_actions:
        if action.dest == "calling_aet":
            action.default = calling_aet
            action.help = f"set my calling AE title (default: {calling_aet})"
    add_tls_options(parser, scp=False)

    models = parser.add_argument_group("Query Information Model Options")
    model = models.add_mutually_exclusive_group()
    choices = [
        ("-P", "--patient", Model.PATIENT, "use patient root information model (default)"),
        ("-S", "--study", Model.STUDY, "use study root information model"),
        ("-O", "--psonly", Model.PATIENT_STUDY_ONLY, "use patient/study only information model"),
    ]
    if worklist:
        choices.append(("-W", "--worklist", Model.WORKLIST, "use modality worklist model"))
    for short, long, value, text in choices:
        model.add_argument(short, long, dest="model", action="store_const", const=value, help=text)
    parser.set_defaults(model=Model.PATIENT)

    query = parser.add_argument_group("Query Options")
    query.add_argument(
        "-k",
        "--keyword",
        metavar="[k]eyword: (gggg,eeee)=str, keyword=str",
        action="append",
        default=[],
        help="add or override a query element using either an element tag as "
        "(group,element) or the element's keyword (such as PatientName); "
        "Seq[0].Keyword=str goes into a sequence item",
    )
    query.add_argument(
        "-f",
        "--file",
        metavar="path to [f]ile",
        help="use a DICOM file as the query dataset; -k elements are added to it or replace its own",
    )
    query.add_argument(
        "--charset",
        metavar="TERM",
        default=DEFAULT_CHARACTER_SET,
        help="the Specific Character Set the query carries unless the file or -k sets it "
        f"(default: {DEFAULT_CHARACTER_SET}, UTF-8)",
    )
    parser.add_argument("--version", action="version", version=f"dicomtui {prog} {__version__}")
    return parser


def add_find_negotiation(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Extended Negotiation Options")
    for flag, text in (
        ("--relational-query", "request the use of relational queries"),
        ("--dt-matching", "request the use of date-time matching"),
        ("--fuzzy-names", "request the use of fuzzy semantic matching of person names"),
        ("--timezone-adj", "request the use of timezone query adjustment"),
        ("--enhanced-conversion", "request the use of enhanced multi-frame image conversion"),
    ):
        group.add_argument(flag, action="store_true", help=text)


def add_retrieve_negotiation(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Extended Negotiation Options")
    group.add_argument(
        "--relational-retrieval",
        action="store_true",
        help="request the use of relational retrieval",
    )
    group.add_argument(
        "--enhanced-conversion",
        action="store_true",
        help="request the use of enhanced multi-frame image conversion",
    )


def extended_options(args: argparse.Namespace) -> ExtendedOptions:
    from dicomtui.core.qr.negotiation import ExtendedOptions

    return ExtendedOptions(
        relational=bool(
            getattr(args, "relational_query", False) or getattr(args, "relational_retrieval", False)
        ),
        datetime_matching=getattr(args, "dt_matching", False),
        fuzzy_names=getattr(args, "fuzzy_names", False),
        timezone_adjustment=getattr(args, "timezone_adj", False),
        enhanced_conversion=args.enhanced_conversion,
    )


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args = parser.parse_args(argv)
    check_common(parser, args)
    if not 1 <= args.port <= 65535:
        parser.error(f"port must be between 1 and 65535, not {args.port}")
    if not args.file and not args.keyword:
        parser.error("-f and/or -k must be specified")
    # Queries, identifiers and retrieved objects are never decoded to pixels.
    leave_out_pixel_packages()
    return args


def query_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Dataset:
    from dicomtui.core.qr.query import QueryError, build_query

    try:
        return build_query(args.keyword, optional_path(args.file), args.charset)
    except QueryError as exc:
        parser.error(str(exc))


def printer_for(args: argparse.Namespace, prog: str) -> tuple[EventBus, LinePrinter]:
    from dicomtui.core.stream.bus import EventBus
    from dicomtui.core.stream.events import Level, LogMessage, Side
    from dicomtui.headless.printer import LinePrinter

    bus = EventBus()
    printer = LinePrinter(threshold(args))
    bus.subscribe(printer)
    if printer.wants_debug:
        bus.publish(
            LogMessage(side=Side.SENDER, level=Level.DEBUG, text=f"dicomtui {prog} v{__version__}")
        )
        bus.publish(LogMessage(side=Side.SENDER, level=Level.DEBUG, text=""))
    return bus, printer


class Cancellable(Protocol):
    def run(self) -> Any: ...

    def cancel(self) -> None: ...


def run_cancellable(job: Cancellable, printer: LinePrinter) -> Any:
    """Run ``job`` on a thread; the first SIGINT/SIGTERM cancels it (C-CANCEL), a
    second one stops waiting."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(job.run()), daemon=True)
    signals = StopSignals()
    worker.start()
    cancelled = False
    while worker.is_alive():
        worker.join(POLL)
        if signals.count == 1 and not cancelled:
            cancelled = True
            job.cancel()
        elif signals.count > 1:
            if printer.threshold is not None:
                print("E: Interrupted", file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
    return result[0] if result else None


def summary_wanted(printer: LinePrinter) -> bool:
    """The verbose levels printed the summary already, from the event."""
    from dicomtui.core.stream.events import Level

    return printer.threshold is not None and printer.threshold > Level.INFO


def write_matches(folder: Path) -> Callable[[Dataset, str, str], Path]:
    """findscu's -w: each response as rsp000001.dcm, rsp000002.dcm ... in ``folder``."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, generate_uid
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

    counter = iter(range(1, 1_000_000))

    def write(identifier: Dataset, model_uid: str, transfer_syntax: str) -> Path:
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = UID(transfer_syntax)
        meta.MediaStorageSOPClassUID = UID(model_uid)
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.ImplementationClassUID = PYNETDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = PYNETDICOM_IMPLEMENTATION_VERSION
        identifier.file_meta = meta
        path = folder / f"rsp{next(counter):06d}.dcm"
        identifier.save_as(path, enforce_file_format=True)
        return path

    return write
