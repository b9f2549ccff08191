"""``vmgui start --headless`` and ``vmgui control`` as a user runs them: subprocesses on a
fresh library (``VMGUI_HOME``), the echo guest on a copy of its floppy."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.integration.runner import vmgui
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.host.control import ControlError, ControlServer, MachineHost, NotRunning, probe

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "guests" / "echo.img"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (not yet reaped by its new parent) counts as ended
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture
def echo_vm(tmp_path):
    """(home, name, folder) of a library VM booting a copy of echo.img; killed at teardown
    if a test left it running."""
    home = tmp_path / "machines"
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    entry = Library(home).create(VmConfig("echo", floppy_a=Attachment(str(floppy))))
    yield home, "echo", entry.folder
    try:
        pid = probe(entry.folder / "control.sock")["pid"]
    except (NotRunning, OSError):
        return
    os.kill(pid, 15)


def test_start_control_poweroff(echo_vm, tmp_path):
    home, name, folder = echo_vm
    sock = folder / "control.sock"
    out = ok(vmgui(home, "start", name, "--headless"))
    pid = int(out.split("pid ")[1].rstrip(")\n"))
    assert pid_alive(pid)
    assert (folder / "logs" / "vm.log").is_file()

    again = vmgui(home, "start", name, "--headless")
    assert again.returncode == 2 and "already running" in again.stderr

    ok(vmgui(home, "control", name, "wait-text", "READY"))
    ok(vmgui(home, "control", name, "type", "a"))
    ok(vmgui(home, "control", name, "wait-text", "1E61", "--timeout", "10"))
    shot = tmp_path / "shot.png"
    assert ok(vmgui(home, "control", name, "screenshot", shot)).strip() == str(shot)
    with Image.open(shot) as image:
        assert (image.format, image.size) == ("PNG", (640, 400))
    assert "READY" in ok(vmgui(home, "control", name, "text"))

    status = ok(vmgui(home, "control", name, "status"))
    assert f"{name}: running (pid {pid}" in status
    listing = ok(vmgui(home, "list", "--running"))
    assert f"[running, pid {pid}]" in listing

    ok(vmgui(home, "control", name, "pause"))
    assert ": paused" in ok(vmgui(home, "control", name, "status"))
    ok(vmgui(home, "control", name, "resume"))
    assert ": running" in ok(vmgui(home, "control", name, "status"))

    timed_out = vmgui(home, "control", name, "wait-text", "NEVER THERE", "--timeout", "0.5")
    assert timed_out.returncode == 3, timed_out.stderr
    assert "READY" in timed_out.stderr  # the screen at the time-out
    bad_key = vmgui(home, "control", name, "keys", "nosuchkey")
    assert bad_key.returncode == 2 and "Traceback" not in bad_key.stderr

    state = tmp_path / "echo.state"
    ok(vmgui(home, "control", name, "savestate", state))
    assert state.stat().st_size > 0

    ok(vmgui(home, "control", name, "poweroff"))
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
    assert not sock.exists()
    gone = vmgui(home, "control", name, "status")
    assert gone.returncode == 2
    assert f"{name} is not running (no control socket)" in gone.stderr
    assert "No running VMs" in ok(vmgui(home, "list", "--running"))


def test_unknown_vm_and_usage(echo_vm):
    home, name, _folder = echo_vm
    unknown = vmgui(home, "control", "nope", "status")
    assert unknown.returncode == 2 and "no VM called 'nope'" in unknown.stderr
    not_running = vmgui(home, "control", name, "pause")
    assert not_running.returncode == 2 and "is not running" in not_running.stderr
    assert vmgui(home, "control", name, "frobnicate").returncode == 2
    assert vmgui(home, "start", "nope", "--headless").returncode == 2


def test_stale_socket_replaced_and_clone(echo_vm):
    home, name, folder = echo_vm
    sock = folder / "control.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))  # a crashed run's leftover: bound, nobody listening
    stale.close()
    assert sock.exists()
    ok(vmgui(home, "start", name, "--headless"))
    ok(vmgui(home, "control", name, "wait-text", "READY"))
    refused = vmgui(home, "clone", name, "copy")
    assert refused.returncode == 2 and "running" in refused.stderr
    ok(vmgui(home, "control", name, "poweroff"))
    assert not sock.exists()
    ok(vmgui(home, "clone", name, "copy"))
    assert Library(home).get("copy").config.floppy_a is not None


def test_live_socket_not_taken_over(tmp_path):
    path = tmp_path / "control.sock"
    first = ControlServer(MachineHost(), path, name="one")
    first.start()
    try:
        with pytest.raises(ControlError, match="already listening"):
            ControlServer(MachineHost(), path, name="two").start()
        assert probe(path)["name"] == "one"
    finally:
        first.close()
    assert not path.exists()


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                    reason="needs root to run a client as another user")
def test_socket_private_to_the_user():
    top = Path(tempfile.mkdtemp(prefix="vmgui-ctl-"))  # not under pytest's 0700 folders
    folder = top / "vm"
    folder.mkdir()
    os.chmod(top, 0o755)  # others may reach the folder: only the socket's mode guards it
    os.chmod(folder, 0o755)
    path = folder / "control.sock"
    server = ControlServer(MachineHost(), path, name="vm")
    server.start()
    try:
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.getuid()
        assert probe(path)["name"] == "vm"  # the owner connects
        assert _connect_as_nobody(path) == "PermissionError"
        os.chmod(path, 0o666)  # the control: with a world-writable mode nobody gets in
        assert _connect_as_nobody(path) == "connected"
    finally:
        server.close()
        shutil.rmtree(top, ignore_errors=True)


def _connect_as_nobody(path: Path) -> str:
    code = ("import socket\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n"
            f"    s.connect({str(path)!r})\n"
            "    print('connected')\n"
            "except OSError as exc:\n"
            "    print(type(exc).__name__)\n")
    other = subprocess.run([_world_python(), "-I", "-c", code], preexec_fn=_drop_privileges,
                           capture_output=True, text=True, timeout=30, cwd="/")
    assert other.returncode == 0, other.stderr
    return other.stdout.strip()


def _world_python() -> str:
    """A Python interpreter user nobody may run (ours may sit in root's home)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        if os.path.exists(candidate) and os.stat(candidate).st_mode & 0o001:
            return candidate
    pytest.skip("no Python interpreter another user may run")


def _drop_privileges() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 15
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)


