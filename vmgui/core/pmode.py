"""Protected-mode interrupt and exception delivery through the guest's IDT, and the
linear-address view of a protected-mode CPU (paging included).

Owns: :class:`ProtectedMode`: for ``int n``, IRQs and CPU exceptions it reads the IDT
gate, checks it as a 386+ does, switches to the inner stack from the TSS on a privilege
change (and out of virtual-8086 mode), pushes the frame (with the error code for the
faults that have one), clears IF for interrupt gates and loads CS:EIP, by patching the
CPU context (offsets from :mod:`vmgui.core.cpustate`).  A fault while delivering is
delivered in turn; the combinations the 386 manual names become a double fault, and a
fault while delivering a double fault is a triple fault (:class:`TripleFault`: the machine
resets, as a PC's chipset does on the CPU's shutdown cycle).  Task gates stop the VM with
a report naming them (:class:`Unsupported`).  Also :meth:`ProtectedMode.linear` and
:meth:`read_linear`: CS:EIP and memory as the guest's page tables map them, for HLT
detection, crash reports and debugging.

Thread rule: emulation thread only, between engine runs or inside the engine's interrupt
hook (there the context's EFLAGS lacks the arithmetic flags, which stay where the engine
keeps them while running: delivery reads them through the register API for the frame
and leaves them alone in the context).
"""

from __future__ import annotations

import functools
import logging
import struct
from dataclasses import dataclass

from unicorn import x86_const as x86

from vmgui.bios.api import Reg
from vmgui.core.cpustate import HF_CPL_MASK, ContextLayout, CpuContext, Segment
from vmgui.core.engine import UC_REG_CR0, UC_REG_CR3, Engine

log = logging.getLogger(__name__)

UC_REG_CR2 = x86.UC_X86_REG_CR2
UC_REG_CR4 = x86.UC_X86_REG_CR4
EF_TF, EF_IF, EF_NT, EF_RF, EF_VM = 1 << 8, 1 << 9, 1 << 14, 1 << 16, 1 << 17
CR0_WP, CR0_PG = 1 << 16, 1 << 31
CR4_PSE, CR4_PAE = 1 << 4, 1 << 5
PG_P, PG_RW, PG_US, PG_A, PG_D, PG_PS = 1, 2, 4, 0x20, 0x40, 0x80
DF, TS, NP, SS_FAULT, GP, PF = 8, 10, 11, 12, 13, 14
WITH_ERROR_CODE = frozenset({8, 10, 11, 12, 13, 14, 17})
CONTRIBUTORY = frozenset({0, 10, 11, 12, 13})
EXCEPTION_NAMES = {0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint",
                   4: "#OF overflow", 5: "#BR bound range", 6: "#UD invalid opcode",
                   7: "#NM no math coprocessor", 8: "#DF double fault",
                   10: "#TS invalid TSS", 11: "#NP segment not present",
                   12: "#SS stack fault", 13: "#GP general protection", 14: "#PF page fault",
                   16: "#MF x87 error", 17: "#AC alignment check", 18: "#MC machine check",
                   19: "#XM SIMD error"}
_GATE_TYPES = {0x6: (False, False), 0x7: (False, True), 0xE: (True, False),
               0xF: (True, True)}  # type -> (32-bit, trap gate)
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_PAIR = struct.Struct("<II")  # a gate or descriptor: low and high words
_FRAME32 = struct.Struct("<III")  # EIP, CS, EFLAGS as a 32-bit gate pushes them


def vector_name(vector: int) -> str:
    name = EXCEPTION_NAMES.get(vector)
    return f"vector {vector:02X}h ({name})" if name else f"vector {vector:02X}h"


class DeliveryFault(Exception):
    """A fault raised while delivering (or while walking the page tables)."""

    def __init__(self, vector: int, error_code: int = 0, cr2: int | None = None) -> None:
        super().__init__(f"{vector_name(vector)} error code {error_code:#x}")
        self.vector = vector
        self.error_code = error_code
        self.cr2 = cr2


