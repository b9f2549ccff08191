"""Composition root: what ``main.py`` and the ``vmgui`` command start.

``vmgui`` with no arguments opens the manager window (a QApplication driven by a qasync
event loop, so asyncio code such as automation scenarios can run alongside the GUI);
``vmgui <subcommand> ...`` and ``vmgui --help`` are the command-line front end
(:mod:`vmgui.cli.main`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

log = logging.getLogger(__name__)

APP_NAME = "vmgui"
DESKTOP_FILE = "vmgui"  # resources/vmgui.desktop, installed as vmgui.desktop


def run_gui(argv: list[str]) -> int:
    """Open the manager and run the event loop until the last window closes."""
    import qasync
    from PySide6.QtWidgets import QApplication, QMessageBox

    from vmgui.config.library import Library
    from vmgui.ui.binding_check import binding_problem
    from vmgui.ui.manager import ManagerWindow
    from vmgui.ui.manager.icons import app_icon

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(DESKTOP_FILE)
    app.setWindowIcon(app_icon())
    problem = binding_problem()
    if problem is not None:
        print(f"vmgui: {problem}", file=sys.stderr)
        QMessageBox.critical(None, APP_NAME, problem)
        return 3
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    done = asyncio.Event()
    app.lastWindowClosed.connect(done.set)
    window = ManagerWindow(Library())
    window.show()
    try:
        with loop:
            loop.run_until_complete(done.wait())
    finally:
        window.runner.power_off_all()
        asyncio.set_event_loop(None)
    return 0


def no_display_reason(environ=None) -> str | None:
    """Why the manager cannot open a window here (Linux without X11/Wayland and no Qt
    platform chosen), or None.  Qt would otherwise abort the process."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open the manager window on (neither DISPLAY nor WAYLAND_DISPLAY "
            "is set).  On a machine without a screen use the command line, e.g. "
            "'vmgui run IMAGE --wait-text ... --screenshot shot.png' (see 'vmgui --help'), "
            "or set QT_QPA_PLATFORM=offscreen.")


def main(argv: list[str] | None = None) -> int:
    """``vmgui`` entry point: the manager without arguments, else the CLI."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args:
        from vmgui.cli.main import main as cli_main

        return cli_main(args)
    reason = no_display_reason()
    if reason is not None:
        print(f"vmgui: {reason}", file=sys.stderr)
        return 2
    return run_gui(sys.argv[:1] or [APP_NAME])


__all__ = ["main", "run_gui"]
