"""Unit tests for vmgui.bios.video (INT 10h) with FakeCpu and a real Vga model."""

from __future__ import annotations

import logging

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.bda import Bda, seg_off
from vmgui.bios.video import VideoBios, emulate_cursor
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.display import DisplayKind
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.vga import Vga

FONTS = {8: (0xF000, 0xC000), 14: (0xF000, 0xB000), 16: (0xF000, 0xA000)}
TEXT = 0xB8000


class Env:
    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.vram = bytearray(0x20000)
        self.vga = Vga(IoBus(), ManualClock(), memoryview(self.vram))
        self.svc = VideoBios(self.cpu.mem, self.vga, FONTS)
        self.svc.post()

    @property
    def regs(self):
        return self.cpu.regs

    def int10(self, **regs: int):
        call = self.cpu.call(0x10, **regs)
        self.svc.handle(call)
        return call

    def cell(self, row: int, col: int, page: int = 0) -> tuple[int, int]:
        addr = TEXT + page * 0x1000 + (row * 80 + col) * 2
        ch, attr = self.cpu.mem.read(addr, 2)
        return chr(ch), attr

    def row_text(self, row: int, page: int = 0) -> str:
        data = self.cpu.mem.read(TEXT + page * 0x1000 + row * 160, 160)
        return bytes(data[0::2]).decode("cp437")

    def u8(self, addr: int) -> int:
        return self.cpu.mem.read_u8(addr)


@pytest.fixture
def env() -> Env:
    return Env()


# ------------------------------------------------------------------------- mode setting
def test_set_mode_3_fills_bda_and_clears_text(env):
    env.cpu.mem.write(TEXT, b"\x41\x1f" * 0x4000)
    env.int10(ax=0x0003)
    m = env.cpu.mem
    assert m.read_u8(0x449) == 3
    assert m.read_u16(0x44A) == 80
    assert m.read_u8(0x484) == 24
    assert m.read_u16(0x485) == 16
    assert m.read_u16(Bda.VIDEO_PAGE_SIZE) == 0x1000
    assert m.read_u16(Bda.VIDEO_CRTC_BASE) == 0x3D4
    assert m.read_u16(Bda.VIDEO_CURSOR_SHAPE) == 0x0607
    assert m.read_u8(Bda.VIDEO_MODE_CTRL) == 0x29
    assert m.read(TEXT, 0x8000) == b"\x20\x07" * 0x4000
    assert m.read_u32(0x43 * 4) == 0xF000A000  # int 43h: the mode's 8x16 font
    assert m.read_u32(0x1F * 4) == 0xF000C400  # int 1Fh: upper half of the 8x8 font
    shown = env.vga.display()
    assert shown.kind is DisplayKind.TEXT and (shown.cols, shown.rows) == (80, 25)


def test_set_mode_bit7_keeps_memory_and_0f_reports_it(env):
    env.cpu.mem.write(TEXT, b"\x41\x1f")
    env.int10(ax=0x0083)
    assert env.cell(0, 0) == ("A", 0x1F)
    env.int10(ax=0x0F00, bx=0x0500)
    assert (env.regs.ah, env.regs.al, env.regs.bh) == (80, 0x83, 0)


def test_get_mode(env):
    env.int10(ax=0x0F00, bx=0x1234)
    assert (env.regs.ah, env.regs.al, env.regs.bh) == (80, 3, 0)


def test_unsupported_mode_changes_nothing(env, caplog):
    with caplog.at_level(logging.INFO, logger="vmgui.bios.video"):
        env.int10(ax=0x006A)
        env.int10(ax=0x006A)
    assert env.u8(Bda.VIDEO_MODE) == 3
    assert sum("6Ah not supported" in r.getMessage() for r in caplog.records) == 1


def test_graphics_modes_clear_and_fill_bda(env):
    env.cpu.mem.write(TEXT, b"\xff" * 0x8000)
    env.int10(ax=0x0004)
    assert env.cpu.mem.read(TEXT, 0x8000) == bytes(0x8000)
    assert (env.u8(0x449), env.cpu.mem.read_u16(0x44A), env.u8(0x484), env.u8(0x485)) == (
        4, 40, 24, 8)
    assert env.vga.display().kind is DisplayKind.CGA4
    env.int10(ax=0x0013)
    assert env.vga.display().kind is DisplayKind.VGA256
    assert env.cpu.mem.read_u32(0x43 * 4) == 0xF000C000  # 8x8 graphics font


