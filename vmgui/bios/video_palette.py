"""Video BIOS: int 10h AH=10h (palette and DAC registers) and register access helpers.

Owns: the attribute controller, overscan, blink and colour-page settings, the DAC
registers and grey-scale summing of int 10h AH=10h, and reading/writing attribute and
CRTC registers through the VGA's ports the way a VGA BIOS does (used by
:mod:`vmgui.bios.video` for mode and font changes).
References: Ralf Brown's interrupt list (INT 10/AH=10h), IBM VGA Technical Reference.
"""

from __future__ import annotations

from collections.abc import Callable

from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda, read_far, seg_off
from vmgui.devices.vga import Attr, Port, Vga

# 0040:0089 (VGA flags) bit 1: grey-scale summing
VGA_GREY = 0x02


class PaletteBios:
    """int 10h AH=10h on top of a :class:`Vga`; ``log_once(key, msg, *args)`` logs an
    unsupported sub-function once."""

    def __init__(self, mem: Memory, vga: Vga, log_once: Callable[..., None]) -> None:
        self.mem = mem
        self.vga = vga
        self._log_once = log_once

    def _attr_reg(self, index: int, value: int | None = None) -> int:
        """Read (or write) attribute controller register ``index`` through its ports,
        leaving the flip-flop at "index" and the palette enabled."""
        vga, status = self.vga, self.vga.crtc_base + 6
        vga.read_port(status)
        vga.write_port(Port.ATTR_INDEX_DATA, 0x20 | index)
        if value is not None:
            vga.write_port(Port.ATTR_INDEX_DATA, value)
        result = vga.read_port(Port.ATTR_DATA_READ)
        vga.read_port(status)
        return result

    def crtc_reg(self, index: int, value: int | None = None) -> int:
        base = self.vga.crtc_base
        self.vga.write_port(base, index)
        if value is not None:
            self.vga.write_port(base + 1, value)
        return self.vga.read_port(base + 1)

    def _set_dacs(self, first: int, rgb: bytes) -> None:
        """Load DAC registers from ``first`` on (grey-summed if that is enabled)."""
        grey = self.mem.read_u8(Bda.VIDEO_VGA_FLAGS) & VGA_GREY
        for i in range(min(len(rgb) // 3, 256 - (first & 0xFF))):
            r, g, b = rgb[3 * i: 3 * i + 3]
            if grey:
                r = g = b = _grey(r, g, b)
            self.vga.set_dac(first + i, r, g, b)

    def grey_sum(self, first: int, count: int) -> None:
        for i in range(first, min(first + count, 256)):
            grey = _grey(*self.vga.get_dac(i))
            self.vga.set_dac(i, grey, grey, grey)

    def handle(self, call: BiosCall) -> None:  # noqa: C901 - a flat sub-function switch
        r, vga, mem = call.regs, self.vga, self.mem
        al = r.al
        if al == 0x00:
            self._set_attr(r.bl, r.bh)
        elif al == 0x01:
            vga.set_overscan(r.bh)
        elif al == 0x02:
            table = read_far(mem, r.es, r.dx, 17)
            for i in range(16):
                vga.set_attr_palette(i, table[i])
            vga.set_overscan(table[16])
        elif al == 0x03:
            self._set_blink(r.bl)
        elif al == 0x07:
            r.bh = self._get_attr(r.bl)
        elif al == 0x08:
            r.bh = vga.get_overscan()
        elif al == 0x09:
            table = bytes(vga.get_attr_palette(i) for i in range(16)) + bytes(
                (vga.get_overscan(),))
            mem.write(seg_off(r.es, r.dx), table)
        elif al == 0x10:
            self._set_dacs(r.bx & 0xFF, bytes((r.dh, r.ch, r.cl)))
        elif al == 0x12:
            count = max(0, min(r.cx, 256 - (r.bx & 0xFF)))
            self._set_dacs(r.bx & 0xFF, read_far(mem, r.es, r.dx, 3 * count))
        elif al == 0x13:
            self._select_paging(r.bl, r.bh)
        elif al == 0x15:
            red, green, blue = vga.get_dac(r.bx & 0xFF)
            r.dh, r.ch, r.cl = red, green, blue
        elif al == 0x17:
            count = max(0, min(r.cx, 256 - (r.bx & 0xFF)))
            data = b"".join(bytes(vga.get_dac(r.bx + i)) for i in range(count))
            mem.write(seg_off(r.es, r.dx), data)
        elif al == 0x18:
            vga.write_port(Port.DAC_MASK, r.bl)
        elif al == 0x19:
            r.bl = vga.read_port(Port.DAC_MASK)
        elif al == 0x1A:
            mode_ctrl, select = self._attr_reg(Attr.MODE_CONTROL), self._attr_reg(Attr.COLOR_SELECT)
            r.bl = mode_ctrl >> 7
            r.bh = (select & 0x0F) if mode_ctrl & 0x80 else (select >> 2) & 3
        elif al == 0x1B:
            self.grey_sum(r.bx & 0xFF, r.cx)
        else:
            self._log_once((0x10, al), "INT 10h AX=10%02Xh: unsupported function", al)

    def _set_attr(self, index: int, value: int) -> None:
        if index < 16:
            self.vga.set_attr_palette(index, value)
        elif index == Attr.OVERSCAN:
            self.vga.set_overscan(value)
        elif index <= Attr.COLOR_SELECT:
            self._attr_reg(index, value)

    def _get_attr(self, index: int) -> int:
        if index < 16:
            return self.vga.get_attr_palette(index)
        return self._attr_reg(index) if index <= Attr.COLOR_SELECT else 0

    def _set_blink(self, bl: int) -> None:
        """AX=1003h: BL=1 attribute bit 7 blinks, BL=0 it brightens the background."""
        if bl > 1:
            return
        self.vga.set_blink(bool(bl))
        ctrl = self.mem.read_u8(Bda.VIDEO_MODE_CTRL)
        self.mem.write_u8(Bda.VIDEO_MODE_CTRL, (ctrl | 0x20) if bl else (ctrl & ~0x20))

    def _select_paging(self, bl: int, bh: int) -> None:
        """AX=1013h: BL=0 paging mode (BH=0 four pages of 64, 1 sixteen of 16);
        BL=1 select colour page BH."""
        mode_ctrl = self._attr_reg(Attr.MODE_CONTROL)
        if bl == 0:
            self._attr_reg(Attr.MODE_CONTROL, (mode_ctrl & 0x7F) | ((bh & 1) << 7))
        elif bl == 1:
            select = (bh & 0x0F) if mode_ctrl & 0x80 else (bh & 3) << 2
            self._attr_reg(Attr.COLOR_SELECT, select)


def _grey(r: int, g: int, b: int) -> int:
    """The IBM VGA BIOS's grey-scale sum: 30 % red + 59 % green + 11 % blue."""
    return min(0x3F, (77 * r + 151 * g + 28 * b + 0x80) >> 8)
