"""Video BIOS helpers: mode table, BDA snapshot, cursor emulation, graphics drawing.

Owns: :data:`MODES`, the BIOS's view of each video mode (kind, text geometry, memory base,
page size and count), :class:`Screen` (the BDA video fields one int 10h call reads),
:func:`emulate_cursor` (CGA cursor emulation), and the graphics-mode work of int 10h
in the CGA 320x200x4 and 640x200x2 interleaved modes (even scan lines at +0, odd ones
at +2000h) and the VGA 320x200x256 linear mode: pixel read/write, drawing a font glyph
(bit 7 of the colour XORs in the CGA modes), recognising a drawn glyph against a font,
scrolling a character window.
The planar 16-colour modes are drawn by :mod:`vmgui.bios.video_planar`.
Every operation reads and writes guest memory through a :class:`Memory` in one span each,
since each access costs about a microsecond.
References: IBM PC/AT Technical Reference (video BIOS listing), Ralf Brown's interrupt
list (INT 10), SeaBIOS ``vgasrc/vgafb.c`` and DOSBox ``int10_char.cpp`` for behaviour.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vmgui.bios.api import Memory
from vmgui.bios.bda import Bda
from vmgui.devices.display import DisplayKind

TEXT, CGA2, CGA4 = DisplayKind.TEXT, DisplayKind.CGA2, DisplayKind.CGA4
VGA256, PLANAR16 = DisplayKind.VGA256, DisplayKind.PLANAR16

CGA_ODD_BANK = 0x2000  # odd scan lines of the CGA modes
CGA_LINE_BYTES = 80
MAX_COLS = 255  # int 10h AH=0Fh returns the column count in AH
MAX_CHAR_HEIGHT = 32  # the CRTC's maximum scan line field has 5 bits


@dataclass(frozen=True)
class VideoMode:
    """A BIOS video mode as int 10h sees it (the registers live in vga_tables)."""

    kind: DisplayKind
    cols: int
    rows: int
    char_height: int
    base: int  # linear address of page 0
    page_size: int  # bytes, as stored in the BDA
    pages: int
    width: int  # pixels (graphics modes)
    height: int
    scan_lines: int  # 200, 350, 400 or 480 (int 10h AH=1Bh)
    colours: int  # colours the mode can show (int 10h AH=1Bh)

    @property
    def text(self) -> bool:
        return self.kind is TEXT

    @property
    def drawable(self) -> bool:
        """Graphics modes whose memory this module can draw in."""
        return self.kind in (CGA2, CGA4, VGA256)


MODES: dict[int, VideoMode] = {
    0x00: VideoMode(TEXT, 40, 25, 16, 0xB8000, 0x0800, 8, 320, 400, 400, 16),
    0x01: VideoMode(TEXT, 40, 25, 16, 0xB8000, 0x0800, 8, 320, 400, 400, 16),
    0x02: VideoMode(TEXT, 80, 25, 16, 0xB8000, 0x1000, 8, 640, 400, 400, 16),
    0x03: VideoMode(TEXT, 80, 25, 16, 0xB8000, 0x1000, 8, 640, 400, 400, 16),
    0x04: VideoMode(CGA4, 40, 25, 8, 0xB8000, 0x4000, 1, 320, 200, 200, 4),
    0x05: VideoMode(CGA4, 40, 25, 8, 0xB8000, 0x4000, 1, 320, 200, 200, 4),
    0x06: VideoMode(CGA2, 80, 25, 8, 0xB8000, 0x4000, 1, 640, 200, 200, 2),
    0x07: VideoMode(TEXT, 80, 25, 16, 0xB0000, 0x1000, 8, 640, 400, 400, 0),
    0x0D: VideoMode(PLANAR16, 40, 25, 8, 0xA0000, 0x2000, 8, 320, 200, 200, 16),
    0x0E: VideoMode(PLANAR16, 80, 25, 8, 0xA0000, 0x4000, 4, 640, 200, 200, 16),
    0x0F: VideoMode(PLANAR16, 80, 25, 14, 0xA0000, 0x8000, 2, 640, 350, 350, 0),
    0x10: VideoMode(PLANAR16, 80, 25, 14, 0xA0000, 0x8000, 2, 640, 350, 350, 16),
    0x11: VideoMode(PLANAR16, 80, 30, 16, 0xA0000, 0xA000, 1, 640, 480, 480, 2),
    0x12: VideoMode(PLANAR16, 80, 30, 16, 0xA0000, 0xA000, 1, 640, 480, 480, 16),
    0x13: VideoMode(VGA256, 40, 25, 8, 0xA0000, 0xFA00, 1, 320, 200, 400, 256),
}


def mode_info(mode: int) -> VideoMode:
    """The table entry for BDA mode ``mode``; unknown numbers are treated as mode 3."""
    return MODES.get(mode & 0x7F, MODES[0x03])


# ------------------------------------------------------------------------------- BDA
# 0040:0049-0066 in one read: mode, columns, page size, page offset, 8 cursor positions,
# cursor shape, active page, CRTC base, 3D8h value, 3D9h value
VIDEO_BDA = struct.Struct("<BHHH16sHBHBB")
VIDEO_BDA_SIZE = Bda.VIDEO_CGA_PALETTE - Bda.VIDEO_MODE + 1


class Screen:
    """The BDA video fields an int 10h call works with, read in two memory reads.

    The guest owns the BDA and may have written anything there: the column count and
    character height are kept within what a VGA can show, and text cells are addressed
    as offsets into the mode's video window (:class:`VideoWindow`), so no BDA value
    sends a BIOS access outside video memory.
    """

    __slots__ = ("mode", "info", "cols", "rows", "page_size", "page", "cursors",
                 "cursor_shape", "char_height")

    def __init__(self, mem: Memory) -> None:
        raw = mem.read(Bda.VIDEO_MODE, VIDEO_BDA_SIZE)
        (self.mode, self.cols, self.page_size, _, cur, self.cursor_shape, self.page,
         _, _, _) = VIDEO_BDA.unpack(raw)
        self.cursors = list(struct.unpack("<8H", cur))
        self.info: VideoMode = mode_info(self.mode)
        self.cols = min(self.cols or self.info.cols, MAX_COLS)
        rows_raw = mem.read(Bda.VIDEO_ROWS, 3)
        self.rows = rows_raw[0] + 1 if rows_raw[0] else self.info.rows
        height = int.from_bytes(rows_raw[1:], "little") or self.info.char_height
        self.char_height = min(height, MAX_CHAR_HEIGHT)
        if not self.page_size:
            self.page_size = self.info.page_size

    def cursor(self, page: int) -> tuple[int, int]:
        pos = self.cursors[page & 7]
        return pos >> 8, pos & 0xFF

    def cell(self, page: int, row: int, col: int) -> int:
        """Offset of text cell (row, col) of ``page`` in the video window (unwrapped:
        :class:`VideoWindow` wraps it)."""
        return page * self.page_size + (row * self.cols + col) * 2


def window_size(m: VideoMode) -> int:
    """Bytes of the video memory window the mode lives in: 64 KiB at A0000h for the EGA
    and VGA modes, 32 KiB at B0000h or B8000h for the text and CGA modes."""
    return 0x10000 if m.base == 0xA0000 else 0x8000


class VideoWindow:
    """A mode's video memory as a ring: offsets wrap at the end of its window, the way
    the card's address counter wraps, so every access stays inside video memory."""

    __slots__ = ("mem", "base", "size")

    def __init__(self, mem: Memory, m: VideoMode) -> None:
        self.mem = mem
        self.base = m.base
        self.size = window_size(m)

    def address(self, offset: int) -> int:
        return self.base + offset % self.size

    def read(self, offset: int, size: int) -> bytes:
        offset %= self.size
        if offset + size <= self.size:
            return self.mem.read(self.base + offset, size)
        out = bytearray()
        while len(out) < size:
            chunk = min(size - len(out), self.size - offset)
            out += self.mem.read(self.base + offset, chunk)
            offset = 0
        return bytes(out)

    def write(self, offset: int, data: bytes) -> None:
        offset %= self.size
        if offset + len(data) <= self.size:
            self.mem.write(self.base + offset, data)
            return
        done = 0
        while done < len(data):
            chunk = min(len(data) - done, self.size - offset)
            self.mem.write(self.base + offset, data[done : done + chunk])
            done += chunk
            offset = 0


