"""The Linux test images' recipe (tests/linux_images.py): the newc cpio archive the
initramfs is, the recipe stamp that keys a package by its version, and the message
when apt knows no i386 packages.  (The images boot in tests/integration/test_linux_boot.py.)"""

from __future__ import annotations

import gzip
import subprocess

import pytest

from tests import debian_images as di
from tests import linux_images as li


def parse_newc(archive: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    """(name, mode, data, rdev) of each member, read back by the newc rules."""
    members, at = [], 0
    while True:
        assert archive[at:at + 6] == b"070701", f"no newc magic at {at}"
        fields = [int(archive[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmajor, rminor, namesize = (fields[1], fields[6], fields[9], fields[10],
                                                fields[11])
        name_at = at + 110
        name = archive[name_at:name_at + namesize - 1].decode()
        assert archive[name_at + namesize - 1] == 0
        data_at = name_at + namesize + (-(110 + namesize) % 4)
        data = archive[data_at:data_at + size]
        at = data_at + size + (-size % 4)
        if name == "TRAILER!!!":
            assert at == len(archive)
            return members
        members.append((name, mode, data, (rmajor, rminor)))


def test_the_initramfs_archive_reads_back_member_for_member():
    members = li.initramfs_members(b"\x7fELF busybox")
    archive = li.newc_archive(members)
    assert parse_newc(archive) == members
    names = [m[0] for m in members]
    assert names.index("bin") < names.index("bin/busybox")  # folders first
    init = dict((m[0], m) for m in members)["init"]
    assert init[1] == li.S_IFREG | 0o755 and li.INIT_MARKER.encode() in init[2]
    assert dict((m[0], m[3]) for m in members)["dev/console"] == (5, 1)


def test_the_archive_is_the_same_bytes_every_time():
    one = gzip.compress(li.newc_archive(li.initramfs_members(b"x")), mtime=0)
    assert one == gzip.compress(li.newc_archive(li.initramfs_members(b"x")), mtime=0)


def test_a_member_is_padded_to_four_bytes_after_its_header_and_its_data():
    member = li.newc_member(1, "ab", li.S_IFREG | 0o644, b"12345")
    assert len(member) % 4 == 0
    assert member[110:113] == b"ab\0" and member[113:116] == b"\0\0\0"  # 110 + 3 -> 116
    assert member[116:121] == b"12345" and member[121:] == b"\0\0\0"


def test_a_recipe_stamp_keys_the_cache_and_an_empty_one_changes_nothing(tmp_path):
    source = tmp_path / "in"
    source.write_bytes(b"x")
    plain = di.Recipe("r", ".img", (), (source,), lambda *a: None, needs_freedos=False)
    stamped = di.Recipe("r", ".img", (), (source,), lambda *a: None, needs_freedos=False,
                        stamp="pkg=1.0")
    newer = di.Recipe("r", ".img", (), (source,), lambda *a: None, needs_freedos=False,
                      stamp="pkg=1.1")
    assert di.cache_key(plain, [source]) == di.cache_key(
        di.Recipe("r", ".img", (), (source,), lambda *a: None, needs_freedos=False,
                  stamp=""), [source])
    keys = {di.cache_key(r, [source]) for r in (plain, stamped, newer)}
    assert len(keys) == 3


def test_apt_without_i386_packages_says_how_to_add_them(monkeypatch):
    def no_package(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 100, "", "E: No packages found")

    monkeypatch.setattr(li, "tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(li.subprocess, "run", no_package)
    with pytest.raises(li.MissingInput, match="dpkg --add-architecture i386"):
        li.kernel_package()


def test_the_kernel_package_is_what_the_meta_package_depends_on(monkeypatch):
    records = {
        "linux-image-686:i386": "Package: linux-image-686\nDepends: linux-image-6.1.0-57-686 "
                                "(= 6.1.192-3)\n",
        "linux-image-6.1.0-57-686:i386": "Package: linux-image-6.1.0-57-686\n"
                                         "Version: 6.1.192-3\n",
    }

    def show(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 0, records[argv[-1]], "")

    monkeypatch.setattr(li, "tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(li.subprocess, "run", show)
    assert li.kernel_package() == li.Package("linux-image-6.1.0-57-686", "6.1.192-3")
