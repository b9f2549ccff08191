"""POST and bootstrap: what a guest finds in memory when its boot sector starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmgui.bios import rom
from vmgui.bios.api import Reg
from vmgui.bios.bda import Bda
from vmgui.core.machine import Machine, MachineConfig
from vmgui.devices.fonts import load_rom_font


@pytest.fixture
def machine(tmp_path: Path):
    image = tmp_path / "boot.img"
    image.write_bytes(b"\xfa\xf4" + bytes(508) + b"\x55\xaa")
    m = Machine(MachineConfig(floppies=(image,), memory_mb=16))
    m.power_on()
    yield m
    m.close()


def ivt(m: Machine, vector: int) -> int:
    return m.memory.read_u32(vector * 4)


def test_every_vector_points_into_the_rom(machine):
    for vector in range(256):
        if vector in (0x1D, 0x1E, 0x1F, 0x41, 0x43, 0x46):
            continue
        assert ivt(machine, vector) == rom.far_pointer(rom.stub_offset(vector))
    assert ivt(machine, 0x1E) == rom.far_pointer(rom.DISKETTE_TABLE_OFF)
    # setting mode 3 points int 43h at the font of its cell height (8x16), as VGA BIOSes do
    assert ivt(machine, 0x43) == rom.far_pointer(rom.FONT16_OFF)
    assert ivt(machine, 0x1F) == rom.far_pointer(rom.FONT8_OFF + 0x400)


def test_bda_after_post(machine):
    mem = machine.memory
    assert mem.read_u16(Bda.MEMORY_KB) == 639
    assert mem.read_u16(Bda.COM_PORTS) == 0x3F8
    equipment = mem.read_u16(Bda.EQUIPMENT)
    assert equipment & 0x0001  # a floppy drive
    assert (equipment >> 6) & 3 == 0  # exactly one
    assert (equipment >> 4) & 3 == 0b10  # 80x25 colour
    assert (equipment >> 9) & 7 == 1  # one serial port
    ebda = mem.read_u16(Bda.EBDA_SEGMENT)
    assert ebda == 0x9FC0 and mem.read_u8(ebda << 4) == 1
    assert mem.read_u8(Bda.VIDEO_MODE) == 3
    assert mem.read_u16(Bda.KBD_BUF_HEAD) == mem.read_u16(Bda.KBD_BUF_TAIL) == 0x1E


def test_rom_contents(machine):
    mem = machine.memory
    assert mem.read(rom.linear(rom.FONT16_OFF), 4096) == load_rom_font(16)
    assert mem.read_u8(rom.linear(rom.MODEL_OFF)) == 0xFC
    assert mem.read(rom.linear(rom.DATE_OFF), 8) == b"11/24/26"
    assert mem.read(rom.linear(rom.RESET_VECTOR_OFF), 5) == b"\xea\x5b\xe0\x00\xf0"


def test_cmos_knows_memory_and_floppy(machine):
    cmos = machine.cmos
    assert cmos.read_register(0x15) | cmos.read_register(0x16) << 8 == 640
    assert cmos.read_register(0x17) | cmos.read_register(0x18) << 8 == 15 * 1024
    assert cmos.read_register(0x10) >> 4 == 4  # A: is a 1.44M drive


def test_boot_sector_loaded_and_entered(machine):
    assert machine.memory.read(0x7C00, 2) == b"\xfa\xf4"
    assert machine.engine.read(Reg.CS) == 0 and machine.engine.read(Reg.EIP) == 0x7C00
    assert machine.engine.read(Reg.EDX) & 0xFF == 0x00  # boot drive A:


def test_no_bootable_device(tmp_path):
    image = tmp_path / "blank.img"
    image.write_bytes(bytes(1474560))
    m = Machine(MachineConfig(floppies=(image,)))
    m.power_on()
    text = "\n".join(m.text_lines())
    assert "Boot failed: not a bootable disk" in text and "No bootable device." in text
    assert m.engine.read(Reg.CS) == rom.BIOS_SEGMENT  # parked in the ROM's sti/hlt loop
    m.close()


def test_boot_order_skips_empty_drives(tmp_path):
    hdd = tmp_path / "disk.img"
    hdd.write_bytes(b"\xf4" + bytes(509) + b"\x55\xaa" + bytes(512 * 2047))
    m = Machine(MachineConfig(hard_disks=(hdd,), boot_order=("a", "c")))
    m.power_on()
    assert m.engine.read(Reg.EDX) & 0xFF == 0x80
    assert m.memory.read_u8(Bda.HDD_COUNT) == 1
    m.close()
