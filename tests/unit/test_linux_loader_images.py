"""The recipes of tests/linux_loader_images.py, built from a stand-in kernel and initramfs
(a few KB each, so each build takes about a second): where GRUB's pieces and the ext2
partition sit on the disk, what the ISO's boot catalog and ISOLINUX's folder hold, and
the message when mkfs.ext2 is missing.  (The real images boot Linux in
tests/integration/test_linux_loaders.py.)"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from tests import debian_images as di
from tests import linux_images as li
from tests import linux_loader_images as lli
from vmgui.storage.cdimage import CdImage
from vmgui.storage.eltorito import Media, find_boot_entry

KERNEL = bytes(range(256)) * 40 + b"vmlinuz-end"  # not a multiple of any block size
INITRD = b"\x1f\x8b initramfs stand-in" * 300


def need(*programs: str) -> None:
    for program in programs:
        try:
            di.tool(program)
        except di.MissingPackage as exc:
            pytest.skip(str(exc))
    for path in (di.GRUB_DIR, di.ISOLINUX_BIN, di.SYSLINUX_MODULES):
        try:
            di.check_file(path)
        except di.MissingPackage as exc:
            pytest.skip(str(exc))


@pytest.fixture
def inputs(tmp_path) -> tuple[Path, Path]:
    kernel, initrd = tmp_path / "bzImage", tmp_path / "initrd.gz"
    kernel.write_bytes(KERNEL)
    initrd.write_bytes(INITRD)
    return kernel, initrd


def debugfs_cat(partition: Path, path: str) -> bytes:
    done = subprocess.run([di.tool("debugfs"), "-R", f"cat {path}", str(partition)],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_grub_disk_has_boot_img_core_img_and_an_ext2_partition(tmp_path, inputs):
    need("grub-mkimage", "mkfs.ext2", "debugfs")
    work, out = tmp_path / "work", tmp_path / "disk.img"
    work.mkdir()
    lli.build_grub_hdd(*inputs, work, out)
    disk = out.read_bytes()
    assert len(disk) == di.HDD_TOTAL * di.SECTOR
    boot = (di.GRUB_DIR / "boot.img").read_bytes()
    assert disk[:0x5C] == boot[:0x5C] and disk[0x1FE:0x200] == b"\x55\xaa"
    assert struct.unpack_from("<Q", disk, 0x5C)[0] == 1  # core.img from sector 1
    diskboot = (di.GRUB_DIR / "diskboot.img").read_bytes()
    assert disk[512:512 + 0x1F0] == diskboot[:0x1F0]  # core.img's first sector
    entry = disk[0x1BE:0x1CE]
    assert entry[0] == 0x80 and entry[4] == 0x83  # active, Linux
    first, count = struct.unpack_from("<II", entry, 8)
    assert (first, count) == (di.PART_START, di.HDD_TOTAL - di.PART_START)
    part = tmp_path / "part.img"
    part.write_bytes(disk[first * di.SECTOR:])
    assert struct.unpack_from("<H", part.read_bytes(), 1024 + 56)[0] == 0xEF53  # ext2 magic
    assert debugfs_cat(part, lli.KERNEL_PATH) == KERNEL
    assert debugfs_cat(part, lli.INITRD_PATH) == INITRD
    assert debugfs_cat(part, "/boot/grub/grub.cfg").decode() == lli.GRUB_CFG


def test_grub_cfg_boots_the_kernel_at_once_with_the_direct_boot_command_line():
    lines = [line.strip() for line in lli.GRUB_CFG.splitlines()]
    assert "set timeout=0" in lines and "set default=0" in lines
    assert f"linux {lli.KERNEL_PATH} {li.SERIAL_APPEND}" in lines
    assert f"initrd {lli.INITRD_PATH}" in lines
    assert {"ext2", "linux", "biosdisk", "part_msdos"} <= set(lli.GRUB_MODULES)


def test_the_isolinux_iso_boots_isolinux_bin_without_emulation(tmp_path, inputs):
    need("xorriso")
    work, out = tmp_path / "work", tmp_path / "linux.iso"
    work.mkdir()
    lli.build_isolinux_iso(*inputs, work, out)
    cd = CdImage.open(out)
    try:
        entry = find_boot_entry(cd)
        assert entry.media == Media.NO_EMULATION and entry.sector_count == 4
        loaded = cd.read_sectors(entry.load_rba, 1)
    finally:
        cd.close()
    isolinux = di.ISOLINUX_BIN.read_bytes()
    # the boot-info table (bytes 8-63) is xorriso's; the rest is isolinux.bin's
    assert loaded[:8] == isolinux[:8] and loaded[64:2048] == isolinux[64:2048]
    assert struct.unpack_from("<I", loaded, 8)[0] == 16  # bi_pvd: the primary descriptor
    extracted = tmp_path / "extracted"
    subprocess.run([di.tool("xorriso"), "-osirrox", "on", "-indev", str(out), "-extract", "/",
                    str(extracted)], check=True, capture_output=True, timeout=60)
    assert (extracted / lli.KERNEL_PATH.lstrip("/")).read_bytes() == KERNEL
    assert (extracted / lli.INITRD_PATH.lstrip("/")).read_bytes() == INITRD
    assert (extracted / "isolinux" / "isolinux.cfg").read_text() == lli.ISOLINUX_CFG
    ldlinux = (di.SYSLINUX_MODULES / "ldlinux.c32").read_bytes()
    assert (extracted / "isolinux" / "ldlinux.c32").read_bytes() == ldlinux


def test_isolinux_cfg_boots_its_default_label_at_once():
    words = [line.split(None, 1) for line in lli.ISOLINUX_CFG.splitlines() if line.strip()]
    settings = {key.upper(): value for key, value in words}
    assert settings["PROMPT"] == "0" and settings["DEFAULT"] == settings["LABEL"]
    assert settings["KERNEL"] == lli.KERNEL_PATH and settings["INITRD"] == lli.INITRD_PATH
    assert settings["APPEND"] == li.SERIAL_APPEND


def test_without_mkfs_ext2_the_message_names_e2fsprogs(monkeypatch):
    def missing(name: str) -> str:
        raise di.MissingPackage(di.PACKAGE_OF.get(name, name), f"the program {name}")

    monkeypatch.setattr(di, "tool", missing)
    with pytest.raises(di.MissingPackage, match=r"apt-get install e2fsprogs") as caught:
        lli.mkfs_ext2()
    assert caught.value.package == "e2fsprogs"