# ------------------------------------------------------------------------- cursor / pages
def test_cursor_emulation_and_hiding(env):
    env.int10(ax=0x0100, cx=0x0607)
    assert env.cpu.mem.read_u16(Bda.VIDEO_CURSOR_SHAPE) == 0x0607
    shown = env.vga.display()
    assert (shown.cursor_start, shown.cursor_end, shown.cursor_visible) == (13, 14, True)
    env.int10(ax=0x0100, cx=0x0007)  # full block
    shown = env.vga.display()
    assert (shown.cursor_start, shown.cursor_end) == (0, 15)
    env.int10(ax=0x0100, cx=0x2000)
    assert not env.vga.display().cursor_visible
    assert emulate_cursor(6, 7, 8) == (6, 7)
    assert emulate_cursor(11, 12, 14) == (11, 12)


def test_set_get_cursor_per_page(env):
    env.int10(ax=0x0200, bx=0x0100, dx=0x0506)  # page 1
    env.int10(ax=0x0200, bx=0x0000, dx=0x0102)  # page 0
    assert env.vga.cursor_address() == 1 * 80 + 2
    env.int10(ax=0x0300, bx=0x0100)
    assert env.regs.dx == 0x0506 and env.regs.cx == 0x0607
    env.int10(ax=0x0300, bx=0x0000)
    assert env.regs.dx == 0x0102
    assert env.vga.cursor_address() == 1 * 80 + 2  # page 1 is not shown
    env.int10(ax=0x0501)
    assert env.u8(Bda.VIDEO_ACTIVE_PAGE) == 1
    assert env.cpu.mem.read_u16(Bda.VIDEO_PAGE_OFFSET) == 0x1000
    assert env.vga.start_address() == 0x800
    assert env.vga.cursor_address() == 0x800 + 5 * 80 + 6
    env.int10(ax=0x0F00)
    assert env.regs.bh == 1
    env.int10(ax=0x0509)  # no page 9: ignored
    assert env.u8(Bda.VIDEO_ACTIVE_PAGE) == 1


# ------------------------------------------------------------------------- text output
def test_teletype_keeps_attribute_and_crlf(env):
    env.cpu.mem.write(TEXT, b"\x20\x1e" * 80)
    for ch in b"Hi\r\n":
        env.int10(ax=0x0E00 | ch, bx=0x0007)
    assert env.cell(0, 0) == ("H", 0x1E) and env.cell(0, 1) == ("i", 0x1E)
    env.int10(ax=0x0300, bx=0)
    assert env.regs.dx == 0x0100
    assert env.vga.cursor_address() == 80


def test_teletype_backspace_and_bell(env):
    for ch in b"ab\x08\x07c":
        env.int10(ax=0x0E00 | ch)
    assert env.row_text(0).startswith("ac ")
    assert env.svc.bell_count == 1
    env.int10(ax=0x0300, bx=0)
    assert env.regs.dx == 0x0002


def test_teletype_wraps_and_scrolls_at_bottom(env):
    env.cpu.mem.write(TEXT + 160, b"A\x07")  # row 1
    env.cpu.mem.write(TEXT + 24 * 160 + 79 * 2, b" \x2f")  # last cell, attribute 2Fh
    env.int10(ax=0x0200, bx=0, dx=(24 << 8) | 79)
    env.int10(ax=0x0E00 | ord("Z"))
    assert env.cell(0, 0) == ("A", 0x07)  # scrolled up one row
    assert env.cell(23, 79) == ("Z", 0x2F)
    assert env.cell(24, 0) == (" ", 0x2F)  # blank row in the cursor cell's attribute
    env.int10(ax=0x0300, bx=0)
    assert env.regs.dx == 0x1800
    env.int10(ax=0x0E0A)  # LF on the last row scrolls again
    assert env.cell(22, 79) == ("Z", 0x2F)
    env.int10(ax=0x0300, bx=0)
    assert env.regs.dx == 0x1800


