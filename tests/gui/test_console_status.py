"""The console's status bar and stop messages, as a new user met them: the release key
visible in a narrow window, a killed VM process not called a guest crash (a real one
still is)."""

from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from vmgui.core import events as ev
from vmgui.core.machine import MachineConfig
from vmgui.host.process import ProcessHost
from vmgui.host.thread import ThreadHost
from vmgui.ui.console import ConsoleWindow, ScaleMode
from vmgui.ui.manager.icons import DEMO_IMAGE


@pytest.fixture
def open_console(qtbot, tmp_path):
    """Factory: ``open_console(host, confirm)`` -> a shown console on the started host;
    powered off at teardown."""
    made: list[ConsoleWindow] = []

    def make(host, confirm: bool = False) -> ConsoleWindow:
        window = ConsoleWindow(host, "Box", screenshots_dir=tmp_path / "shots",
                               confirm=confirm)
        made.append(window)
        window.show()
        host.start()
        return window

    yield make
    for window in made:
        window.confirm = False
        window.shut_down()
        window.close()
        window.deleteLater()


def shown_box(window) -> QMessageBox | None:
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    return boxes[0] if boxes else None


def visible_part(label) -> str:
    """The label's text as far as it is drawn (labels that elide say what they draw)."""
    shown = label.displayed_text() if hasattr(label, "displayed_text") else label.text()
    width = label.contentsRect().width()
    metrics = label.fontMetrics()
    while shown and metrics.horizontalAdvance(shown) > width:
        shown = shown[:-1]  # a plain QLabel clips what does not fit
    return shown


def test_release_key_stays_visible_in_a_narrow_window(open_console, qtbot):
    window = open_console(ThreadHost(MachineConfig(floppies=(DEMO_IMAGE,), read_only=True)))
    qtbot.waitUntil(lambda: window.view.state is not None, timeout=8000)
    window.set_scale_mode(ScaleMode.X1)
    key = window.host_key_name()
    for width in (640, 480, 400):
        window.resize(width, window.height())
        window.set_keyboard_grab(True)
        QApplication.processEvents()
        assert window.grabbed
        assert visible_part(window.grab_label).startswith(key), (width, window.grab_label.text())
        assert key in window.grab_label.toolTip()  # and the whole text there
        window.set_keyboard_grab(False)
        QApplication.processEvents()
        assert visible_part(window.grab_label).startswith("Click to capture")


def test_killed_vm_process_is_not_called_a_guest_crash(open_console, qtbot):
    host = ProcessHost(MachineConfig(floppies=(DEMO_IMAGE,), read_only=True))
    window = open_console(host, confirm=True)
    qtbot.waitUntil(lambda: host.state is ev.RunState.RUNNING, timeout=8000)
    os.kill(host.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: shown_box(window) is not None, timeout=5000)
    box = shown_box(window)
    assert "guest" not in box.windowTitle().casefold()
    assert "crash" not in box.windowTitle().casefold()
    assert box.windowTitle() == "Box: VM process ended"
    assert "The VM process ended unexpectedly (killed by signal 9)" in box.text()
    assert window.state_label.text() == "Aborted"
    assert "Crashed" not in window.windowTitle()
    box.close()


def test_a_real_guest_crash_still_says_so(open_console, qtbot, test_guests):
    window = open_console(ThreadHost(MachineConfig(floppies=(test_guests / "invalid.img",),
                                                   read_only=True)), confirm=True)
    qtbot.waitUntil(lambda: shown_box(window) is not None, timeout=8000)
    box = shown_box(window)
    assert box.windowTitle() == "Guest crashed"
    assert "invalid opcode" in box.text()
    assert window.state_label.text() == "Crashed"
    box.close()
