"""``vmgui start NAME`` without ``--headless``: a console window (offscreen Qt platform)
on a VM process.  The window shows the VM at its ``display_scale`` (as the manager does)
and the window's process holds the VM's run lock while it runs.

Each case runs in a fresh Python process: the command owns its QApplication and event
loop, as it does for a user, and leaves no Qt state behind for other tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vmgui.config.library import Library
from vmgui.config.runlock import running_pid
from vmgui.config.schema import Attachment, VmConfig

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "guests" / "echo.img"

PROBE = textwrap.dedent("""
    import argparse, json, os, sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from vmgui.cli import control
    from vmgui.config.runlock import running_pid
    from vmgui.ui.console import ConsoleWindow

    name, folder = sys.argv[1], sys.argv[2]
    app = QApplication([])
    seen = {}

    def look_and_close():  # runs once the window's event loop runs
        try:
            windows = [w for w in app.topLevelWidgets()
                       if isinstance(w, ConsoleWindow) and w.title == name]
            seen["windows"] = len(windows)
            seen["lock holder is me"] = running_pid(folder) == os.getpid()
            if windows:
                seen["scale"] = windows[0].view.scale_mode.value
                windows[0].shut_down()
        finally:
            app.quit()

    QTimer.singleShot(0, look_and_close)
    seen["status"] = control.start_command(argparse.Namespace(name=name, headless=False))
    seen["lock free after"] = running_pid(folder) is None
    print(json.dumps(seen))
""")


@pytest.mark.parametrize("scale", ["2x", "fit"])
def test_window_uses_the_display_scale_and_holds_the_run_lock(tmp_path, scale):
    pytest.importorskip("PySide6.QtWidgets")
    home = tmp_path / "machines"
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    name = f"scaled {scale}"
    entry = Library(home).create(VmConfig(name, floppy_a=Attachment(str(floppy)),
                                          display_scale=scale))
    env = dict(os.environ, VMGUI_HOME=str(home),
               QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    result = subprocess.run([sys.executable, "-c", PROBE, name, str(entry.folder)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"windows": 1, "lock holder is me": True, "scale": scale, "status": 0,
                    "lock free after": True}, result.stderr
    assert running_pid(entry.folder) is None
