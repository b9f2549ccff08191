"""Debian's i386 kernel and the busybox initramfs booted by real boot loaders: GRUB 2 from
an ext2 partition on an ATA hard disk, ISOLINUX from an ISO booted as a CD (El Torito, no
emulation): issue 11, "What it must show", 2.  Images: tests/linux_loader_images.py.

One boot per loader and machine kind, real time, with the loaders' own configuration
(no key pressed: grub.cfg has ``timeout=0``, isolinux.cfg ``PROMPT 0``) and the command
line ``console=tty0 console=ttyS0 noapic nolapic``.  While the kernel unpacks itself the
loader's last words are still on the screen; the kernel's command line starts with the
``BOOT_IMAGE=`` the loader put there; the shell prompt appears on the VGA text console
and on COM1, where ``uname -r`` and ``cat /proc/cmdline`` answer.  The pc-at machine has
no CD drive, so ISOLINUX boots on pc-pci only.  What QEMU shows and how long it takes:
tests/images-reference.md (and tests/perf/bench_linux_loaders_vs_qemu.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import debian_images, linux_images, linux_loader_images
from tests.integration.test_linux_boot import serial_command, wait_for_serial_or_panic
from vmgui.automation.session import Session
from vmgui.core.machine import MachineConfig
from vmgui.host.lockstep import LockstepHost
from vmgui.host.thread import ThreadHost

pytestmark = pytest.mark.slow

PROMPT = linux_images.PROMPT.strip()
LOADER_TIMEOUT_S = 60  # the loader's screen: a second or two after power-on
BOOT_TIMEOUT_S = 400  # to the shell: ~40 s on an idle 2-core machine; CI shares its cores
COMMAND_TIMEOUT_S = 60
RELEASE = re.compile(r"^6\.1\.\d+-\d+-686\r?$", re.MULTILINE)


@dataclass(frozen=True)
class Loader:
    name: str
    image: object  # () -> Path
    medium: str  # "hdd" or "cdrom"
    on_screen: str  # what the loader shows while the kernel unpacks itself
    cmdline: str  # the kernel's command line as the loader passes it


GRUB = Loader("GRUB", linux_loader_images.grub_hdd, "hdd",
              linux_loader_images.LOADER_MARKER.format(loader="GRUB"),
              f"BOOT_IMAGE={linux_loader_images.KERNEL_PATH} {linux_loader_images.APPEND}")
ISOLINUX = Loader("ISOLINUX", linux_loader_images.isolinux_iso, "cdrom",
                  f"Loading {linux_loader_images.INITRD_PATH}...ok",
                  f"BOOT_IMAGE={linux_loader_images.KERNEL_PATH} "
                  f"{linux_loader_images.APPEND} initrd={linux_loader_images.INITRD_PATH}")


def machine_config(loader: Loader, image: Path, profile: str) -> MachineConfig:
    common = {"memory_mb": 128, "profile": profile, "read_only": True}
    if loader.medium == "hdd":
        return MachineConfig(hard_disks=(image,), boot_order=("c",), **common)
    return MachineConfig(cdrom=image, boot_order=("d",), **common)


@dataclass
class Booted:
    session: Session
    host: ThreadHost
    loader: Loader
    loader_screen: str  # the screen while the loader's words were on it


@pytest.fixture(scope="module", params=[
    pytest.param((GRUB, "pc-pci"), id="grub-hdd-pc-pci"),
    pytest.param((GRUB, "pc-at"), id="grub-hdd-pc-at"),
    pytest.param((ISOLINUX, "pc-pci"), id="isolinux-iso-pc-pci"),
])
def booted(request) -> Iterator[Booted]:
    """The machine booted by the loader to the shell prompt (one boot per loader and
    machine kind)."""
    loader, profile = request.param
    try:
        image = loader.image()
    except linux_images.MissingInput as exc:
        pytest.skip(str(exc))
    host = ThreadHost(machine_config(loader, image, profile))
    host.start()
    try:
        session = Session(host)
        session.wait_for_text(loader.on_screen, LOADER_TIMEOUT_S)
        loader_screen = session.text()
        wait_for_serial_or_panic(session, host, linux_images.INIT_MARKER, BOOT_TIMEOUT_S)
        wait_for_serial_or_panic(session, host, linux_images.PROMPT, COMMAND_TIMEOUT_S)
        yield Booted(session, host, loader, loader_screen)
    finally:
        host.power_off()


def test_the_loader_shows_itself_before_the_kernel_starts(booted):
    screen = booted.loader_screen
    assert booted.loader.on_screen in screen
    if booted.loader is GRUB:
        assert "Booting `Debian i386 kernel + busybox initramfs'" in screen, screen
    else:
        assert "ISOLINUX 6.04" in screen and "ETCD" in screen, screen  # the CD flavour
        assert linux_loader_images.LOADER_MARKER.format(loader="ISOLINUX") in screen, screen
        assert f"Loading {linux_loader_images.KERNEL_PATH}" in screen, screen


def test_the_kernel_got_the_loaders_command_line(booted):
    log = booted.host.serial
    assert b"Kernel command line: " + booted.loader.cmdline.encode() in log, \
        log[log.find(b"Kernel command line"):][:200]
    answer = serial_command(booted.session, booted.host, "cat /proc/cmdline")
    assert booted.loader.cmdline in answer, answer


def test_the_shell_prompt_on_the_vga_console_and_uname_on_com1(booted):
    booted.session.wait_for_text(PROMPT, COMMAND_TIMEOUT_S)
    answer = serial_command(booted.session, booted.host, "uname -r")
    assert RELEASE.search(answer), answer



def test_a_grub_disk_cut_short_inside_the_kernel_gets_grubs_own_read_error(tmp_path):
    """The disk image ends 4 MiB into the ext2 partition, inside /boot/vmlinuz: the BIOS
    refuses the read past the disk's end and GRUB says so, as in QEMU (same two lines,
    then "Press any key to continue..."); the machine runs on (deterministic mode)."""
    try:
        image = linux_loader_images.grub_hdd()
    except linux_images.MissingInput as exc:
        pytest.skip(str(exc))
    short = tmp_path / "short.img"
    with open(image, "rb") as whole:
        short.write_bytes(whole.read(debian_images.PART_START * debian_images.SECTOR + (4 << 20)))
    host = LockstepHost(machine_config(GRUB, short, "pc-pci"))
    host.start()
    try:
        session = Session(host)
        session.wait_for_text("Press any key to continue...", 30)
        screen = session.text()
        assert GRUB.on_screen in screen
        assert "error: attempt to read or write outside of disk `hd0'." in screen, screen
        assert "error: you need to load the kernel first." in screen, screen
        assert host.crash is None
    finally:
        host.power_off()
