"""``dicomtui [PATH]``: parse the start-up options and run the app."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from dicomtui import __version__
from dicomtui.core.config.file import CONFIG_ENV, default_config_path, load_config
from dicomtui.core.config.validation import check_ae_title
from dicomtui.core.scp.settings import ReceiverSettings
from dicomtui.core.scu.settings import SenderSettings

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
        "path",
        nargs="?",
        help="folder to browse for files to send (default: the folder browsed last, or .)",
    )
    parser.add_argument(
        "--port", type=int, help=f"receiver port (default: the config's, or {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--aet", help=f"receiver AE title (default: the config's, or {DEFAULT_AE_TITLE})"
    )
    parser.add_argument(
        "--output-directory",
        "-od",
        help=f"where received objects go (default: the config's, or ./{DEFAULT_INBOX})",
    )
    parser.add_argument(
        "--bind-address", "-ba", help="address to listen on (default: the config's, or all)"
    )
    parser.add_argument(
        "--dest",
        metavar="HOST:PORT[:AET] or NODE",
        help="where to send: an address or a node of the address book (default: the "
        "config's destination, or this app's own receiver)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"the config file (default: ${CONFIG_ENV}, or {default_config_path()})",
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
    if aet:
        check_ae_title(aet, "called AE title")
    return host, int(port_text), aet or None


def app_defaults() -> tuple[ReceiverSettings, SenderSettings]:
    """The app's settings before any config file: receive as DICOMTUI on 11112."""
    receiver = ReceiverSettings(
        port=DEFAULT_PORT,
        ae_title=DEFAULT_AE_TITLE,
        output_directory=DEFAULT_INBOX,
        max_pdu=DEFAULT_MAX_PDU,
    )
    return receiver, SenderSettings(calling_ae_title=DEFAULT_AE_TITLE)


def config_from_args(args: argparse.Namespace) -> object:
    """Defaults, then the config file, then the options given on the command line."""
    from dicomtui.ui.app import LaunchConfig

    receiver, sender = app_defaults()
    path = Path(args.config).expanduser() if args.config else default_config_path()
    config, notices = load_config(path, receiver, sender)
    last = config.app.last_folder
    if args.path is None and last and Path(last).expanduser().is_dir():
        browse = Path(last).expanduser()
    else:
        browse = Path(args.path or ".").expanduser()
    if not browse.is_dir():
        what = "is not a folder" if browse.exists() else "does not exist"
        notices.append(f"{args.path} {what}; browsing {Path.cwd()} instead")
        browse = Path.cwd()
    receiver = config.receiver
    if args.port is not None:
        if 0 <= args.port <= 65535:
            receiver = dataclasses.replace(receiver, port=args.port)
        else:
            notices.append(f"Port {args.port} is not a port; using {receiver.port} (F2 changes it)")
    aet: str | None = None
    if args.aet is not None:
        try:
            aet = check_ae_title(args.aet.strip(), "AE title (--aet)")
        except ValueError as exc:
            notices.append(f"{exc}; using {receiver.ae_title}")
    if aet is not None:
        receiver = dataclasses.replace(receiver, ae_title=aet)
    if args.output_directory is not None:
        receiver = dataclasses.replace(
            receiver, output_directory=Path(args.output_directory).expanduser()
        )
    if args.bind_address is not None:
        receiver = dataclasses.replace(receiver, bind_address=args.bind_address)
    sender = config.sender
    if aet is not None:
        sender = dataclasses.replace(sender, calling_ae_title=aet)
    sender = dataclasses.replace(
        sender, host="127.0.0.1", port=receiver.port, called_ae_title=receiver.ae_title
    )
    wanted = args.dest or config.app.destination
    node = config.node(wanted) if wanted else None
    if node is not None:  # its TLS and calling AE title apply while it is the destination
        sender = dataclasses.replace(
            sender, host=node.host, port=node.port, called_ae_title=node.called_ae_title
        )
    elif args.dest:
        try:
            host, port, called = parse_destination(args.dest)
            sender = dataclasses.replace(
                sender, host=host, port=port, called_ae_title=called or "ANY-SCP"
            )
        except ValueError as exc:
            notices.append(str(exc))
    elif wanted:
        notices.append(f"No node named {wanted!r} in the address book; sending to this app")
    if config.unsafe_receiver:
        notices.append(config.unsafe_receiver[0].upper() + config.unsafe_receiver[1:])
    return LaunchConfig(
        receiver=receiver,
        sender=sender,
        browse_path=browse.resolve(),
        start_receiver=not args.no_receiver
        and config.app.start_receiver
        and not config.unsafe_receiver,
        notices=notices,
        settings=config,
        destination_node=node,
    )


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from dicomtui.ui.app import DicomTuiApp, LaunchConfig

    config = config_from_args(args)
    assert isinstance(config, LaunchConfig)
    app = DicomTuiApp(config)
    app.run()
    return app.return_code or 0
