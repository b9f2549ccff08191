"""The image builders of tests/debian_images.py: sector layouts, the cache, and the error
that names a missing Debian package.  (The images themselves are booted by
tests/integration/test_debian_guests.py.)"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from tests import debian_images as di


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("VMGUI_TEST_IMAGES", str(folder))
    return folder


def recipe(tmp_path: Path, build, name: str = "thing") -> di.Recipe:
    source = tmp_path / "input.bin"
    if not source.exists():
        source.write_bytes(b"one")
    return di.Recipe(name, ".img", (), (source,), build, needs_freedos=False)


def test_build_caches_by_content_and_prunes_the_old_image(tmp_path, cache):
    calls = []

    def build(work, out, freedos):
        calls.append(work)
        out.write_bytes((tmp_path / "input.bin").read_bytes() * 2)

    r = recipe(tmp_path, build)
    first = di.build(r, None)
    assert first.parent == cache and first.read_bytes() == b"oneone"
    assert di.build(r, None) == first and len(calls) == 1  # from the cache
    (tmp_path / "input.bin").write_bytes(b"two")  # a new input: a new key
    second = di.build(r, None)
    assert second != first and second.read_bytes() == b"twotwo" and len(calls) == 2
    assert first.exists()  # recently used: another checkout may be testing with it
    os.utime(first, (0, time.time() - di.PRUNE_AFTER_S - 60))
    (tmp_path / "input.bin").write_bytes(b"one")
    di.build(r, None)  # the first again: a cache hit marks it used
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.name, second.name])
    os.utime(second, (0, time.time() - di.PRUNE_AFTER_S - 60))
    (tmp_path / "input.bin").write_bytes(b"three")
    third = di.build(r, None)
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.name, third.name])


def test_failed_build_leaves_nothing_under_the_final_name(tmp_path, cache):
    def build(work, out, freedos):
        out.write_bytes(b"half an ima")
        raise di.BuildError("grub-mkimage failed")

    with pytest.raises(di.BuildError):
        di.build(recipe(tmp_path, build), None)
    assert list(cache.iterdir()) == []


def test_missing_file_names_its_package(tmp_path, cache, monkeypatch):
    monkeypatch.setitem(di.PACKAGE_OF, str(tmp_path / "lib"), "grub-pc-bin")
    r = di.Recipe("x", ".img", (), (tmp_path / "lib" / "boot.img",), lambda *a: None,
                  needs_freedos=False)
    with pytest.raises(di.MissingPackage, match=r"Debian package grub-pc-bin .*boot\.img"):
        di.build(r, None)


def test_missing_tool_names_its_package(monkeypatch):
    monkeypatch.setitem(di.PACKAGE_OF, "vmgui-no-such-tool", "vmgui-tools")
    with pytest.raises(di.MissingPackage, match="apt-get install vmgui-tools") as err:
        di.tool("vmgui-no-such-tool")
    assert err.value.package == "vmgui-tools"


def test_missing_freedos_image_is_named(tmp_path, cache):
    r = di.Recipe("x", ".img", (), (), lambda *a: None)
    with pytest.raises(di.MissingInput, match="freedos722.img"):
        di.build(r, tmp_path / "nope.img")


def chs_to_lba(chs: bytes) -> int:
    head, sector, cyl = chs[0], chs[1] & 0x3F, chs[2] | ((chs[1] & 0xC0) << 2)
    return (cyl * di.HDD_HEADS + head) * di.HDD_SECTORS + sector - 1


def test_mbr_partition_entry():
    sector = di.mbr(b"\xEB\xFE", 0x06, di.PART_START, di.HDD_TOTAL - di.PART_START)
    assert len(sector) == 512 and sector[:2] == b"\xEB\xFE" and sector[510:] == b"\x55\xAA"
    entry = sector[0x1BE:0x1CE]
    assert entry[0] == 0x80 and entry[4] == 0x06
    first, count = struct.unpack("<II", entry[8:16])
    assert (first, first + count) == (di.PART_START, di.HDD_TOTAL)
    assert chs_to_lba(entry[1:4]) == di.PART_START
    assert chs_to_lba(entry[5:8]) == di.HDD_TOTAL - 1
    assert sector[0x1CE:0x1FE] == bytes(48)  # the other three entries are empty


@pytest.mark.skipif(not (di.GRUB_DIR / "boot.img").exists(), reason="needs grub-pc-bin")
def test_grub_boot_sector_keeps_bpb_or_partition_table():
    old = bytes(range(256)) * 2
    floppy = di.grub_boot_sector(old, floppy=True)
    assert floppy[3:0x5A] == old[3:0x5A]  # the FAT BPB
    assert struct.unpack_from("<Q", floppy, 0x5C)[0] == 1  # core.img from sector 1
    assert floppy[0x66:0x68] != b"\x90\x90" and floppy[510:] == b"\x55\xAA"
    disk = di.grub_boot_sector(old, floppy=False)
    assert disk[0x1B8:0x1FE] == old[0x1B8:0x1FE]  # signature and partition table
    assert disk[0x66:0x68] == b"\x90\x90" and disk[510:] == b"\x55\xAA"


def test_unwritable_cache_falls_back_to_a_temporary_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VMGUI_TEST_IMAGES", str(blocker / "cache"))
    monkeypatch.setattr(di.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))

    def build(work, out, freedos):
        out.write_bytes(b"x")

    built = di.build(recipe(tmp_path, build), None)
    assert built.parent.parent == tmp_path / "tmp" and built.read_bytes() == b"x"
