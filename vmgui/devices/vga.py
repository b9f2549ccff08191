"""IBM VGA register model: ports 3B4h-3BAh, 3C0h-3CFh, 3D4h-3DAh, and the display view.

Owns: the misc output, sequencer, graphics controller, attribute controller, DAC and CRTC
registers (plus the CGA compatibility ports 3D8h/3D9h), input status 1 timing, BIOS mode
programming (``set_mode``) and :meth:`Vga.display`, which derives what the screen shows
from the registers alone, so guests that set modes through int 10h and guests that
program the chips directly look the same.  Register semantics follow FreeVGA
("VGA/SVGA Video Programming", Joshua Neal) and IBM's VGA technical reference; the mode
tables are in :mod:`vmgui.devices.vga_tables`.

Video memory is the 128 KiB window A0000h-BFFFFh, plain guest RAM the machine maps from
``vram``; writes never reach this model (planar write modes are not emulated yet).

Thread rule: ports and BIOS helpers are used from the emulation thread; :meth:`display`
returns an immutable snapshot of the registers (the memory view it holds is live).
"""

from __future__ import annotations

import enum
from typing import Any

from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus, Registration
from vmgui.devices.clock import Clock
from vmgui.devices.display import DisplayKind, DisplayState
from vmgui.devices.vga_tables import MODES, TEXT_ATTR_PALETTE, cga_dac_index, default_dac

VRAM_SIZE = 0x20000
FRAME_NS = 1_000_000_000 // 70  # 70 Hz refresh (400-line modes)
RETRACE_NS = FRAME_NS * 12 // 1000  # vertical retrace: ~1.2 % of the frame
LINE_NS = 31_778  # 31.47 kHz horizontal rate
HBLANK_NS = LINE_NS // 5  # horizontal blanking: ~20 % of each line


class Port(enum.IntEnum):
    MONO_CRTC_INDEX = 0x3B4
    MONO_CRTC_DATA = 0x3B5
    MONO_STATUS1 = 0x3BA  # read: input status 1; write: feature control
    ATTR_INDEX_DATA = 0x3C0
    ATTR_DATA_READ = 0x3C1
    MISC_WRITE = 0x3C2  # read: input status 0
    SEQ_INDEX = 0x3C4
    SEQ_DATA = 0x3C5
    DAC_MASK = 0x3C6
    DAC_READ_INDEX = 0x3C7  # read: DAC state
    DAC_WRITE_INDEX = 0x3C8
    DAC_DATA = 0x3C9
    FEATURE_READ = 0x3CA
    MISC_READ = 0x3CC
    GC_INDEX = 0x3CE
    GC_DATA = 0x3CF
    COLOR_CRTC_INDEX = 0x3D4
    COLOR_CRTC_DATA = 0x3D5
    CGA_MODE = 0x3D8
    CGA_COLOR = 0x3D9
    COLOR_STATUS1 = 0x3DA


class Crtc(enum.IntEnum):
    H_DISPLAY_END = 0x01
    OVERFLOW = 0x07
    MAX_SCAN_LINE = 0x09
    CURSOR_START = 0x0A
    CURSOR_END = 0x0B
    START_HIGH = 0x0C
    START_LOW = 0x0D
    CURSOR_HIGH = 0x0E
    CURSOR_LOW = 0x0F
    V_RETRACE_END = 0x11  # bit 7: protect registers 0-7
    V_DISPLAY_END = 0x12
    OFFSET = 0x13
    UNDERLINE = 0x14  # bit 6: doubleword addressing
    MODE_CONTROL = 0x17  # bit 0: CGA bank (scan line bit 0 -> A13); bit 6: byte mode


class Seq(enum.IntEnum):
    RESET = 0x00
    CLOCKING = 0x01  # bit 0: 8-dot chars; bit 3: half dot clock; bit 5: screen off
    MAP_MASK = 0x02
    CHAR_MAP = 0x03
    MEMORY_MODE = 0x04


class Gc(enum.IntEnum):
    MODE = 0x05  # bit 5: CGA shift (interleave); bit 6: 256-colour shift
    MISC = 0x06  # bit 0: graphics; bits 2-3: memory map select


class Attr(enum.IntEnum):
    MODE_CONTROL = 0x10  # bit 0: graphics; bit 3: blink; bit 6: 8-bit colour; bit 7: P54S
    OVERSCAN = 0x11
    PLANE_ENABLE = 0x12
    H_PAN = 0x13
    COLOR_SELECT = 0x14


