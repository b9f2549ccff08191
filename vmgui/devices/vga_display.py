"""The VGA's display view: what the screen shows, derived from its registers alone.

Owns: the decision which kind of picture the registers describe (text, CGA, 256 colours
chained or unchained, 16-colour planar, blank), its geometry (CRTC display end, scan-line
doubling, addressing unit, offset), the attribute-to-DAC colour path and the resulting
:class:`DisplayState`.  Guests that set modes through int 10h and guests that program
the chips directly therefore look the same.  Register semantics per FreeVGA and IBM's
VGA Technical Reference.

Thread rule: called on the emulation thread (or wherever the VGA's registers are stable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmgui.devices.display import PLANAR_KINDS, DisplayKind, DisplayState
from vmgui.devices.vga_regs import MAP_BASE, Attr, Crtc, Gc, Seq

if TYPE_CHECKING:
    from vmgui.devices.vga import Vga

_DOUBLED = frozenset({DisplayKind.VGA256, DisplayKind.PLANAR256})  # 2 dot clocks per pixel


def display_kind(vga: Vga) -> DisplayKind:
    # Only the VGA's own switches blank the screen.  The CGA mode register's video
    # enable bit (3D8h bit 3) does not: a VGA does not decode it, nor does QEMU's, and
    # OpenBSD's kernel writes A0h there while probing for a Hercules card (the screen
    # went black for the rest of its boot).
    if vga.seq[Seq.CLOCKING] & 0x20 or not vga.attr_index & 0x20:
        return DisplayKind.BLANK
    if not (vga.attr[Attr.MODE_CONTROL] & 0x01 or vga.gc[Gc.MISC] & 0x01):
        return DisplayKind.TEXT
    if vga.attr[Attr.MODE_CONTROL] & 0x40:
        return DisplayKind.PLANAR256 if vga.planar_addressing() else DisplayKind.VGA256
    if vga.gc[Gc.MODE] & 0x20:
        return DisplayKind.CGA4
    if not vga.crtc[Crtc.MODE_CONTROL] & 0x01:
        return DisplayKind.CGA2
    return DisplayKind.PLANAR16


def vertical_lines(vga: Vga) -> int:
    crtc = vga.crtc
    overflow = crtc[Crtc.OVERFLOW]
    end = crtc[Crtc.V_DISPLAY_END] | ((overflow & 0x02) << 7) | ((overflow & 0x40) << 3)
    lines = end + 1
    return lines // 2 if crtc[Crtc.MAX_SCAN_LINE] & 0x80 else lines


def address_unit(vga: Vga) -> int:
    """Bytes of CPU-visible memory per CRTC address step (dword, word or byte mode)."""
    if vga.crtc[Crtc.UNDERLINE] & 0x40:
        return 4
    return 1 if vga.crtc[Crtc.MODE_CONTROL] & 0x40 else 2


def attr_to_dac(vga: Vga) -> bytes:
    """The 16 attribute colours as DAC indices (palette, plane enable, colour select)."""
    attr = vga.attr
    mode, select = attr[Attr.MODE_CONTROL], attr[Attr.COLOR_SELECT]
    enable = attr[Attr.PLANE_ENABLE] & 0x0F
    high = (select & 0x0C) << 4
    out = bytearray(16)
    for i in range(16):
        v = attr[i & enable]
        if mode & 0x80:
            v = (v & 0x0F) | ((select & 0x03) << 4)
        out[i] = high | v
    return bytes(out)


def display_state(vga: Vga, palette: bytes) -> DisplayState:
    kind = display_kind(vga)
    crtc = vga.crtc
    chars = crtc[Crtc.H_DISPLAY_END] + 1
    scan = (crtc[Crtc.MAX_SCAN_LINE] & 0x1F) + 1
    lines = vertical_lines(vga)
    unit = address_unit(vga)
    start_units = vga.start_address()
    if kind is DisplayKind.TEXT or (kind is DisplayKind.BLANK and not vga.gc[Gc.MISC] & 1):
        char_height, cols = scan, chars
        rows = max(1, lines // scan)
        width, height = cols * 8, rows * scan
    else:
        if kind is not DisplayKind.CGA2 and kind is not DisplayKind.CGA4:
            lines //= scan  # scan line doubling (mode 13h, 0Dh...)
        width = chars * 8 // (2 if kind in _DOUBLED else 1)
        height = lines
        char_height = 16 if height >= 480 else 14 if height >= 350 else 8
        cols, rows = width // 8, height // char_height
    planar = kind in PLANAR_KINDS
    cursor_start = crtc[Crtc.CURSOR_START]
    cursor_end = crtc[Crtc.CURSOR_END] & 0x1F
    return DisplayState(
        kind=kind,
        mode=vga.mode,
        width=width,
        height=height,
        cols=cols,
        rows=rows,
        char_height=char_height,
        base=0 if planar else MAP_BASE[(vga.gc[Gc.MISC] >> 2) & 3],
        start=start_units * unit,
        pitch=crtc[Crtc.OFFSET] * 2 * unit,
        vram=(vga.planes_view if planar else vga.window_view).toreadonly(),
        palette=palette,
        attr_palette=attr_to_dac(vga),
        cursor_offset=(vga.cursor_address() - start_units) & 0xFFFF,
        cursor_start=cursor_start & 0x1F,
        cursor_end=cursor_end,
        cursor_visible=not cursor_start & 0x20 and (cursor_start & 0x1F) <= cursor_end,
        blink_enabled=bool(vga.attr[Attr.MODE_CONTROL] & 0x08),
        cga_palette=vga.cga_color,
    )
