"""IBM VGA register model: ports 3B4h-3BAh, 3C0h-3CFh, 3D4h-3DAh, and the display view.

Owns: the misc output, sequencer, graphics controller, attribute controller, DAC and CRTC
registers (plus the CGA compatibility ports 3D8h/3D9h), input status 1 timing, BIOS mode
programming (``set_mode``), the BIOS save area of the registers, and :meth:`Vga.display`,
which derives what the screen shows from the registers alone (:mod:`vga_display`), so
guests that set modes through int 10h and guests that program the chips directly look
the same.  Register semantics follow FreeVGA ("VGA/SVGA Video Programming", Joshua Neal)
and IBM's VGA technical reference; the register names are in :mod:`vga_regs`, the mode
tables in :mod:`vmgui.devices.vga_tables`.

Video memory (vmgui.devices.video_memory): the 128 KiB window A0000h-BFFFFh is plain
guest RAM the machine maps from ``vram``; in the planar modes (sequencer chain 4 off,
odd/even off) A0000h-AFFFFh goes through :mod:`vmgui.devices.vga_planar` into the four
planes instead; on a card with the VBE extension (:mod:`vmgui.devices.vbe`) an enabled
VBE mode shows the linear framebuffer and A0000h shows its selected 64 KiB bank.
:meth:`Vga.window` says which, and ``on_window_change`` tells the machine when it changes.

Thread rule: ports and BIOS helpers are used from the emulation thread; :meth:`display`
returns an immutable snapshot of the registers (the memory view it holds is live).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vmgui.devices import vga_display
from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus, Registration
from vmgui.devices.clock import Clock
from vmgui.devices.display import DisplayKind, DisplayState
from vmgui.devices.vbe import BochsVbe, Dispi
from vmgui.devices.vga_planar import PlanarMemory
from vmgui.devices.vga_regs import (  # noqa: F401 - the register names live on here too
    ATTR_COUNT,
    CGA_VIDEO_ENABLE,
    CRTC_COUNT,
    GC_COUNT,
    MAP_BASE,
    SEQ_COUNT,
    Attr,
    Crtc,
    Gc,
    Port,
    Seq,
)
from vmgui.devices.vga_tables import MODES, TEXT_ATTR_PALETTE, cga_dac_index, default_dac
from vmgui.devices.video_memory import PLANES_SIZE, IoWindow, RamWindow, Window

VRAM_SIZE = 0x20000
FRAME_NS = 1_000_000_000 // 70  # 70 Hz refresh (400-line modes)
RETRACE_NS = FRAME_NS * 12 // 1000  # vertical retrace: ~1.2 % of the frame
LINE_NS = 31_778  # 31.47 kHz horizontal rate
HBLANK_NS = LINE_NS // 5  # horizontal blanking: ~20 % of each line


_MAP_SIZE = {0: 0x20000, 1: 0x10000, 2: 0x8000, 3: 0x8000}
_STATUS_DISPLAY_OFF = 0x01
_STATUS_VRETRACE = 0x08
_CGA_BLINK = 0x20


class Vga(Device):
    """A VGA card.  Registers itself on ``bus`` at creation; :meth:`detach` undoes that.
    ``planes``: the 256 KiB plane memory (allocated here if not given); ``lfb``: the
    16 MiB linear framebuffer of the VBE extension (None: a plain VGA without VBE)."""

    NAME = "vga"
    STATE_VERSION = 2  # 2: plane memory, latches, VBE registers

    def __init__(self, bus: IoBus, clock: Clock, vram: memoryview,
                 planes: memoryview | None = None, lfb: memoryview | None = None) -> None:
        if len(vram) != VRAM_SIZE or vram.readonly:
            raise ValueError("vram must be a writable 128 KiB view")
        self._clock = clock
        self._vram = vram.cast("B") if vram.format != "B" else vram
        planes = memoryview(planes if planes is not None else bytearray(PLANES_SIZE)).cast("B")
        if len(planes) != PLANES_SIZE or planes.readonly:
            raise ValueError(f"planes must be a writable view of {PLANES_SIZE} bytes")
        self._planes = planes
        self.planar = PlanarMemory(self._planes, bytearray(SEQ_COUNT), bytearray(GC_COUNT))
        self._io_window = IoWindow(self._planar_read, self._planar_write)
        self.on_window_change: Callable[[Window], None] | None = None
        self._window_key: tuple | None = None
        self._dac_bits_seen = 6
        self._registrations: list[Registration] = [
            bus.register(0x3B4, 7, "vga-mono", self._read_port_3b, self._write_port_3b),
            bus.register(0x3C0, 16, "vga", self._read_port_3c, self._write_port_3c),
            bus.register(0x3D4, 7, "vga-color", self._read_port_3d, self._write_port_3d),
        ]
        self.vbe = BochsVbe(bus, lfb, self._vbe_changed) if lfb is not None else None
        self.reset()

    # ----------------------------------------------------------------- lifecycle
    def detach(self) -> None:
        """Release the I/O ports."""
        for reg in self._registrations:
            reg.remove()
        self._registrations.clear()
        if self.vbe is not None:
            self.vbe.detach()

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
        self.planar.seq, self.planar.gc, self.planar.latch = self.seq, self.gc, 0
        if self.vbe is not None:
            self.vbe.reset()
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
    def window_view(self) -> memoryview:
        """The A0000h-BFFFFh memory (writable; the display hands out read-only views)."""
        return self._vram

    @property
    def planes_view(self) -> memoryview:
        """The plane memory, interleaved (byte 4 * offset + plane)."""
        return self._planes

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
                if self.seq_index == Seq.MEMORY_MODE:
                    self._update_window()
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
                if self.gc_index == Gc.MISC:
                    self._update_window()
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

    @property
    def dac_bits(self) -> int:
        """Width of a DAC component: 6 (VGA), or 8 when the VBE extension switched it."""
        return 8 if self.vbe is not None and self.vbe.dac_8bit else 6

    def _dac_write(self, value: int) -> None:
        self.dac_write_latch.append(value & (0xFF if self.dac_bits == 8 else 0x3F))
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
        if self.vbe is not None:
            self.vbe.write_register(Dispi.ENABLE, 0)  # back to VGA timing, 6-bit DAC
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
        self._update_window()
        return True

    def clear_memory(self, text: bool) -> None:
        """Fill the current memory map with blank cells (0720h) or zero bytes."""
        select = (self.gc[Gc.MISC] >> 2) & 3
        base, size = MAP_BASE[select], min(_MAP_SIZE[select], 0x10000)
        fill = b"\x20\x07" if text else b"\x00\x00"
        self._vram[base: base + size] = fill * (size // 2)
        if not text:
            self.planar.clear()

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
        mask = 0xFF if self.dac_bits == 8 else 0x3F
        self.dac[3 * (index & 0xFF): 3 * (index & 0xFF) + 3] = bytes((r & mask, g & mask, b & mask))
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
        return vga_display.display_kind(self)

    def _palette(self) -> bytes:
        """The DAC as 8-bit (r, g, b) triples, through the pel mask; cached until the DAC,
        the mask or the DAC width changes."""
        if self._palette_cache is None:
            dac, mask = self.dac, self.dac_mask
            wide = self.dac_bits == 8
            out = bytearray(768)
            for i in range(256):
                at = 3 * (i & mask)
                for c in range(3):
                    v = dac[at + c]
                    out[3 * i + c] = v if wide else ((v & 0x3F) << 2) | ((v & 0x3F) >> 4)
            self._palette_cache = bytes(out)
        return self._palette_cache

    def display(self) -> DisplayState:
        """What the screen shows now, derived from the registers (never the mode number)."""
        if self.vbe is not None and self.vbe.enabled:
            return self.vbe.display_state(self._palette(), vga_display.attr_to_dac(self))
        return vga_display.display_state(self, self._palette())

    # ----------------------------------------------------------------- memory window
    def planar_addressing(self) -> bool:
        """Sequencer chain 4 off and odd/even off: the CPU reaches the planes through the
        latches (EGA/VGA 16-colour modes, unchained 256 colours)."""
        memory_mode = self.seq[Seq.MEMORY_MODE]
        return not memory_mode & 0x08 and bool(memory_mode & 0x04)

    def window(self) -> Window:
        """What answers at A0000h-AFFFFh now (see vmgui.devices.video_memory)."""
        vbe = self.vbe
        if vbe is not None and vbe.enabled and vbe.bpp != 4:
            return RamWindow(vbe.lfb, vbe.bank_offset, "lfb")
        if self.planar_addressing() and (self.gc[Gc.MISC] >> 2) & 3 <= 1:
            return self._io_window
        return RamWindow(self._vram, 0, "window")

    def _window_key_now(self) -> tuple:
        """The key of :meth:`window` without building it (bank switches are frequent)."""
        vbe = self.vbe
        if vbe is not None and vbe.enabled and vbe.bpp != 4:
            return ("ram", "lfb", vbe.bank_offset)
        if self.planar_addressing() and (self.gc[Gc.MISC] >> 2) & 3 <= 1:
            return ("io",)
        return ("ram", "window", 0)

    def _update_window(self) -> None:
        if self.on_window_change is None or self._window_key_now() == self._window_key:
            return
        window = self.window()
        self._window_key = window.key
        self.on_window_change(window)

    def attach_window(self, callback: Callable[[Window], None]) -> None:
        """Have ``callback(window)`` map A0000h-AFFFFh now and whenever it changes."""
        self.on_window_change = callback
        self._window_key = None
        self._update_window()

    def _vbe_changed(self) -> None:
        if self._dac_bits_seen != self.dac_bits:
            self._dac_bits_seen = self.dac_bits
            self._palette_cache = None
        self._update_window()

    def _planar_read(self, offset: int) -> int:
        return self.planar.read(offset)

    def _planar_write(self, offset: int, value: int) -> None:
        self.planar.write(offset, value)

    # ----------------------------------------------------------------- BIOS save area
    HARDWARE_STATE_SIZE = 1 + SEQ_COUNT + CRTC_COUNT + GC_COUNT + ATTR_COUNT + 6

    def hardware_state(self) -> bytes:
        """The register file as a BIOS "save video state" area keeps it (int 10h AX=4F04h):
        misc output, sequencer, CRTC, graphics and attribute registers, the CGA mode and
        colour values and the index registers; :data:`HARDWARE_STATE_SIZE` bytes."""
        return (bytes((self.misc,)) + bytes(self.seq) + bytes(self.crtc) + bytes(self.gc)
                + bytes(self.attr) + bytes((self.cga_mode, self.cga_color, self.seq_index,
                                            self.gc_index, self.crtc_index, self.attr_index)))

    def load_hardware_state(self, data: bytes) -> None:
        """Put back a :meth:`hardware_state` (DAC and memory are not part of it)."""
        if len(data) != self.HARDWARE_STATE_SIZE:
            raise ValueError(f"VGA register state is {len(data)} bytes, "
                             f"want {self.HARDWARE_STATE_SIZE}")
        self.misc = data[0]
        at = 1
        for regs in (self.seq, self.crtc, self.gc, self.attr):
            regs[:] = data[at: at + len(regs)]
            at += len(regs)
        (self.cga_mode, self.cga_color, self.seq_index, self.gc_index, self.crtc_index,
         self.attr_index) = data[at: at + 6]
        self.attr_flipflop = False
        self._update_window()

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
        state["planes"] = bytes(self._planes)
        state["latch"] = self.planar.latch
        if self.vbe is not None:
            state["vbe"] = self.vbe.save_state()
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
        if "planes" in state:
            planes = bytes(state["planes"])
            if len(planes) != len(self._planes):
                raise ValueError(f"vga: saved planes have {len(planes)} bytes, "
                                 f"want {len(self._planes)}")
            self._planes[:] = planes
        self.planar.latch = int(state.get("latch", 0)) & 0xFFFFFFFF
        if self.vbe is not None:
            if "vbe" in state:
                self.vbe.load_state(state["vbe"])
            else:
                self.vbe.reset()
        self._palette_cache = None
        self._update_window()
