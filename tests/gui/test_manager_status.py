"""What the manager shows about each VM, checked as a new user met it: clicking a row,
saved states (shown, discarded, a resume that failed), VMs another process runs (the run
lock), questions naming their VM, the window title, the list's state line, and changes
made to the library from outside (the CLI)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from vmgui.config.library import Library
from vmgui.config.runlock import RunLock, VmBusyError, running_pid
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import saved_state_path
from vmgui.core import events as ev
from vmgui.ui.manager import ManagerWindow
from vmgui.ui.manager.icons import DEMO_IMAGE
from vmgui.ui.manager.vmlist import STATE_TEXT_ROLE

REPO = Path(__file__).resolve().parents[2]
ECHO = REPO / "tests" / "guests" / "echo.img"


@pytest.fixture
def make_manager(qtbot, tmp_path):
    made: list[ManagerWindow] = []

    def make(library: Library | None = None, confirm: bool = False) -> ManagerWindow:
        window = ManagerWindow(library, confirm=confirm, create_demo=False,
                               screenshots_dir=tmp_path / "shots")
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:  # closed here, not by qtbot: a closing window may ask (confirm)
        window.confirm = False
        window.close()
        window.deleteLater()


@pytest.fixture
def other_process():
    """Factory: ``hold(folder)`` -> a separate Python process holding the VM's run lock,
    as ``vmgui start`` does.  Killed at teardown."""
    procs: list[subprocess.Popen] = []
    code = ("import sys; from pathlib import Path; from vmgui.config.runlock import RunLock; "
            "lock = RunLock.acquire(Path(sys.argv[1]), 'vm'); print('locked', flush=True); "
            "sys.stdin.read()")

    def hold(folder: Path) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=REPO, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        proc.stdout.close()
        proc.stdin.close()


def add_vm(library: Library, name: str, image: Path = DEMO_IMAGE, **kw) -> Path:
    return library.create(VmConfig(name, floppy_a=Attachment(str(image), read_only=True),
                                   **kw)).folder


def row_text(window: ManagerWindow, name: str) -> str:
    return window.model.index(window.model.row_of(name)).data(STATE_TEXT_ROLE) or ""


def wait_running(qtbot, host) -> None:
    def running() -> bool:
        host.poll_events()
        return host.state is ev.RunState.RUNNING

    qtbot.waitUntil(running, timeout=8000)


def screen_text(host) -> str:
    host.poll_events()
    try:
        return "\n".join(host.text_lines())
    except RuntimeError:
        return ""


# ---------------------------------------------------------------------- 1. selection
def test_clicking_another_row_shows_that_vm(library, make_manager, qtbot):
    for name in ("Alpha", "Beta", "Gamma"):
        add_vm(library, name)
    window = make_manager()
    assert window.selected_name() == "Alpha"
    for row, name in ((1, "Beta"), (2, "Gamma"), (0, "Alpha")):
        rect = window.list.visualRect(window.proxy.index(row, 0))
        QTest.mouseClick(window.list.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, rect.center())
        assert window.selected_name() == name
        assert window.details.title.text() == name
        assert window.details.fields["state"].text() == "Powered off"
        assert window.actions["start"].isEnabled()
        assert window.actions["settings"].isEnabled()


# ---------------------------------------------------------------------- 2. saved state
def test_saved_state_is_shown_and_can_be_discarded(library, make_manager, monkeypatch):
    saved = add_vm(library, "Saved one")
    add_vm(library, "Plain")
    saved_state_path(saved).write_bytes(b"state")
    window = make_manager(confirm=True)
    assert row_text(window, "Saved one") == "Saved"
    assert row_text(window, "Plain") == "Powered off"
    assert window.select("Plain")
    assert not window.actions["discard"].isEnabled()
    assert window.select("Saved one")
    assert window.details.fields["state"].text() == "Saved"
    assert "Start resumes it" in window.details.notice.text()
    assert window.actions["start"].isEnabled() and window.actions["discard"].isEnabled()
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, title, *a: (
        asked.append(title), QMessageBox.StandardButton.No)[1])
    window.actions["discard"].trigger()  # asks first; No keeps the file
    assert asked == ["Discard the saved state of Saved one"]
    assert saved_state_path(saved).is_file()
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a: QMessageBox.StandardButton.Yes)
    window.actions["discard"].trigger()
    assert not saved_state_path(saved).exists()
    assert row_text(window, "Saved one") == "Powered off"
    assert window.details.fields["state"].text() == "Powered off"
    assert not window.details.notice.isVisible()
    assert not window.actions["discard"].isEnabled()


def test_save_state_in_the_console_shows_saved_in_the_list(library, make_manager, qtbot,
                                                          tmp_path):
    image = tmp_path / "echo.img"
    shutil.copy(ECHO, image)
    folder = add_vm(library, "Saver", image)
    window = make_manager()
    vm = window.start_vm("Saver")
    qtbot.waitUntil(lambda: "READY" in screen_text(vm.host), timeout=10000)
    assert vm.console.save_state_and_power_off()
    assert saved_state_path(folder).is_file()
    qtbot.waitUntil(lambda: row_text(window, "Saver") == "Saved", timeout=5000)
    assert window.details.fields["state"].text() == "Saved"


def test_a_saved_state_that_cannot_be_loaded_is_reported(library, make_manager, qtbot):
    folder = add_vm(library, "Broken save")
    saved_state_path(folder).write_bytes(b"not a machine state")
    window = make_manager()
    vm = window.start_vm("Broken save")
    qtbot.waitUntil(lambda: "booted afresh" in (window.last_error or ""), timeout=10000)
    assert "Broken save could not resume from its saved state" in window.last_error
    assert "file is kept" in window.last_error and "Discard Saved State" in window.last_error
    assert "booted afresh" in window.statusBar().currentMessage()
    assert saved_state_path(folder).is_file()
    wait_running(qtbot, vm.host)
    window.power_off_vm("Broken save")
    assert row_text(window, "Broken save") == "Saved"
    assert window.select("Broken save")
    assert "could not resume" in window.details.notice.text()
    assert window.discard_saved_state("Broken save")
    assert not saved_state_path(folder).exists()
    assert window.details.notice.text() == ""


def test_a_failed_resume_opens_a_warning_in_dialog_mode(library, make_manager, qtbot):
    folder = add_vm(library, "Loud")
    saved_state_path(folder).write_bytes(b"garbage")
    window = make_manager()
    window.confirm = True  # the console's close questions are not reached here

    def warning_box():
        boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
        return boxes[0] if boxes else None

    window.start_vm("Loud")
    qtbot.waitUntil(lambda: warning_box() is not None, timeout=10000)
    box = warning_box()
    assert box.windowTitle() == "Loud: saved state not loaded"
    assert "booted afresh" in box.text()
    box.close()


# ---------------------------------------------------------------------- 4. run lock
def test_vm_run_by_another_process_is_shown_and_not_started_again(
        library, make_manager, other_process, qtbot):
    folder = add_vm(library, "Shared")
    window = make_manager()
    assert row_text(window, "Shared") == "Powered off"
    proc = other_process(folder)  # vmgui start Shared, in another process
    # noticed by the periodic refresh
    qtbot.waitUntil(lambda: row_text(window, "Shared") == f"Running (process {proc.pid})",
                    timeout=5000)
    assert window.details.fields["state"].text() == f"Running (process {proc.pid})"
    assert "another vmgui process" in window.details.notice.text()
    for key in ("start", "remove", "export", "discard", "snapshot", "clone"):
        assert not window.actions[key].isEnabled(), key
    window.show_tab(1)
    assert not window.snapshots.actions["take"].isEnabled()  # its disks are in use
    window.show_tab(0)
    assert str(proc.pid) in window.actions["start"].toolTip()
    assert window.start_vm("Shared") is None  # refused, not a second VM on the same disks
    assert f"already running (process {proc.pid})" in window.last_error
    assert window.runner.get("Shared") is None
    dialog = window.open_settings("Shared")
    assert not dialog.general.name.isEnabled() and not dialog.general.tryout.isEnabled()
    dialog.reject()
    proc.kill()
    proc.wait(5)
    qtbot.waitUntil(lambda: row_text(window, "Shared") == "Powered off", timeout=5000)
    assert window.actions["start"].isEnabled()


def test_the_manager_holds_the_run_lock_while_its_vm_runs(library, make_manager, qtbot,
                                                          tmp_path):
    folder = add_vm(library, "Mine")
    window = make_manager()
    vm = window.start_vm("Mine")
    wait_running(qtbot, vm.host)
    assert running_pid(folder) == os.getpid()
    with pytest.raises(VmBusyError, match="Mine is already running"):
        RunLock.acquire(folder, "Mine")  # what `vmgui start Mine` meets
    assert row_text(window, "Mine") == "Running"  # its own lock: not "another process"
    window.power_off_vm("Mine")
    assert running_pid(folder) is None
    RunLock.acquire(folder, "Mine").release()
    # a start that fails gives the lock back
    library.create(VmConfig("Missing", floppy_a=Attachment(str(tmp_path / "gone.img"))))
    window.reload()
    assert window.start_vm("Missing") is None
    assert running_pid(library.get("Missing").folder) is None
    RunLock.acquire(library.get("Missing").folder, "Missing").release()


def test_a_killed_vm_process_gives_the_lock_back(library, make_manager, qtbot):
    folder = add_vm(library, "Victim")
    window = make_manager()
    vm = window.start_vm("Victim")
    wait_running(qtbot, vm.host)
    os.kill(vm.host.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: running_pid(folder) is None, timeout=5000)
    assert "ended unexpectedly" in row_text(window, "Victim")
    RunLock.acquire(folder, "Victim").release()  # `vmgui start Victim` may run it now


# ---------------------------------------------------------------------- 7. small ones
def test_window_title_names_vmgui_once(make_manager, library):
    app = QApplication.instance()
    before = app.applicationDisplayName()
    app.setApplicationDisplayName("vmgui")  # as vmgui.app sets it
    try:
        title = make_manager(library).windowTitle()
    finally:
        app.setApplicationDisplayName(before)
    # X11/Wayland/Windows append " — <display name>" unless the title ends with it
    shown = title if title.endswith("vmgui") else f"{title} — vmgui"
    assert shown.count("vmgui") == 1, shown
    assert "Virtual Machine Manager" in shown


def test_power_off_and_reset_questions_name_the_vm(library, make_manager, qtbot,
                                                   monkeypatch):
    add_vm(library, "Asked")
    window = make_manager(confirm=True)
    vm = window.start_vm("Asked")
    wait_running(qtbot, vm.host)
    titles: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, title, *a: (
        titles.append(title), QMessageBox.StandardButton.No)[1])
    window.power_off_vm("Asked")
    window.reset_vm("Asked")
    assert titles == ["Power off Asked", "Reset Asked"]
    assert window.runner.is_running("Asked")


def test_inaccessible_reason_is_cut_at_the_end_with_the_whole_in_the_tooltip(
        library, make_manager):
    from vmgui.ui.manager.vmlist import elided_state

    folder = add_vm(library, "Broken")
    (folder / "vm.toml").write_text('name = "Broken"\nmemory_mb = "lots"\n')
    window = make_manager()
    index = window.model.index(window.model.row_of("Broken"))
    text = index.data(STATE_TEXT_ROLE)
    assert text.startswith("Inaccessible: ") and "'lots'" in text
    metrics = QFontMetrics(window.list.font())
    shown = elided_state(metrics, text, metrics.horizontalAdvance(text) // 2)
    assert shown.startswith("Inaccessible: ") and shown.endswith("…")
    assert text in index.data(Qt.ItemDataRole.ToolTipRole)


# ---------------------------------------------------------------------- 8. outside changes
def test_vms_created_and_changed_from_outside_appear_without_refresh(library, make_manager,
                                                                     qtbot):
    add_vm(library, "First")
    window = make_manager()
    cli = Library(library.root)  # another process: the CLI
    add_vm(cli, "Second")
    qtbot.waitUntil(lambda: window.model.row_of("Second") >= 0, timeout=5000)
    entry = cli.get("First")
    entry.config.notes = "changed by the CLI"
    cli.save(entry.config, entry.folder)
    assert window.select("First")
    qtbot.waitUntil(lambda: window.details.fields["notes"].text() == "changed by the CLI",
                    timeout=5000)
    saved_state_path(entry.folder).write_bytes(b"state")  # vmgui control First savestate
    qtbot.waitUntil(lambda: row_text(window, "First") == "Saved", timeout=5000)