def test_scroll_window_up_and_down(env):
    for row in range(25):
        env.cpu.mem.write(TEXT + row * 160, bytes((0x41 + row, 0x07)) * 80)
    env.int10(ax=0x0601, bx=0x1F00, cx=0x0102, dx=0x0305)  # rows 1-3, cols 2-5, one line
    assert env.row_text(1)[:8] == "BBCCCCBB"
    assert env.row_text(2)[:8] == "CCDDDDCC"
    assert env.row_text(3)[:8] == "DD    DD"
    assert env.cell(3, 2) == (" ", 0x1F) and env.cell(3, 1) == ("D", 0x07)
    assert env.row_text(4)[:8] == "EEEEEEEE"
    env.int10(ax=0x0702, bx=0x4E00, cx=0x0000, dx=0x184F)  # whole screen down two lines
    assert env.row_text(0) == " " * 80 and env.cell(1, 0) == (" ", 0x4E)
    assert env.row_text(2)[:8] == "AAAAAAAA"
    env.int10(ax=0x0600, bx=0x0700, cx=0x0000, dx=0xFFFF)  # AL=0 clears, window clipped
    assert env.cpu.mem.read(TEXT, 4000) == b"\x20\x07" * 2000


def test_write_char_attr_and_char_only(env):
    env.int10(ax=0x0200, bx=0, dx=0x0205)
    env.int10(ax=0x0900 | ord("x"), bx=0x004E, cx=3)
    assert [env.cell(2, c) for c in range(4, 9)] == [
        (" ", 7), ("x", 0x4E), ("x", 0x4E), ("x", 0x4E), (" ", 7)]
    env.int10(ax=0x0A00 | ord("y"), bx=0x0011, cx=2)
    assert [env.cell(2, c) for c in range(5, 8)] == [("y", 0x4E), ("y", 0x4E), ("x", 0x4E)]
    env.int10(ax=0x0300, bx=0)
    assert env.regs.dx == 0x0205  # the cursor does not move


def test_read_char_attr(env):
    env.cpu.mem.write(TEXT + (4 * 80 + 7) * 2, b"Q\x5a")
    env.cpu.mem.write(TEXT + 0x1000, b"P\x21")
    env.int10(ax=0x0200, bx=0, dx=0x0407)
    env.int10(ax=0x0800, bx=0)
    assert env.regs.ax == 0x5A51
    env.int10(ax=0x0800, bx=0x0100)  # page 1, cursor (0, 0)
    assert env.regs.ax == 0x2150


def test_write_string_modes(env):
    env.cpu.mem.write(seg_off(0x2000, 0x10), b"AB\r\nC")
    env.int10(ax=0x1301, bx=0x001F, cx=5, dx=0x0304, es=0x2000, bp=0x10)
    assert env.cell(3, 4) == ("A", 0x1F) and env.cell(3, 5) == ("B", 0x1F)
    assert env.cell(4, 0) == ("C", 0x1F)
    env.int10(ax=0x0300, bx=0)
    assert env.regs.dx == 0x0401
    env.cpu.mem.write(seg_off(0x2000, 0x20), b"X\x4fY\x2e")
    env.int10(ax=0x1302, bx=0, cx=2, dx=0x0A0A, es=0x2000, bp=0x20)
    assert env.cell(10, 10) == ("X", 0x4F) and env.cell(10, 11) == ("Y", 0x2E)
    env.int10(ax=0x0300, bx=0)
    assert env.regs.dx == 0x0401  # AL bit 0 clear: cursor restored


# ------------------------------------------------------------------------- graphics
def test_mode13_pixels(env):
    env.int10(ax=0x0013)
    env.int10(ax=0x0C04, bx=0, cx=10, dx=5)
    assert env.u8(0xA0000 + 5 * 320 + 10) == 4
    env.int10(ax=0x0D00, bx=0, cx=10, dx=5)
    assert env.regs.al == 4
    env.int10(ax=0x0C07, cx=320, dx=5)  # off-screen: ignored
    assert env.u8(0xA0000 + 6 * 320) == 0


def test_mode4_pixel_interleave_and_xor(env):
    env.int10(ax=0x0004)
    env.int10(ax=0x0C02, cx=5, dx=3)  # odd row -> +2000h; x=5 -> byte 1, pixel 1
    addr = 0xB8000 + 0x2000 + 1 * 80 + 1
    assert env.u8(addr) == 0b0010_0000
    env.int10(ax=0x0D00, cx=5, dx=3)
    assert env.regs.al == 2
    env.int10(ax=0x0C03, cx=4, dx=2)  # even row, pixel 0 of byte 1
    assert env.u8(0xB8000 + 80 + 1) == 0b1100_0000
    env.int10(ax=0x0C82, cx=5, dx=3)  # XOR clears it again
    assert env.u8(addr) == 0


