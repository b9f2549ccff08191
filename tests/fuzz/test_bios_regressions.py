"""BIOS inputs the fuzz tests found, each pinned as a plain test.

Before the fixes each of these raised a Python exception inside the service (the
machine turned it into an "internal error" crash of the guest) or touched memory far
outside guest RAM.  The BDA belongs to the guest: a guest that scribbles over its video
fields, then prints, must get output somewhere in video memory, not a dead VM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vmgui.bios.api import Flag, Reg
from vmgui.bios.bda import Bda
from vmgui.core.memory import VGA_BASE, VGA_SIZE

from .biosrig import call_service, check_registers, make_images, powered_on


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, Path]:
    return make_images(tmp_path_factory.mktemp("bios-regressions"))


@pytest.fixture
def machine(images):
    m, bounded = powered_on(images)
    yield m
    m.close()
    assert not bounded.violations


def call(m, vector: int, **regs: int) -> dict:
    values = {reg: 0 for reg in Reg}
    values[Reg.EFLAGS] = 0x202
    for name, value in regs.items():
        values[Reg[name.upper()]] = value
    c, backend = call_service(m, vector, values)
    m.bios.services[vector](c)
    check_registers(backend)
    return backend.values


def vram_changed(m, before: bytes) -> bool:
    return bytes(m.memory.vram) != before


def test_teletype_with_garbage_columns_and_cursor_writes_into_video_memory(machine):
    """BDA columns FFFFh, cursor row FFh: the fast teletype path wrote at 0x5EFC6A+."""
    mem = machine.memory
    mem.write_u16(Bda.VIDEO_COLUMNS, 0xFFFF)
    mem.write_u16(Bda.VIDEO_CURSOR_POS, 0xFF10)
    before = bytes(mem.vram)
    call(machine, 0x10, eax=0x0E41, ebx=0x0007)
    assert vram_changed(machine, before)


def test_teletype_scroll_with_garbage_rows_and_columns(machine):
    """A line feed on the last row scrolls a window as big as the BDA says: a read of
    hundreds of KiB from B8000h raised IndexError."""
    mem = machine.memory
    mem.write_u16(Bda.VIDEO_COLUMNS, 0x9000)
    mem.write_u8(Bda.VIDEO_ROWS, 0xFE)
    mem.write_u16(Bda.VIDEO_CURSOR_POS, 0xFE00)
    call(machine, 0x10, eax=0x0E0A)
    call(machine, 0x10, eax=0x0E41, ebx=0x0007)


def test_write_char_and_read_char_with_garbage_page_size(machine):
    """Page size FFFFh, page 7: the characters went to extended memory near 1.7 MB."""
    mem = machine.memory
    mem.write_u16(Bda.VIDEO_PAGE_SIZE, 0xFFFF)
    mem.write_u16(Bda.VIDEO_CURSOR_POS + 14, 0x80F0)  # page 7
    extended = bytes(mem.ram[0x100000:])
    before = bytes(mem.vram)
    call(machine, 0x10, eax=0x0958, ebx=0x0717, ecx=0x0100)
    values = call(machine, 0x10, eax=0x0800, ebx=0x0700)
    assert values[Reg.EAX] & 0xFFFF == 0x1758
    assert vram_changed(machine, before)
    assert bytes(mem.ram[0x100000:]) == extended


def test_write_string_from_the_vga_window_with_the_longest_count(machine):
    """AX=1302h from A000:0297 with CX=FFFFh: the 128 KiB read crossed C0000h (IndexError)."""
    call(machine, 0x10, eax=0x1302, ebx=0x0007, ecx=0xFFFF, es=0xA000, ebp=0x0297)


def test_write_string_offset_wraps_within_the_segment(machine):
    """The string at ES:BP wraps at the end of its segment as 16-bit code's would."""
    mem = machine.memory
    mem.write(0x1FFFF, b"A")  # 1000:FFFF
    mem.write(0x10000, b"B")  # 1000:0000 (wrapped), not 2000:0000
    mem.write(0x20000, b"X")
    call(machine, 0x10, eax=0x1301, ebx=0x0007, ecx=2, edx=0, es=0x1000, ebp=0xFFFF)
    assert bytes(mem.vram[0x18000:0x18004:2]) == b"AB"


def test_state_info_with_256_rows(machine):
    """AX=1B00h with BDA rows-1 = FFh: ValueError (byte must be in range(0, 256))."""
    machine.memory.write_u8(Bda.VIDEO_ROWS, 0xFF)
    values = call(machine, 0x10, eax=0x1B00, es=0x2000, edi=0)
    assert values[Reg.EAX] & 0xFF == 0x1B
    assert machine.memory.read_u8(0x20000 + 0x22) == 0xFF


