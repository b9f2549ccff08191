"""Bad input from a user's (or an attacker's) files gets a one-line message and exit
status 2 from the command line, never a traceback or a hang; the other VMs of the
library stay usable.  Subprocesses on a fresh library (``VMGUI_HOME``); a hang shows as a
``TimeoutExpired`` failure."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from tests.archives import craft, member
from tests.integration.runner import ECHO, LIMIT_S, refused, vmgui
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_device_disks(tmp_path):
    home = tmp_path / "machines"
    fifo = tmp_path / "fifo.img"
    os.mkfifo(fifo)
    library = Library(home)
    library.create(VmConfig("Good"))
    library.create(VmConfig("Fifo", hard_disks=[Attachment(str(fifo))]))
    library.create(VmConfig("Zero", hard_disks=[Attachment("/dev/zero")]))
    listing = vmgui(home, "list", timeout=LIMIT_S)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert f"inaccessible: disk '{fifo}' is not a regular file (FIFO)" in lines["Fifo"]
    assert "inaccessible: disk '/dev/zero' is not a regular file (character device)" \
        in lines["Zero"]
    assert "16 MB" in lines["Good"]
    zero = "disk '/dev/zero' is not a regular file (character device)"
    refused(vmgui(home, "export", "Zero", tmp_path / "z.tar", timeout=LIMIT_S), zero)
    refused(vmgui(home, "clone", "Zero", "Copy", timeout=LIMIT_S), zero)
    refused(vmgui(home, "run", "Zero", "--wait-text", "x", timeout=LIMIT_S), zero)
    not_fifo = f"disk '{fifo}' is not a regular file (FIFO)"
    refused(vmgui(home, "run", "Fifo", "--wait-text", "x", timeout=LIMIT_S), not_fifo)
    refused(vmgui(home, "run", fifo, "--wait-text", "x", timeout=LIMIT_S), not_fifo)
    refused(vmgui(home, "start", "Fifo", "--headless", timeout=LIMIT_S), not_fifo)
    refused(vmgui(home, "create", "F2", "--hdd", fifo, timeout=LIMIT_S),
            f"--hdd: image '{fifo}' is not a regular file (FIFO)")
    assert sorted(p.name for p in home.iterdir()) == ["Fifo", "Good", "Zero"]
    assert not (tmp_path / "z.tar").exists()


def test_damaged_files_are_messages_and_the_list_keeps_the_other_vms(tmp_path):
    home = tmp_path / "machines"
    Library(home).create(VmConfig("Good"))
    texts = {"Deep": 'name = "Deep"\nx = ' + "[" * 50_000 + "]" * 50_000 + "\n",
             "Nul": 'name = "Nul"\n[[hard_disks]]\npath = "a\\u0000b"\n',
             "Long": f'name = "Long"\n[[hard_disks]]\npath = "{"a" * 5000}"\n'}
    for name, text in texts.items():
        (home / name).mkdir()
        (home / name / "vm.toml").write_text(text)
    (home / "Good" / "snapshots" / "snapshots.toml").write_text(
        "version = 1\nx = " + "[" * 50_000 + "]" * 50_000 + "\n")
    listing = vmgui(home, "list", timeout=LIMIT_S)
    assert listing.returncode == 0 and listing.stderr == "", listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert "inaccessible:" in lines["Deep"] and "nested too deeply" in lines["Deep"]
    assert "contains control characters (U+0000)" in lines["Nul"]
    assert "is 5000 characters long (at most 4096)" in lines["Long"]
    assert "16 MB" in lines["Good"]
    refused(vmgui(home, "run", "Nul", timeout=LIMIT_S), "VM 'Nul' is inaccessible")
    refused(vmgui(home, "snapshot", "Good", "list", timeout=LIMIT_S),
            "snapshots.toml: nested too deeply to be read")
    refused(vmgui(home, "run", "x" * 5000, timeout=LIMIT_S),
            "the path is 5000 characters long")
    deep = tmp_path / "deep.tar"
    with tarfile.open(deep, "w") as tar:
        data = b"[" * 50_000 + b"]" * 50_000
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    refused(vmgui(home, "import", deep, timeout=LIMIT_S),
            "not a vmgui VM archive (manifest.json: nested too deeply to be read")


def test_import_refuses_a_vm_reaching_into_another(tmp_path):
    """The issue's reproduction: an archived vm.toml attaching another VM's disk."""
    source, home = tmp_path / "source", tmp_path / "machines"
    assert vmgui(source, "create", "Demo", "--new-hdd", "1").returncode == 0
    assert vmgui(home, "create", "Other", "--new-hdd", "1").returncode == 0
    archive = tmp_path / "demo.tar"
    assert vmgui(source, "export", "Demo", archive).returncode == 0
    text = member(archive, "vm.toml")
    for path, reason in [("../Other/hdd.img", "image path '../Other/hdd.img' leads out of "
                                              "the VM folder"),
                         (str(home / "Other" / "hdd.img"), "(is absolute), which is outside "
                                                           "the VM folder")]:
        evil = craft(archive, tmp_path / "evil.tar",
                     {"vm.toml": text.replace('"hdd.img"', f'"{path}"').encode()})
        message = refused(vmgui(home, "import", evil, timeout=LIMIT_S), reason)
        assert "nothing imported" in message
        assert sorted(p.name for p in home.iterdir()) == ["Other"]


def test_a_timed_out_run_leaves_no_folder_behind(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = vmgui(tmp_path / "machines", "run", ECHO, "--read-only", "--timeout", "0.5",
                   "--wait-text", "NEVER SHOWN", timeout=LIMIT_S, TMPDIR=str(temp))
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "timed out after 0.5 s waiting for 'NEVER SHOWN'" in result.stderr
    assert "screenshot:" not in result.stderr
    assert list(temp.iterdir()) == []


def _echo_vm(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "machines"
    floppy = tmp_path / "echo.img"
    floppy.write_bytes(ECHO.read_bytes())
    folder = Library(home).create(VmConfig("Echo", floppy_a=Attachment(str(floppy)))).folder
    return home, folder


def test_a_link_at_the_run_lock_is_refused(tmp_path):
    home, folder = _echo_vm(tmp_path)
    target = tmp_path / "target.txt"
    target.write_text("precious")
    (folder / "running.lock").unlink(missing_ok=True)
    (folder / "running.lock").symlink_to(target)
    link = "running.lock is a symbolic link, which vmgui does not follow; remove it"
    refused(vmgui(home, "run", "Echo", "--wait-text", "READY", timeout=LIMIT_S), link)
    refused(vmgui(home, "start", "Echo", "--headless", timeout=LIMIT_S), link)
    refused(vmgui(home, "snapshot", "Echo", "take", "s", timeout=LIMIT_S), link)
    assert target.read_text() == "precious"


def test_the_vm_log_is_private_and_never_written_through_a_link(tmp_path):
    home, folder = _echo_vm(tmp_path)
    logs = folder / "logs"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700  # made so with the VM
    logs.chmod(0o755)
    (logs / "vm.log").write_text("an older log\n")
    (logs / "vm.log").chmod(0o644)  # as older versions made it
    target = tmp_path / "target.txt"
    target.write_text("precious")
    (logs / "timeout.png").symlink_to(target)
    assert vmgui(home, "start", "Echo", "--headless", timeout=LIMIT_S).returncode == 0
    try:
        waited = vmgui(home, "control", "Echo", "wait-text", "NEVER", "--timeout", "0.5",
                       timeout=LIMIT_S)
        assert waited.returncode == 3, waited.stderr
    finally:
        assert vmgui(home, "control", "Echo", "poweroff", timeout=LIMIT_S).returncode == 0
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert stat.S_IMODE((logs / "vm.log").stat().st_mode) == 0o600
    assert (logs / "vm.log").read_text().startswith("an older log\n--- ")
    assert target.read_text() == "precious"  # the link was replaced, not followed
    assert not (logs / "timeout.png").is_symlink() and (logs / "timeout.png").is_file()
    (logs / "vm.log").unlink()
    (logs / "vm.log").symlink_to(target)
    refused(vmgui(home, "start", "Echo", "--headless", timeout=LIMIT_S),
            "vm.log is a symbolic link, which vmgui does not follow; remove it")
    shutil.rmtree(logs)
    logs.symlink_to(tmp_path)
    refused(vmgui(home, "start", "Echo", "--headless", timeout=LIMIT_S),
            "logs is a symbolic link, which vmgui does not follow; remove it")
    assert target.read_text() == "precious" and not (tmp_path / "vm.log").exists()
