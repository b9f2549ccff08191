"""The soak's driver (tools/soak/child.py) inside a real Qt application: it reports a
message box that stands where the manager window should be, and it finds the manager."""

from __future__ import annotations

import argparse

from PySide6.QtWidgets import QMessageBox

from tools.soak.child import Driver, Recorder
from vmgui.ui.manager import ManagerWindow


def _driver(tmp_path, mode="soak") -> Driver:
    args = argparse.Namespace(mode=mode, vm=["A"], inject_none_leak=0)
    return Driver(args, Recorder(tmp_path))


def test_a_message_box_instead_of_the_manager_fails_the_run(qtbot, tmp_path):
    box = QMessageBox(QMessageBox.Icon.Critical, "vmgui", "PySide6 6.12.0 corrupts None")
    qtbot.addWidget(box)
    box.show()
    driver = _driver(tmp_path)
    driver._tick()
    driver.rec.close()
    assert driver.exit_code == 3 and not box.isVisible()
    events = (tmp_path / "events.log").read_text()
    assert "FAILED: a message box instead of the manager: PySide6 6.12.0 corrupts None" \
        in events


def test_the_manager_window_is_found_and_kept_free_of_dialogs(qtbot, tmp_path, library):
    window = ManagerWindow(library, create_demo=False)
    qtbot.addWidget(window)
    window.show()
    driver = _driver(tmp_path, mode="cycles")
    driver._tick()
    driver.rec.close()
    assert driver.window is window and driver.exit_code == 0
    assert window.confirm is False  # errors go to the status bar, not a modal box
    assert "manager window found" in (tmp_path / "events.log").read_text()
