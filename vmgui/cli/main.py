"""The ``vmgui`` command: sub-commands for using vmgui from a terminal.

Owns: argument parsing and dispatch to the sub-command modules; the logging set-up for
command-line use (stderr; a guest's crash report only once, from the command itself).
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


# Sub-commands that run a machine in this process and print its crash report
# themselves (exit status 4): the machine's own log record of it would be a second copy.
REPORTS_CRASHES = ("run", "script")


class _CrashReportFilter(logging.Filter):
    """Keeps the log records of a guest crash (the machine's report, the engine's line)
    off stderr below DEBUG: the command prints the report itself.  A VM process logs
    through its own set-up (:mod:`vmgui.host.vmprocess`: the VM's ``logs/vm.log``), which
    keeps them."""

    def __init__(self, level: str) -> None:
        super().__init__()
        self.shown = logging.getLevelName(level) <= logging.DEBUG

    def filter(self, record: logging.LogRecord) -> bool:
        return self.shown or not is_crash_report(record)


def is_crash_report(record: logging.LogRecord) -> bool:
    """Whether ``record`` is vmgui.core's log of a guest or engine crash (the report
    that :class:`vmgui.automation.session.GuestCrashedError` carries)."""
    if record.name == "vmgui.core.machine":
        return str(record.msg).startswith("guest crashed:")
    if record.name == "vmgui.core.engine":
        return record.levelno >= logging.ERROR \
            and record.getMessage().startswith("the CPU engine crashed")
    return False


def configure_logging(level: str, command: str | None) -> None:
    """Log records at ``level`` and above to stderr; for :data:`REPORTS_CRASHES`
    without crash reports (see :class:`_CrashReportFilter`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if command in REPORTS_CRASHES:
        handler.addFilter(_CrashReportFilter(level))
    logging.basicConfig(level=level, handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.command)
    if args.command == "run":
        return run.run_command(args)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return handler(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
