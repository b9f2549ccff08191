"""Linux (Debian's i386 6.1 -686, direct boot) on the ATA disk and the ATAPI CD drive:
issue 11, "What it must show", 3.

The initramfs of tests/linux_disks.py loads libata, the ATA driver, sd_mod, sr_mod, ext4
(which mounts ext2) and isofs and, told so on the command line, runs its disk script in
place of the shells: it mounts /dev/sda1 (an MBR disk with an ext2 partition made by
mkfs.ext2), reads a text file and the sha256 of a 300 KiB file, writes a file, syncs,
unmounts, mounts again with the caches dropped and reads the new file back, mounts
/dev/sr0 (an ISO made by xorriso) and reads its files, prints the kernel's lines about the
drives and powers off.  Everything it prints goes to COM1 (console=ttyS0).

One boot per machine kind: "pc-pci" (the PIIX3 IDE function 00:01.1 and ata_piix, PIO:
no bus-master DMA, which ata_piix reports and falls back from), in the normal mode, the
new file read back from the image by debugfs afterwards; "pc-at" (no PCI: pata_legacy
probes the legacy ports; no CD drive on that machine) in try-out mode through
``vmgui run IMAGE --tryout`` as a user runs it: the guest reads its write back, and after
power-off the image has its old sha256 and no such file.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import linux_disks, linux_images
from tests.integration.runner import vmgui_run
from vmgui.automation.session import Session
from vmgui.core.machine import MachineConfig
from vmgui.host.thread import ThreadHost

pytestmark = pytest.mark.slow

BOOT_TIMEOUT_S = 500  # ~70 s on a busy 2-core machine; CI shares its cores
APPEND = f"{linux_images.SERIAL_APPEND} {linux_disks.DISKTEST_APPEND}"
POWERED_OFF = re.compile(rb"reboot: (System halted|Power down)")
MARK = linux_disks.MARK


@pytest.fixture(scope="module")
def media() -> tuple[Path, Path, Path, Path]:
    """(bzImage, disk initramfs, ext2 disk, data CD); skip when they cannot be built."""
    try:
        return (linux_images.kernel(), linux_disks.disk_initramfs(), linux_disks.ext2_disk(),
                linux_disks.data_iso())
    except linux_images.MissingInput as exc:
        pytest.skip(str(exc))


def marks(serial: bytes) -> list[str]:
    """The disk script's lines (without the mark), in order."""
    return [line.split(MARK, 1)[1].strip()
            for line in serial.decode("ascii", "replace").splitlines() if MARK in line]


def said(lines: list[str], prefix: str) -> str:
    found = [line[len(prefix):].strip() for line in lines if line.startswith(prefix)]
    assert found, f"the disk script never said {prefix!r}: {lines}"
    return found[0]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def pci_run(media, tmp_path_factory) -> Iterator[tuple[bytes, Path, float]]:
    """pc-pci, normal mode: (COM1 output, the disk image after power-off, seconds taken)."""
    kernel, initrd, disk, iso = media
    image = tmp_path_factory.mktemp("pci") / "disk.img"
    shutil.copyfile(disk, image)
    config = MachineConfig(memory_mb=128, profile="pc-pci", kernel=kernel, initrd=initrd,
                           append=APPEND, hard_disks=(image,), cdrom=iso)
    host = ThreadHost(config)
    start = time.monotonic()
    host.start()
    try:
        session = Session(host)

        def powered_off() -> bool:
            if b"Kernel panic" in host.serial:
                panic = host.serial[host.serial.rfind(b"Kernel panic"):][:300]
                raise AssertionError(f"Linux panicked: {panic.decode(errors='replace')}")
            return POWERED_OFF.search(host.serial) is not None

        session._poll_until(powered_off, "Linux powering off after the disk script",
                            BOOT_TIMEOUT_S)
        took = time.monotonic() - start
    finally:
        host.power_off()  # closes the images: the writes are in the file
    yield host.serial, image, took


