"""int 10h drawing in the planar 16-colour modes: pixels (AH=0Ch/0Dh, XOR), characters
(AH=09h, 0Eh and reading them back with AH=08h) and scrolling, on the VGA's plane memory."""

from __future__ import annotations

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.video import VideoBios
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.vga import Vga

FONTS = {8: (0xF000, 0xC000), 14: (0xF000, 0xB000), 16: (0xF000, 0xA000)}


class Env:
    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.planes = bytearray(0x40000)
        self.vga = Vga(IoBus(), ManualClock(), memoryview(bytearray(0x20000)),
                       memoryview(self.planes))
        self.svc = VideoBios(self.cpu.mem, self.vga, FONTS)
        self.svc.post()
        for height, (seg, off) in FONTS.items():  # the ROM fonts where int 43h points
            self.cpu.mem.write((seg << 4) + off, load_rom_font(height))

    def int10(self, **regs: int) -> None:
        self.svc.handle(self.cpu.call(0x10, **regs))

    def colour_at(self, x: int, y: int, line: int = 80) -> int:
        at, bit = 4 * (y * line + x // 8), 0x80 >> (x % 8)
        return sum(1 << p for p in range(4) if self.planes[at + p] & bit)


@pytest.fixture
def env() -> Env:
    e = Env()
    e.int10(ax=0x0012)
    return e


def test_pixels_write_read_and_xor(env) -> None:
    env.int10(ax=0x0C09, bx=0, cx=100, dx=50)
    assert env.colour_at(100, 50) == 9 and env.colour_at(101, 50) == 0
    env.int10(ax=0x0D00, bx=0, cx=100, dx=50)
    assert env.cpu.regs.al == 9
    env.int10(ax=0x0C83, bx=0, cx=100, dx=50)  # XOR 3
    assert env.colour_at(100, 50) == 9 ^ 3
    env.int10(ax=0x0C0F, bx=0, cx=640, dx=0)  # off screen: ignored
    assert not any(env.planes[4 * 80 * 480:])


def test_teletype_draws_the_glyph_and_ah08_reads_it_back(env) -> None:
    env.int10(ax=0x0E41, bx=0x000E)  # 'A' in yellow at (0, 0)
    glyph = load_rom_font(16)[0x41 * 16: 0x42 * 16]
    for line, bits in enumerate(glyph):
        for x in range(8):
            assert env.colour_at(x, line) == (14 if bits & (0x80 >> x) else 0)
    env.int10(ax=0x0200, bx=0, dx=0)  # cursor back to (0, 0)
    env.int10(ax=0x0800, bx=0)
    assert env.cpu.regs.al == 0x41


def test_write_char_with_count_and_scroll_up(env) -> None:
    env.int10(ax=0x0200, bx=0, dx=0x1D00)  # last row (30 rows of 16 lines)
    env.int10(ax=0x09DB, bx=0x0004, cx=3)  # three full blocks in red
    assert env.colour_at(0, 29 * 16) == 4 and env.colour_at(23, 29 * 16 + 15) == 4
    assert env.colour_at(24, 29 * 16) == 0
    env.int10(ax=0x0601, bx=0x0100, cx=0, dx=0x1D4F)  # up one row, blank in colour 1
    assert env.colour_at(0, 28 * 16) == 4 and env.colour_at(0, 29 * 16) == 1


def test_mode_0dh_pages(env) -> None:
    env.int10(ax=0x000D)
    env.int10(ax=0x0C05, bx=0x0100, cx=3, dx=2)  # page 1: 2000h bytes in
    at = 4 * (0x2000 + 2 * 40)
    assert [env.planes[at + p] for p in range(4)] == [0x10, 0, 0x10, 0]  # x = 3: bit 4
    assert env.colour_at(3, 2, line=40) == 0
    env.int10(ax=0x0D00, bx=0x0100, cx=3, dx=2)
    assert env.cpu.regs.al == 5
