"""Boot order with a CD drive: the letter d, El Torito boot through POST, and the next
device when the CD cannot boot (a machine is built and powered on; nothing executes)."""

from __future__ import annotations

import pytest

from tests import isos
from vmgui.bios.api import Reg
from vmgui.bios.bda import Bda
from vmgui.core.machine import Machine, MachineConfig, boot_drive_numbers

BOOT_SECTOR = b"\xfa\xf4" + bytes(508) + b"\x55\xaa"


def test_letter_d_is_the_cd_on_the_cd_machine_and_disk_d_on_the_at():
    assert boot_drive_numbers(("d", "c", "a"), "pc-pci") == (0xE0, 0x80, 0x00)
    assert boot_drive_numbers(("d", "c", "a"), "pc-at") == (0x81, 0x80, 0x00)
    assert boot_drive_numbers(("a", "c")) == (0x00, 0x80)  # the default profile: pc-at


@pytest.fixture
def files(tmp_path):
    floppy = tmp_path / "a.img"
    floppy.write_bytes(BOOT_SECTOR)
    cat = isos.catalog(isos.validation_entry(),
                       isos.default_entry(load_segment=0x1000, count=1))
    bootable = tmp_path / "boot.iso"
    bootable.write_bytes(isos.build_iso(image=b"\xeb\xfe" + bytes(2046), catalog_sector=cat))
    data = tmp_path / "data.iso"
    data.write_bytes(isos.build_iso(boot=False, image=bytes(2048)))
    bad = tmp_path / "bad.iso"
    bad.write_bytes(isos.build_iso(image=bytes(2048), catalog_sector=isos.catalog(
        isos.validation_entry(bad_checksum=True), isos.default_entry())))
    return {"floppy": floppy, "boot": bootable, "data": data, "bad": bad}


def powered(**config) -> Machine:
    m = Machine(MachineConfig(profile="pc-pci", native_stop=False, **config))
    m.power_on()
    return m


def screen(m: Machine) -> str:
    return "\n".join(line.rstrip() for line in m.text_lines() if line.strip())


def test_cd_boots_first_with_d_first(files):
    m = powered(cdrom=files["boot"], floppies=(files["floppy"],), boot_order=("d", "a"))
    try:
        assert screen(m) == "Booting from CD-ROM..."
        # load segment 1000h: canonical 1000:0000, DL = the CD drive
        assert (m.engine.read(Reg.CS), m.engine.read(Reg.EIP)) == (0x1000, 0)
        assert m.engine.read(Reg.EDX) & 0xFF == 0xE0
        assert m.memory.read(0x10000, 2) == b"\xeb\xfe"
    finally:
        m.close()


@pytest.mark.parametrize("disc,why", [
    ("data", "has no El Torito boot record"),
    ("bad", "has a bad boot catalog (sector 19): its validation entry checksum is wrong"),
])
def test_a_cd_that_cannot_boot_hands_over_to_the_next_device(files, disc, why):
    m = powered(cdrom=files[disc], floppies=(files["floppy"],), boot_order=("d", "a"))
    try:
        text = "".join("".join(m.text_lines()).split())  # a long message wraps at 80
        expected = f"Booting from CD-ROM...Boot failed: the CD in drive D: {why}"
        assert text.startswith("".join(expected.split()))
        assert text.endswith("BootingfromFloppy...")
        assert (m.engine.read(Reg.CS), m.engine.read(Reg.EIP)) == (0, 0x7C00)
        assert m.engine.read(Reg.EDX) & 0xFF == 0x00
    finally:
        m.close()


def test_nothing_bootable_says_so(files):
    m = powered(cdrom=files["data"], boot_order=("d", "c", "a"))
    try:
        assert screen(m) == ("Booting from CD-ROM...\nBoot failed: the CD in drive D: has no "
                             "El Torito boot record\nNo bootable device.")
    finally:
        m.close()


def test_an_empty_cd_drive_is_skipped(files):
    m = powered(floppies=(files["floppy"],), boot_order=("d", "a"))
    try:
        assert 0xE0 in m.drives and m.drives[0xE0] is None  # the drive is there, empty
        assert screen(m) == "Booting from Floppy..."
    finally:
        m.close()


def test_the_at_machine_has_no_cd_drive(files):
    with pytest.raises(ValueError, match="the pc-at machine has no CD drive"):
        Machine(MachineConfig(cdrom=files["boot"]))
    m = Machine(MachineConfig(floppies=(files["floppy"],), native_stop=False))
    try:
        assert 0xE0 not in m.drives and m.bios.cdrom is None
    finally:
        m.close()


def test_a_reset_ends_the_emulation(tmp_path):
    image = b"\xeb\xfe" + bytes(1474558)
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(2, count=1))
    iso = tmp_path / "fd.iso"
    iso.write_bytes(isos.build_iso(image=image, catalog_sector=cat))
    m = powered(cdrom=iso, boot_order=("d",))
    try:
        assert m.bios.disk.emulated is not None
        assert m.memory.read_u16(Bda.EQUIPMENT) & 0x00C1 == 0x0001  # one floppy: the CD's
        m.bios.boot_order = (0x00,)
        m.power_on()  # POST again: the emulation is gone, there is no floppy to boot
        assert m.bios.disk.emulated is None and m.bios.cdrom.booted is None
        assert m.memory.read_u16(Bda.EQUIPMENT) & 0x0001 == 0
    finally:
        m.close()
