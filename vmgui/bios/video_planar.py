"""Video BIOS drawing in the EGA/VGA 16-colour planar modes (0Dh, 0Eh, 0Fh, 10h, 11h, 12h).

Owns: int 10h's pixel write/read (AH=0Ch/0Dh, bit 7 of the colour XORs), character
drawing and recognising (AH=09h/0Ah/0Eh/08h: set glyph bits in the colour, the others in
colour 0, or XORed with bit 7) and window scrolling (AH=06h/07h, blank lines in the
colour BH) on the card's plane memory.  A BIOS works on the planes through the
sequencer map mask and graphics controller; this one works on the VGA model's plane
store directly (interleaved: byte ``4 * offset + plane``), which gives the same memory
without disturbing registers a program has set.  Each line of a mode is ``width / 8``
bytes per plane; page ``n`` starts ``n * page size`` bytes in.
References: IBM VGA Technical Reference (BIOS graphics functions), SeaBIOS
``vgasrc/vgafb.c`` (planar gfx_read/gfx_write).
"""

from __future__ import annotations

from vmgui.bios.video_gfx import VideoMode
from vmgui.devices.video_memory import PLANE_SIZE


class PlanarScreen:
    """One page of a planar mode over the plane store ``planes`` (256 KiB)."""

    __slots__ = ("planes", "mode", "base", "line")

    def __init__(self, planes: memoryview, mode: VideoMode, page_offset: int = 0) -> None:
        self.planes = planes
        self.mode = mode
        self.base = page_offset
        self.line = mode.width // 8

    def _offset(self, x: int, y: int) -> int:
        return (self.base + y * self.line + x // 8) % PLANE_SIZE

    def put_pixel(self, x: int, y: int, colour: int) -> None:
        m = self.mode
        if not (0 <= x < m.width and 0 <= y < m.height):
            return
        at, bit = 4 * self._offset(x, y), 0x80 >> (x % 8)
        planes = self.planes
        for p in range(4):
            on = colour >> p & 1
            if colour & 0x80:
                if on:
                    planes[at + p] ^= bit
            else:
                planes[at + p] = (planes[at + p] | bit) if on else (planes[at + p] & ~bit)

    def get_pixel(self, x: int, y: int) -> int:
        m = self.mode
        if not (0 <= x < m.width and 0 <= y < m.height):
            return 0
        at, bit = 4 * self._offset(x, y), 0x80 >> (x % 8)
        return sum(1 << p for p in range(4) if self.planes[at + p] & bit)

    def draw_glyph(self, col: int, row: int, glyph: bytes, colour: int, count: int = 1) -> None:
        """``glyph`` (one byte per line) ``count`` times from cell (col, row) on, clipped
        at the right edge."""
        m, planes = self.mode, self.planes
        count = min(count, self.line - col)
        h = len(glyph)
        xor = bool(colour & 0x80)
        for i, bits in enumerate(glyph):
            y = row * h + i
            if count <= 0 or row < 0 or y >= m.height:
                break
            lanes = bytes(bits if colour >> p & 1 else 0 for p in range(4))
            for c in range(col, col + count):
                at = 4 * self._offset(c * 8, y)
                if xor:
                    for p in range(4):
                        planes[at + p] ^= lanes[p]
                else:
                    planes[at: at + 4] = lanes

    def read_glyph(self, col: int, row: int, height: int) -> bytes:
        """The pattern of cell (col, row): 1 where a pixel is not colour 0."""
        if not (0 <= col < self.line) or row < 0 or (row + 1) * height > self.mode.height:
            return bytes(height)
        out = bytearray()
        for i in range(height):
            at = 4 * self._offset(col * 8, row * height + i)
            p = self.planes
            out.append(p[at] | p[at + 1] | p[at + 2] | p[at + 3])
        return bytes(out)

    def scroll(self, window: tuple[int, int, int, int], lines: int, fill: int, up: bool,
               char_height: int) -> None:
        """int 10h AH=06h/07h: ``window`` (top, left, bottom, right) in cells, clipped;
        ``lines`` 0 clears it; new lines in colour ``fill``."""
        top, left, bottom, right = window
        right = min(right, self.line - 1)
        if left > right:
            return
        width = 4 * (right - left + 1)
        y0, y1 = top * char_height, min((bottom + 1) * char_height, self.mode.height)
        rows = [4 * self._offset(left * 8, y) for y in range(y0, y1)]
        old = [bytes(self.planes[a: a + width]) for a in rows]
        blank = bytes(0xFF if fill >> p & 1 else 0 for p in range(4)) * (width // 4)
        n = lines * char_height
        if lines == 0 or n >= len(old):
            new = [blank] * len(old)
        elif up:
            new = old[n:] + [blank] * n
        else:
            new = [blank] * n + old[:-n]
        for at, data in zip(rows, new, strict=True):
            if at + width <= len(self.planes):
                self.planes[at: at + width] = data
