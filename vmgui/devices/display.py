"""What the screen shows, as a plain description a renderer can draw without the device.

Owns: :class:`DisplayKind` and :class:`DisplayState`, the read-only framebuffer view the
VGA model publishes (mode, geometry, memory, palette, cursor).  The console, the headless
runner's screenshots and automation all render from this and nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DisplayKind(enum.Enum):
    TEXT = "text"  # character cells: (char, attribute) byte pairs
    CGA2 = "cga2"  # 640x200, 1 bit per pixel, CGA interleave (even lines at +0, odd at +0x2000)
    CGA4 = "cga4"  # 320x200, 2 bits per pixel, CGA interleave
    VGA256 = "vga256"  # mode 13h: 1 byte per pixel, linear
    PLANAR16 = "planar16"  # EGA/VGA 16-colour planar modes (not rendered yet)
    BLANK = "blank"  # screen disabled


@dataclass(frozen=True)
class DisplayState:
    """A consistent snapshot of everything needed to draw one frame.

    ``vram`` is a read-only view of the 128 KiB video window (A0000h-BFFFFh);
    ``base`` is the offset within it where this mode's memory starts (0x18000 for text and
    CGA modes at B8000h, 0x10000 for mode 7 at B0000h, 0 for mode 13h at A0000h) and
    ``start`` the CRTC start address (in bytes from ``base``; already multiplied by 2 for
    text modes).  ``palette`` is 256 x (r, g, b) with 8-bit components (the DAC's 6-bit
    values scaled), ``attr_palette`` maps the 16 attribute colours to DAC indices.
    """

    kind: DisplayKind
    mode: int  # BIOS mode number last set (informational; geometry comes from the fields)
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
