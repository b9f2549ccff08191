"""``vmgui import`` of what is not an archive file and ``vmgui export`` over an existing
path, from the command line (issue 12).  Each command runs as a subprocess with a
generous limit: only a hang reaches it."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from tests.integration.runner import ECHO, LIMIT_S, refused, vmgui
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig


# ---------------------------------------------------------------------- import, export
@pytest.fixture
def home(tmp_path) -> Path:
    """A library with the VM "Box" on a copy of echo.img."""
    home = tmp_path / "machines"
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    Library(home).create(VmConfig("Box", floppy_a=Attachment(str(floppy))))
    return home


def test_import_of_what_is_not_an_archive_file_says_what_it_is(home, tmp_path):
    fifo = tmp_path / "box.tar"
    os.mkfifo(fifo)
    refused(vmgui(home, "import", fifo, timeout=LIMIT_S),
            f"vmgui import: {fifo}: is a FIFO, not an archive file")
    refused(vmgui(home, "import", tmp_path, timeout=LIMIT_S),
            f"vmgui import: {tmp_path}: is a directory, not an archive file")
    if os.path.exists("/dev/zero"):
        refused(vmgui(home, "import", "/dev/zero", timeout=LIMIT_S),
                "vmgui import: /dev/zero: is a character device, not an archive file")
    assert [p.name for p in home.iterdir()] == ["Box"]


def test_export_refuses_an_existing_file_unless_forced(home, tmp_path):
    target = tmp_path / "box.tar"
    target.write_text("keep me")
    refused(vmgui(home, "export", "Box", target, timeout=LIMIT_S),
            f"vmgui export: {target}: already exists; not replacing it (--force replaces "
            "it)")
    assert target.read_text() == "keep me"
    forced = vmgui(home, "export", "Box", target, "--force", timeout=LIMIT_S)
    assert forced.returncode == 0, forced.stderr
    with tarfile.open(target) as tar:
        assert "manifest.json" in tar.getnames()


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_export_never_replaces_a_fifo_a_folder_or_a_link_to_a_device(home, tmp_path, force):
    fifo, folder, link = tmp_path / "fifo", tmp_path / "folder", tmp_path / "link"
    os.mkfifo(fifo)
    folder.mkdir()
    link.symlink_to(os.devnull)
    for target, what in [(fifo, "is a FIFO"), (folder, "is a directory"),
                         (link, "is a symbolic link to a character device")]:
        refused(vmgui(home, "export", "Box", target, *force, timeout=LIMIT_S),
                f"vmgui export: {target}: {what}; an export replaces only a regular file, "
                "so nothing was written")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and folder.is_dir() and not any(
        folder.iterdir())
    assert os.readlink(link) == os.devnull
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
