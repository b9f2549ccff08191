"""The ``vmgui`` command: sub-commands for using vmgui from a terminal.

Owns: argument parsing and dispatch to the sub-command modules; the logging set-up for
command-line use.
"""

from __future__ import annotations

import argparse
import logging
import sys

from vmgui.cli import control, library, run, script, snapshot


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmgui", description="vmgui: a desktop VM manager for emulated IBM PC machines")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log detail on stderr (default WARNING)")
    sub = parser.add_subparsers(dest="command")
    run_parser = sub.add_parser(
        "run", help="boot a disk image or library VM headless and run steps against its screen",
        description="Boot a disk image (or the library VM named IMAGE) and run steps in "
                    "order. Exit status: 0 done, "
                    "2 bad usage or input, 3 a wait timed out, 4 the guest crashed.")
    run.add_arguments(run_parser)
    library.register(sub)
    script.register(sub)
    snapshot.register(sub)
    control.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "run":
        return run.run_command(args)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return handler(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
