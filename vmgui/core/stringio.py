"""Bulk string I/O: a ``rep insw``/``rep insd``/``rep outsw``/``rep outsd`` on a port
whose device can move a block (:class:`vmgui.devices.bus.StringIoPort`, the ATA data
port) moves the rest of the device's block in one step instead of one port hook per
element (~2 us each: a 512-byte sector by ``rep insw`` cost ~0.5 ms).

How, within what the engine lets a hook change (unicorn 2.1.4, QEMU's translator): a
REP INS/OUTS runs as one element per pass, each pass calling the port hook once with
EIP synced to the instruction and the general registers in the CPU state; the pass then
stores the element (INS: at the address it computed before the call), steps EDI/ESI
and decrements ECX from the registers as they are after the call, and jumps back to the
instruction while ECX is not zero.  So the hook of the first element moves ``n``
elements at once: it hands the first one back as the hook's value (INS) or takes it
(OUTS), moves the other ``n - 1`` between the device and guest memory itself, and
advances EDI/ESI and ECX by ``n - 1``; the pass adds the last step.  EIP is never
written; interrupts and the next pass behave as after any element.

When it is done (else the element takes the ordinary path, which is always correct):
the instruction at CS:EIP is a REP INS/OUTS of the hook's width (prefixes decoded:
address and operand size, segment override, REP/REPNE), DF=0, TF=0, and the ``n``
elements lie in one page of the guest's linear space and in plain RAM (not video
memory, ROM or a hole), without the address-size wrap, and -- for INS -- not on the
page of the instruction itself.  ``n`` is at most ECX (CX), what the device has ready
in its current block, and what the page holds.  With paging the linear page is
translated by walking the guest's page tables as the CPU would (present, writable for
INS, user-accessible at CPL 3, accessed/dirty bits set); a walk that would fault leaves
the element to the engine, which raises the page fault itself.  PAE paging with INS
uses the ordinary path (dropping translated code on the page needs a fetch translation,
which an NX page would refuse).  Bytes written to guest memory drop translated code on
their page (see :meth:`vmgui.core.engine.Engine.invalidate_code`).

Thread rule: emulation thread only (inside the port hooks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from vmgui.bios.api import Reg
from vmgui.core.cpustate import HF_CPL_MASK, HF_CS32, CpuContext
from vmgui.core.memory import ONE_MB, VGA_BASE, GuestMemory
from vmgui.core.pmode import CR0_PG, CR4_PAE, EF_TF, DeliveryFault, ProtectedMode
from vmgui.devices.bus import IoBus, StringIoPort

log = logging.getLogger(__name__)

EF_DF = 1 << 10
PAGE = 0x1000
HMA_END = ONE_MB + 0x10000
MAX_PREFIXES = 14  # an instruction is at most 15 bytes
REP_PREFIXES = frozenset({0xF2, 0xF3})
SEGMENT_PREFIXES = {0x26: "es", 0x2E: "cs", 0x36: "ss", 0x3E: "ds", 0x64: "fs", 0x65: "gs"}
OPSIZE, ADDRSIZE, LOCK = 0x66, 0x67, 0xF0
INS_OPCODES = {0x6C: True, 0x6D: False}  # opcode -> byte-sized
OUTS_OPCODES = {0x6E: True, 0x6F: False}
NOT_REP_CACHE = 64  # instruction addresses remembered as not a REP INS/OUTS


@dataclass(frozen=True)
class Instruction:
    """The decoded string instruction: direction, element width, address size, source
    segment (OUTS)."""

    inbound: bool
    width: int
    address_mask: int
    segment: str


@dataclass
class Stats:
    """What the bulk path did (for tests and benchmarks)."""

    runs: int = 0  # hook calls that moved several elements
    elements: int = 0  # elements they moved
    declined: int = 0  # hook calls on a bulk port that took the ordinary path


def decode(code: bytes, code32: bool) -> Instruction | None:
    """A REP INS/OUTS at the start of ``code`` (None: anything else)."""
    rep, opsize, addrsize, segment = False, code32, code32, "ds"
    for byte in code[: MAX_PREFIXES + 1]:
        if byte in REP_PREFIXES:
            rep = True
        elif byte == OPSIZE:
            opsize = not code32
        elif byte == ADDRSIZE:
            addrsize = not code32
        elif byte in SEGMENT_PREFIXES:
            segment = SEGMENT_PREFIXES[byte]
        elif byte == LOCK:
            return None
        else:
            if not rep:
                return None
            inbound = byte in INS_OPCODES
            small = INS_OPCODES.get(byte, OUTS_OPCODES.get(byte))
            if small is None:
                return None
            width = 1 if small else (4 if opsize else 2)
            return Instruction(inbound, width, 0xFFFFFFFF if addrsize else 0xFFFF,
                               "es" if inbound else segment)
    return None


@dataclass(frozen=True)
class _Plan:
    port: StringIoPort
    offset: int
    count: int  # elements to move, the hook's own included
    linear: int  # of the first element
    phys: int
    paging: bool
    index_reg: Reg  # EDI (INS) or ESI (OUTS)
    index: int  # its value before the move
    index_full: int  # the whole register (bits above the address size stay)
    ecx: int
    mask: int


class StringIo:
    """The bulk path of one machine; :meth:`wrap` puts it in front of the port hooks.

    ``charge(n)``: account for ``n`` port accesses (guest time in deterministic mode);
    ``stop_if_irq()``: let the run loop see an interrupt the device may have raised;
    ``failed(exc)``: a device error (stop the VM with a report)."""

    def __init__(self, pm: ProtectedMode, memory: GuestMemory, bus: IoBus, *,
                 charge: Callable[[int], None], stop_if_irq: Callable[[], None],
                 failed: Callable[[Exception], None]) -> None:
        self.engine = pm.engine
        self.pm = pm
        self.cpu: CpuContext = pm.cpu
        self.memory = memory
        self.bus = bus
        self._charge = charge
        self._stop_if_irq = stop_if_irq
        self._failed = failed
        self.enabled = True
        self.stats = Stats()
        self._not_rep: set[int] = set()

    def wrap(self, port_in: Callable[[int, int], int],
             port_out: Callable[[int, int, int], None]
             ) -> tuple[Callable[[int, int], int], Callable[[int, int, int], None]]:
        """Port hooks that try the bulk path first and fall back to ``port_in`` /
        ``port_out`` (the ordinary per-element hooks)."""
        string_port, string_ports = self.bus.string_port, self.bus.string_ports

        def hook_in(port: int, size: int) -> int:
            if port not in string_ports:  # nearly every access: no bulk side there
                return port_in(port, size)
            target = string_port(port, size) if self.enabled else None
            if target is not None and target[0].string_in_ready(target[1], size) > 1:
                plan = self._plan(target, size, True)
                if plan is not None:
                    return self._move_in(plan, port, size)
                self.stats.declined += 1
            return port_in(port, size)

        def hook_out(port: int, size: int, value: int) -> None:
            if port not in string_ports:
                port_out(port, size, value)
                return
            target = string_port(port, size) if self.enabled else None
            if target is not None and target[0].string_out_room(target[1], size) > 1:
                plan = self._plan(target, size, False)
                if plan is not None:
                    self._move_out(plan, port, size, value)
                    return
                self.stats.declined += 1
            port_out(port, size, value)

        return hook_in, hook_out

    # ------------------------------------------------------------------ planning
    def _plan(self, target: tuple[StringIoPort, int], size: int,
              inbound: bool) -> _Plan | None:
        # EFLAGS from the engine: its CPU state keeps DF (and the arithmetic flags)
        # apart from the saved eflags word
        if self.engine.read(Reg.EFLAGS) & (EF_DF | EF_TF):
            return None
        ctx = self.cpu.save()
        hflags = ctx.hflags
        user = hflags & HF_CPL_MASK == 3
        cr0 = ctx.cr(0)
        paging = (cr0, ctx.cr(3), ctx.cr(4)) if cr0 & CR0_PG else None
        pc = (ctx.seg_base("cs") + ctx.eip) & 0xFFFFFFFF
        if pc in self._not_rep:
            return None
        try:
            code_phys = self.pm.translate(pc, False, user, paging)
            insn = self._instruction(pc, code_phys, bool(hflags & HF_CS32), user, paging)
        except (DeliveryFault, IndexError, ValueError):
            return None
        if insn is None or insn.inbound != inbound or insn.width != size:
            return None
        if inbound and paging and paging[2] & CR4_PAE:
            return None
        mask = insn.address_mask
        index_reg = Reg.EDI if inbound else Reg.ESI
        index_full = ctx.reg(7 if inbound else 6)
        index = index_full & mask
        ecx = ctx.reg(1)
        linear = (ctx.seg_base(insn.segment) + index) & 0xFFFFFFFF
        port, offset = target
        ready = (port.string_in_ready(offset, size) if inbound
                 else port.string_out_room(offset, size))
        count = min(ecx & mask, ready, (mask + 1 - index) // size,
                    (PAGE - (linear & (PAGE - 1))) // size)
        if count < 2:
            return None
        try:
            phys = self.pm.translate(linear, inbound, user, paging)
        except DeliveryFault:
            return None
        if not self._plain_ram(phys, count * size) or (inbound and phys >> 12 == code_phys >> 12):
            return None
        return _Plan(port, offset, count, linear, phys, paging is not None, index_reg, index,
                     index_full, ecx, mask)

    def _instruction(self, pc: int, code_phys: int, code32: bool, user: bool,
                     paging: tuple[int, int, int] | None) -> Instruction | None:
        """The string instruction at linear ``pc`` (physical ``code_phys``), or None
        (then ``pc`` is remembered as not one).  Raises DeliveryFault when its bytes
        run into a page that is not there."""
        length = min(MAX_PREFIXES + 1, PAGE - (pc & (PAGE - 1)))
        code = self.memory.read(code_phys, length)
        insn = decode(code, code32)
        if insn is None and length <= MAX_PREFIXES:  # the instruction may go on
            insn = decode(code + self.pm.read_linear(pc + length, MAX_PREFIXES + 1 - length,
                                                     user, paging), code32)
        if insn is None:
            if len(self._not_rep) >= NOT_REP_CACHE:
                self._not_rep.clear()
            self._not_rep.add(pc)
        return insn

    def _plain_ram(self, phys: int, length: int) -> bool:
        end = phys + length
        if end <= VGA_BASE:
            return True
        low = ONE_MB if self.memory.a20_enabled else HMA_END
        return low <= phys and end <= self.memory.size

    # ------------------------------------------------------------------ moving
    def _move_in(self, plan: _Plan, port: int, size: int) -> int:
        try:
            data = plan.port.string_in(plan.offset, size, plan.count)
        except Exception as exc:  # noqa: BLE001 - a device error stops the VM, not the host
            log.exception("rep ins from port %#x", port)
            self._failed(exc)
            return (1 << (8 * size)) - 1
        rest = data[size:]
        at = plan.phys + size
        self.memory.ram[at : at + len(rest)] = rest
        if plan.paging:
            self.engine.invalidate_code_linear(plan.linear + size, plan.linear + len(data))
        else:
            self.engine.invalidate_code(at, at + len(rest))
        self._advance(plan, port, size, "in", int.from_bytes(data[-size:], "little"))
        return int.from_bytes(data[:size], "little")

    def _move_out(self, plan: _Plan, port: int, size: int, value: int) -> None:
        at = plan.phys + size
        data = value.to_bytes(size, "little") + bytes(
            self.memory.ram[at : at + (plan.count - 1) * size])
        try:
            plan.port.string_out(plan.offset, size, data)
        except Exception as exc:  # noqa: BLE001 - a device error stops the VM, not the host
            log.exception("rep outs to port %#x", port)
            self._failed(exc)
            return
        self._advance(plan, port, size, "out", int.from_bytes(data[-size:], "little"))

    def _advance(self, plan: _Plan, port: int, size: int, way: str, last: int) -> None:
        """Registers after ``count - 1`` elements (the engine adds the hook's own), the
        accounting an element at a time would have done, and a look for an IRQ."""
        done = plan.count - 1
        mask = plan.mask
        engine = self.engine
        engine.write(plan.index_reg,
                     (plan.index_full & ~mask) | ((plan.index + done * size) & mask))
        engine.write(Reg.ECX, (plan.ecx & ~mask) | ((plan.ecx - done) & mask))
        self.stats.runs += 1
        self.stats.elements += plan.count
        self._charge(plan.count)
        self.bus.last_access = (way, port, size, last)
        self._stop_if_irq()