def test_savestate_powers_off_and_headless_start_resumes_there(echo_vm):
    """`vmgui control NAME savestate` (no FILE) is VirtualBox's `controlvm savestate`: the
    VM stops at the saved instant; `vmgui start NAME --headless` continues from it."""
    home, name, folder = echo_vm
    state = folder / "saved.state"
    pid = int(ok(vmgui(home, "start", name, "--headless")).split("pid ")[1].rstrip(")\n"))
    ok(vmgui(home, "control", name, "wait-text", "READY"))
    ok(vmgui(home, "control", name, "type", "q"))
    ok(vmgui(home, "control", name, "wait-text", "1071", "--timeout", "10"))
    screen = ok(vmgui(home, "control", name, "text"))
    assert ok(vmgui(home, "control", name, "savestate")).strip() == str(state)
    _wait_gone(pid)  # the command returns once the process has ended
    assert state.stat().st_size > 0 and not (folder / "control.sock").exists()

    pid = int(ok(vmgui(home, "start", name, "--headless")).split("pid ")[1].rstrip(")\n"))
    ok(vmgui(home, "control", name, "wait-text", "1071", "--timeout", "10"))  # not retyped
    assert ok(vmgui(home, "control", name, "text")) == screen
    deadline = time.monotonic() + 10
    while state.exists() and time.monotonic() < deadline:  # resumed: the file goes
        time.sleep(0.05)
    assert not state.exists()
    ok(vmgui(home, "control", name, "type", "a"))  # and it goes on from there
    ok(vmgui(home, "control", name, "wait-text", "1E61", "--timeout", "10"))
    ok(vmgui(home, "control", name, "poweroff"))
    _wait_gone(pid)


def test_headless_try_out_vm_runs_on_throwaway_overlays(echo_vm):
    home, name, folder = echo_vm
    import dataclasses

    entry = Library(home).get(name)
    Library(home).save(dataclasses.replace(entry.config, tryout=True), entry.folder)
    floppy = Path(entry.config.floppy_a.path)
    before = floppy.read_bytes()
    pid = int(ok(vmgui(home, "start", name, "--headless")).split("pid ")[1].rstrip(")\n"))
    ok(vmgui(home, "control", name, "wait-text", "READY"))
    session = folder / "tryout"
    assert any(session.glob("*.cow")) and (session / "owner").is_file()
    refused = vmgui(home, "control", name, "savestate")
    assert refused.returncode == 2 and "try-out mode" in refused.stderr
    assert pid_alive(pid)
    ok(vmgui(home, "control", name, "poweroff"))
    _wait_gone(pid)
    assert not session.exists() and floppy.read_bytes() == before
