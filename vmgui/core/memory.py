"""Guest physical memory: host-owned buffers mapped into the engine.

Owns: the PC memory map (640 KiB conventional RAM, the 128 KiB VGA window at A0000h,
option/BIOS ROM C0000h-FFFFFh, extended memory from 1 MiB up to at most 2 GiB, the PCI hole
from E0000000h that RAM never reaches (the VBE linear framebuffer at LFB_BASE lives
there on machines with one), and on machines with ``high_bios`` the BIOS shown again at
FFFE0000h-FFFFFFFFh) and :class:`GuestMemory`, the :class:`vmgui.bios.api.Memory` the
BIOS uses.  Reads come straight from the host buffers (no engine call); writes go through
the engine so that translated code covering the written bytes is invalidated (a disk
read over old code must not leave stale blocks).

RAM is an anonymous private mapping (:mod:`vmgui.core.hostpages`): a page costs host
memory only once the guest writes it, so an idle DOS in a 2 GB machine stays near the
size of what DOS touched.

A0000h-AFFFFh is mapped on its own: the VGA decides what answers there (its RAM, a bank
of the framebuffer, or planar write logic as I/O memory; vmgui.devices.video_memory) and
:meth:`GuestMemory.map_window_a` remaps it, between or during engine runs (measured:
~20 us a remap, so a guest switching VBE banks 48 times a frame loses ~1 ms).
"""

from __future__ import annotations

import logging

import numpy as np
from unicorn import unicorn_const as ucc

from vmgui.bios.api import MemoryMixin
from vmgui.core import hostpages
from vmgui.core.engine import NO_CODE_BELOW, Engine
from vmgui.core.profiles import MachineProfile
from vmgui.devices.vbe_lfb import LFB_BASE, LFB_SIZE
from vmgui.devices.video_memory import WINDOW_A_SIZE, IoWindow, RamWindow, Window

log = logging.getLogger(__name__)

CONVENTIONAL_END = 0xA0000
VGA_BASE = 0xA0000
VGA_SIZE = 0x20000
WINDOW_B_BASE = VGA_BASE + WINDOW_A_SIZE
ROM_BASE = 0xC0000
ONE_MB = 0x100000
HMA_SIZE = 0x10000
MIN_EXTENDED_MB = 1
MAX_EXTENDED_MB = 2047  # 2 GiB of RAM in all: it ends at 80000000h
PCI_HOLE_BASE = 0xE0000000  # PCI memory (the VBE linear framebuffer) from here: no RAM
HIGH_BIOS_BASE = 0xFFFE0000  # the top 128 KiB of the 4 GiB space ...
HIGH_BIOS_SIZE = 0x20000
HIGH_BIOS_SOURCE = 0xE0000  # ... show E0000h-FFFFFh (the BIOS ROM), read-only
PAGE = hostpages.PAGE


