"""El Torito ISOs built with xorriso (tests/cd_images.py) booted on the pc-pci machine,
compared with what qemu-system-i386 (SeaBIOS) shows for the same images, and the bad
inputs a user may give as a CD, through ``vmgui run`` as a user runs it.

QEMU's screens were taken with ``../shared/tools/qemu-ref.py NAME --qemu "-M pc -cpu
pentium3 -m 16 -cdrom ISO -boot d"``; its own banner lines (SeaBIOS, iPXE) and its boot
line ("Booting from DVD/CD...", vmgui says "Booting from CD-ROM...") are left out.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import cd_images
from tests.integration.runner import refused, vmgui_run
from tests.running import Running
from vmgui.core import events as ev

# QEMU 7.2 / SeaBIOS 1.16.2 for noemu, except EDD=30: SeaBIOS reports EDD 3.0 where
# vmgui reports 1.1 (21h) for CDs as for disks (no device path information in AH=48h).
NOEMU_LINE = "DL=E0 EDD=21 BPS=0800 PVD=CD001 VOL=VMGUI CD SPEC=13 00 E0"
# QEMU's screen for fdemu once FreeDOS is up, after its boot line (blank lines left out).
FREEDOS_SCREEN = r"""FreeDOS kernel - SVN (build 2040 OEM:0xfd) [compiled Apr  7 2012]
Kernel compatibility 7.10 - WATCOMC - FAT32 support
(C) Copyright 1995-2011 Pasquale J. Villani and The FreeDOS Project.
All Rights Reserved. This is free software and comes with ABSOLUTELY NO
WARRANTY; you can redistribute it and/or modify it under the terms of the
GNU General Public License as published by the Free Software Foundation;
either version 2, or (at your option) any later version.
 - InitDiskno hard disks detected