def emulate_cursor(start: int, end: int, char_height: int) -> tuple[int, int]:
    """CGA cursor emulation as the IBM VGA BIOS does it: scan lines given for an 8-line
    cell are moved to the same place in a ``char_height`` cell (0607h -> 0D0Eh at 16)."""
    if start & 0x60 == 0x20:
        return 0x20, 0  # CGA "no cursor": CRTC 0Ah bit 5 disables it
    last = char_height - 1
    if (start | end) & 0xE0 or end <= 3 and end >= start:
        return start, end
    if end < start:
        return (end, last) if end else (start, end)
    if start + 2 < end:
        return ((last + 1) // 2 if start > 2 else start), last
    start, end = start - end + last, last
    if char_height > 13:
        start, end = start - 1, end - 1
    return start, end


# ------------------------------------------------------------------------------- layout
def line_address(m: VideoMode, y: int) -> int:
    """Linear address of scan line ``y`` of a CGA or mode-13h screen."""
    if m.kind is VGA256:
        return m.base + y * m.width
    return m.base + (y & 1) * CGA_ODD_BANK + (y >> 1) * CGA_LINE_BYTES


def _bytes_per_column(m: VideoMode) -> int:
    return {CGA4: 2, CGA2: 1, VGA256: 8}[m.kind]


def _spread2(g: int) -> int:
    """Each bit of ``g`` doubled: 8 bits -> 16 bits (bit 7 -> bits 15 and 14)."""
    out = 0
    for i in range(8):
        if g & (1 << i):
            out |= 3 << (2 * i)
    return out


_SPREAD2 = tuple(_spread2(g) for g in range(256))


def glyph_line(kind: DisplayKind, bits: int, colour: int) -> bytes:
    """Memory bytes of one 8-pixel glyph line: set bits in ``colour``, others 0."""
    if kind is CGA4:
        return (_SPREAD2[bits] & ((colour & 3) * 0x5555)).to_bytes(2, "big")
    if kind is CGA2:
        return bytes((bits if colour & 1 else 0,))
    return bytes(colour & 0xFF if bits & (0x80 >> i) else 0 for i in range(8))


def _pattern_bits(kind: DisplayKind, data: bytes) -> int:
    """The inverse of :func:`glyph_line`: which of the 8 pixels are not background."""
    if kind is CGA2:
        return data[0]
    if kind is CGA4:
        word = int.from_bytes(data[:2], "big")
        return sum(0x80 >> i for i in range(8) if (word >> (14 - 2 * i)) & 3)
    return sum(0x80 >> i for i in range(8) if data[i])


def _xor(a: bytes, b: bytes) -> bytes:
    n = len(a)
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(n, "little")


def _patch(mem: Memory, pieces: list[tuple[int, bytes]], xor: bool) -> None:
    """Write (address, data) pieces with one read and one write of the span they cover."""
    if not pieces:
        return
    lo = min(a for a, _ in pieces)
    hi = max(a + len(d) for a, d in pieces)
    buf = bytearray(mem.read(lo, hi - lo))
    for addr, data in pieces:
        at = addr - lo
        buf[at: at + len(data)] = _xor(bytes(buf[at: at + len(data)]), data) if xor else data
    mem.write(lo, bytes(buf))


# ------------------------------------------------------------------------------- pixels
def _pixel_location(m: VideoMode, x: int, y: int) -> tuple[int, int, int]:
    """(address, shift, mask) of pixel (x, y) in a CGA mode."""
    per_byte = 4 if m.kind is CGA4 else 8
    bits = 8 // per_byte
    shift = (per_byte - 1 - x % per_byte) * bits
    return line_address(m, y) + x // per_byte, shift, (1 << bits) - 1


def put_pixel(mem: Memory, m: VideoMode, x: int, y: int, colour: int) -> None:
    """int 10h AH=0Ch: bit 7 of ``colour`` XORs in the CGA modes; off-screen is ignored."""
    if not (m.drawable and 0 <= x < m.width and 0 <= y < m.height):
        return
    if m.kind is VGA256:
        mem.write_u8(line_address(m, y) + x, colour)
        return
    addr, shift, mask = _pixel_location(m, x, y)
    old = mem.read_u8(addr)
    value = (colour & mask) << shift
    new = old ^ value if colour & 0x80 else (old & ~(mask << shift)) | value
    mem.write_u8(addr, new & 0xFF)


def get_pixel(mem: Memory, m: VideoMode, x: int, y: int) -> int:
    """int 10h AH=0Dh: the colour of pixel (x, y); 0 off-screen or in planar modes."""
    if not (m.drawable and 0 <= x < m.width and 0 <= y < m.height):
        return 0
    if m.kind is VGA256:
        return mem.read_u8(line_address(m, y) + x)
    addr, shift, mask = _pixel_location(m, x, y)
    return (mem.read_u8(addr) >> shift) & mask


# ------------------------------------------------------------------------------- glyphs
def draw_glyph(mem: Memory, m: VideoMode, col: int, row: int, glyph: bytes, colour: int,
               count: int = 1) -> None:
    """Draw ``glyph`` (one byte per scan line) ``count`` times from cell (col, row) on,
    clipped at the right edge: set bits in ``colour``, clear ones in colour 0 (XORed
    onto the screen when bit 7 of ``colour`` is set, CGA modes only)."""
    if not m.drawable:
        return
    count = min(count, m.cols - col)
    if count <= 0 or row < 0:
        return
    h = len(glyph)
    x0 = col * _bytes_per_column(m)
    pieces = [(line_address(m, row * h + i) + x0, glyph_line(m.kind, bits, colour) * count)
              for i, bits in enumerate(glyph) if row * h + i < m.height]
    _patch(mem, pieces, xor=bool(colour & 0x80) and m.kind is not VGA256)


def read_glyph(mem: Memory, m: VideoMode, col: int, row: int, height: int = 8) -> bytes:
    """The pixel pattern (one byte per scan line, 1 = not background) of cell (col, row)."""
    if not m.drawable or not (0 <= col < m.cols) or row < 0 or (row + 1) * height > m.height:
        return bytes(height)
    width = _bytes_per_column(m)
    addrs = [line_address(m, row * height + i) + col * width for i in range(height)]
    lo = min(addrs)
    span = mem.read(lo, max(addrs) + width - lo)
    return bytes(_pattern_bits(m.kind, span[a - lo: a - lo + width]) for a in addrs)


def find_glyph(font: bytes, pattern: bytes) -> int | None:
    """Index of the first glyph of ``font`` equal to ``pattern`` (glyphs of len(pattern))."""
    h = len(pattern)
    at = font.find(pattern)
    while at != -1:
        if at % h == 0:
            return at // h
        at = font.find(pattern, at + 1)
    return None


# ------------------------------------------------------------------------------- scroll
def scroll_window(mem: Memory, m: VideoMode, window: tuple[int, int, int, int], lines: int,
                  fill: int, up: bool, char_height: int = 8) -> None:
    """int 10h AH=06h/07h in a CGA or mode-13h screen.  ``window`` is (top, left, bottom,
    right) in character cells, already clipped; ``lines`` 0 clears it.  Blank lines are
    filled with the byte ``fill`` (the BH value, as IBM's BIOS stores it)."""
    if not m.drawable:
        return
    top, left, bottom, right = window
    right = min(right, m.cols - 1)  # the BDA's column count may be anything
    if left > right:
        return
    width = _bytes_per_column(m)
    x0, x1 = left * width, (right + 1) * width
    y0, y1 = top * char_height, min((bottom + 1) * char_height, m.height)
    addrs = [line_address(m, y) for y in range(y0, y1)]
    if not addrs:
        return
    lo = min(addrs)
    buf = bytearray(mem.read(lo, max(addrs) + x1 - lo))
    old = [bytes(buf[a - lo + x0: a - lo + x1]) for a in addrs]
    n = lines * char_height
    blank = bytes((fill & 0xFF,)) * (x1 - x0)
    if lines == 0 or n >= len(old):
        new = [blank] * len(old)
    elif up:
        new = old[n:] + [blank] * n
    else:
        new = [blank] * n + old[:-n]
    for addr, data in zip(addrs, new, strict=True):
        buf[addr - lo + x0: addr - lo + x1] = data
    mem.write(lo, bytes(buf))
