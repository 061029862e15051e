"""The ``dicomtui`` command: the TUI, or a headless subcommand."""

from __future__ import annotations

import sys

SUBCOMMANDS = ("storescp", "storescu", "echo", "findscu", "movescu", "getscu")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        try:
            return _headless(args[0], args[1:])
        except KeyboardInterrupt:  # before a command's own handlers, or in echo
            return 130
        finally:
            _print_stages()

    from dicomtui.ui.launch import main as tui_main

    return tui_main(args)


def _print_stages() -> None:
    """Where the fast paths' time went, for benchmarks/run.py (``DICOMTUI_STAGES=1``)."""
    from dicomtui.core.stream import stage_counters

    if stage_counters.ENABLED and stage_counters.snapshot():
        print(stage_counters.report(), file=sys.stderr)


def _headless(command: str, rest: list[str]) -> int:
    if command == "storescp":
        from dicomtui.headless import storescp

        return storescp.main(rest)
    if command == "storescu":
        from dicomtui.headless import storescu

        return storescu.main(rest)
    if command in ("findscu", "movescu", "getscu"):
        import importlib

        module = importlib.import_module(f"dicomtui.headless.{command}")
        return int(module.main(rest))
    from dicomtui.headless import echo

    return echo.main(rest)