FreeDOS HIMEM 2.07 [Feb 13 2003] (c) 1995, Till Gerken 2001-2003 tom ehlert
Interface : XMS 2.00 80386 64MB
Kernel: allocated 46 Diskbuffers = 24472 Bytes in HMA
FreeCom version 0.82 pl 3 XMS_Swap [Dec 10 2003 06:49:21]
Welcome to FreeDOS (http://www.freedos.org)!
Running on copy.sh/v86/
Try 'invaders' or 'snake' or 'tetris' for fun.
A:\>"""


@pytest.fixture(scope="module")
def iso():
    def get(name: str) -> Path:
        try:
            return cd_images.image(name)
        except cd_images.MissingTool as exc:
            pytest.skip(str(exc))

    return get


class CdRunning(Running):
    """A pc-pci machine booting ``cdrom`` (floppy A: ``floppy`` if given) on a thread."""

    def __init__(self, cdrom: Path, floppy: Path | None = None, **config) -> None:
        from vmgui.core.machine import Machine, MachineConfig

        self.events: list[ev.Event] = []
        floppies = (floppy,) if floppy is not None else ()
        self.machine = Machine(MachineConfig(profile="pc-pci", cdrom=cdrom, floppies=floppies,
                                             **config), on_event=self.events.append)
        import threading

        self.thread = threading.Thread(target=self.machine.run, daemon=True)

    def screen(self) -> list[str]:
        return [line.rstrip() for line in self.machine.text_lines() if line.strip()]


def test_no_emulation_boot_reads_the_disc_with_42h(iso):
    with CdRunning(iso("noemu"), boot_order=("d", "c", "a")) as vm:
        vm.wait_for(lambda: "CD OK" in vm.serial() or "ERR" in vm.serial())
        assert vm.serial().splitlines()[0] == NOEMU_LINE
        assert vm.screen() == ["Booting from CD-ROM...", NOEMU_LINE, "CD OK"]


@pytest.mark.slow
def test_floppy_emulation_boots_freedos_to_its_prompt(iso, tmp_path):
    """FreeDOS on the CD's emulated 1.44M floppy (drive 00h); the machine's own floppy
    A: moves to B:, as SeaBIOS moves it."""
    fdemu = iso("fdemu")  # skips without ../shared/guests/freedos722.img
    real_a = tmp_path / "a.img"
    shutil.copyfile(cd_images.FREEDOS, real_a)
    with CdRunning(fdemu, floppy=real_a, boot_order=("d", "a")) as vm:
        vm.wait_for(lambda: vm.screen()[-1:] == ["A:\\>"], timeout=30)
        assert vm.screen() == ["Booting from CD-ROM...", *FREEDOS_SCREEN.splitlines()]
        vm.machine.send(ev.KeyScancodes(b"\x20\xa0\x17\x97\x13\x93\x1c\x9c"))  # dir
        vm.wait_for(lambda: any("bytes free" in line for line in vm.screen()), timeout=30)
        listing = "\n".join(vm.screen())
        # the 1.44M disk of the CD (the 720K floppy now at B: has 46,080 bytes free)
        assert "COMMAND  COM" in listing and "786,944 bytes free" in listing


def test_cd_without_boot_record_goes_on_to_the_next_device(iso, tmp_path):
    dump = tmp_path / "screen.txt"
    result = vmgui_run("--cdrom", iso("data"), "--boot", "d,c,a", "--timeout", "20",
                       "--wait-text", "No bootable device", "--dump-text", dump)
    assert result.returncode == 0, result.stderr
    assert [line for line in dump.read_text().splitlines() if line.strip()] == [
        "Booting from CD-ROM...",
        "Boot failed: the CD in drive D: has no El Torito boot record",
        "No bootable device."]


def test_a_bare_iso_image_attaches_as_the_cd(iso, tmp_path):
    dump = tmp_path / "screen.txt"
    result = vmgui_run(iso("noemu"), "--timeout", "20", "--wait-text", "CD OK",
                       "--dump-text", dump)
    assert result.returncode == 0, result.stderr
    assert NOEMU_LINE in dump.read_text()


def test_a_floppy_image_given_as_the_cd(tmp_path):
    image = tmp_path / "x.img"
    image.write_bytes(bytes(1474560))
    refused(vmgui_run("--cdrom", image, "--wait-text", "x"),
            f"vmgui run: {image} is not an ISO 9660 CD image (no CD001 volume descriptor at "
            "sector 16)")


def test_a_truncated_iso(iso, tmp_path):
    whole = iso("fdemu").read_bytes()
    cut = tmp_path / "cut.iso"
    cut.write_bytes(whole[:100000])
    refused(vmgui_run(cut, "--wait-text", "x"),
            f"vmgui run: {cut}: the ISO image is truncated: the file has 100000 bytes, but its "
            f"primary volume descriptor says the disc holds {len(whole) // 2048} sectors of "
            f"2048 bytes ({len(whole)} bytes)")


def test_a_missing_iso_and_two_cds(iso, tmp_path):
    refused(vmgui_run("--cdrom", tmp_path / "nope.iso", "--wait-text", "x"),
            f"{tmp_path / 'nope.iso'}: no such file")
    refused(vmgui_run(iso("noemu"), "--cdrom", iso("data"), "--wait-text", "x"),
            "the machine has one CD drive")


def test_a_boot_catalog_with_a_bad_checksum(iso, tmp_path):
    data = bytearray(iso("noemu").read_bytes())
    catalog = int.from_bytes(data[17 * 2048 + 0x47:17 * 2048 + 0x4B], "little")
    data[catalog * 2048 + 4] ^= 0xFF  # the validation entry's ID string, not its checksum
    bad = tmp_path / "bad.iso"
    bad.write_bytes(bytes(data))
    dump = tmp_path / "screen.txt"
    result = vmgui_run(bad, "--timeout", "20", "--wait-text", "No bootable device",
                       "--dump-text", dump)
    assert result.returncode == 0, result.stderr
    text = "".join(dump.read_text().split())  # the message wraps at 80 columns, mid-word
    expected = (f"Booting from CD-ROM... Boot failed: the CD in drive D: has a bad boot "
                f"catalog (sector {catalog}): its validation entry checksum is wrong (the "
                "words sum to 00FFh, not 0) No bootable device.")
    assert text == "".join(expected.split())