class TripleFault(Exception):
    """The CPU would shut down: a fault while delivering a double fault."""


class Unsupported(Exception):
    """The guest uses something vmgui does not emulate (the message names it)."""


@dataclass(frozen=True)
class Event:
    """What to deliver: ``software`` for `int n`/`int3`/`into` (gate DPL checked, no
    error code), ``error_code`` for the faults that push one (None otherwise),
    ``external`` for IRQs and exceptions (the EXT bit of nested error codes)."""

    vector: int
    software: bool = False
    error_code: int | None = None

    @property
    def external(self) -> int:
        return 0 if self.software else 1


def descriptor_base(lo: int, hi: int) -> int:
    return (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000)


def descriptor_limit(lo: int, hi: int) -> int:
    limit = (lo & 0xFFFF) | (hi & 0xF0000)
    return (limit << 12) | 0xFFF if hi & (1 << 23) else limit


class ProtectedMode:
    """Delivery and linear memory for one machine's CPU."""

    def __init__(self, engine: Engine, memory, layout: ContextLayout) -> None:
        self.engine = engine
        self.memory = memory
        self.cpu = CpuContext(engine, layout)
        self.deliveries = 0
        self._pg: tuple[int, int, int] | None = None  # paging registers of this delivery

    # ------------------------------------------------------------------ paging
    def _phys_u32(self, addr: int) -> int:
        try:
            return _U32.unpack(self.memory.read(addr, 4))[0]
        except (IndexError, ValueError):
            return 0  # no RAM there: reads as a not-present entry

    def _phys_u64(self, addr: int) -> int:
        try:
            return _U64.unpack(self.memory.read(addr, 8))[0]
        except (IndexError, ValueError):
            return 0

    def _paging(self, ctx: CpuContext | None = None) -> tuple[int, int, int] | None:
        """(CR0, CR3, CR4) when paging is on, else None: from ``ctx`` (just saved) or
        the registers; read once per delivery."""
        if ctx is not None:
            cr0 = ctx.cr(0)
            return (cr0, ctx.cr(3), ctx.cr(4)) if cr0 & CR0_PG else None
        cr0 = self.engine.read_raw(UC_REG_CR0)
        if not cr0 & CR0_PG:
            return None
        return cr0, self.engine.read_raw(UC_REG_CR3), self.engine.read_raw(UC_REG_CR4)

    def translate(self, linear: int, write: bool = False, user: bool = False,
                  paging: tuple[int, int, int] | None | bool = True) -> int:
        """The physical address of ``linear`` as the CPU would map it (setting the
        accessed and dirty bits as it does); DeliveryFault(#PF) when it would fault.
        ``paging``: the control registers from :meth:`_paging` (True: read them now)."""
        linear &= 0xFFFFFFFF
        if paging is True:
            paging = self._paging()
        if not paging:
            return linear
        cr0, cr3, cr4 = paging
        code = (PG_RW if write else 0) | (PG_US if user else 0)
        if cr4 & CR4_PAE:
            return self._walk_pae(linear, cr0, cr3, code)
        pde_at = (cr3 & 0xFFFFF000) + ((linear >> 22) << 2)
        pde = self._phys_u32(pde_at)
        self._check(pde, linear, cr0, code)
        if pde & PG_PS and cr4 & CR4_PSE:
            self._mark(pde_at, pde, write, 4)
            return (pde & 0xFFC00000) | (linear & 0x3FFFFF)
        pte_at = (pde & 0xFFFFF000) + (((linear >> 12) & 0x3FF) << 2)
        pte = self._phys_u32(pte_at)
        self._check(pte & (pde | ~(PG_RW | PG_US)), linear, cr0, code)
        self._mark(pde_at, pde, False, 4)
        self._mark(pte_at, pte, write, 4)
        return (pte & 0xFFFFF000) | (linear & 0xFFF)

    def _walk_pae(self, linear: int, cr0: int, cr3: int, code: int) -> int:
        pdpte = self._phys_u64((cr3 & 0xFFFFFFE0) + ((linear >> 30) << 3))
        self._check(pdpte | PG_RW | PG_US, linear, cr0, code)
        pde_at = (pdpte & 0xFFFFFF000) + (((linear >> 21) & 0x1FF) << 3)
        pde = self._phys_u64(pde_at)
        self._check(pde, linear, cr0, code)
        if pde & PG_PS:
            self._mark(pde_at, pde, bool(code & PG_RW), 8)
            return (pde & 0xFFFE00000) | (linear & 0x1FFFFF)
        pte_at = (pde & 0xFFFFFF000) + (((linear >> 12) & 0x1FF) << 3)
        pte = self._phys_u64(pte_at)
        self._check(pte & (pde | ~(PG_RW | PG_US)), linear, cr0, code)
        self._mark(pde_at, pde, False, 8)
        self._mark(pte_at, pte, bool(code & PG_RW), 8)
        return (pte & 0xFFFFFF000) | (linear & 0xFFF)

    @staticmethod
    def _check(entry: int, linear: int, cr0: int, code: int) -> None:
        if not entry & PG_P:
            raise DeliveryFault(PF, code, cr2=linear)
        if code & PG_US and not entry & PG_US:
            raise DeliveryFault(PF, code | PG_P, cr2=linear)
        if code & PG_RW and not entry & PG_RW and (code & PG_US or cr0 & CR0_WP):
            raise DeliveryFault(PF, code | PG_P, cr2=linear)

    def _mark(self, at: int, entry: int, dirty: bool, size: int) -> None:
        bits = PG_A | (PG_D if dirty else 0)
        if entry & bits != bits:
            self.memory.write_data(at, (entry | bits).to_bytes(size, "little"))

    def _phys_read(self, addr: int, size: int) -> bytes:
        """Physical memory; where there is none (above RAM, a hole) the bus floats and
        reads all ones, as on a PC: a guest's IDT or GDT pointing there reads garbage
        gates, which then fault as the CPU would."""
        try:
            return self.memory.read(addr, size)
        except (IndexError, ValueError):
            return b"\xff" * size

    def read_linear(self, linear: int, size: int, user: bool = False,
                    paging: tuple[int, int, int] | None | bool = True) -> bytes:
        if paging is True:
            paging = self._paging()
        if not paging and (linear & 0xFFF) + size <= 0x1000:
            return self._phys_read(linear & 0xFFFFFFFF, size)
        out = bytearray()
        while size:
            chunk = min(size, 0x1000 - (linear & 0xFFF))
            out += self._phys_read(self.translate(linear, False, user, paging), chunk)
            linear, size = linear + chunk, size - chunk
        return bytes(out)

    def write_linear(self, linear: int, data: bytes, user: bool = False,
                     paging: tuple[int, int, int] | None | bool = True) -> None:
        if paging is True:
            paging = self._paging()
        if not paging and (linear & 0xFFF) + len(data) <= 0x1000:
            pieces = [(linear & 0xFFFFFFFF, data)]  # one page, no walk: nothing can fault
        else:
            pieces = self._pieces(linear, data, user, paging)
        for phys, piece in pieces:
            try:
                self.memory.write_data(phys, piece)
            except (IndexError, ValueError):
                log.debug("write of %d bytes at %#x: no memory there", len(piece), phys)

    def _pieces(self, linear: int, data: bytes, user: bool,
                paging: tuple[int, int, int] | None) -> list[tuple[int, bytes]]:
        # translate every page first: a fault must leave memory unchanged
        pieces, at = [], 0
        while at < len(data):
            chunk = min(len(data) - at, 0x1000 - ((linear + at) & 0xFFF))
            pieces.append((self.translate(linear + at, True, user, paging),
                           data[at:at + chunk]))
            at += chunk
        return pieces

    # ------------------------------------------------------------------ CPU view
    def linear_pc(self) -> int:
        """CS.base + EIP (a linear address, before paging)."""
        ctx = self.cpu.save()
        return (ctx.seg_base("cs") + ctx.eip) & 0xFFFFFFFF

    # ------------------------------------------------------------------ delivery
    def deliver(self, event: Event) -> None:
        """Deliver ``event``; a fault on the way is delivered instead (double fault
        rules); raises TripleFault or Unsupported when the CPU cannot go on."""
        if event.error_code is None and self._deliver_plain(event):
            self.deliveries += 1
            return
        first = event
        while True:
            try:
                self._deliver_one(event)
                self.deliveries += 1
                return
            except DeliveryFault as fault:
                if fault.vector == PF and fault.cr2 is not None:
                    self.engine.write_raw(UC_REG_CR2, fault.cr2)
                if event.vector == DF:
                    raise TripleFault(f"{vector_name(fault.vector)} while delivering a "
                                      f"double fault (first: {vector_name(first.vector)})"
                                      ) from None
                if _double(event.vector, fault.vector) and not event.software:
                    event = Event(DF, error_code=0)
                else:
                    log.debug("%s while delivering %s", fault, vector_name(event.vector))
                    event = Event(fault.vector, error_code=fault.error_code)

    def _descriptor(self, selector: int, ext: int) -> tuple[int, int]:
        """(low, high) words of the descriptor ``selector`` names; #GP(selector) when
        it is beyond its table."""
        if selector & 4:
            ldt = self.engine.read_mmr(x86.UC_X86_REG_LDTR)
            base, limit = ldt.base, ldt.limit
        else:
            base, limit = self.cpu.table("gdt")
        index = selector & 0xFFF8
        if index + 7 > limit:
            raise DeliveryFault(GP, (selector & 0xFFFC) | ext)
        return _PAIR.unpack(self._read_table(base + index))

    def _gate(self, event: Event, cpl: int) -> tuple[int, int, bool, bool]:
        """(selector, offset, 32-bit, trap gate) of the IDT gate for ``event``."""
        vector, ext = event.vector, event.external
        base, limit = self.cpu.table("idt")
        if vector * 8 + 7 > limit:
            raise DeliveryFault(GP, vector * 8 + 2 + ext)
        lo, hi = _PAIR.unpack(self._read_table(base + vector * 8))
        gtype = (hi >> 8) & 0x1F
        if gtype == 0x5:
            raise Unsupported(f"the guest's IDT has a task gate for {vector_name(vector)}: "
                              "hardware task switching is not emulated")
        if gtype not in _GATE_TYPES:
            raise DeliveryFault(GP, vector * 8 + 2 + ext)
        if event.software and (hi >> 13) & 3 < cpl:
            raise DeliveryFault(GP, vector * 8 + 2)
        if not hi & 0x8000:
            raise DeliveryFault(NP, vector * 8 + 2 + ext)
        big, trap = _GATE_TYPES[gtype]
        offset = (lo & 0xFFFF) | (hi & 0xFFFF0000) if big else lo & 0xFFFF
        return lo >> 16, offset, big, trap

    def _read_table(self, linear: int) -> bytes:
        """The 8 bytes of a gate or descriptor at ``linear`` (for this delivery's paging
        state; read_linear without its layers when paging is off)."""
        if self._pg is None and (linear & 0xFFF) <= 0xFF8:
            return self._phys_read(linear & 0xFFFFFFFF, 8)
        return self.read_linear(linear, 8, paging=self._pg)

    def _inner_stack(self, dpl: int, ext: int) -> tuple[Segment, int]:
        """SS and ESP for privilege ``dpl`` from the current TSS."""
        tr = self.engine.read_mmr(x86.UC_X86_REG_TR)
        tss32 = (tr.flags >> 8) & 0xF in (0x9, 0xB)
        at = (4 + 8 * dpl) if tss32 else (2 + 4 * dpl)
        size = 8 if tss32 else 4
        if at + size - 1 > tr.limit:
            raise DeliveryFault(TS, (tr.selector & 0xFFFC) | ext)
        raw = self.read_linear(tr.base + at, size, paging=self._pg)
        if tss32:
            esp, ss = _U32.unpack_from(raw, 0)[0], raw[4] | raw[5] << 8
        else:
            esp, ss = raw[0] | raw[1] << 8, raw[2] | raw[3] << 8
        if ss & 0xFFFC == 0:
            raise DeliveryFault(TS, ext)
        if ss & 3 != dpl:
            raise DeliveryFault(TS, (ss & 0xFFFC) | ext)
        try:
            lo, hi = self._descriptor(ss, ext)
        except DeliveryFault as fault:
            if fault.vector != GP:
                raise
            raise DeliveryFault(TS, (ss & 0xFFFC) | ext) from None
        writable_data = (hi >> 8) & 0x1A == 0x12  # S=1, data, writable
        if (hi >> 13) & 3 != dpl or not writable_data:
            raise DeliveryFault(TS, (ss & 0xFFFC) | ext)
        if not hi & 0x8000:
            raise DeliveryFault(SS_FAULT, (ss & 0xFFFC) | ext)
        seg = Segment(ss, descriptor_base(lo, hi), descriptor_limit(lo, hi), hi & 0x00FFFF00)
        return seg, esp

    def _deliver_plain(self, event: Event) -> bool:
        """The common case in few steps (an IRQ or `int n` of a flat 32-bit guest):
        paging off, not virtual-8086, a present 32-bit gate whose DPL allows it, to a
        present code segment of the GDT at the current privilege (no stack switch), a
        32-bit expand-up stack with room for the frame, the entry point within the code
        segment.  Then it does what :meth:`_deliver_one` does and returns True; in any
        other case (all the faulting ones among them) it changes nothing and returns
        False."""
        ctx = self.cpu.save()
        cr0, hflags, idt_base, idt_limit, gdt_base, gdt_limit = ctx.delivery_words()
        vector = event.vector
        if cr0 & CR0_PG or vector * 8 + 7 > idt_limit:
            return False
        self._pg = None  # no paging for this delivery's table reads
        lo, hi = _PAIR.unpack(self._read_table(idt_base + vector * 8))
        gtype = (hi >> 8) & 0x1F
        cpl = hflags & HF_CPL_MASK
        if gtype not in (0xE, 0xF) or not hi & 0x8000 or (
                event.software and (hi >> 13) & 3 < cpl):
            return False
        selector = lo >> 16
        index = selector & 0xFFF8
        if selector & 4 or selector & 0xFFFC == 0 or index + 7 > gdt_limit:
            return False
        dlo, dhi = _PAIR.unpack(self._read_table(gdt_base + index))
        dpl = (dhi >> 13) & 3
        # S=1 code, present, and no privilege change: DPL = CPL, or conforming, DPL <= CPL
        if (dhi >> 11) & 3 != 3 or not dhi & 0x8000 or dpl > cpl or (
                dpl < cpl and not dhi & (1 << 10)):
            return False
        eflags = self.engine.read(Reg.EFLAGS) & 0xFFFFFFFF
        ss = ctx.seg("ss")
        if eflags & EF_VM or not ss.big or (ss.flags >> 8) & 0x1C == 0x14:
            return False
        esp = (ctx.reg(4) - 12) & 0xFFFFFFFF
        limit = descriptor_limit(dlo, dhi)
        offset = (lo & 0xFFFF) | (hi & 0xFFFF0000)
        if esp + 11 > ss.limit or offset > limit:
            return False
        self.write_linear(ss.base + esp, _FRAME32.pack(ctx.eip, ctx.selector("cs"), eflags),
                          cpl == 3, paging=None)
        mask = EF_TF | EF_NT | EF_RF | EF_VM | (EF_IF if gtype == 0xE else 0)
        cs = Segment((selector & 0xFFFC) | cpl, descriptor_base(dlo, dhi), limit,
                     dhi & 0x00FFFF00)
        ctx.enter(cs, ss, cpl, esp, offset, ctx.eflags & ~mask)
        return True

    def _deliver_one(self, event: Event) -> None:
        ctx = self.cpu.save()
        self._pg = self._paging(ctx)
        # Inside an engine hook the context's EFLAGS lacks the arithmetic flags (the
        # engine keeps them apart while running): the frame gets the full value from a
        # register read, and the context keeps its own with only the mode bits changed.
        eflags = self.engine.read(Reg.EFLAGS) & 0xFFFFFFFF
        cpl = ctx.hflags & HF_CPL_MASK
        vm86 = bool(eflags & EF_VM)
        if vm86:
            cpl = 3
        selector, offset, big, trap = self._gate(event, cpl)
        ext = event.external
        if selector & 0xFFFC == 0:
            raise DeliveryFault(GP, ext)
        lo, hi = self._descriptor(selector, ext)
        dpl = (hi >> 13) & 3
        if (hi >> 11) & 3 != 3 or dpl > cpl:  # S=1 and code, DPL <= CPL
            raise DeliveryFault(GP, (selector & 0xFFFC) | ext)
        if not hi & 0x8000:
            raise DeliveryFault(NP, (selector & 0xFFFC) | ext)
        conforming = bool(hi & (1 << 10))
        old_cs, old_ss = ctx.seg("cs"), ctx.seg("ss")
        old_esp = ctx.reg(4)
        frame: list[int] = []
        if not conforming and dpl < cpl:
            ss, esp = self._inner_stack(dpl, ext)
            if vm86:
                if dpl != 0:
                    raise DeliveryFault(GP, (selector & 0xFFFC) | ext)
                frame += [ctx.seg("gs").selector, ctx.seg("fs").selector,
                          ctx.seg("ds").selector, ctx.seg("es").selector]
            frame += [old_ss.selector, old_esp]
            new_cpl = dpl
        else:
            if vm86:
                raise DeliveryFault(GP, (selector & 0xFFFC) | ext)
            ss, esp, new_cpl = old_ss, old_esp, cpl
        frame += [eflags, old_cs.selector, ctx.eip]
        if event.error_code is not None and not event.software \
                and event.vector in WITH_ERROR_CODE:
            frame.append(event.error_code)
        esp = self._push(ss, esp, frame, big, new_cpl == 3)
        cs = Segment((selector & 0xFFFC) | new_cpl, descriptor_base(lo, hi),
                  descriptor_limit(lo, hi), hi & 0x00FFFF00)
        if offset > cs.limit:
            raise DeliveryFault(GP, ext)
        mask = EF_TF | EF_NT | EF_RF | EF_VM | (0 if trap else EF_IF)
        ctx.load(cs=cs, ss=ss, cpl=new_cpl, esp=esp, eip=offset, eflags=ctx.eflags & ~mask,
                 null_data=vm86)

    def _push(self, ss: Segment, esp: int, values: list[int], big: bool, user: bool) -> int:
        """Push ``values`` (first pushed first) on SS:ESP; the new ESP."""
        width = 4 if big else 2
        size = width * len(values)
        mask = 0xFFFFFFFF if big else 0xFFFF
        data = _frame_struct(len(values), big).pack(*[v & mask for v in reversed(values)])
        if ss.big:
            new = (esp - size) & 0xFFFFFFFF
        else:
            new = (esp & 0xFFFF0000) | ((esp - size) & 0xFFFF)
        offset = new if ss.big else new & 0xFFFF
        expand_down = (ss.flags >> 8) & 0x1C == 0x14
        if not expand_down and offset + size - 1 > ss.limit:
            raise DeliveryFault(SS_FAULT, ss.selector & 0xFFFC)
        self.write_linear(ss.base + offset, data, user, paging=self._pg)
        return new


@functools.lru_cache(maxsize=16)
def _frame_struct(count: int, big: bool) -> struct.Struct:
    return struct.Struct(("<%dI" if big else "<%dH") % count)


def _double(first: int, second: int) -> bool:
    """Do ``first`` then ``second`` (raised while delivering it) make a double fault?"""
    if first in CONTRIBUTORY:
        return second in CONTRIBUTORY
    if first == PF:
        return second in CONTRIBUTORY or second == PF
    return False


