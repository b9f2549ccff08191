"""What the screen shows, as a plain description a renderer can draw without the device.

Owns: :class:`DisplayKind`, :class:`VideoSource` and :class:`DisplayState`, the read-only
framebuffer view the VGA model publishes (mode, geometry, memory, palette, cursor).  The
console, the headless runner's screenshots and automation all render from this and
nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DisplayKind(enum.Enum):
    TEXT = "text"  # character cells: (char, attribute) byte pairs
    CGA2 = "cga2"  # 640x200, 1 bit per pixel, CGA interleave (even lines at +0, odd at +0x2000)
    CGA4 = "cga4"  # 320x200, 2 bits per pixel, CGA interleave
    VGA256 = "vga256"  # mode 13h: 1 byte per pixel, linear (chain 4)
    PLANAR16 = "planar16"  # EGA/VGA 16-colour planar modes: one bit per plane per pixel
    PLANAR256 = "planar256"  # unchained 256 colours ("mode X"): pixel x in plane x & 3
    PACKED8 = "packed8"  # VBE 8 bpp: one byte per pixel through the DAC
    DIRECT15 = "direct15"  # VBE 5:5:5 (bit 15 unused), little-endian words
    DIRECT16 = "direct16"  # VBE 5:6:5
    DIRECT24 = "direct24"  # VBE blue, green, red bytes
    DIRECT32 = "direct32"  # VBE blue, green, red, unused bytes
    BLANK = "blank"  # screen disabled


class VideoSource(enum.Enum):
    """Which video buffer a frame is drawn from (see vmgui.devices.video_memory)."""

    WINDOW = "window"  # the 128 KiB A0000h-BFFFFh memory
    PLANES = "planes"  # the four VGA planes, interleaved: byte 4 * offset + plane
    LFB = "lfb"  # the VBE linear framebuffer


PLANAR_KINDS = frozenset({DisplayKind.PLANAR16, DisplayKind.PLANAR256})
LINEAR_KINDS = frozenset({DisplayKind.PACKED8, DisplayKind.DIRECT15, DisplayKind.DIRECT16,
                          DisplayKind.DIRECT24, DisplayKind.DIRECT32})
BYTES_PER_PIXEL = {DisplayKind.PACKED8: 1, DisplayKind.DIRECT15: 2, DisplayKind.DIRECT16: 2,
                   DisplayKind.DIRECT24: 3, DisplayKind.DIRECT32: 4}
COLOURS = {DisplayKind.CGA2: 2, DisplayKind.CGA4: 4, DisplayKind.PLANAR16: 16,
           DisplayKind.VGA256: 256, DisplayKind.PLANAR256: 256, DisplayKind.PACKED8: 256,
           DisplayKind.DIRECT15: 1 << 15, DisplayKind.DIRECT16: 1 << 16,
           DisplayKind.DIRECT24: 1 << 24, DisplayKind.DIRECT32: 1 << 24}
"""Colours each graphics kind can show at once."""


@dataclass(frozen=True)
class DisplayState:
    """A consistent snapshot of everything needed to draw one frame.

    ``vram`` is a read-only view of the buffer the frame is drawn from (:attr:`source`):
    the 128 KiB video window (A0000h-BFFFFh) for text, CGA and mode 13h, the interleaved
    plane memory for the planar kinds, the linear framebuffer for the VBE kinds.
    ``base`` is the offset within the window where this mode's memory starts (0x18000
    for text and CGA modes at B8000h, 0x10000 for mode 7 at B0000h, 0 otherwise) and
    ``start`` the display start: in bytes from ``base`` (already multiplied by 2 for text
    modes), in plane offsets for the planar kinds, in framebuffer bytes for VBE.
    ``pitch`` counts the same units per line.  ``palette`` is 256 x (r, g, b) with 8-bit
    components (the DAC's values scaled), ``attr_palette`` maps the 16 attribute colours
    to DAC indices.
    """

    kind: DisplayKind
    mode: int  # BIOS (or VBE) mode number last set (informational; geometry comes from fields)
    width: int  # pixels
    height: int  # pixels
    cols: int  # text columns (text modes), else width // 8
    rows: int  # text rows (text modes), else height // char_height
    char_height: int  # scan lines per character row
    base: int
    start: int
    pitch: int  # bytes per text row (text) or per scan line (graphics, per bank for CGA)
    vram: memoryview
    palette: bytes  # 768 bytes
    attr_palette: bytes  # 16 bytes
    cursor_offset: int  # text modes: cell index (from start) of the hardware cursor
    cursor_start: int  # first scan line of the cursor within the cell
    cursor_end: int  # last scan line
    cursor_visible: bool
    blink_enabled: bool  # attribute bit 7 = blink (True) or bright background (False)
    cga_palette: int  # CGA4: 0x3D9 colour-select value (palette, intensity, background)

    @property
    def source(self) -> VideoSource:
        if self.kind in PLANAR_KINDS:
            return VideoSource.PLANES
        if self.kind in LINEAR_KINDS:
            return VideoSource.LFB
        return VideoSource.WINDOW

    def span(self) -> tuple[int, int]:
        """``(begin, end)``: the part of ``vram`` this frame is drawn from (for change
        detection: a frame is unchanged while these bytes and the registers are)."""
        if self.kind in LINEAR_KINDS:
            size = len(self.vram)
            begin = min(self.start, size)
            line = self.width * BYTES_PER_PIXEL[self.kind]
            return begin, min(size, begin + max(0, self.height - 1) * self.pitch + line)
        if self.kind in PLANAR_KINDS:
            return 0, len(self.vram)
        return self.base, self.base + (0x8000 if self.base >= 0x10000 else 0x10000)

    def shown_bytes(self) -> memoryview:
        begin, end = self.span()
        return self.vram[begin:end]
