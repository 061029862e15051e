"""``dicomtui [PATH]``: parse the start-up options and run the app."""

from __future__ import annotations

import argparse
from pathlib import Path

from dicomtui import __version__
from dicomtui.core.receiver import ReceiverSettings
from dicomtui.core.sender import SenderSettings

DEFAULT_PORT = 11112
#: The app's receiver offers 1 MiB PDUs (the headless storescp keeps the manual's
#: 16382): a 100 MB object arrives nearly twice as fast, memory stays bounded.
DEFAULT_MAX_PDU = 1_048_576
DEFAULT_AE_TITLE = "DICOMTUI"
DEFAULT_INBOX = Path("dicom-inbox")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicomtui",
        usage="dicomtui [options] [PATH]\n       dicomtui {storescp,storescu,echo} ...",
        description=(
            "Send and receive DICOM objects. With no subcommand, opens the terminal app: "
            "a receiver listening at once, and a sender browsing PATH. The headless "
            "commands storescp, storescu and echo take the options of pynetdicom's apps "
            "(dicomtui storescp --help)."
        ),
    )
    parser.add_argument(
        "path", nargs="?", default=".", help="folder to browse for files to send (default: .)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"receiver port (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--aet", default=DEFAULT_AE_TITLE, help=f"receiver AE title (default: {DEFAULT_AE_TITLE})"
    )
    parser.add_argument(
        "--output-directory",
        "-od",
        default=str(DEFAULT_INBOX),
        help=f"where received objects go (default: ./{DEFAULT_INBOX})",
    )
    parser.add_argument(
        "--bind-address", "-ba", default="", help="address to listen on (default: all)"
    )
    parser.add_argument(
        "--dest",
        metavar="HOST:PORT[:AET]",
        help="where to send (default: this app's own receiver, 127.0.0.1:PORT:AET)",
    )
    parser.add_argument(
        "--no-receiver", action="store_true", help="do not start the receiver at once"
    )
    parser.add_argument("--version", action="version", version=f"dicomtui {__version__}")
    return parser


def parse_destination(text: str) -> tuple[str, int, str | None]:
    """``HOST:PORT[:AET]`` (IPv6 hosts in brackets: ``[::1]:104:PACS``)."""
    host, rest = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        rest = rest.removeprefix(":")
    else:
        host, _, rest = text.partition(":")
    port_text, _, aet = rest.partition(":")
    if not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"--dest wants HOST:PORT[:AET], not {text!r}")
    if aet and len(aet) > 16:
        raise ValueError(f"AE titles are at most 16 characters: {aet!r}")
    return host, int(port_text), aet or None


def config_from_args(args: argparse.Namespace) -> object:
    from dicomtui.ui.app import LaunchConfig

    notices: list[str] = []
    browse = Path(args.path).expanduser()
    if not browse.is_dir():
        what = "is not a folder" if browse.exists() else "does not exist"
        notices.append(f"{args.path} {what}; browsing {Path.cwd()} instead")
        browse = Path.cwd()
    port = args.port
    if not 0 <= port <= 65535:
        notices.append(f"Port {port} is not a port; using {DEFAULT_PORT} (F2 changes it)")
        port = DEFAULT_PORT
    receiver = ReceiverSettings(
        port=port,
        ae_title=args.aet[:16],
        bind_address=args.bind_address,
        output_directory=Path(args.output_directory).expanduser(),
        max_pdu=DEFAULT_MAX_PDU,
    )
    host, dest_port, called = "127.0.0.1", port, args.aet[:16]
    if args.dest:
        try:
            host, dest_port, given = parse_destination(args.dest)
            called = given or "ANY-SCP"
        except ValueError as exc:
            notices.append(str(exc))
    sender = SenderSettings(
        host=host, port=dest_port, called_ae_title=called, calling_ae_title=args.aet[:16]
    )
    return LaunchConfig(
        receiver=receiver,
        sender=sender,
        browse_path=browse.resolve(),
        start_receiver=not args.no_receiver,
        notices=notices,
    )


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from dicomtui.ui.app import DicomTuiApp, LaunchConfig

    config = config_from_args(args)
    assert isinstance(config, LaunchConfig)
    DicomTuiApp(config).run()
    return 0