def test_mode6_pixel(env):
    env.int10(ax=0x0006)
    env.int10(ax=0x0C01, cx=9, dx=1)
    assert env.u8(0xB8000 + 0x2000 + 1) == 0b0100_0000


def test_graphics_char_draw_and_read_back(env):
    font = load_rom_font(8)
    env.int10(ax=0x0013)
    env.int10(ax=0x0200, bx=0, dx=0x0102)
    env.int10(ax=0x0900 | ord("A"), bx=0x000F, cx=2)
    for line in range(8):
        row = env.cpu.mem.read(0xA0000 + (8 + line) * 320 + 16, 16)
        bits = font[ord("A") * 8 + line]
        expect = bytes(15 if bits & (0x80 >> i) else 0 for i in range(8))
        assert row == expect * 2
    env.int10(ax=0x0800, bx=0)
    assert env.regs.al == ord("A")
    env.int10(ax=0x0004)
    env.int10(ax=0x0E00 | ord("W"), bx=0x0003)
    env.int10(ax=0x0200, bx=0, dx=0)
    env.int10(ax=0x0800)
    assert env.regs.al == ord("W")
    env.int10(ax=0x0900 | ord("W"), bx=0x0083, cx=1)  # XOR erases it
    assert env.cpu.mem.read(0xB8000, 2) == b"\0\0"


def test_graphics_scroll_mode13(env):
    env.int10(ax=0x0013)
    env.cpu.mem.write(0xA0000 + 8 * 320, b"\x05" * 320)  # first line of char row 1
    env.int10(ax=0x0601, bx=0x0900, cx=0, dx=0x1827)
    assert env.cpu.mem.read(0xA0000, 320) == b"\x05" * 320
    assert env.cpu.mem.read(0xA0000 + 199 * 320, 320) == b"\x09" * 320


def test_cga_palette_select(env):
    env.int10(ax=0x0004)
    env.int10(ax=0x0B00, bx=0x0101)
    assert env.u8(Bda.VIDEO_CGA_PALETTE) & 0x20
    assert env.vga.display().cga_palette & 0x20
    env.int10(ax=0x0B00, bx=0x0001)
    assert env.u8(Bda.VIDEO_CGA_PALETTE) & 0x1F == 1


# ------------------------------------------------------------------------- palette / DAC
def test_dac_and_attribute_registers(env):
    env.int10(ax=0x1010, bx=0x20, dx=0x3F00, cx=0x1505)
    env.int10(ax=0x1015, bx=0x20)
    assert (env.regs.dh, env.regs.ch, env.regs.cl) == (0x3F, 0x15, 0x05)
    env.cpu.mem.write(seg_off(0x3000, 0), bytes(range(9)))
    env.int10(ax=0x1012, bx=0x40, cx=3, es=0x3000, dx=0)
    env.int10(ax=0x1017, bx=0x40, cx=3, es=0x3000, dx=0x100)
    assert env.cpu.mem.read(0x30100, 9) == bytes(range(9))
    env.int10(ax=0x1000, bx=0x3905)
    env.int10(ax=0x1007, bx=0x0005)
    assert env.regs.bh == 0x39 and env.vga.get_attr_palette(5) == 0x39
    env.int10(ax=0x1001, bx=0x0200)
    env.int10(ax=0x1008)
    assert env.regs.bh == 2
    env.int10(ax=0x1009, es=0x3000, dx=0x200)
    assert env.cpu.mem.read(0x30200 + 5, 1) == b"\x39" and env.u8(0x30200 + 16) == 2
    env.int10(ax=0x1003, bx=0)
    assert not env.vga.display().blink_enabled
    env.int10(ax=0x101B, bx=0x20, cx=1)
    env.int10(ax=0x1015, bx=0x20)
    assert env.regs.dh == env.regs.ch == env.regs.cl


def test_paging_state(env):
    env.int10(ax=0x1013, bx=0x0100)  # 16 pages of 16
    env.int10(ax=0x1013, bx=0x0701)
    env.int10(ax=0x101A)
    assert (env.regs.bl, env.regs.bh) == (1, 7)


