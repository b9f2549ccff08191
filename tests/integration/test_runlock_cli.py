"""One process runs a library VM at a time: ``vmgui run NAME``, ``vmgui start NAME``
(headless: the VM process; window: the window's process) and the VM process itself take
the VM's run lock (vmgui.config.runlock) and refuse, with exit status 2 and a message, a
VM another process runs.  Subprocesses on a fresh library (``VMGUI_HOME``), the echo
guest on a copy of its floppy; a VM "running elsewhere" is this test process holding the
lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.runner import vmgui
from vmgui.config.library import Library
from vmgui.config.runlock import RunLock, running_pid
from vmgui.config.schema import Attachment, VmConfig
from vmgui.host.control import NotRunning, probe

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "guests" / "echo.img"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def busy(result: subprocess.CompletedProcess[str], pid: int) -> str:
    """Refused because process ``pid`` runs the VM: exit 2, the message, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert f"echo is already running (process {pid})" in result.stderr, result.stderr
    return result.stderr


@pytest.fixture
def echo_vm(tmp_path):
    """(home, folder, floppy) of a library VM "echo" booting a copy of echo.img; its VM
    process is stopped at teardown if a test left it running."""
    home = tmp_path / "machines"
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    entry = Library(home).create(VmConfig("echo", floppy_a=Attachment(str(floppy))))
    yield home, entry.folder, floppy
    try:
        pid = probe(entry.folder / "control.sock")["pid"]
    except (NotRunning, OSError):
        return
    os.kill(pid, 15)


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 15
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_vmgui_run_refuses_a_vm_another_process_runs(echo_vm):
    home, folder, floppy = echo_vm
    with RunLock.acquire(folder, "echo"):
        busy(vmgui(home, "run", "echo", "--wait-text", "READY"), os.getpid())
        # a bare image file is not a library VM: no lock is taken for it
        ok(vmgui(home, "run", floppy, "--read-only", "--wait-text", "READY"))
    ok(vmgui(home, "run", "echo", "--wait-text", "READY"))
    assert running_pid(folder) is None  # let go when it ended


def test_start_refuses_a_vm_another_process_runs(echo_vm):
    home, folder, _floppy = echo_vm
    with RunLock.acquire(folder, "echo"):
        busy(vmgui(home, "start", "echo", "--headless"), os.getpid())
        busy(vmgui(home, "start", "echo", QT_QPA_PLATFORM="offscreen"), os.getpid())
        vm_process = subprocess.run(
            [sys.executable, "-m", "vmgui.host.vmprocess", "--vm", "echo", "--home", home],
            capture_output=True, text=True, timeout=60, cwd=ROOT)
        busy(vm_process, os.getpid())
        assert not (folder / "control.sock").exists()


def test_headless_vm_process_holds_the_lock_until_it_ends(echo_vm):
    home, folder, _floppy = echo_vm
    pid = int(ok(vmgui(home, "start", "echo", "--headless")).split("pid ")[1].rstrip(")\n"))
    try:
        assert running_pid(folder) == pid
        busy(vmgui(home, "run", "echo", "--wait-text", "READY"), pid)
        listing = ok(vmgui(home, "list", "--running"))
        assert f"[running, pid {pid}]" in listing
        ok(vmgui(home, "control", "echo", "wait-text", "READY"))
        # settings change for the next start; a saved state now could not be resumed then
        assert "the changes take effect at its next start" in ok(
            vmgui(home, "modify", "echo", "--tryout"))
        refused = vmgui(home, "control", "echo", "savestate")
        assert refused.returncode == 2 and "try-out mode" in refused.stderr
    finally:
        ok(vmgui(home, "control", "echo", "poweroff"))
    wait_gone(pid)
    assert running_pid(folder) is None
    assert "next start" not in ok(vmgui(home, "modify", "echo", "--no-tryout"))
    ok(vmgui(home, "run", "echo", "--wait-text", "READY"))


def test_snapshot_clone_export_refused_while_vmgui_run_runs_it(echo_vm, tmp_path):
    """``vmgui run NAME`` serves no control socket: its run lock tells that it runs."""
    home, folder, _floppy = echo_vm
    with RunLock.acquire(folder, "echo"):
        for args, doing in ((("snapshot", "echo", "take", "x"), "changing its snapshots"),
                            (("clone", "echo", "copy"), "cloning it"),
                            (("export", "echo", tmp_path / "echo.tar"), "exporting it")):
            result = vmgui(home, *args)
            assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
            assert f"echo is running (process {os.getpid()}); power it off before {doing}" \
                in result.stderr
        listing = ok(vmgui(home, "list", "--running"))
        assert f"echo  [running, pid {os.getpid()}]" in listing
    assert not (tmp_path / "echo.tar").exists() and not (home / "copy").exists()
    assert "No running VMs" in ok(vmgui(home, "list", "--running"))


def test_delete_and_rename_are_refused_while_the_vm_runs(echo_vm):
    home, folder, _floppy = echo_vm
    with RunLock.acquire(folder, "echo"):
        for args in (("delete", "echo"), ("modify", "echo", "--rename", "other")):
            result = vmgui(home, *args)
            assert result.returncode == 2 and "Traceback" not in result.stderr
            assert f"echo is running (process {os.getpid()}); power it off before" \
                in result.stderr, result.stderr
            assert (folder / "vm.toml").is_file()
    ok(vmgui(home, "modify", "echo", "--rename", "other"))
    ok(vmgui(home, "delete", "other"))
    assert not folder.exists()
