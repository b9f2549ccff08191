"""Refused snapshot, export and import commands end with a one-line message and exit
status 2, never a traceback: subprocesses as a user runs them, on a fresh library
(``VMGUI_HOME``) with a running VM, an inaccessible one and missing files."""

from __future__ import annotations

import shutil

import pytest

from tests.integration.runner import refused
from tests.integration.test_runlock_cli import ECHO, ok, vmgui, wait_gone
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "machines"
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    Library(home).create(VmConfig("Demo", floppy_a=Attachment(str(floppy))))
    (home / "Broken").mkdir()
    (home / "Broken" / "vm.toml").write_text("this is = = not toml\n")
    return home


def test_refusals_are_messages_not_tracebacks(home, tmp_path):
    refused(vmgui(home, "snapshot", "Broken", "take", "x"), "VM 'Broken' is inaccessible")
    refused(vmgui(home, "export", "Broken", tmp_path / "f"), "VM 'Broken' is inaccessible")
    refused(vmgui(home, "snapshot", "Demo", "discard-state"), "VM 'Demo' has no saved state")
    refused(vmgui(home, "snapshot", "Demo", "restore", "nosuch"), "no snapshot 'nosuch'")
    refused(vmgui(home, "import", tmp_path / "nonexistent.vmgui"),
            f"vmgui import: {tmp_path / 'nonexistent.vmgui'}: no such file")
    refused(vmgui(home, "snapshot", "Ghost", "take", "x"), "no VM called 'Ghost'")
    refused(vmgui(home, "clone", "Broken", "x"), "cannot clone VM 'Broken'")
    assert not (tmp_path / "f").exists()
    assert [p.name for p in (home / "Broken").iterdir()] == ["vm.toml"]  # nothing written


def test_refusals_while_the_vm_runs(home, tmp_path):
    pid = int(ok(vmgui(home, "start", "Demo", "--headless")).split("pid ")[1].rstrip(")\n"))
    try:
        refused(vmgui(home, "snapshot", "Demo", "take", "x"),
                "Demo is running; power it off before changing its snapshots")
        refused(vmgui(home, "snapshot", "Demo", "discard-state"),
                "Demo is running; power it off before changing its snapshots")
        refused(vmgui(home, "export", "Demo", tmp_path / "demo.tar"),
                "Demo is running; power it off before exporting it")
        refused(vmgui(home, "clone", "Demo", "copy"),
                "Demo is running; power it off before cloning it")
        ok(vmgui(home, "snapshot", "Demo", "list"))  # reading is fine
    finally:
        ok(vmgui(home, "control", "Demo", "poweroff"))
    wait_gone(pid)  # the VM process has let go of the run lock
    ok(vmgui(home, "snapshot", "Demo", "take", "x"))