# ------------------------------------------------------------------------- fonts / info
def test_font_info(env):
    env.int10(ax=0x1130, bx=0x0600)
    assert (env.regs.es, env.regs.bp, env.regs.cx, env.regs.dl) == (0xF000, 0xA000, 16, 24)
    env.int10(ax=0x1130, bx=0x0400)
    assert (env.regs.es, env.regs.bp) == (0xF000, 0xC400)
    env.int10(ax=0x1130, bx=0x0200)
    assert (env.regs.es, env.regs.bp) == (0xF000, 0xB000)
    env.int10(ax=0x1130, bx=0x0100)
    assert (env.regs.es, env.regs.bp) == (0xF000, 0xA000)


def test_load_8x8_font_gives_50_rows(env):
    env.int10(ax=0x1112, bx=0)
    assert env.u8(Bda.VIDEO_ROWS) == 49 and env.cpu.mem.read_u16(Bda.VIDEO_CHAR_HEIGHT) == 8
    shown = env.vga.display()
    assert (shown.rows, shown.char_height) == (50, 8)
    assert (shown.cursor_start, shown.cursor_end) == (6, 7)
    env.int10(ax=0x1130, bx=0)
    assert (env.regs.cx, env.regs.dl) == (8, 49)
    env.int10(ax=0x1114, bx=0)
    assert env.vga.display().rows == 25


def test_display_combination_code(env):
    env.int10(ax=0x1A00)
    assert env.regs.al == 0x1A and env.regs.bx == 0x0008


def test_ega_info(env):
    env.int10(ax=0x1200, bx=0x0010)
    assert (env.regs.bh, env.regs.bl, env.regs.cx) == (0, 3, 0x0009)
    env.int10(ax=0x1201, bx=0x0030)
    assert env.regs.al == 0x12
    env.int10(ax=0x1201, bx=0x0034)  # cursor emulation off
    assert env.regs.al == 0x12
    env.int10(ax=0x0100, cx=0x0607)
    assert (env.vga.display().cursor_start, env.vga.display().cursor_end) == (6, 7)


def test_state_info(env):
    env.int10(ax=0x1B00, bx=0, es=0x3000, di=0)
    assert env.regs.al == 0x1B
    buf = env.cpu.mem.read(0x30000, 64)
    assert buf[4] == 3 and buf[0x22] == 25 and buf[0x23] == 16 and buf[0x29] == 8


def test_vbe_not_present(env, caplog):
    with caplog.at_level(logging.INFO, logger="vmgui.bios.video"):
        env.int10(ax=0x4F00, es=0x3000, di=0)
        env.int10(ax=0x4F00, es=0x3000, di=0)
    assert env.regs.al != 0x4F
    assert sum("VBE" in r.getMessage() for r in caplog.records) == 1


def test_unknown_function_logged_once(env, caplog):
    with caplog.at_level(logging.INFO, logger="vmgui.bios.video"):
        env.int10(ax=0x7700, bx=0x1234)
        env.int10(ax=0x7700)
    assert env.regs.ax == 0x7700 and env.regs.bx == 0x1234
    assert sum("AH=77h: unsupported" in r.getMessage() for r in caplog.records) == 1


def test_grey_summing_and_user_graphics_font(env):
    env.int10(ax=0x1200, bx=0x0033)  # grey summing on
    env.int10(ax=0x1010, bx=0x10, dx=0x3F00, cx=0x0000)
    env.int10(ax=0x1015, bx=0x10)
    assert env.regs.dh == env.regs.ch == env.regs.cl == (77 * 63 + 0x80) >> 8
    env.int10(ax=0x0013)
    glyph = bytes((0xFF, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0xFF))
    env.cpu.mem.write(seg_off(0x5000, 0x41 * 8), glyph)  # a user font with one glyph 'A'
    env.int10(ax=0x1121, bx=0x0002, cx=8, es=0x5000, bp=0)
    env.int10(ax=0x0A41, bx=0x0001, cx=1)
    assert env.cpu.mem.read(0xA0000, 8) == b"\x01" * 8
    assert env.cpu.mem.read(0xA0000 + 320, 8) == b"\x01" + bytes(6) + b"\x01"
