"""Composition root: what ``main.py`` and the ``vmgui`` command start.

``vmgui`` with no arguments opens the manager window (a QApplication driven by a qasync
event loop, so asyncio code such as automation scenarios can run alongside the GUI);
``vmgui <subcommand> ...`` and ``vmgui --help`` are the command-line front end
(:mod:`vmgui.cli.main`).
"""

from __future__ import annotations

import asyncio
import logging
import sys

log = logging.getLogger(__name__)

APP_NAME = "vmgui"
DESKTOP_FILE = "vmgui"  # resources/vmgui.desktop, installed as vmgui.desktop


def run_gui(argv: list[str]) -> int:
    """Open the manager and run the event loop until the last window closes."""
    import qasync
    from PySide6.QtWidgets import QApplication

    from vmgui.config.library import Library
    from vmgui.ui.manager import ManagerWindow
    from vmgui.ui.manager.icons import app_icon

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(DESKTOP_FILE)
    app.setWindowIcon(app_icon())
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


def main(argv: list[str] | None = None) -> int:
    """``vmgui`` entry point: the manager without arguments, else the CLI."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args:
        from vmgui.cli.main import main as cli_main

        return cli_main(args)
    return run_gui(sys.argv[:1] or [APP_NAME])


__all__ = ["main", "run_gui"]