class GuestMemory(MemoryMixin):
    """RAM + VGA window of one machine.  ``ram`` covers 0..1 MiB+extended (the VGA
    window part of it is unused: the VGA buffer is mapped there instead)."""

    def __init__(self, engine: Engine, extended_mb: int, vram=None,
                 profile: MachineProfile | None = None) -> None:
        """``vram``: an optional writable buffer of VGA_SIZE bytes to use as video memory
        (shared memory when another process draws the screen).  ``profile``: the
        machine, whose memory limit applies and which may show the BIOS at the top of
        the 4 GiB space (``high_bios``)."""
        if not MIN_EXTENDED_MB <= extended_mb <= MAX_EXTENDED_MB:
            raise ValueError(
                f"extended memory {extended_mb} MB outside {MIN_EXTENDED_MB}-{MAX_EXTENDED_MB} MB")
        if profile is not None and (problem := profile.memory_problem(extended_mb + 1)):
            raise ValueError(problem)
        self.engine = engine
        self.extended_bytes = extended_mb * ONE_MB
        self.size = ONE_MB + self.extended_bytes
        self.ram = hostpages.allocate(self.size)
        if vram is not None and len(vram) != VGA_SIZE:
            raise ValueError(f"video memory buffer must be {VGA_SIZE} bytes, not {len(vram)}")
        self.vram = vram if vram is not None else bytearray(VGA_SIZE)
        engine.map_buffer(0, self.ram, 0, CONVENTIONAL_END)
        engine.map_buffer(VGA_BASE, self.vram, 0, WINDOW_A_SIZE)
        engine.map_buffer(WINDOW_B_BASE, self.vram, WINDOW_A_SIZE, VGA_SIZE - WINDOW_A_SIZE)
        engine.map_buffer(ROM_BASE, self.ram, ROM_BASE, ONE_MB - ROM_BASE)
        engine.map_buffer(ONE_MB, self.ram, ONE_MB, self.extended_bytes)
        self.high_bios = profile is not None and profile.high_bios
        if self.high_bios:
            engine.map_buffer(HIGH_BIOS_BASE, self.ram, HIGH_BIOS_SOURCE, HIGH_BIOS_SIZE,
                              ucc.UC_PROT_READ | ucc.UC_PROT_EXEC)
        self.a20_enabled = True
        self._window_a: Window = RamWindow(memoryview(self.vram), 0, "window")
        self.lfb = None  # the VBE framebuffer, once map_lfb() mapped it

    def map_lfb(self, lfb) -> None:
        """Map the VBE linear framebuffer (a writable buffer of LFB_SIZE bytes) at
        LFB_BASE, as plain memory."""
        if len(lfb) != LFB_SIZE:
            raise ValueError(f"the framebuffer must be {LFB_SIZE} bytes, not {len(lfb)}")
        self.engine.map_buffer(LFB_BASE, lfb, 0, LFB_SIZE)
        self.lfb = lfb

    def unmapped_ranges(self) -> list[tuple[int, int]]:
        """(first, last) physical addresses where nothing is mapped: above RAM, minus
        the framebuffer and the high BIOS (the machine's open bus watches these)."""
        mapped = []
        if self.lfb is not None:
            mapped.append((LFB_BASE, LFB_BASE + LFB_SIZE))
        if self.high_bios:
            mapped.append((HIGH_BIOS_BASE, HIGH_BIOS_BASE + HIGH_BIOS_SIZE))
        ranges, at = [], self.size
        for begin, end in sorted(mapped):
            if begin > at:
                ranges.append((at, begin - 1))
            at = max(at, end)
        ranges.append((at, 0xFFFFFFFFFFFFFFFF))  # PAE reaches beyond 4 GiB
        return ranges

    def map_window_a(self, window: Window) -> None:
        """Make A0000h-AFFFFh answer as ``window`` says (a VGA callback: the guest may be
        mid-instruction; the engine takes the new mapping from its next access on)."""
        engine = self.engine
        engine.unmap(VGA_BASE, WINDOW_A_SIZE)
        if isinstance(window, IoWindow):
            engine.map_mmio(VGA_BASE, WINDOW_A_SIZE, _io_reader(window), _io_writer(window))
        else:
            engine.map_buffer(VGA_BASE, window.buffer, window.offset, WINDOW_A_SIZE)
        self._window_a = window

    # ------------------------------------------------------------------ whole pages
    def maybe_used_pages(self) -> np.ndarray:
        """One bool per page of ``ram``: False where the page was never touched (it
        holds zeros), found without touching it."""
        return hostpages.maybe_used_pages(self.ram)

    def discard(self) -> None:
        """All of ``ram`` reads as zeros again and its host memory is given back (before
        the pages of a saved state are put in).  The caller drops translated code."""
        hostpages.discard(self.ram)

    def put_pages(self, indices: np.ndarray, data: bytes) -> None:
        """Write whole pages straight into ``ram``: ``data`` holds ``len(indices)``
        pages, for page numbers ``indices`` (no engine call: the caller drops
        translated code afterwards)."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(data) != len(indices) * PAGE:
            raise ValueError(f"{len(data)} bytes for {len(indices)} pages")
        source = memoryview(data)
        # runs of consecutive pages are one copy each (fancy indexing a page at a time
        # ran at 280 MB/s; a slice copy is a memcpy)
        breaks = np.flatnonzero(np.diff(indices) != 1) + 1
        for first, end in zip(np.r_[0, breaks], np.r_[breaks, len(indices)], strict=True):
            at = int(indices[first]) * PAGE
            self.ram[at : at + (end - first) * PAGE] = source[first * PAGE : end * PAGE]

    def set_a20(self, enabled: bool) -> None:
        """Gate address line 20.  With the gate closed, the first 64 KiB above 1 MiB
        (the HMA) show conventional memory again, as on an 8086: the engine gets the
        low 64 KiB of RAM mapped a second time there."""
        if enabled == self.a20_enabled:
            return
        self.engine.unmap(ONE_MB, HMA_SIZE)
        self.engine.map_buffer(ONE_MB, self.ram, ONE_MB if enabled else 0, HMA_SIZE)
        self.a20_enabled = enabled

    def _view(self, addr: int) -> tuple[bytearray, int]:
        if VGA_BASE <= addr < ROM_BASE:
            if addr < WINDOW_B_BASE:
                window = self._window_a
                if isinstance(window, RamWindow):
                    return window.buffer, window.offset + addr - VGA_BASE
                return _IoView(window), addr - VGA_BASE
            return self.vram, addr - VGA_BASE
        if not self.a20_enabled and ONE_MB <= addr < ONE_MB + HMA_SIZE:
            return self.ram, addr - ONE_MB
        if self.lfb is not None and LFB_BASE <= addr < LFB_BASE + LFB_SIZE:
            return self.lfb, addr - LFB_BASE
        return self.ram, addr

    def read(self, addr: int, size: int) -> bytes:
        end = addr + size
        if 0 <= addr and end <= VGA_BASE:  # conventional RAM: the common case, one slice
            return bytes(self.ram[addr:end])
        if self.high_bios and addr >= HIGH_BIOS_BASE and end <= HIGH_BIOS_BASE + HIGH_BIOS_SIZE:
            addr += HIGH_BIOS_SOURCE - HIGH_BIOS_BASE  # the BIOS, seen at the top of 4 GiB
            end = addr + size
        if addr < ROM_BASE and end > VGA_BASE and not (VGA_BASE <= addr and end <= ROM_BASE) \
                or addr < WINDOW_B_BASE < end:
            return self._read_split(addr, size)  # crosses an edge of the VGA window(s)
        buf, off = self._view(addr)
        if addr < 0 or off + size > len(buf):
            raise IndexError(f"read of {size} bytes at {addr:#x} beyond memory ({self.size:#x})")
        return bytes(buf[off : off + size])

    def _read_split(self, addr: int, size: int) -> bytes:
        out = bytearray()
        while size:
            edge = next((e for e in (VGA_BASE, WINDOW_B_BASE, ROM_BASE) if addr < e), addr + size)
            chunk = min(size, edge - addr)
            out += self.read(addr, chunk)
            addr += chunk
            size -= chunk
        return bytes(out)

    def read_u8(self, addr: int) -> int:
        buf, off = self._view(addr)
        return buf[off]

    def read_u16(self, addr: int) -> int:
        buf, off = self._view(addr)
        return buf[off] | (buf[off + 1] << 8)

    def read_u32(self, addr: int) -> int:
        buf, off = self._view(addr)
        return int.from_bytes(buf[off : off + 4], "little")

    def write(self, addr: int, data: bytes) -> None:
        end = addr + len(data)
        if addr < WINDOW_B_BASE < end and VGA_BASE <= addr and end <= ROM_BASE:
            split = WINDOW_B_BASE - addr  # window A and B may be different buffers
            self.write(addr, data[:split])
            self.write(WINDOW_B_BASE, data[split:])
            return
        if end <= NO_CODE_BELOW or (VGA_BASE <= addr and end <= ROM_BASE) or (
                self.lfb is not None and LFB_BASE <= addr and end <= LFB_BASE + LFB_SIZE):
            # IVT, BDA and video memory never hold code, and the engine reads data from
            # these buffers directly: a host write is all it takes (no engine call).
            buf, off = self._view(addr)
            buf[off : off + len(data)] = data
            return
        if addr < 0 or end > self.size:
            raise IndexError(
                f"write of {len(data)} bytes at {addr:#x} beyond memory ({self.size:#x})")
        self.engine.mem_write(addr, bytes(data))

    def write_data(self, addr: int, data: bytes) -> None:
        """Write bytes that are data, not code (an interrupt frame on the guest's stack,
        a page-table entry's accessed bit): straight into RAM, without dropping
        translated code on that page.  DOS keeps its stack beside its code, and flushing
        that code on every timer tick made the idle loop retranslate itself 18 times a
        second.  Above the HMA too: there a flush went through the engine, which with
        paging on switched paging off and on around it, emptying the TLB twice for every
        interrupt and system call of a paged guest."""
        end = addr + len(data)
        if 0 <= addr and end <= VGA_BASE or ONE_MB + HMA_SIZE <= addr and end <= self.size:
            self.ram[addr:end] = data
        else:
            self.write(addr, data)

    def write_u8(self, addr: int, value: int) -> None:
        if addr < NO_CODE_BELOW:
            self.ram[addr] = value & 0xFF
        else:
            self.write(addr, bytes((value & 0xFF,)))

    def write_u16(self, addr: int, value: int) -> None:
        if addr < NO_CODE_BELOW - 1:
            self.ram[addr] = value & 0xFF
            self.ram[addr + 1] = (value >> 8) & 0xFF
        else:
            self.write(addr, (value & 0xFFFF).to_bytes(2, "little"))

    def load_rom(self, addr: int, data: bytes) -> None:
        """Place firmware bytes (before the guest runs; no translated code exists yet)."""
        self.ram[addr : addr + len(data)] = data


class _IoView:
    """Window A as I/O memory, sliceable like a buffer (BIOS reads and writes there go
    through the device's byte logic, as the CPU's would)."""

    def __init__(self, window: IoWindow) -> None:
        self._window = window

    def __len__(self) -> int:
        return WINDOW_A_SIZE

    def __getitem__(self, index):
        if isinstance(index, slice):
            return bytes(self._window.read(i) for i in range(*index.indices(WINDOW_A_SIZE)))
        return self._window.read(index)

    def __setitem__(self, index, value) -> None:
        if isinstance(index, slice):
            for i, byte in zip(range(*index.indices(WINDOW_A_SIZE)), bytes(value), strict=True):
                self._window.write(i, byte)
        else:
            self._window.write(index, value)


def _io_reader(window: IoWindow):
    def read(offset: int, size: int) -> int:
        try:
            value = 0
            for i in range(size):
                value |= window.read(offset + i) << (8 * i)
            return value
        except Exception:  # noqa: BLE001 - must not unwind into the engine
            log.exception("video memory read at %#x", VGA_BASE + offset)
            return (1 << (8 * size)) - 1

    return read


def _io_writer(window: IoWindow):
    def write(offset: int, size: int, value: int) -> None:
        try:
            for i in range(size):
                window.write(offset + i, (value >> (8 * i)) & 0xFF)
        except Exception:  # noqa: BLE001 - must not unwind into the engine
            log.exception("video memory write at %#x", VGA_BASE + offset)

    return write
