"""A VM started from the manager window is driven by ``vmgui control`` from another
process, through the control socket its VM process serves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.host.control import socket_path
from vmgui.host.process import ProcessHost
from vmgui.ui.manager import ManagerWindow
from vmgui.ui.manager.running import VmRunner

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "guests" / "echo.img"


def control(home: Path, *args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, VMGUI_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "vmgui.cli.main", "control", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def socket_host_factory(folder: Path):
    """What VmRunner does by default, plus the control socket in the VM folder."""
    def make(machine_config, drives):
        specs = {n: (str(img.path), img.kind, img.read_only) if img is not None else None
                 for n, img in drives.items()}
        for image in drives.values():  # opened by the runner to check them; the VM
            if image is not None:      # process opens its own
                image.close()
        return ProcessHost(machine_config, specs, control_socket=socket_path(folder))
    return make


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("VMGUI_HOME", str(home))
    return home


def test_gui_started_vm_driven_by_control(home, tmp_path, qtbot):
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    library = Library()
    entry = library.create(VmConfig("echo", floppy_a=Attachment(str(floppy))))
    runner = VmRunner(confirm=False, screenshots_dir=tmp_path / "shots",
                      host_factory=socket_host_factory(entry.folder))
    window = ManagerWindow(library, confirm=False, create_demo=False, runner=runner)
    qtbot.addWidget(window)
    window.show()
    try:
        vm = window.start_vm("echo")
        assert vm is not None
        qtbot.waitUntil(lambda: socket_path(entry.folder).exists(), timeout=15000)
        ok(control(home, "echo", "wait-text", "READY", "--timeout", "20"))
        ok(control(home, "echo", "type", "a"))
        ok(control(home, "echo", "wait-text", "1E61", "--timeout", "10"))
        shot = tmp_path / "gui-shot.png"
        ok(control(home, "echo", "screenshot", shot))
        with Image.open(shot) as image:
            assert image.size == (640, 400)
        status = ok(control(home, "echo", "status"))
        assert f"pid {vm.host.pid}" in status  # the manager's VM process answers
        assert any("1E61" in line for line in vm.host.text_lines())  # the GUI sees it too
    finally:
        runner.power_off_all()
    assert not socket_path(entry.folder).exists()
    gone = control(home, "echo", "status")
    assert gone.returncode == 2 and "not running" in gone.stderr


def test_start_console_window_without_manager(home, tmp_path):
    """``vmgui start NAME`` (no --headless): a console window on a VM process; control
    works and power-off by control closes the window and ends the command."""
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    entry = Library().create(VmConfig("echo", floppy_a=Attachment(str(floppy))))
    env = dict(os.environ, VMGUI_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-m", "vmgui.cli.main", "start", "echo"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        ok(control(home, "echo", "wait-text", "READY", "--timeout", "30")
           if _wait_socket(entry.folder, proc) else control(home, "echo", "status"))
        ok(control(home, "echo", "poweroff"))
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert not socket_path(entry.folder).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _wait_socket(folder: Path, proc: subprocess.Popen, timeout: float = 30) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if socket_path(folder).exists():
            return True
        time.sleep(0.05)
    return False


def test_start_console_window_resumes_a_saved_state(home, tmp_path):
    """``vmgui control NAME savestate`` stops a windowed VM at the saved instant; the next
    ``vmgui start NAME`` resumes there (the screen comes back without typing)."""
    import time

    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    entry = Library().create(VmConfig("echo", floppy_a=Attachment(str(floppy))))
    env = dict(os.environ, VMGUI_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    state = entry.folder / "saved.state"

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "vmgui.cli.main", "start", "echo"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert _wait_socket(entry.folder, proc), proc.communicate(timeout=30)
        return proc

    proc = start()
    try:
        ok(control(home, "echo", "wait-text", "READY", "--timeout", "30"))
        ok(control(home, "echo", "type", "q"))
        ok(control(home, "echo", "wait-text", "1071", "--timeout", "10"))
        ok(control(home, "echo", "savestate"))
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert state.stat().st_size > 0
        proc = start()
        ok(control(home, "echo", "wait-text", "1071", "--timeout", "10"))
        deadline = time.monotonic() + 10
        while state.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not state.exists()
        ok(control(home, "echo", "poweroff"))
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
