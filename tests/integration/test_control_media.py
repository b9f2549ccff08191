"""``vmgui control NAME media cdrom|floppy-a|floppy-b FILE|eject`` on a running headless VM
(the pc-pci machine, booting the echo guest from A: with a CD in its drive)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import isos
from tests.integration.runner import refused, vmgui
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.host.control import NotRunning, probe

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "guests" / "echo.img"
ENV = {"PYTHONPATH": str(ROOT)}  # the VM process runs this checkout's vmgui


def ok(result) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


@pytest.fixture
def cd_vm(tmp_path):
    home = tmp_path / "machines"
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    (tmp_path / "first.iso").write_bytes(isos.build_iso(volume_id="FIRST"))
    (tmp_path / "second.iso").write_bytes(isos.build_iso(volume_id="SECOND"))
    (tmp_path / "floppy.img").write_bytes(bytes(1474560))
    entry = Library(home).create(VmConfig(
        "cd", profile="pc-pci", floppy_a=Attachment(str(floppy)),
        cdrom=Attachment(str(tmp_path / "first.iso")), boot_order=["a", "d"]))
    ok(vmgui(home, "start", "cd", "--headless", **ENV))
    yield home, tmp_path
    try:
        pid = probe(entry.folder / "control.sock")["pid"]
    except (NotRunning, OSError):
        return
    os.kill(pid, 15)


def test_insert_eject_and_refusals(cd_vm):
    home, files = cd_vm
    ok(vmgui(home, "control", "cd", "wait-text", "READY", **ENV))
    second = files / "second.iso"
    assert ok(vmgui(home, "control", "cd", "media", "cdrom", second, **ENV)) == \
        f"cd: cdrom: {second}\n"
    assert ok(vmgui(home, "control", "cd", "media", "cdrom", "eject", **ENV)) == \
        "cd: cdrom: ejected\n"
    floppy = files / "floppy.img"
    refused(vmgui(home, "control", "cd", "media", "cdrom", floppy, **ENV),
            f"vmgui control: cd: {floppy} is not an ISO 9660 CD image (no CD001 volume "
            "descriptor at sector 16)")
    refused(vmgui(home, "control", "cd", "media", "cdrom", files / "nope.iso", **ENV),
            "nope.iso: no such file (give an image to insert, or 'eject')")
    assert ok(vmgui(home, "control", "cd", "media", "floppy-a", floppy, "--read-only",
                    **ENV)) == f"cd: floppy-a: {floppy}\n"
    refused(vmgui(home, "control", "cd", "media", "floppy-b", floppy, **ENV),
            "this machine has no floppy drive B:")
    refused(vmgui(home, "control", "cd", "media", "cdrom", second, "--read-only", **ENV),
            "--read-only is for floppies")
    assert vmgui(home, "control", "cd", "media", "zip", "eject", **ENV).returncode == 2
    ok(vmgui(home, "control", "cd", "poweroff", **ENV))
