"""The display adapter's VBE extension: the Bochs/QEMU "DISPI" registers (ports 1CEh
index, 1CFh data) that switch the card from VGA timing to a linear high-resolution mode.

Owns: the DISPI registers (ID, resolution, depth, enable, bank, virtual width, display
offset, memory size), their sanity fixups, clearing the framebuffer when a mode is
enabled, the 8-bit DAC switch, the 64 KiB bank that A0000h shows while a mode is on, and
the :class:`DisplayState` of such a mode.  The VBE BIOS (vmgui.bios.vbe) programs modes
through these registers, exactly as the Bochs/QEMU VGA BIOS does, so guests that program
them directly (Linux bochs-drm, KolibriOS drivers) see the same card.
Register semantics per Bochs' ``vbe.h``/QEMU ``hw/display/vga.c`` (vbe_ioport_write_data,
vbe_fixup_regs); the code here is vmgui's own.

Thread rule: emulation thread, except :meth:`BochsVbe.display_state`, which only reads.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from vmgui.devices.bus import IoBus, Registration
from vmgui.devices.display import DisplayKind, DisplayState
from vmgui.devices.vbe_lfb import LFB_SIZE

log = logging.getLogger(__name__)

INDEX_PORT = 0x1CE  # 1CFh (and 1D0h) are the data port
MAX_XRES, MAX_YRES, MAX_BPP = 16000, 12000, 32
BANK_SIZE = 0x10000
ID0, ID5 = 0xB0C0, 0xB0C5


class Dispi(enum.IntEnum):
    ID = 0
    XRES = 1
    YRES = 2
    BPP = 3
    ENABLE = 4
    BANK = 5
    VIRT_WIDTH = 6
    VIRT_HEIGHT = 7
    X_OFFSET = 8
    Y_OFFSET = 9
    VIDEO_MEMORY_64K = 10


class Enable(enum.IntFlag):
    ENABLED = 0x01
    GETCAPS = 0x02
    DAC_8BIT = 0x20
    LFB_ENABLED = 0x40
    NO_CLEAR = 0x80


REGISTER_COUNT = 10  # ID .. Y_OFFSET; VIDEO_MEMORY_64K is read-only and computed
# plain ints for the hot paths (an IntFlag operation costs a microsecond or more)
_ENABLED, _DAC_8BIT, _ENABLE, _BPP, _BANK = 0x01, 0x20, 4, 3, 5
KINDS = {8: DisplayKind.PACKED8, 15: DisplayKind.DIRECT15, 16: DisplayKind.DIRECT16,
         24: DisplayKind.DIRECT24, 32: DisplayKind.DIRECT32}
_VALID_BPP = frozenset({4, 8, 15, 16, 24, 32})


class BochsVbe:
    """DISPI registers over the framebuffer ``lfb``.  ``on_change()`` is called after
    every write that can change what A0000h maps or how the DAC reads (enable, bank)."""

    def __init__(self, bus: IoBus, lfb: memoryview, on_change: Callable[[], None]) -> None:
        if len(lfb) != LFB_SIZE or lfb.readonly:
            raise ValueError(f"the framebuffer must be a writable view of {LFB_SIZE} bytes")
        self.lfb = lfb
        self._on_change = on_change
        self._registration: Registration | None = bus.register(
            INDEX_PORT, 3, "vbe-dispi", self._read_port, self._write_port,
            widths=frozenset({1, 2}))
        self.reset()

    def detach(self) -> None:
        if self._registration is not None:
            self._registration.remove()
            self._registration = None

    def reset(self) -> None:
        self.index = 0
        self.regs = [0] * REGISTER_COUNT
        self.regs[Dispi.ID] = ID5
        self.line_bytes = 0
        self.start = 0  # display start, bytes into the framebuffer
        self.mode = 0  # the VBE mode number the BIOS set last (with its flag bits)

    # ------------------------------------------------------------------ ports
    def _read_port(self, offset: int, size: int) -> int:
        return self.index if offset == 0 else self.read_register(self.index)

    def _write_port(self, offset: int, size: int, value: int) -> None:
        if offset == 0:
            self.index = value & 0xFFFF
        else:
            self.write_register(self.index, value & 0xFFFF)

    # ------------------------------------------------------------------ registers
    @property
    def enabled(self) -> bool:
        return bool(self.regs[_ENABLE] & _ENABLED)

    @property
    def dac_8bit(self) -> bool:
        return bool(self.regs[_ENABLE] & _DAC_8BIT)

    @property
    def bpp(self) -> int:
        return self.regs[_BPP]

    @property
    def bank_offset(self) -> int:
        return self.regs[_BANK] * BANK_SIZE

    def read_register(self, index: int) -> int:
        regs = self.regs
        if index == Dispi.VIDEO_MEMORY_64K:
            return LFB_SIZE // BANK_SIZE
        if index >= REGISTER_COUNT:
            return 0
        if regs[Dispi.ENABLE] & Enable.GETCAPS:
            caps = {Dispi.XRES: MAX_XRES, Dispi.YRES: MAX_YRES, Dispi.BPP: MAX_BPP}
            return caps.get(index, regs[index])
        return regs[index]

    def write_register(self, index: int, value: int) -> None:
        regs = self.regs
        if index == _BANK:  # first: banked modes switch banks all the time
            regs[index] = value & (LFB_SIZE // BANK_SIZE - 1)
            self._on_change()
        elif index == Dispi.ID:
            if ID0 <= value <= ID5:
                regs[index] = value
        elif index in (Dispi.XRES, Dispi.YRES, Dispi.BPP, Dispi.VIRT_WIDTH, Dispi.X_OFFSET,
                       Dispi.Y_OFFSET):
            regs[index] = value
            self._fixup()
        elif index == Dispi.ENABLE:
            self._write_enable(value)
        # VIRT_HEIGHT and unknown indices are read-only

    def _write_enable(self, value: int) -> None:
        regs = self.regs
        if value & Enable.ENABLED and not self.enabled:
            regs[Dispi.VIRT_WIDTH] = regs[Dispi.X_OFFSET] = regs[Dispi.Y_OFFSET] = 0
            regs[Dispi.ENABLE] |= Enable.ENABLED
            self._fixup()
            if not value & Enable.NO_CLEAR:
                size = min(regs[Dispi.YRES] * self.line_bytes, len(self.lfb))
                self.lfb[:size] = bytes(size)
            log.debug("VBE %dx%dx%d enabled", regs[Dispi.XRES], regs[Dispi.YRES],
                      regs[Dispi.BPP])
        regs[Dispi.ENABLE] = value
        self._on_change()

    def _fixup(self) -> None:
        """Bring the registers to the nearest values the card can show (the interface
        has no way to report an error), and derive the line length and display start."""
        regs = self.regs
        if not self.enabled:
            return
        if regs[Dispi.BPP] not in _VALID_BPP:
            regs[Dispi.BPP] = 8
        bits = 16 if regs[Dispi.BPP] == 15 else regs[Dispi.BPP]
        regs[Dispi.XRES] = min(regs[Dispi.XRES] & ~7, MAX_XRES) or 8
        width = min(regs[Dispi.VIRT_WIDTH] & ~7, MAX_XRES)
        regs[Dispi.VIRT_WIDTH] = width = max(width, regs[Dispi.XRES])
        line = width * bits // 8
        max_lines = LFB_SIZE // line
        regs[Dispi.YRES] = max(1, min(regs[Dispi.YRES], MAX_YRES, max_lines))
        regs[Dispi.X_OFFSET] = min(regs[Dispi.X_OFFSET], MAX_XRES)
        regs[Dispi.Y_OFFSET] = min(regs[Dispi.Y_OFFSET], MAX_YRES)
        shown = regs[Dispi.YRES] * line
        start = regs[Dispi.X_OFFSET] * bits // 8 + regs[Dispi.Y_OFFSET] * line
        if start + shown > LFB_SIZE:
            regs[Dispi.Y_OFFSET] = 0
            start = regs[Dispi.X_OFFSET] * bits // 8
            if start + shown > LFB_SIZE:
                regs[Dispi.X_OFFSET] = start = 0
        regs[Dispi.VIRT_HEIGHT] = max_lines
        self.line_bytes = line
        self.start = start

    # ------------------------------------------------------------------ display
    def display_state(self, palette: bytes, attr_palette: bytes) -> DisplayState:
        """The screen of the enabled mode (BLANK for the 4-bpp planar depth, which this
        adapter does not draw)."""
        regs = self.regs
        kind = KINDS.get(regs[Dispi.BPP], DisplayKind.BLANK)
        width, height = regs[Dispi.XRES], regs[Dispi.YRES]
        return DisplayState(
            kind=kind, mode=self.mode & 0x3FFF, width=width, height=height,
            cols=width // 8, rows=height // 16, char_height=16, base=0, start=self.start,
            pitch=self.line_bytes, vram=self.lfb.toreadonly(), palette=palette,
            attr_palette=attr_palette, cursor_offset=0, cursor_start=0, cursor_end=0,
            cursor_visible=False, blink_enabled=False, cga_palette=0)

    # ------------------------------------------------------------------ state
    def save_state(self) -> dict[str, Any]:
        return {"index": self.index, "regs": list(self.regs), "mode": self.mode}

    def load_state(self, state: dict[str, Any]) -> None:
        regs = [int(v) & 0xFFFF for v in state["regs"]]
        if len(regs) != REGISTER_COUNT:
            raise ValueError(f"vbe: saved registers are {len(regs)}, want {REGISTER_COUNT}")
        self.index = int(state["index"]) & 0xFFFF
        self.regs = regs
        self.mode = int(state.get("mode", 0)) & 0xFFFF
        self._fixup()
        self._on_change()
