"""Video BIOS: the int 10h service of a VGA card, and its part of POST.

Owns: the BDA video fields (0040:0049-0066, 0084-008A), the int 1Fh/43h font vectors,
int 10h functions 00h-0Fh (modes, cursor, pages, scrolling, characters, pixels,
teletype), 10h (palette/DAC), 11h (fonts), 12h (alternate select), 13h (write string),
1Ah (display combination), 1Bh (state information); VBE (4Fh) is :mod:`vmgui.bios.vbe`
on a card with the VBE extension and answers "not present" on a plain VGA.
Text goes straight into guest video memory (B8000h, B0000h for mode 7); graphics-mode
work is in :mod:`vmgui.bios.video_gfx`.  Registers are programmed through the
:class:`~vmgui.devices.vga.Vga` model's BIOS helpers and ports, never by mode number alone.
References: Ralf Brown's interrupt list (INT 10), IBM VGA Technical Reference, SeaBIOS
``vgasrc/vgabios.c`` and DOSBox ``int10*.cpp`` for behaviour details.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vmgui.bios import video_gfx as gfx
from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda, read_far, seg_off
from vmgui.bios.vbe import VbeBios
from vmgui.bios.video_gfx import (
    VIDEO_BDA_SIZE,
    Screen,
    VideoMode,
    VideoWindow,
    emulate_cursor,
    window_size,
)
from vmgui.bios.video_palette import VGA_GREY, PaletteBios
from vmgui.bios.video_planar import PlanarScreen
from vmgui.devices.fonts import ROM_FONT_HEIGHTS, load_rom_font
from vmgui.devices.vga import Crtc, Port, Seq, Vga

log = logging.getLogger(__name__)

INT1F_VECTOR = 0x1F * 4  # upper 128 glyphs of the 8x8 graphics font
INT43_VECTOR = 0x43 * 4  # graphics-mode font
# 0040:0087 (EGA misc): bit 0 = cursor emulation off, bit 7 = memory kept at the last mode set
MISC_NO_CURSOR_EMULATION, MISC_NOCLEAR, MISC_DEFAULT = 0x01, 0x80, 0x60
# 0040:0089 (VGA flags): bit 0 VGA active, bit 1 grey summing, bit 3 no default palette,
# bits 7/4 scan lines (00 = 350, 01 = 400, 10 = 200)
VGA_ACTIVE, VGA_NO_PALETTE, VGA_400, VGA_200 = 0x01, 0x08, 0x10, 0x80  # VGA_GREY: 0x02
DCC_VGA_COLOUR = 0x08
STATE_BUFFER_SIZE = 64
BEL, BS, LF, CR = 0x07, 0x08, 0x0A, 0x0D
_TTY_BDA_SPAN = Bda.VIDEO_ACTIVE_PAGE - Bda.VIDEO_MODE + 1
_CURSORS = Bda.VIDEO_CURSOR_POS - Bda.VIDEO_MODE
_ACTIVE_PAGE = Bda.VIDEO_ACTIVE_PAGE - Bda.VIDEO_MODE


class VideoBios:
    """int 10h on top of a :class:`Vga`.  ``font_pointers`` maps 8/14/16 to the
    (segment, offset) of that ROM font table in guest memory (the 8x8 table holds 256
    glyphs; int 1Fh points at its second half)."""

    def __init__(self, mem: Memory, vga: Vga, font_pointers: dict[int, tuple[int, int]]) -> None:
        self.mem = mem
        self.vga = vga
        self.fonts = dict(font_pointers)
        self.bell_count = 0  # BEL characters written by teletype (the machine may beep)
        self.user_font_height: int | None = None  # last int 10h AX=1100h/1110h height
        self._logged: set[tuple[int, ...]] = set()
        self.palette = PaletteBios(mem, vga, self._log_once)
        self._leaves: dict[int, Callable[[BiosCall], None]] = {
            0x00: self._set_mode, 0x01: self._set_cursor_shape, 0x02: self._set_cursor,
            0x03: self._get_cursor, 0x04: self._light_pen, 0x05: self._set_page,
            0x06: self._scroll, 0x07: self._scroll, 0x08: self._read_char,
            0x09: self._write_char, 0x0A: self._write_char, 0x0B: self._cga_palette,
            0x0C: self._write_pixel, 0x0D: self._read_pixel, 0x0E: self._teletype,
            0x0F: self._get_mode, 0x10: self.palette.handle, 0x11: self._font,
            0x12: self._alt_select, 0x13: self._write_string, 0x1A: self._display_code,
            0x1B: self._state_info, 0x4F: self._vbe,
        }
        self.vbe = VbeBios(mem, vga, self.set_mode, self._log_once) if vga.vbe else None
        if self.vbe is not None:
            self._leaves[0x4F] = self.vbe.handle

    def _log_once(self, key: tuple[int, ...], msg: str, *args: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.info(msg, *args)

    def handle(self, call: BiosCall) -> None:
        ah = call.regs.ah
        leaf = self._leaves.get(ah)
        if leaf is None:
            self._log_once((ah,), "INT 10h AH=%02Xh: unsupported function", ah)
            return
        leaf(call)

    # ------------------------------------------------------------------ POST / mode set
    def post(self) -> None:
        """Power-on: VGA flags, then mode 3 (which fills the rest of the BDA video fields)."""
        m = self.mem
        m.write_u8(Bda.VIDEO_EGA_MISC, MISC_DEFAULT)
        m.write_u8(Bda.VIDEO_EGA_SWITCHES, 0xF9)
        m.write_u8(Bda.VIDEO_VGA_FLAGS, VGA_ACTIVE | VGA_400)
        m.write_u8(Bda.VIDEO_DCC_INDEX, DCC_VGA_COLOUR)
        if self.vbe is not None:
            self.vbe.post()
        self.set_mode(0x03)

    def set_mode(self, al: int) -> bool:
        """int 10h AH=00h: program the card and the BDA for mode ``al & 7Fh``; bit 7 keeps
        video memory.  False (nothing changed) for a mode this BIOS does not offer."""
        mode, keep = al & 0x7F, bool(al & 0x80)
        info = gfx.MODES.get(mode)
        flags = self.mem.read_u8(Bda.VIDEO_VGA_FLAGS)
        saved_dac = [self.vga.get_dac(i) for i in range(256)] if flags & VGA_NO_PALETTE else None
        if info is None or not self.vga.set_mode(mode, clear=False):
            self._log_once((0x00, mode), "INT 10h AH=00h: video mode %02Xh not supported", mode)
            return False
        if saved_dac is not None:
            for i, rgb in enumerate(saved_dac):
                self.vga.set_dac(i, *rgb)
        elif flags & VGA_GREY:
            self.palette.grey_sum(0, 256)
        if not keep:
            self._clear_memory(info)
        self._write_mode_bda(mode, info, keep)
        self._apply_cursor_shape(0x0B0C if mode == 0x07 else 0x0607, info.char_height, info)
        self.vga.set_start_address(0)
        self.vga.set_cursor_offset(0)
        return True

    def _write_mode_bda(self, mode: int, info: VideoMode, keep: bool) -> None:
        m, vga = self.mem, self.vga
        shape = 0x0B0C if mode == 0x07 else 0x0607
        m.write(Bda.VIDEO_MODE, gfx.VIDEO_BDA.pack(
            mode, info.cols, info.page_size, 0, bytes(16), shape, 0, vga.crtc_base,
            vga.cga_mode, vga.cga_color))
        m.write(Bda.VIDEO_ROWS, bytes((info.rows - 1,)) + info.char_height.to_bytes(2, "little"))
        misc = m.read_u8(Bda.VIDEO_EGA_MISC) & MISC_NO_CURSOR_EMULATION
        m.write_u8(Bda.VIDEO_EGA_MISC, misc | MISC_DEFAULT | (MISC_NOCLEAR if keep else 0))
        m.write_u8(Bda.VIDEO_EGA_SWITCHES, 0xF9)
        equipment = m.read_u16(Bda.EQUIPMENT) & ~0x30
        m.write_u16(Bda.EQUIPMENT, equipment | (0x30 if mode == 0x07 else 0x20))
        self._set_vector(INT43_VECTOR, self.fonts.get(info.char_height, self.fonts[8]))
        seg, off = self.fonts[8]
        self._set_vector(INT1F_VECTOR, (seg, off + 0x400))

    def _set_vector(self, addr: int, ptr: tuple[int, int]) -> None:
        self.mem.write_u32(addr, (ptr[0] << 16) | ptr[1])

    def _clear_memory(self, info: VideoMode) -> None:
        if info.kind is gfx.PLANAR16:  # all four planes (A0000h reaches them one write at a time)
            self.vga.planar.clear()
            return
        size = 0x10000 if info.base == 0xA0000 else 0x8000  # 64 KiB at A000h, else 32 KiB
        self.mem.write(info.base, b"\x20\x07" * (size // 2) if info.text else bytes(size))

    def _set_mode(self, call: BiosCall) -> None:
        self.set_mode(call.regs.al)

    def _get_mode(self, call: BiosCall) -> None:
        scr = Screen(self.mem)
        noclear = self.mem.read_u8(Bda.VIDEO_EGA_MISC) & MISC_NOCLEAR
        call.regs.ax = ((scr.cols & 0xFF) << 8) | (scr.mode & 0x7F) | noclear
        call.regs.bh = scr.page

    # ------------------------------------------------------------------ cursor and pages
    def _apply_cursor_shape(self, shape: int, char_height: int, info: VideoMode) -> None:
        """Store ``shape`` (CH/CL of AH=01h) and program the CRTC, emulated if enabled."""
        self.mem.write_u16(Bda.VIDEO_CURSOR_SHAPE, shape)
        if not info.text:
            return
        start, end = shape >> 8, shape & 0xFF
        if not self.mem.read_u8(Bda.VIDEO_EGA_MISC) & MISC_NO_CURSOR_EMULATION:
            start, end = emulate_cursor(start, end, char_height)
        self.vga.set_cursor_shape(start, end)

    def _set_cursor_shape(self, call: BiosCall) -> None:
        scr = Screen(self.mem)
        self._apply_cursor_shape(call.regs.cx, scr.char_height, scr.info)

    def _move_cursor(self, scr: Screen, page: int, row: int, col: int) -> None:
        """Store the cursor of ``page``; the hardware cursor follows the active page."""
        page &= 7
        scr.cursors[page] = (row << 8) | col
        self.mem.write_u16(Bda.VIDEO_CURSOR_POS + 2 * page, scr.cursors[page])
        if page == scr.page and scr.info.text:
            self.vga.set_cursor_offset((page * scr.page_size) // 2 + row * scr.cols + col)

    def _set_cursor(self, call: BiosCall) -> None:
        r = call.regs
        self._move_cursor(Screen(self.mem), r.bh, r.dh, r.dl)

    def _get_cursor(self, call: BiosCall) -> None:
        r = call.regs
        scr = Screen(self.mem)
        row, col = scr.cursor(r.bh)
        r.dx = (row << 8) | col
        r.cx = scr.cursor_shape

    def _light_pen(self, call: BiosCall) -> None:
        call.regs.ah = 0  # light pen not triggered

    def _set_page(self, call: BiosCall) -> None:
        page = call.regs.al
        scr = Screen(self.mem)
        if page >= scr.info.pages:
            return
        offset = page * scr.page_size
        self.mem.write_u8(Bda.VIDEO_ACTIVE_PAGE, page)
        self.mem.write_u16(Bda.VIDEO_PAGE_OFFSET, offset)
        self.vga.set_start_address(offset // 2 if scr.info.text else offset)
        scr.page = page
        self._move_cursor(scr, page, *scr.cursor(page))

    # ------------------------------------------------------------------ scrolling
    def _scroll(self, call: BiosCall) -> None:
        r = call.regs
        scr = Screen(self.mem)
        bottom, right = min(r.dh, scr.rows - 1), min(r.dl, scr.cols - 1)
        top, left = r.ch, r.cl
        if top > bottom or left > right:
            return
        window = (top, left, bottom, right)
        up = r.ah == 0x06
        if scr.info.text:
            self._scroll_text(scr, scr.page, window, r.al, r.bh, up)
        elif (planar := self._planar(scr)) is not None:
            planar.scroll(window, r.al, r.bh, up, scr.char_height)
        elif scr.info.drawable:
            gfx.scroll_window(self.mem, scr.info, window, r.al, r.bh, up, scr.char_height)
        else:
            self._log_once((r.ah, scr.mode), "INT 10h AH=%02Xh: mode %02Xh not drawn",
                           r.ah, scr.mode)

    def _scroll_text(self, scr: Screen, page: int, window: tuple[int, int, int, int],
                     lines: int, attr: int, up: bool) -> None:
        top, left, bottom, right = window
        stride, width = scr.cols * 2, (right - left + 1) * 2
        start = scr.cell(page, top, left)
        height = bottom - top + 1
        video = VideoWindow(self.mem, scr.info)
        buf = bytearray(video.read(start, (height - 1) * stride + width))
        old = [bytes(buf[i * stride: i * stride + width]) for i in range(height)]
        blank = bytes((0x20, attr)) * (width // 2)
        if lines == 0 or lines >= height:
            new = [blank] * height
        elif up:
            new = old[lines:] + [blank] * lines
        else:
            new = [blank] * lines + old[:-lines]
        for i, data in enumerate(new):
            buf[i * stride: i * stride + width] = data
        video.write(start, bytes(buf))

    # ------------------------------------------------------------------ characters
    def _glyph_font(self, height: int) -> bytes:
        """The graphics font int 43h points at (the ROM table without a guest read when
        it is one of ours)."""
        vec = self.mem.read_u32(INT43_VECTOR)
        ptr = (vec >> 16, vec & 0xFFFF)
        if self.fonts.get(height) == ptr:
            return load_rom_font(height)
        return read_far(self.mem, *ptr, 256 * height)

    def _put_char(self, scr: Screen, page: int, pos: tuple[int, int], ch: int,
                  attr: int | None, count: int = 1) -> None:
        """Write ``count`` copies of ``ch`` from ``pos`` on; text modes keep the old
        attributes when ``attr`` is None; graphics modes draw in colour ``attr``."""
        row, col = pos
        if scr.info.text:
            video, addr = VideoWindow(self.mem, scr.info), scr.cell(page, row, col)
            count = max(0, min(count, (scr.page_size - (addr - scr.cell(page, 0, 0))) // 2))
            if attr is not None:
                video.write(addr, bytes((ch, attr)) * count)
            elif count == 1:
                video.write(addr, bytes((ch,)))
            elif count:
                buf = bytearray(video.read(addr, 2 * count))
                buf[0::2] = bytes((ch,)) * count
                video.write(addr, bytes(buf))
        elif scr.info.drawable or (planar := self._planar(scr, page)) is not None:
            h = scr.char_height
            glyph = self._glyph_font(h)[ch * h: ch * h + h]
            if scr.info.drawable:
                gfx.draw_glyph(self.mem, scr.info, col, row, glyph, attr or 0, count)
            else:
                planar.draw_glyph(col, row, glyph, attr or 0, count)
        else:
            self._log_once((0x09, scr.mode), "INT 10h: text output in mode %02Xh not drawn",
                           scr.mode)

    def _read_char(self, call: BiosCall) -> None:
        r = call.regs
        scr = Screen(self.mem)
        page = r.bh & 7 if scr.info.text else scr.page
        pos = scr.cursor(page)
        if scr.info.text:
            cell = VideoWindow(self.mem, scr.info).read(scr.cell(page, *pos), 2)
            r.ax = cell[0] | cell[1] << 8
            return
        h = scr.char_height
        planar = self._planar(scr, page)
        pattern = (planar.read_glyph(pos[1], pos[0], h) if planar is not None
                   else gfx.read_glyph(self.mem, scr.info, pos[1], pos[0], h))
        found = gfx.find_glyph(self._glyph_font(h), pattern)
        r.ax = found or 0

    def _write_char(self, call: BiosCall) -> None:
        r = call.regs
        scr = Screen(self.mem)
        page = r.bh & 7 if scr.info.text else scr.page
        attr = r.bl if r.ah == 0x09 or not scr.info.text else None
        self._put_char(scr, page, scr.cursor(page), r.al, attr, r.cx)

    def _teletype(self, call: BiosCall) -> None:
        r = call.regs
        if self._fast_tty(r.al):
            return
        scr = Screen(self.mem)
        self._tty(scr, scr.page, r.al, None if scr.info.text else r.bl)

    def _fast_tty(self, ch: int) -> bool:
        """The common case of teletype -- a printable character or CR in a text mode, not at
        the end of a line -- from one read of the BDA video fields instead of parsing all
        video state (DOS prints everything through here).  False: take the general path."""
        if ch < 0x20 and ch != CR:
            return False
        m = self.mem
        bda = m.read(Bda.VIDEO_MODE, _TTY_BDA_SPAN)  # 0449h .. 0462h
        info = gfx.MODES.get(bda[0] & 0x7F)
        if info is None or not info.text:
            return False
        page = bda[_ACTIVE_PAGE] & 7
        cols = min((bda[1] | bda[2] << 8) or info.cols, gfx.MAX_COLS)
        page_size = (bda[3] | bda[4] << 8) or info.page_size
        row, col = bda[_CURSORS + 2 * page + 1], bda[_CURSORS + 2 * page]
        if ch == CR:
            col = 0
        elif col + 1 >= cols:
            return False  # wraps, maybe scrolls
        else:
            offset = page * page_size + (row * cols + col) * 2
            m.write_u8(info.base + offset % window_size(info), ch)
            col += 1
        m.write_u16(Bda.VIDEO_CURSOR_POS + 2 * page, (row << 8) | col)
        self.vga.set_cursor_offset((page * page_size) // 2 + row * cols + col)
        return True

    def _tty(self, scr: Screen, page: int, ch: int, attr: int | None) -> None:
        """Teletype one character on ``page``: BEL, BS, CR, LF act; others are written
        (text: with ``attr`` or the cell's own attribute; graphics: colour ``attr``)."""
        row, col = scr.cursor(page)
        old = (row, col)
        if ch == BEL:
            self.bell_count += 1
            return
        if ch == BS:
            col = max(0, col - 1)
        elif ch == CR:
            col = 0
        elif ch == LF:
            row += 1
        else:
            self._put_char(scr, page, old, ch, attr)
            col += 1
            if col >= scr.cols:
                col, row = 0, row + 1
        if row >= scr.rows:
            row = scr.rows - 1
            fill = (VideoWindow(self.mem, scr.info).read(scr.cell(page, *old) + 1, 1)[0]
                    if scr.info.text else 0)
            window = (0, 0, row, scr.cols - 1)
            if scr.info.text:
                self._scroll_text(scr, page, window, 1, fill, up=True)
            elif (planar := self._planar(scr, page)) is not None:
                planar.scroll(window, 1, fill, True, scr.char_height)
            else:
                gfx.scroll_window(self.mem, scr.info, window, 1, fill, True, scr.char_height)
        self._move_cursor(scr, page, row, col)

    def _write_string(self, call: BiosCall) -> None:
        r = call.regs
        mode, page, count = r.al, r.bh & 7, r.cx
        scr = Screen(self.mem)
        saved = scr.cursor(page)
        data = read_far(self.mem, r.es, r.bp, count * (2 if mode & 2 else 1))
        self._move_cursor(scr, page, r.dh, r.dl)
        for i in range(count):
            ch = data[2 * i] if mode & 2 else data[i]
            attr = data[2 * i + 1] if mode & 2 else r.bl
            self._tty(scr, page, ch, attr if ch not in (BEL, BS, CR, LF) else None)
        if not mode & 1:
            self._move_cursor(scr, page, *saved)

    # ------------------------------------------------------------------ pixels, CGA palette
    def _planar(self, scr: Screen, page: int | None = None) -> PlanarScreen | None:
        """Page ``page`` (default: the active one) of a planar mode; None in others."""
        if scr.info.kind is not gfx.PLANAR16:
            return None
        page = scr.page if page is None else page % scr.info.pages
        return PlanarScreen(self.vga.planes_view, scr.info, page * scr.page_size)

    def _write_pixel(self, call: BiosCall) -> None:
        r = call.regs
        scr = Screen(self.mem)
        planar = self._planar(scr, r.bh)
        if planar is not None:
            planar.put_pixel(r.cx, r.dx, r.al)
        else:
            gfx.put_pixel(self.mem, scr.info, r.cx, r.dx, r.al)

    def _read_pixel(self, call: BiosCall) -> None:
        r = call.regs
        scr = Screen(self.mem)
        planar = self._planar(scr, r.bh)
        r.al = (planar.get_pixel(r.cx, r.dx) if planar is not None
                else gfx.get_pixel(self.mem, scr.info, r.cx, r.dx))

    def _cga_palette(self, call: BiosCall) -> None:
        """AH=0Bh: BH=0 background/border colour BL (bit 4 intensity), BH=1 palette BL."""
        r = call.regs
        value = self.mem.read_u8(Bda.VIDEO_CGA_PALETTE)
        if r.bh == 0:
            value = (value & 0xE0) | (r.bl & 0x1F)
        elif r.bh == 1:
            value = (value & 0xDF) | (0x20 if r.bl & 1 else 0)
        else:
            return
        self.mem.write_u8(Bda.VIDEO_CGA_PALETTE, value)
        kind = Screen(self.mem).info.kind
        if kind in (gfx.TEXT, gfx.CGA2, gfx.CGA4):
            self.vga.set_cga_palette(value)
        elif r.bh == 0:
            self.vga.set_overscan(r.bl & 0x0F)

    # ------------------------------------------------------------------ AH=11h fonts
    def _font(self, call: BiosCall) -> None:
        r = call.regs
        al = r.al
        rom_heights = {0x01: 14, 0x02: 8, 0x04: 16, 0x11: 14, 0x12: 8, 0x14: 16}
        if al == 0x30:
            self._font_info(call)
        elif al in rom_heights:
            if al & 0x10:
                self._set_text_char_height(rom_heights[al])
        elif al in (0x00, 0x10):
            self.user_font_height = r.bh
            if al == 0x10 and r.bh in ROM_FONT_HEIGHTS:
                self._set_text_char_height(r.bh)
        elif al == 0x03:
            pass  # block specifier: a single font block is shown
        elif al == 0x20:
            self._set_vector(INT1F_VECTOR, (r.es, r.bp))
        elif al in (0x21, 0x22, 0x23, 0x24):
            self._set_graphics_font(call)
        else:
            self._log_once((0x11, al), "INT 10h AX=11%02Xh: unsupported function", al)

    def _font_info(self, call: BiosCall) -> None:
        """AX=1130h: ES:BP = font BH, CX = character height, DL = rows - 1."""
        r = call.regs
        which = r.bh
        seg, off = self.fonts[8]
        ptr = {2: self.fonts[14], 3: (seg, off), 4: (seg, off + 0x400), 5: self.fonts[14],
               6: self.fonts[16], 7: self.fonts[16]}.get(which)
        if which in (0, 1):
            vec = self.mem.read_u32(INT1F_VECTOR if which == 0 else INT43_VECTOR)
            ptr = (vec >> 16, vec & 0xFFFF)
        if ptr is None:
            self._log_once((0x11, 0x30, which), "INT 10h AX=1130h BH=%02Xh: no such font", which)
            return
        scr = Screen(self.mem)
        r.es, r.bp = ptr
        r.cx = scr.char_height
        r.dl = scr.rows - 1

    def _set_text_char_height(self, height: int) -> None:
        """AX=111xh: text rows of ``height`` lines: CRTC max scan line, cursor, BDA."""
        scr = Screen(self.mem)
        if not scr.info.text:
            return
        self.palette.crtc_reg(Crtc.MAX_SCAN_LINE, (self.palette.crtc_reg(Crtc.MAX_SCAN_LINE) & 0xE0)
                       | (height - 1))
        overflow = self.palette.crtc_reg(Crtc.OVERFLOW)
        lines = (self.palette.crtc_reg(Crtc.V_DISPLAY_END) | ((overflow & 0x02) << 7)
                 | ((overflow & 0x40) << 3)) + 1
        rows = max(1, min(lines // height, 256))
        page_size = -(-(scr.cols * rows * 2) // 0x800) * 0x800
        self.mem.write_u16(Bda.VIDEO_PAGE_SIZE, page_size)
        self.mem.write(Bda.VIDEO_ROWS, bytes((rows - 1,)) + height.to_bytes(2, "little"))
        self._apply_cursor_shape(scr.cursor_shape, height, scr.info)

    def _set_graphics_font(self, call: BiosCall) -> None:
        """AX=1121h-1124h: int 43h = user table ES:BP (height CX) or a ROM font;
        BL = rows (0: DL, 1: 14, 2: 25, 3: 43)."""
        r = call.regs
        if r.al == 0x21:
            ptr, height = (r.es, r.bp), r.cx
        else:
            height = {0x22: 14, 0x23: 8, 0x24: 16}[r.al]
            ptr = self.fonts[height]
        rows = max(1, {0: r.dl, 1: 14, 2: 25, 3: 43}.get(r.bl, 25))
        self._set_vector(INT43_VECTOR, ptr)
        self.mem.write(Bda.VIDEO_ROWS, bytes((rows - 1,)) + height.to_bytes(2, "little"))

    # ------------------------------------------------------------------ AH=12h alternate
    def _alt_select(self, call: BiosCall) -> None:
        r, mem = call.regs, self.mem
        bl, al = r.bl, r.al
        flags = mem.read_u8(Bda.VIDEO_VGA_FLAGS)
        if bl == 0x10:
            r.bh = 0 if self.vga.color else 1
            r.bl, r.cx = 0x03, 0x0009  # 256 KiB; feature bits 0, switches 9
            return
        if bl == 0x30 and al <= 2:
            lines = (VGA_200, 0, VGA_400)[al]
            mem.write_u8(Bda.VIDEO_VGA_FLAGS, (flags & ~(VGA_200 | VGA_400)) | lines)
        elif bl in (0x31, 0x33) and al <= 1:
            bit, on = (VGA_NO_PALETTE, al == 1) if bl == 0x31 else (VGA_GREY, al == 0)
            mem.write_u8(Bda.VIDEO_VGA_FLAGS, (flags | bit) if on else (flags & ~bit))
        elif bl == 0x34 and al <= 1:
            misc = mem.read_u8(Bda.VIDEO_EGA_MISC) & ~MISC_NO_CURSOR_EMULATION
            mem.write_u8(Bda.VIDEO_EGA_MISC, misc | al)
        elif bl == 0x36 and al <= 1:
            self.vga.write_port(Port.SEQ_INDEX, Seq.CLOCKING)
            clocking = self.vga.read_port(Port.SEQ_DATA) & ~0x20
            self.vga.write_port(Port.SEQ_DATA, clocking | (0x20 if al else 0))
        elif bl in (0x20, 0x32, 0x35):
            pass  # print screen routine, video enable, display switch: nothing to do
        else:
            self._log_once((0x12, bl), "INT 10h AH=12h BL=%02Xh: unsupported function", bl)
            return
        r.al = 0x12

    # ------------------------------------------------------------------ AH=1Ah/1Bh/4Fh
    def _display_code(self, call: BiosCall) -> None:
        r = call.regs
        if r.al == 0x00:
            r.bx = DCC_VGA_COLOUR  # active: VGA with analog colour display; no alternate
        elif r.al != 0x01:
            return
        r.al = 0x1A

    def _state_info(self, call: BiosCall) -> None:
        """AX=1B00h: 64-byte state table at ES:DI (no static functionality table)."""
        r, mem = call.regs, self.mem
        if r.bx != 0:
            return
        scr = Screen(mem)
        info = scr.info
        buf = bytearray(STATE_BUFFER_SIZE)  # 00h: static table pointer left 0000:0000
        buf[0x04:0x22] = mem.read(Bda.VIDEO_MODE, VIDEO_BDA_SIZE)
        buf[0x22] = min(scr.rows, 0xFF)
        buf[0x23:0x25] = scr.char_height.to_bytes(2, "little")
        buf[0x25] = DCC_VGA_COLOUR
        buf[0x27:0x29] = info.colours.to_bytes(2, "little")
        buf[0x29] = info.pages
        buf[0x2A] = {200: 0, 350: 1, 400: 2, 480: 3}[info.scan_lines]
        flags = mem.read_u8(Bda.VIDEO_VGA_FLAGS)
        misc = mem.read_u8(Bda.VIDEO_EGA_MISC)
        buf[0x2D] = ((flags & VGA_GREY) | (flags & VGA_NO_PALETTE)
                     | (0 if misc & MISC_NO_CURSOR_EMULATION else 0x10)
                     | (0x20 if mem.read_u8(Bda.VIDEO_MODE_CTRL) & 0x20 else 0))
        buf[0x31] = 0x03  # 256 KiB of video memory
        mem.write(seg_off(r.es, r.di), bytes(buf))
        r.al = 0x1B

    def _vbe(self, call: BiosCall) -> None:
        """VESA BIOS extensions are not offered: AX is left alone, so AL != 4Fh tells the
        caller that VBE is absent."""
        self._log_once((0x4F,), "INT 10h AX=%04Xh: VBE not supported", call.regs.ax)