def test_graphics_scroll_with_garbage_columns(machine):
    """Mode 13h, BDA columns FFFFh, a window of row 0 to column 255: the blank lines
    were 2048 bytes wide and painted the scan lines below the window."""
    call(machine, 0x10, eax=0x0013)
    machine.memory.write_u16(Bda.VIDEO_COLUMNS, 0xFFFF)
    call(machine, 0x10, eax=0x0601, ebx=0x0F00, ecx=0, edx=0x00FF)
    vram = machine.memory.vram
    assert bytes(vram[0:320]) == b"\x0f" * 320  # the window's first scan line
    assert bytes(vram[8 * 320:16 * 320]) == bytes(8 * 320)  # the row below: untouched


def test_graphics_text_with_a_font_pointer_near_the_end_of_the_vga_window(machine):
    """int 43h -> B000:F800 with 16-line glyphs: the 4 KiB glyph read crossed C0000h."""
    call(machine, 0x10, eax=0x0013)
    machine.memory.write_u32(0x43 * 4, 0xB000F800)
    machine.memory.write_u16(Bda.VIDEO_CHAR_HEIGHT, 16)
    call(machine, 0x10, eax=0x0941, ebx=0x000F, ecx=1)


def _dap(count: int, buffer: int, lba: int = 0, flat: int | None = None) -> bytes:
    size = 0x18 if flat is not None else 0x10
    packet = bytes((size, 0)) + count.to_bytes(2, "little") + buffer.to_bytes(4, "little")
    packet += lba.to_bytes(8, "little")
    return packet + (flat.to_bytes(8, "little") if flat is not None else b"")


@pytest.mark.parametrize("dap", [_dap(0x2000, 0x00000000),
                                 _dap(1, 0xFFFFFFFF, flat=0x1234_5678_9ABC),
                                 _dap(0x1000, 0xFFFF0000, lba=100)],
                         ids=["4MB-to-0000:0000", "flat-address-beyond-ram", "2MB-at-FFFF:0000"])
def test_extended_read_beyond_guest_memory_fails_with_boundary_status(machine, dap):
    """AH=42h into a buffer that does not fit in 2 MB of RAM: IndexError escaped the
    service before; now status 09h (data boundary error) with CF set, nothing written."""
    mem = machine.memory
    mem.write(0x600, dap)
    ram_before = bytes(mem.ram[:0x400]) + bytes(mem.ram[0x500:0x600])  # all but the BDA
    values = call(machine, 0x13, eax=0x4200, edx=0x80, esi=0x600)
    assert (values[Reg.EAX] >> 8) & 0xFF == 0x09
    assert values[Reg.EFLAGS] & Flag.CF
    assert mem.read_u16(0x602) == 0  # blocks transferred
    assert bytes(mem.ram[:0x400]) + bytes(mem.ram[0x500:0x600]) == ram_before
    assert mem.read_u8(Bda.HDD_LAST_STATUS) == 0x09


def test_extended_write_from_a_buffer_crossing_c0000h(machine):
    """AH=43h from B000:8000 for 128 sectors (64 KiB across C0000h): the read of guest
    memory raised IndexError; now the sectors are written."""
    mem = machine.memory
    mem.vram[0x18000:0x18004] = b"VGA!"  # B8000h
    mem.write(0xC7E00, b"ROM?")  # the last sector's part above C0000h
    mem.write(0x600, _dap(128, 0xB0008000, lba=10))
    values = call(machine, 0x13, eax=0x4300, edx=0x80, esi=0x600)
    assert not values[Reg.EFLAGS] & Flag.CF
    assert machine.drives[0x80].read_sectors(10, 1)[:4] == b"VGA!"
    assert machine.drives[0x80].read_sectors(10 + 127, 1)[:4] == b"ROM?"


def test_block_move_of_nothing_beyond_memory_succeeds(machine):
    gdt = bytes(16) + bytes.fromhex("ffff000000930010") * 2 + bytes(16)  # bases 10000000h
    machine.memory.write(0x700, gdt)
    values = call(machine, 0x15, eax=0x8700, ecx=0, es=0, esi=0x700)
    assert not values[Reg.EFLAGS] & Flag.CF


def test_block_move_beyond_memory_fails(machine):
    gdt = bytes(16) + bytes.fromhex("ffff000000930010") + bytes.fromhex("ffff000010930000")
    machine.memory.write(0x700, gdt + bytes(16))
    values = call(machine, 0x15, eax=0x8700, ecx=0x100, es=0, esi=0x700)
    assert values[Reg.EFLAGS] & Flag.CF and (values[Reg.EAX] >> 8) & 0xFF == 0x02


def test_block_move_from_the_vga_window_into_the_rom_area(machine):
    """A copy from BFF00h of 512 bytes crosses C0000h: it failed with status 02h."""
    gdt = bytes(16) + bytes.fromhex("ffff00ff0b930000") + bytes.fromhex("ffff000010930000")
    machine.memory.write(0x700, gdt + bytes(16))
    machine.memory.vram[VGA_SIZE - 0x100:VGA_SIZE - 0xFC] = b"tail"
    values = call(machine, 0x15, eax=0x8700, ecx=0x100, es=0, esi=0x700)
    assert not values[Reg.EFLAGS] & Flag.CF
    assert machine.memory.read(0x100000, 4) == b"tail"
    assert VGA_BASE + VGA_SIZE == 0xC0000