def test_pc_pci_uses_ata_piix_on_the_piix3_ide_function_with_pio(pci_run):
    serial, _image, _took = pci_run
    lines = marks(serial)
    assert f"{linux_disks.MODULES_LOADED} ata_piix".encode() in serial
    assert "ata_piix 0000:00:01.1: BMDMA: BAR4 is zero, falling back to PIO" in serial.decode()
    assert re.search(rb"ata1: PATA max PIO4 cmd 0x1f0 ctl 0x3f6 irq 14", serial)
    assert re.search(rb"ata2: PATA max PIO4 cmd 0x170 ctl 0x376 irq 15", serial)
    assert re.search(rb"ata1\.00: ATA-\d+: VMGUI HARDDISK", serial)
    assert re.search(rb"ata2\.00: ATAPI: VMGUI CD-ROM", serial)
    assert said(lines, "/dev/sda1 after") and said(lines, "/dev/sr0 after")
    assert b"failed" not in b"\n".join(line.encode() for line in lines)


def test_pc_pci_reads_and_writes_dev_sda1(pci_run):
    serial, _image, _took = pci_run
    lines = marks(serial)
    assert "mounted /dev/sda1" in lines
    assert said(lines, "hello:") == linux_disks.HELLO_TEXT.strip()
    assert said(lines, "pattern:").split()[0] == sha256(linux_disks.PATTERN)
    assert said(lines, "wrote:") == linux_disks.WRITTEN_TEXT
    assert said(lines, "reread:") == linux_disks.WRITTEN_TEXT


def test_pc_pci_write_is_in_the_image_after_power_off(pci_run):
    _serial, image, _took = pci_run
    written = linux_disks.debugfs_cat(image, linux_disks.WRITTEN_NAME)
    assert written == (linux_disks.WRITTEN_TEXT + "\n").encode()
    assert linux_disks.debugfs_cat(image, linux_disks.HELLO_NAME) == \
        linux_disks.HELLO_TEXT.encode()


def test_pc_pci_mounts_the_cd_on_dev_sr0(pci_run):
    serial, _image, _took = pci_run
    lines = marks(serial)
    assert "mounted /dev/sr0" in lines
    assert said(lines, "cd:") == linux_disks.CD_TEXT.strip()
    assert said(lines, "cdpattern:").split()[0] == sha256(linux_disks.CD_PATTERN)


def test_pc_at_tryout_write_is_gone_after_power_off(media, tmp_path):
    """pata_legacy on the ISA machine, ``vmgui run IMAGE --tryout``."""
    kernel, initrd, disk, _iso = media
    image = tmp_path / "disk.img"
    shutil.copyfile(disk, image)
    before = sha256(image.read_bytes())
    serial = tmp_path / "com1.log"
    result = vmgui_run(image, "--tryout", "--machine", "pc-at", "--memory", "128",
                       "--kernel", kernel, "--initrd", initrd, "--append", APPEND,
                       "--serial", serial, "--timeout", str(BOOT_TIMEOUT_S),
                       # the kernel's "reboot: System halted" (or "Power down") on tty0;
                       # COM1 may not have sent it yet when the run ends
                       "--wait-text", f"{MARK} done", "--wait-text", "reboot: ",
                       timeout=BOOT_TIMEOUT_S + 60)
    assert result.returncode == 0, result.stderr
    assert "changes to the disks were discarded" in result.stderr
    log = serial.read_bytes()
    lines = marks(log)
    assert f"{linux_disks.MODULES_LOADED} pata_legacy".encode() in log
    assert said(lines, "hello:") == linux_disks.HELLO_TEXT.strip()
    assert said(lines, "pattern:").split()[0] == sha256(linux_disks.PATTERN)
    assert said(lines, "reread:") == linux_disks.WRITTEN_TEXT  # the guest saw its write
    assert sha256(image.read_bytes()) == before
    assert linux_disks.debugfs_cat(image, linux_disks.WRITTEN_NAME) is None
