"""System BIOS services: int 11h, 12h, 14h, 15h and 17h.

Owns: equipment and memory-size queries, the serial-port service over the 16550 ports,
the printer service (no printer attached), and int 15h: keyboard intercept (4Fh),
device busy/post (90h/91h), dispatch of functions other modules serve (C2h
PS/2 mouse), wait (86h), extended memory (87h block move, 88h, E801h,
E820h map), A20 gate (2400h-2403h), system configuration (C0h), EBDA (C1h).
References: Ralf Brown's interrupt list (INT 11, 12, 14, 15, 17), the ACPI specification
(E820 address range types; ACPI 3.0 extended attributes), IBM PC/AT Technical Reference.
The memory map of a ``high_bios`` machine is the one SeaBIOS gives a QEMU guest: EBDA,
F0000h-FFFFFh and the BIOS at the top of 4 GiB reserved; 88h caps at 63 MB as SeaBIOS
does (FreeDOS's HIMEM and other XMS managers read it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda, read_linear, seg_off
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import Clock

log = logging.getLogger(__name__)

SMAP = 0x534D4150
E820_RAM = 1
E820_RESERVED = 2
E820_ENTRY = 20  # base, length, type
E820_ENTRY_ACPI3 = 24  # + extended attributes (ACPI 3.0)
E820_ATTR_ENABLED = 1  # ACPI 3.0 extended attribute bit 0: the range is enabled
MAX_AH88_KB = 0xFC00  # 63 MB, as SeaBIOS: a 16-bit answer some callers add 1 MB to
HIGH_BIOS_BASE = 0xFFFE0000  # the BIOS ROM (E0000h-FFFFFh) again below 4 GiB
HIGH_BIOS_SIZE = 0x20000
PORT_92 = 0x92
A20_BIT = 0x02
STATUS_UNSUPPORTED = 0x86
ONE_MB = 0x100000
MAX_BLOCK_MOVE = 0x10000  # AH=87h: CX is at most 8000h words


@dataclass(frozen=True)
class MemoryLayout:
    conventional_kb: int  # reported by int 12h (EBDA excluded)
    ebda_segment: int
    extended_bytes: int  # RAM above 1 MiB
    # The machine shows the BIOS at HIGH_BIOS_BASE: the map is SeaBIOS's (F0000h-FFFFFh
    # and the high BIOS reserved) and E820h answers 24-byte requests with ACPI 3.0
    # attributes.  Without it: the map and answers of the ISA PC/AT profile.
    high_bios: bool = False


def e820_map(layout: MemoryLayout) -> list[tuple[int, int, int]]:
    """(base, length, type) entries of the physical memory map, in address order."""
    conv = layout.conventional_kb * 1024
    rom = (0xF0000, 0x10000) if layout.high_bios else (0xE0000, 0x20000)
    entries = [
        (0, conv, E820_RAM),
        (conv, 0xA0000 - conv, E820_RESERVED),
        (*rom, E820_RESERVED),
        (0x100000, layout.extended_bytes, E820_RAM),
    ]
    if layout.high_bios:
        entries.append((HIGH_BIOS_BASE, HIGH_BIOS_SIZE, E820_RESERVED))
    return entries


class SystemBios:
    def __init__(self, mem: Memory, bus: IoBus, clock: Clock, layout: MemoryLayout,
                 config_table: tuple[int, int]) -> None:
        self.mem = mem
        self.bus = bus
        self.clock = clock
        self.layout = layout
        self.config_table = config_table  # (segment, offset)
        self.wait_deadline_ns: int | None = None
        self._int15 = {
            0x4F: self._kbd_intercept, 0x86: self._wait, 0x87: self._block_move,
            0x88: self._ext_memory, 0x90: self._busy_post, 0x91: self._busy_post,
            0xC0: self._config, 0xC1: self._ebda, 0x24: self._a20, 0xE8: self._e8xx,
        }
        self._unknown_logged: set[int] = set()

    # ------------------------------------------------------------------ 11h, 12h
    def equipment(self, call: BiosCall) -> None:
        call.regs.ax = self.mem.read_u16(Bda.EQUIPMENT)

    def memory_size(self, call: BiosCall) -> None:
        call.regs.ax = self.mem.read_u16(Bda.MEMORY_KB)

    # ------------------------------------------------------------------ 15h
    def add_function(self, ah: int, leaf: Callable[[BiosCall], None]) -> None:
        """Serve int 15h function ``ah`` by another module (AH=C2h: vmgui.bios.mouse)."""
        self._int15[ah] = leaf

    def handle15(self, call: BiosCall) -> None:
        ah = call.regs.ah
        leaf = self._int15.get(ah)
        if leaf is None:
            self._unsupported(call, f"INT 15h AX={call.regs.ax:04X}h", ah)
            return
        leaf(call)

    def _unsupported(self, call: BiosCall, what: str, key: int) -> None:
        if key not in self._unknown_logged:
            self._unknown_logged.add(key)
            log.info("%s: unsupported function", what)
        call.fail(STATUS_UNSUPPORTED)

    def _kbd_intercept(self, call: BiosCall) -> None:
        call.set_cf(True)  # keep the scan code

    def _busy_post(self, call: BiosCall) -> None:
        call.ok()

    def _config(self, call: BiosCall) -> None:
        call.regs.es, call.regs.bx = self.config_table
        call.ok()

    def _ebda(self, call: BiosCall) -> None:
        call.regs.es = self.layout.ebda_segment
        call.set_cf(False)

    def _ext_memory(self, call: BiosCall) -> None:
        call.regs.ax = min(self.layout.extended_bytes // 1024, MAX_AH88_KB)
        call.set_cf(False)

    def _wait(self, call: BiosCall) -> None:
        """AH=86h: wait CX:DX microseconds; the machine sleeps instead of spinning."""
        now = self.clock.now_ns()
        if self.wait_deadline_ns is None:
            micros = (call.regs.cx << 16) | call.regs.dx
            self.wait_deadline_ns = now + micros * 1000
        if now < self.wait_deadline_ns:
            call.retry_after_irq()
            return
        self.wait_deadline_ns = None
        call.ok()

    def next_deadline_ns(self) -> int | None:
        return self.wait_deadline_ns

    def _block_move(self, call: BiosCall) -> None:
        """AH=87h: copy CX words between the descriptors of the GDT at ES:SI."""
        gdt = seg_off(call.regs.es, call.regs.si)
        src = self._descriptor_base(gdt + 0x10)
        dst = self._descriptor_base(gdt + 0x18)
        size = call.regs.cx * 2
        end = ONE_MB + self.layout.extended_bytes
        if size > MAX_BLOCK_MOVE or (size and max(src, dst) + size > end):
            log.info("INT 15h AH=87h: block move %#x -> %#x (%d bytes) outside memory "
                     "(0-%#x) or longer than 64 KiB", src, dst, size, end)
            call.fail(0x02)
            return
        try:
            if size:
                self.mem.write(dst, read_linear(self.mem, src, size))
        except IndexError as exc:
            log.warning("INT 15h AH=87h: block move %#x -> %#x (%d bytes) failed: %s",
                        src, dst, size, exc)
            call.fail(0x02)
            return
        call.ok()

    def _descriptor_base(self, addr: int) -> int:
        d = self.mem.read(addr, 8)
        return d[2] | (d[3] << 8) | (d[4] << 16) | (d[7] << 24)

    def _a20(self, call: BiosCall) -> None:
        al = call.regs.al
        value = self.bus.read(PORT_92, 1)
        if al in (0x00, 0x01):
            self.bus.write(PORT_92, 1, (value | A20_BIT) if al else (value & ~A20_BIT & 0xFE))
            call.ok()
        elif al == 0x02:
            call.regs.al = 1 if value & A20_BIT else 0
            call.ok()
        elif al == 0x03:
            call.regs.bx = 0x0003  # keyboard controller and port 92h
            call.ok()
        else:
            self._unsupported(call, f"INT 15h AX=24{al:02X}h", 0x2400 | al)

    def _e8xx(self, call: BiosCall) -> None:
        al = call.regs.al
        if al == 0x01:
            ext_kb = self.layout.extended_bytes // 1024
            low = min(ext_kb, 15 * 1024)
            high = min(max(0, self.layout.extended_bytes - 15 * 1024 * 1024) // 65536, 0xFFFF)
            call.regs.ax = call.regs.cx = low
            call.regs.bx = call.regs.dx = high
            call.set_cf(False)
        elif al == 0x20 and call.regs.edx == SMAP:
            self._e820(call)
        else:
            self._unsupported(call, f"INT 15h AX=E8{al:02X}h", 0xE800 | al)

    def _e820(self, call: BiosCall) -> None:
        """AX=E820h: entry EBX of the map at ES:DI; ECX (at least 20) is the buffer size.
        A caller offering 24 bytes gets the ACPI 3.0 attributes on a high_bios machine."""
        entries = e820_map(self.layout)
        index = call.regs.ebx
        if index >= len(entries) or call.regs.ecx < E820_ENTRY:
            call.fail(STATUS_UNSUPPORTED)
            return
        base, length, kind = entries[index]
        record = (base.to_bytes(8, "little") + length.to_bytes(8, "little")
                  + kind.to_bytes(4, "little"))
        if self.layout.high_bios and call.regs.ecx >= E820_ENTRY_ACPI3:
            record += E820_ATTR_ENABLED.to_bytes(4, "little")
        self.mem.write(seg_off(call.regs.es, call.regs.di), record)
        call.regs.eax = SMAP
        call.regs.ecx = len(record)
        call.regs.ebx = 0 if index + 1 >= len(entries) else index + 1
        call.set_cf(False)

    # ------------------------------------------------------------------ 17h
    def printer(self, call: BiosCall) -> None:
        """No printer is attached: report time-out and I/O error, as for an empty port."""
        call.regs.ah = 0x09
