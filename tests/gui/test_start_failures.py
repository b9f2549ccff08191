"""A VM process that cannot be set up or started is a message, and the VM stays powered off.

``ProcessHost(...)`` needs shared memory (/dev/shm) and a pipe; ``host.start()`` forks
and execs the VM process.  Either can fail with OSError (no /dev/shm, out of descriptors,
out of processes or memory).  The manager's Start and ``vmgui start`` let it through as a
traceback; now the manager reports "Cannot start NAME: NAME: cannot start the VM process
(...)" with the VM powered off, its run lock and try-out folder gone, and ``vmgui start``
prints the same and exits 2 (README: "unable to start").  The failures are simulated by
patching the host's start (and its shared memory) to raise OSError.
"""

from __future__ import annotations

import argparse
import errno
import shutil
from multiprocessing.shared_memory import SharedMemory

import pytest

from vmgui.cli.control import EXIT_USAGE, start_command
from vmgui.config.library import Library
from vmgui.config.runlock import running_pid
from vmgui.config.schema import Attachment, VmConfig
from vmgui.core import events as ev
from vmgui.host import process
from vmgui.host.process import ProcessHost
from vmgui.ui.manager.icons import DEMO_IMAGE
from vmgui.ui.manager.vmlist import STATE_TEXT_ROLE

NO_FORK = OSError(errno.EAGAIN, "Resource temporarily unavailable")


@pytest.fixture
def library(tmp_path, monkeypatch) -> Library:
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path / "home"))
    return Library()


def add_vm(library: Library, name: str, tryout: bool = False):
    entry = library.create(VmConfig(name, floppy_a=Attachment("demo.img"), tryout=tryout))
    shutil.copyfile(DEMO_IMAGE, entry.folder / "demo.img")
    return entry.folder


@pytest.fixture
def failing_start(monkeypatch) -> list[ProcessHost]:
    """``ProcessHost.start`` raises OSError (no fork); the hosts it was called on."""
    hosts: list[ProcessHost] = []

    def start(self) -> None:
        hosts.append(self)
        raise NO_FORK

    monkeypatch.setattr(ProcessHost, "start", start)
    return hosts


def shared_memory_gone(host: ProcessHost) -> bool:
    try:
        SharedMemory(name=host._shm.name).close()
    except FileNotFoundError:
        return True
    return False


@pytest.mark.parametrize("tryout", [False, True])
def test_manager_start_when_the_vm_process_cannot_start(library, manager, failing_start,
                                                       tryout):
    folder = add_vm(library, "Good", tryout=tryout)
    manager.reload(select="Good")
    assert manager.start_vm("Good") is None
    expected = "Good: cannot start the VM process (Resource temporarily unavailable)"
    assert manager.last_error == expected
    assert manager.statusBar().currentMessage() == f"Cannot start Good: {expected}"
    assert manager.runner.running_names() == [] and manager.runner.get("Good") is None
    assert manager.list.currentIndex().data(STATE_TEXT_ROLE) == "Powered off"
    assert manager.actions["start"].isEnabled()
    assert running_pid(folder) is None  # the run lock was let go
    assert not (folder / "tryout").exists()
    [host] = failing_start
    assert shared_memory_gone(host)
    assert host.state is not ev.RunState.RUNNING


def test_manager_start_when_the_shared_memory_cannot_be_made(library, manager, monkeypatch):
    folder = add_vm(library, "Good")
    manager.reload(select="Good")

    def no_shm(*_args, **_kwargs):
        raise OSError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(process, "_SharedVram", no_shm)
    assert manager.start_vm("Good") is None
    assert manager.last_error == ("Good: cannot set up the VM process "
                                  "(No such file or directory)")
    assert manager.runner.running_names() == []
    assert running_pid(folder) is None


def start_args(name: str, headless: bool = False) -> argparse.Namespace:
    return argparse.Namespace(name=name, headless=headless)


def test_cli_start_window_when_the_vm_process_cannot_start(library, qapp, failing_start,
                                                           capsys):
    folder = add_vm(library, "Good")
    assert start_command(start_args("Good")) == EXIT_USAGE == 2
    err = capsys.readouterr().err
    assert err == ("vmgui start: Good: cannot start the VM process "
                   "(Resource temporarily unavailable)\n")
    assert "Traceback" not in err
    [host] = failing_start
    assert shared_memory_gone(host)
    assert running_pid(folder) is None


def test_cli_start_window_when_the_shared_memory_cannot_be_made(library, qapp, monkeypatch,
                                                                capsys):
    add_vm(library, "Good")

    def no_shm(*_args, **_kwargs):
        raise OSError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(process, "_SharedVram", no_shm)
    assert start_command(start_args("Good")) == EXIT_USAGE
    assert capsys.readouterr().err == ("vmgui start: Good: cannot set up the VM process "
                                       "(No such file or directory)\n")


def test_cli_start_headless_when_the_vm_process_cannot_start(library, monkeypatch, capsys):
    folder = add_vm(library, "Good")

    def no_fork(*_args, **_kwargs):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr("vmgui.cli.control.subprocess.Popen", no_fork)
    assert start_command(start_args("Good", headless=True)) == EXIT_USAGE
    assert capsys.readouterr().err == ("vmgui start: Good: cannot start the VM process "
                                       "(Cannot allocate memory)\n")
    assert running_pid(folder) is None
