"""Only regular files are disk images (vmgui.storage.image.check_regular / open_regular):
a FIFO or a device attached as a disk is refused with a message naming it, never opened
in a way that blocks, never read for ever; the library lists the other VMs and marks
this one inaccessible.

A FIFO here always has a writer waiting (tests/fifo.py), so code that wrongly opens it
for reading gets unblocked and fails the test on its result instead of hanging."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fifo import fifo_with_writer
from vmgui.cli.library import describe_entry
from vmgui.config.archive import ArchiveError, export_vm
from vmgui.config.library import Library, LibraryError, media_problems
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import SnapshotError, Snapshots
from vmgui.storage.image import DiskImage, DiskImageError, check_regular, open_regular

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture
def fifo(tmp_path):
    """A FIFO with a writer that keeps opening it (so a reader never blocks for ever)."""
    with fifo_with_writer(tmp_path / "fifo.img") as path:
        yield path


def test_disk_image_refuses_a_fifo_and_a_device(fifo):
    with pytest.raises(DiskImageError, match=r"disk '.*fifo\.img' is not a regular file "
                                             r"\(FIFO\)"):
        DiskImage.open(fifo, kind="hdd")
    with pytest.raises(DiskImageError, match=r"disk '/dev/zero' is not a regular file "
                                             r"\(character device\)"):
        DiskImage.open("/dev/zero", kind="hdd", read_only=True)


def test_open_regular_checks_the_open_file(fifo, tmp_path):
    with pytest.raises(OSError, match=r"is not a regular file \(FIFO\)"):
        open_regular(fifo, os.O_RDONLY)
    plain = tmp_path / "plain.img"
    plain.write_bytes(bytes(512))
    fd = open_regular(plain, os.O_RDONLY)
    try:
        assert os.get_blocking(fd)  # O_NONBLOCK only for the open
    finally:
        os.close(fd)
    assert check_regular(plain).st_size == 512


def test_check_regular_names_unusable_paths(tmp_path):
    with pytest.raises(DiskImageError, match="cannot use the path"):
        check_regular("a\0b")
    with pytest.raises(DiskImageError, match="cannot use the path"):
        check_regular(tmp_path / ("a" * 5000))
    with pytest.raises(DiskImageError, match="no such file"):
        check_regular(tmp_path / "missing.img")


@pytest.fixture
def library(tmp_path, fifo) -> Library:
    library = Library(tmp_path / "lib")
    good = library.create(VmConfig("Good", hard_disks=[Attachment("disk.img")]))
    (good.folder / "disk.img").write_bytes(bytes(64 * 1024))
    library.create(VmConfig("Fifo", hard_disks=[Attachment(str(fifo))]))
    library.create(VmConfig("Zero", floppy_a=Attachment("/dev/zero")))
    library.create(VmConfig("Missing", hard_disks=[Attachment("gone.img")]))
    return library


def test_listing_marks_the_vm_inaccessible_and_keeps_the_others(library):
    lines = {e.name: describe_entry(e) for e in library.entries()}
    assert lines["Fifo"].startswith("inaccessible: disk ")
    assert lines["Fifo"].endswith("is not a regular file (FIFO)")
    assert lines["Zero"] == ("inaccessible: disk '/dev/zero' is not a regular file "
                             "(character device)")
    assert lines["Good"].startswith("16 MB")
    assert lines["Missing"].startswith("16 MB")  # a missing image is the drive's problem
    assert media_problems(library.get("Good").config, library.get("Good").folder) == []


def test_media_list_describes_without_opening(library):
    infos = {info.path.name: info for info in library.media()}
    assert infos["zero"].format == "unusable" and "character device" in infos["zero"].error
    assert "FIFO" in infos["fifo.img"].error


def test_open_drives_export_clone_and_take_refuse(library, tmp_path):
    entry = library.get("Fifo")
    with pytest.raises(DiskImageError, match=r"\(FIFO\)"):
        entry.config.open_drives(entry.folder)
    with pytest.raises(ArchiveError, match=r"cannot export VM 'Zero': disk '/dev/zero' is "
                                           r"not a regular file \(character device\)"):
        export_vm(library, "Zero", tmp_path / "zero.tar")
    with pytest.raises(LibraryError, match=r"cannot clone VM 'Fifo': .*\(FIFO\)"):
        library.clone("Fifo", "Copy")
    with pytest.raises(SnapshotError, match=r"\(FIFO\)"):
        Snapshots(entry.folder).take("s")
    assert sorted(p.name for p in library.root.iterdir()) == ["Fifo", "Good", "Missing",
                                                               "Zero"]
    assert not (tmp_path / "zero.tar").exists()
    assert list(Path(entry.folder).glob("*.cow")) == []


def test_clone_skips_special_files_in_the_vm_folder(library):
    folder = library.get("Good").folder
    os.mkfifo(folder / "stray.fifo")
    copy = library.clone("Good", "Copy")
    assert (copy.folder / "disk.img").is_file()
    assert not (copy.folder / "stray.fifo").exists()