CRTC_COUNT, SEQ_COUNT, GC_COUNT, ATTR_COUNT = 0x19, 5, 9, 0x15
_MAP_BASE = {0: 0x00000, 1: 0x00000, 2: 0x10000, 3: 0x18000}
_MAP_SIZE = {0: 0x20000, 1: 0x10000, 2: 0x8000, 3: 0x8000}
_STATUS_DISPLAY_OFF = 0x01
_STATUS_VRETRACE = 0x08
_CGA_VIDEO_ENABLE = 0x08
_CGA_BLINK = 0x20


class Vga(Device):
    """A VGA card without planar write logic.  Registers itself on ``bus`` at creation;
    :meth:`detach` undoes that."""

    NAME = "vga"
    STATE_VERSION = 1

    def __init__(self, bus: IoBus, clock: Clock, vram: memoryview) -> None:
        if len(vram) != VRAM_SIZE or vram.readonly:
            raise ValueError("vram must be a writable 128 KiB view")
        self._clock = clock
        self._vram = vram.cast("B") if vram.format != "B" else vram
        self._registrations: list[Registration] = [
            bus.register(0x3B4, 7, "vga-mono", self._read_port_3b, self._write_port_3b),
            bus.register(0x3C0, 16, "vga", self._read_port_3c, self._write_port_3c),
            bus.register(0x3D4, 7, "vga-color", self._read_port_3d, self._write_port_3d),
        ]
        self.reset()

    # ----------------------------------------------------------------- lifecycle
    def detach(self) -> None:
        """Release the I/O ports."""
        for reg in self._registrations:
            reg.remove()
        self._registrations.clear()

    def reset(self) -> None:
        self.misc = 0
        self.seq = bytearray(SEQ_COUNT)
        self.seq_index = 0
        self.gc = bytearray(GC_COUNT)
        self.gc_index = 0
        self.attr = bytearray(ATTR_COUNT)
        self.attr_index = 0
        self.attr_flipflop = False  # False: next 3C0h write is an index
        self.crtc = bytearray(CRTC_COUNT)
        self.crtc_index = 0
        self.dac = bytearray(768)  # 6-bit components
        self.dac_mask = 0xFF
        self.dac_read_index = 0
        self.dac_write_index = 0
        self.dac_read_component = 0
        self.dac_write_latch = bytearray()
        self.dac_state = 0  # 0: last address write was 3C8h, 3: it was 3C7h
        self.feature = 0
        self.cga_mode = 0
        self.cga_color = 0
        self.mode = 0x03
        self._palette_cache: bytes | None = None
        self.set_mode(0x03, clear=True)

    # ----------------------------------------------------------------- port decoding
    def _read_port_3b(self, offset: int, size: int) -> int:
        return self._read_bytes(0x3B4 + offset, size)

    def _write_port_3b(self, offset: int, size: int, value: int) -> None:
        self._write_bytes(0x3B4 + offset, size, value)

    def _read_port_3c(self, offset: int, size: int) -> int:
        return self._read_bytes(0x3C0 + offset, size)

    def _write_port_3c(self, offset: int, size: int, value: int) -> None:
        self._write_bytes(0x3C0 + offset, size, value)

    def _read_port_3d(self, offset: int, size: int) -> int:
        return self._read_bytes(0x3D4 + offset, size)

    def _write_port_3d(self, offset: int, size: int, value: int) -> None:
        self._write_bytes(0x3D4 + offset, size, value)

    def _read_bytes(self, port: int, size: int) -> int:
        value = 0
        for i in range(size):
            value |= self.read_port(port + i) << (8 * i)
        return value

    def _write_bytes(self, port: int, size: int, value: int) -> None:
        for i in range(size):
            self.write_port(port + i, (value >> (8 * i)) & 0xFF)

    @property
    def color(self) -> bool:
        """Misc output bit 0: CRTC and status at 3Dxh (True) or 3Bxh (False)."""
        return bool(self.misc & 1)

    @property
    def crtc_base(self) -> int:
        """The CRTC index port in use (3D4h or 3B4h), as the BDA records it."""
        return Port.COLOR_CRTC_INDEX if self.color else Port.MONO_CRTC_INDEX

    def read_port(self, port: int) -> int:  # noqa: C901 - a flat port switch
        """One byte from ``port`` (absolute port number)."""
        mono_port = 0x3B0 <= port <= 0x3BF
        color_port = 0x3D0 <= port <= 0x3DF
        if (mono_port and self.color) or (color_port and not self.color):
            return 0xFF
        if port in (Port.MONO_CRTC_INDEX, Port.COLOR_CRTC_INDEX):
            return self.crtc_index
        if port in (Port.MONO_CRTC_DATA, Port.COLOR_CRTC_DATA):
            return self.crtc[self.crtc_index] if self.crtc_index < CRTC_COUNT else 0xFF
        if port in (Port.MONO_STATUS1, Port.COLOR_STATUS1):
            self.attr_flipflop = False
            return self.input_status_1()
        if port == Port.ATTR_INDEX_DATA:
            return self.attr_index
        if port == Port.ATTR_DATA_READ:
            index = self.attr_index & 0x1F
            return self.attr[index] if index < ATTR_COUNT else 0
        if port == Port.MISC_WRITE:
            return 0x10  # input status 0: switch sense (colour monitor present)
        if port == Port.SEQ_INDEX:
            return self.seq_index
        if port == Port.SEQ_DATA:
            return self.seq[self.seq_index] if self.seq_index < SEQ_COUNT else 0xFF
        if port == Port.DAC_MASK:
            return self.dac_mask
        if port == Port.DAC_READ_INDEX:
            return self.dac_state
        if port == Port.DAC_WRITE_INDEX:
            return self.dac_write_index
        if port == Port.DAC_DATA:
            return self._dac_read()
        if port == Port.FEATURE_READ:
            return self.feature
        if port == Port.MISC_READ:
            return self.misc
        if port == Port.GC_INDEX:
            return self.gc_index
        if port == Port.GC_DATA:
            return self.gc[self.gc_index] if self.gc_index < GC_COUNT else 0xFF
        if port == Port.CGA_MODE:
            return self.cga_mode
        if port == Port.CGA_COLOR:
            return self.cga_color
        return 0xFF

    def write_port(self, port: int, value: int) -> None:  # noqa: C901 - a flat port switch
        """One byte to ``port`` (absolute port number)."""
        value &= 0xFF
        mono_port = 0x3B0 <= port <= 0x3BF
        color_port = 0x3D0 <= port <= 0x3DF
        if (mono_port and self.color) or (color_port and not self.color):
            return
        if port in (Port.MONO_CRTC_INDEX, Port.COLOR_CRTC_INDEX):
            self.crtc_index = value & 0x3F
        elif port in (Port.MONO_CRTC_DATA, Port.COLOR_CRTC_DATA):
            self._crtc_write(self.crtc_index, value)
        elif port in (Port.MONO_STATUS1, Port.COLOR_STATUS1):
            self.feature = value
        elif port == Port.ATTR_INDEX_DATA:
            self._attr_write(value)
        elif port == Port.MISC_WRITE:
            self.misc = value
        elif port == Port.SEQ_INDEX:
            self.seq_index = value & 0x07
        elif port == Port.SEQ_DATA:
            if self.seq_index < SEQ_COUNT:
                self.seq[self.seq_index] = value
        elif port == Port.DAC_MASK:
            self.dac_mask = value
            self._palette_cache = None
        elif port == Port.DAC_READ_INDEX:
            self.dac_read_index, self.dac_read_component, self.dac_state = value, 0, 3
        elif port == Port.DAC_WRITE_INDEX:
            self.dac_write_index, self.dac_state = value, 0
            self.dac_write_latch.clear()
        elif port == Port.DAC_DATA:
            self._dac_write(value)
        elif port == Port.GC_INDEX:
            self.gc_index = value & 0x0F
        elif port == Port.GC_DATA:
            if self.gc_index < GC_COUNT:
                self.gc[self.gc_index] = value
        elif port == Port.CGA_MODE:
            self._cga_mode_write(value)
        elif port == Port.CGA_COLOR:
            self.set_cga_palette(value)

    # ----------------------------------------------------------------- register logic
    def _crtc_write(self, index: int, value: int) -> None:
        if index >= CRTC_COUNT:
            return
        if index <= Crtc.OVERFLOW and self.crtc[Crtc.V_RETRACE_END] & 0x80:
            if index != Crtc.OVERFLOW:
                return  # registers 0-6 are write protected
            value = (self.crtc[index] & ~0x10) | (value & 0x10)  # only line compare bit 8
        self.crtc[index] = value

    def _attr_write(self, value: int) -> None:
        if not self.attr_flipflop:
            self.attr_index = value & 0x3F
        else:
            index = self.attr_index & 0x1F
            if index < 0x10:
                self.attr[index] = value & 0x3F
            elif index < ATTR_COUNT:
                self.attr[index] = value & (0x0F if index >= Attr.H_PAN else 0xFF)
        self.attr_flipflop = not self.attr_flipflop

    def _dac_write(self, value: int) -> None:
        self.dac_write_latch.append(value & 0x3F)
        if len(self.dac_write_latch) == 3:
            at = self.dac_write_index * 3
            self.dac[at: at + 3] = self.dac_write_latch
            self.dac_write_latch.clear()
            self.dac_write_index = (self.dac_write_index + 1) & 0xFF
            self._palette_cache = None

    def _dac_read(self) -> int:
        value = self.dac[self.dac_read_index * 3 + self.dac_read_component]
        self.dac_read_component += 1
        if self.dac_read_component == 3:
            self.dac_read_component = 0
            self.dac_read_index = (self.dac_read_index + 1) & 0xFF
        return value

    def _cga_mode_write(self, value: int) -> None:
        """CGA mode control: the blink bit is honoured, video enable blanks the screen;
        the mode bits are recorded but do not reprogram the VGA."""
        self.cga_mode = value
        self.set_blink(bool(value & _CGA_BLINK))

    def input_status_1(self) -> int:
        """Bit 3: vertical retrace; bit 0: display disabled (either blanking interval)."""
        now = self._clock.now_ns()
        in_frame = now % FRAME_NS
        status = 0
        if in_frame >= FRAME_NS - RETRACE_NS:
            status |= _STATUS_VRETRACE | _STATUS_DISPLAY_OFF
        elif now % LINE_NS >= LINE_NS - HBLANK_NS:
            status |= _STATUS_DISPLAY_OFF
        return status

    # ----------------------------------------------------------------- BIOS helpers
    def set_mode(self, mode: int, clear: bool = True) -> bool:
        """Program every register for BIOS mode ``mode`` (bit 7 set: keep memory); load
        its default DAC palette; clear its memory unless ``clear`` is False.
        Returns False (changing nothing) for modes this card does not offer."""
        if mode & 0x80:
            mode, clear = mode & 0x7F, False
        regs = MODES.get(mode)
        if regs is None:
            return False
        self.mode = mode
        self.misc = regs.misc
        self.seq[Seq.RESET] = 0x03
        self.seq[1:5] = regs.seq
        self.crtc[:] = regs.crtc[:CRTC_COUNT]
        self.attr[: len(regs.attr)] = regs.attr
        self.attr[Attr.COLOR_SELECT] = 0
        self.attr_index, self.attr_flipflop = 0x20, False
        self.gc[:] = regs.gc
        self.cga_mode, self.cga_color = regs.cga_mode, regs.cga_color
        self.dac_mask = 0xFF
        for i, (r, g, b) in enumerate(default_dac(regs.dac)):
            self.dac[3 * i: 3 * i + 3] = bytes((r, g, b))
        self._palette_cache = None
        if clear:
            self.clear_memory(text=regs.text)
        return True

    def clear_memory(self, text: bool) -> None:
        """Fill the current memory map with blank cells (0720h) or zero bytes."""
        select = (self.gc[Gc.MISC] >> 2) & 3
        base, size = _MAP_BASE[select], min(_MAP_SIZE[select], 0x10000)
        fill = b"\x20\x07" if text else b"\x00\x00"
        self._vram[base: base + size] = fill * (size // 2)

    def set_cursor_shape(self, start: int, end: int) -> None:
        """CRTC 0Ah/0Bh: first and last cursor scan line; start bit 5 hides the cursor."""
        self.crtc[Crtc.CURSOR_START] = (self.crtc[Crtc.CURSOR_START] & 0xC0) | (start & 0x3F)
        self.crtc[Crtc.CURSOR_END] = (self.crtc[Crtc.CURSOR_END] & 0xE0) | (end & 0x1F)

    def set_cursor_offset(self, cell: int) -> None:
        """CRTC 0Eh/0Fh cursor location, in CRTC address units (character cells)."""
        self.crtc[Crtc.CURSOR_HIGH], self.crtc[Crtc.CURSOR_LOW] = (cell >> 8) & 0xFF, cell & 0xFF

    def cursor_address(self) -> int:
        return (self.crtc[Crtc.CURSOR_HIGH] << 8) | self.crtc[Crtc.CURSOR_LOW]

    def set_start_address(self, offset: int) -> None:
        """CRTC 0Ch/0Dh display start, in CRTC address units (cells in text modes)."""
        self.crtc[Crtc.START_HIGH], self.crtc[Crtc.START_LOW] = (offset >> 8) & 0xFF, offset & 0xFF

    def start_address(self) -> int:
        return (self.crtc[Crtc.START_HIGH] << 8) | self.crtc[Crtc.START_LOW]

    def set_dac(self, index: int, r: int, g: int, b: int) -> None:
        self.dac[3 * (index & 0xFF): 3 * (index & 0xFF) + 3] = bytes((r & 0x3F, g & 0x3F, b & 0x3F))
        self._palette_cache = None

    def get_dac(self, index: int) -> tuple[int, int, int]:
        at = 3 * (index & 0xFF)
        return self.dac[at], self.dac[at + 1], self.dac[at + 2]

    def set_attr_palette(self, index: int, value: int) -> None:
        """Attribute controller palette register 0-15 (6-bit value)."""
        self.attr[index & 0x0F] = value & 0x3F

    def get_attr_palette(self, index: int) -> int:
        return self.attr[index & 0x0F]

    def set_overscan(self, value: int) -> None:
        self.attr[Attr.OVERSCAN] = value & 0xFF

    def get_overscan(self) -> int:
        return self.attr[Attr.OVERSCAN]

    def set_blink(self, enabled: bool) -> None:
        """Attribute bit 7 means blink (True) or bright background (False)."""
        mode = self.attr[Attr.MODE_CONTROL]
        self.attr[Attr.MODE_CONTROL] = (mode | 0x08) if enabled else (mode & ~0x08)

    def set_cga_palette(self, value: int) -> None:
        """CGA colour select (port 3D9h, int 10h AH=0Bh): in 320x200 modes bits 0-3 are
        the background, bit 5 picks green/red/brown or cyan/magenta/white and bit 4
        brightens them; in 640x200 bits 0-3 are the foreground; in text modes bits 0-3
        are the border.  Programs the attribute palette the way a VGA BIOS does."""
        self.cga_color = value & 0x3F
        kind = self._kind()
        colour = value & 0x0F
        if kind is DisplayKind.CGA2:
            self.attr[1] = cga_dac_index(colour)
            return
        if kind is DisplayKind.TEXT:
            self.attr[Attr.OVERSCAN] = TEXT_ATTR_PALETTE[colour]
            return
        self.attr[Attr.OVERSCAN] = cga_dac_index(colour)
        self.attr[0] = cga_dac_index(colour)
        bright = 0x10 if value & 0x10 else 0
        colours = (3, 5, 7) if value & 0x20 else (2, 4, 6)  # cyan/magenta/white, green/red/brown
        for i, c in enumerate(colours, start=1):
            self.attr[i] = c | bright

    # ----------------------------------------------------------------- display view
    def _kind(self) -> DisplayKind:
        if self.seq[Seq.CLOCKING] & 0x20 or not self.attr_index & 0x20:
            return DisplayKind.BLANK
        if self.color and not self.cga_mode & _CGA_VIDEO_ENABLE:
            return DisplayKind.BLANK
        if not (self.attr[Attr.MODE_CONTROL] & 0x01 or self.gc[Gc.MISC] & 0x01):
            return DisplayKind.TEXT
        if self.attr[Attr.MODE_CONTROL] & 0x40:
            return DisplayKind.VGA256
        if self.gc[Gc.MODE] & 0x20:
            return DisplayKind.CGA4
        if not self.crtc[Crtc.MODE_CONTROL] & 0x01:
            return DisplayKind.CGA2
        return DisplayKind.PLANAR16

    def _vertical_lines(self) -> int:
        overflow = self.crtc[Crtc.OVERFLOW]
        end = self.crtc[Crtc.V_DISPLAY_END] | ((overflow & 0x02) << 7) | ((overflow & 0x40) << 3)
        lines = end + 1
        return lines // 2 if self.crtc[Crtc.MAX_SCAN_LINE] & 0x80 else lines

    def _address_unit(self) -> int:
        """Bytes of CPU-visible memory per CRTC address step (dword, word or byte mode)."""
        if self.crtc[Crtc.UNDERLINE] & 0x40:
            return 4
        return 1 if self.crtc[Crtc.MODE_CONTROL] & 0x40 else 2

    def _attr_to_dac(self) -> bytes:
        """The 16 attribute colours as DAC indices (palette, plane enable, colour select)."""
        mode, select = self.attr[Attr.MODE_CONTROL], self.attr[Attr.COLOR_SELECT]
        enable = self.attr[Attr.PLANE_ENABLE] & 0x0F
        high = (select & 0x0C) << 4
        out = bytearray(16)
        for i in range(16):
            v = self.attr[i & enable]
            if mode & 0x80:
                v = (v & 0x0F) | ((select & 0x03) << 4)
            out[i] = high | v
        return bytes(out)

    def _palette(self) -> bytes:
        if self._palette_cache is None:
            dac, mask = self.dac, self.dac_mask
            out = bytearray(768)
            for i in range(256):
                at = 3 * (i & mask)
                for c in range(3):
                    v = dac[at + c]
                    out[3 * i + c] = (v << 2) | (v >> 4)
            self._palette_cache = bytes(out)
        return self._palette_cache

    def display(self) -> DisplayState:
        """What the screen shows now, derived from the registers (never the mode number)."""
        kind = self._kind()
        chars = self.crtc[Crtc.H_DISPLAY_END] + 1
        scan = (self.crtc[Crtc.MAX_SCAN_LINE] & 0x1F) + 1
        lines = self._vertical_lines()
        unit = self._address_unit()
        select = (self.gc[Gc.MISC] >> 2) & 3
        start_units = self.start_address()
        if kind is DisplayKind.TEXT or (kind is DisplayKind.BLANK and not self.gc[Gc.MISC] & 1):
            char_height, cols = scan, chars
            rows = max(1, lines // scan)
            width, height = cols * 8, rows * scan
        else:
            if kind is not DisplayKind.CGA2 and kind is not DisplayKind.CGA4:
                lines //= scan  # scan line doubling (mode 13h, 0Dh...)
            width = chars * 8 // (2 if kind is DisplayKind.VGA256 else 1)
            height = lines
            char_height = 16 if height >= 480 else 14 if height >= 350 else 8
            cols, rows = width // 8, height // char_height
        cursor_start = self.crtc[Crtc.CURSOR_START]
        cursor_end = self.crtc[Crtc.CURSOR_END] & 0x1F
        return DisplayState(
            kind=kind,
            mode=self.mode,
            width=width,
            height=height,
            cols=cols,
            rows=rows,
            char_height=char_height,
            base=_MAP_BASE[select],
            start=start_units * unit,
            pitch=self.crtc[Crtc.OFFSET] * 2 * unit,
            vram=self._vram.toreadonly(),
            palette=self._palette(),
            attr_palette=self._attr_to_dac(),
            cursor_offset=(self.cursor_address() - start_units) & 0xFFFF,
            cursor_start=cursor_start & 0x1F,
            cursor_end=cursor_end,
            cursor_visible=not cursor_start & 0x20 and (cursor_start & 0x1F) <= cursor_end,
            blink_enabled=bool(self.attr[Attr.MODE_CONTROL] & 0x08),
            cga_palette=self.cga_color,
        )

    # ----------------------------------------------------------------- state
    _BYTE_FIELDS = ("seq", "gc", "attr", "crtc", "dac")
    _INT_FIELDS = (
        "misc", "seq_index", "gc_index", "attr_index", "crtc_index", "dac_mask",
        "dac_read_index", "dac_write_index", "dac_read_component", "dac_state", "feature",
        "cga_mode", "cga_color", "mode",
    )

    def save_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"version": self.STATE_VERSION}
        for name in self._BYTE_FIELDS:
            state[name] = bytes(getattr(self, name))
        for name in self._INT_FIELDS:
            state[name] = getattr(self, name)
        state["attr_flipflop"] = self.attr_flipflop
        state["dac_write_latch"] = bytes(self.dac_write_latch)
        state["vram"] = bytes(self._vram)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        for name in self._BYTE_FIELDS:
            current = getattr(self, name)
            data = bytes(state[name])
            if len(data) != len(current):
                raise ValueError(f"vga: saved {name} has {len(data)} bytes, want {len(current)}")
            current[:] = data
        for name in self._INT_FIELDS:
            setattr(self, name, int(state[name]))
        self.attr_flipflop = bool(state["attr_flipflop"])
        self.dac_write_latch = bytearray(state["dac_write_latch"])
        if "vram" in state:
            self._vram[:] = state["vram"]
        self._palette_cache = None
