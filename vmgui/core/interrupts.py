"""Interrupt delivery of the machine: ``int n``, CPU exceptions and IRQs, in real mode
through the IVT (with the Python BIOS's fast path for its own vectors and the ROM-stub
traps) and in protected or virtual-8086 mode through the guest's IDT (:mod:`pmode`);
the waits that follow (HLT, a BIOS call waiting for an interrupt, a guest polling the
keyboard) and the HLT check.

Owns: :class:`InterruptsMixin`, the part of :class:`vmgui.core.machine.Machine` that
serves the engine's interrupt and ROM-code hooks and the run loop's IRQ dispatch.  It
runs on the emulation thread only and uses the machine's engine, memory, PIC, BIOS and
run-loop state (see :class:`MachineParts`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from vmgui.bios.api import BiosCall, Flag, Reg, Registers
from vmgui.core import events as ev
from vmgui.core import pmode
from vmgui.core.engine import STOPPED_AT_IRQ_WINDOW, UC_REG_CR0
from vmgui.core.regcache import RegisterCache

if TYPE_CHECKING:
    from vmgui.bios.firmware import Bios
    from vmgui.core.engine import Engine
    from vmgui.core.memory import GuestMemory
    from vmgui.devices.pic import Pic8259Pair

log = logging.getLogger("vmgui.core.machine")

IDLE_POLL_BLOCKS = 100  # an empty key poll within this many blocks of the last is "tight"
IDLE_POLL_COUNT = 4  # this many tight polls in a row: the guest is idle (DOS: ~42 blocks apart)
CR0_PG, CR0_PG_PE = 0x80000000, 0x80000001
PAGING_WITHOUT_PE = ("the guest set CR0.PG (paging) with CR0.PE clear: a real CPU refuses "
                     "that MOV to CR0 with #GP(0), and the engine cannot run on from it")
EFLAGS_IF, EFLAGS_TF = int(Flag.IF), int(Flag.TF)  # plain ints: IntFlag arithmetic is slow
BIOS_CALL_NS = 5_000  # deterministic mode: guest time one BIOS call takes
EXCEPTION_NAMES = {0: "divide error", 1: "debug", 3: "breakpoint", 4: "overflow",
                   5: "bound range", 6: "invalid opcode", 7: "no math coprocessor",
                   13: "general protection"}


class Wait(enum.Enum):
    NONE = 0
    HALT = 1  # HLT: wait for an interrupt the guest accepts (IF=1)
    BIOS = 2  # a BIOS call asked to be retried after the next interrupt (int 16h, 15h/86h)
    IDLE = 3  # the guest polls the keyboard in a tight loop: sleep until the next interrupt


class MachineParts(Protocol):
    """What :class:`InterruptsMixin` needs from the machine it is part of."""

    engine: Engine
    memory: GuestMemory
    pic: Pic8259Pair
    bios: Bios
    pm: pmode.ProtectedMode
    _wait: Wait
    _fault: str | None
    _emit: Callable[[ev.Event], None]

    def _charge(self, ns: int) -> None: ...
    def _crash(self, reason: str) -> None: ...
    def _sleep(self, deadline: int | None) -> None: ...
    def _next_deadline(self) -> int | None: ...
    def _touched_devices(self) -> None: ...
    def request_reset(self) -> None: ...


class InterruptsMixin:
    """Interrupt delivery and waits; mixed into Machine (see :class:`MachineParts`)."""

    def _stacked_flag_setter(self, regs: RegisterCache):
        """Flag results for a call that came through a ROM stub: they go to the FLAGS
        image on the stack, which the stub's IRET pops."""

        def set_flag(flag: Flag, value: bool) -> None:
            addr = (regs.values[Reg.SS] << 4) + ((regs.values[Reg.ESP] + 4) & 0xFFFF)
            flags = self.memory.read_u16(addr)
            self.memory.write_u16(addr, (flags | flag) if value else (flags & ~flag))

        return set_flag

    def _is_int_instruction(self, cs: int, eip: int, vector: int) -> bool:
        at = (cs << 4) + eip
        if vector == 3 and self.memory.read_u8(at - 1) == 0xCC:
            return True
        return self.memory.read_u8(at - 2) == 0xCD and self.memory.read_u8(at - 1) == vector

    def _on_interrupt(self, vector: int) -> None:
        self._charge(BIOS_CALL_NS)
        self._touched_devices()  # the BIOS may program or read the timed devices
        regs = RegisterCache(self.engine)
        try:
            self._interrupt(vector, regs)
        except Exception as exc:  # noqa: BLE001 - any bug or device error stops the VM
            log.exception("error serving interrupt %02Xh", vector)
            self._fault = f"internal error while serving int {vector:02X}h: {exc!r}"
            self.engine.stop_now()
        finally:
            regs.flush()

    def _interrupt(self, vector: int, regs: RegisterCache) -> None:
        if regs.cr0 & 1:
            # Protected (or virtual-8086) mode: through the guest's IDT, right here (the
            # engine's hidden state is patched; see pmode for what is safe in a hook)
            ctx = self.pm.cpu.save()
            software = ctx.exception_is_int
            code = None if software or vector not in pmode.WITH_ERROR_CODE else ctx.error_code
            self._deliver_pm(pmode.Event(vector, software=software, error_code=code))
            return
        if regs.cr0 & CR0_PG:  # paging without protection: every fetch faults again
            self._fault = PAGING_WITHOUT_PE
            self.engine.stop_now()
            return
        v = regs.values
        ram = self.memory.ram
        ivt = vector * 4
        ours = (ram[ivt] | ram[ivt + 1] << 8 | ram[ivt + 2] << 16 | ram[ivt + 3] << 24
                == self.bios.stub_pointers[vector])
        eip = v[Reg.EIP]
        at = (v[Reg.CS] << 4) + eip
        if 2 <= at < 0xA0000 and vector != 3:
            software = ram[at - 2] == 0xCD and ram[at - 1] == vector
        else:
            software = self._is_int_instruction(v[Reg.CS], eip, vector)
        handler = self.bios.services.get(vector) if ours and software else None
        if handler is not None:
            call = BiosCall(Registers(regs), self.memory, vector, regs.set_flag)
            handler(call)
            if call.retry:
                regs.write(Reg.EIP, eip - 2)
                self._stop_for(Wait.BIOS)
            elif self.pic.pending():
                # A real BIOS runs its services with interrupts enabled (STI on entry), so
                # an IRQ that fell due is taken before the call returns even when the
                # caller had IF=0 (bootOS programs poll int 1Ah with interrupts off).
                self._deliver_real(self.pic.acknowledge(), regs)
            return
        if ours and not software and vector in EXCEPTION_NAMES:
            self._fault = f"unhandled CPU exception: {EXCEPTION_NAMES[vector]} (vector {vector})"
            self.engine.stop_now()
            return
        if not software:  # a fault, now delivered: the engine must forget it
            self.pm.cpu.clear_exception()
        self._deliver_real(vector, regs)

    def _protected_mode(self) -> bool:
        return bool(self.engine.read_raw(UC_REG_CR0) & 1)

    def _on_rom_code(self, addr: int) -> None:
        if addr == self.bios.post_trap:
            self.request_reset()
            return
        trap = self.bios.traps.get(addr)
        if trap is None:
            return
        self._charge(BIOS_CALL_NS)
        self._touched_devices()
        regs = RegisterCache(self.engine)
        setter = self._stacked_flag_setter(regs) if trap.stacked_flags else regs.set_flag
        call = BiosCall(Registers(regs), self.memory, trap.vector, setter)
        try:
            if trap.stacked_flags and self.pic.pending() and not regs.cr0 & 1:
                # A real BIOS service starts with STI: however the guest entered it (far
                # call or jump with IF=0, as SYSLINUX calls int 16h), a pending IRQ is
                # taken first.  The engine restores EIP to this instruction when a code
                # hook stops it (a jump written here would be lost), so the run loop
                # delivers the IRQ as for a BIOS wait; the handler's IRET comes back to
                # this trap with the caller's FLAGS, and the service runs then.
                regs.write(Reg.EIP, addr - (regs.values[Reg.CS] << 4))
                self._stop_for(Wait.BIOS)
                return
            trap.handler(call)
            if call.retry:
                regs.write(Reg.EIP, addr - (regs.values[Reg.CS] << 4))
                self._stop_for(Wait.BIOS)
        finally:
            regs.flush()

    def _stop_for(self, wait: Wait) -> None:
        self._wait = wait
        self.engine.stop_now()

    def _deliver_real(self, vector: int, regs: RegisterCache) -> None:
        """Real-mode interrupt: push FLAGS, CS, IP; clear IF and TF; jump via the IVT.
        Works on ``regs``; the caller flushes them."""
        v = regs.values
        flags = v[Reg.EFLAGS]
        esp = v[Reg.ESP]
        sp = (esp - 6) & 0xFFFF
        frame = (v[Reg.EIP] & 0xFFFF) | (v[Reg.CS] << 16) | ((flags & 0xFFFF) << 32)
        self.memory.write_data((v[Reg.SS] << 4) + sp, frame.to_bytes(6, "little"))
        regs.write(Reg.ESP, (esp & 0xFFFF0000) | sp)
        regs.write(Reg.EFLAGS, flags & ~(EFLAGS_IF | EFLAGS_TF))
        target = self.memory.read_u32(vector * 4)
        regs.write(Reg.CS, target >> 16)
        regs.write(Reg.EIP, target & 0xFFFF)

    def _deliver_now(self, vector: int) -> None:
        """Deliver an IRQ (or #UD) from the run loop (between engine runs)."""
        if self._protected_mode():
            self._deliver_pm(pmode.Event(vector), in_hook=False)
            return
        regs = RegisterCache(self.engine)
        self._deliver_real(vector, regs)
        regs.flush()

    def _deliver_pm(self, event: pmode.Event, *, in_hook: bool = True) -> None:
        """Deliver through the IDT, from the interrupt hook or (``in_hook`` False) from
        the run loop; a triple fault resets the machine, an unsupported gate stops it."""
        try:
            self.pm.deliver(event)
        except (pmode.TripleFault, pmode.Unsupported) as exc:
            self.pm.cpu.clear_exception()  # else the engine escalates the next fault itself
            if isinstance(exc, pmode.TripleFault):
                self._triple_fault(exc, in_hook)
            else:
                self._unsupported(event, exc, in_hook)

    def _triple_fault(self, exc: pmode.TripleFault, in_hook: bool) -> None:
        reason = f"triple fault ({exc}): the CPU shut down and the machine reset"
        log.warning("%s", reason)
        self._emit(ev.GuestReset(reason))
        self.request_reset()
        if in_hook:
            self.engine.stop_now()

    def _unsupported(self, event: pmode.Event, exc: pmode.Unsupported, in_hook: bool) -> None:
        if event.software:  # the report shows the `int` itself, not what follows
            self._rewind_int(event.vector)
        if in_hook:
            self._fault = str(exc)  # reported by the run loop when the engine stops
            self.engine.stop_now()
        else:
            self._crash(str(exc))

    def _rewind_int(self, vector: int) -> None:
        """Point EIP back at the `int n` (2 bytes) or `int3`/`into` (1) just executed."""
        eip = self.engine.read(Reg.EIP)
        try:
            before = self.pm.read_linear(self.pm.linear_pc() - 2, 2)
        except (pmode.DeliveryFault, IndexError, ValueError):
            return
        size = 2 if before == bytes((0xCD, vector)) else 1
        self.engine.write(Reg.EIP, (eip - size) & 0xFFFFFFFF)

    def _on_idle_poll(self) -> None:
        blocks = self.engine.stop_ctl.blocks
        tight = blocks - self._last_poll_blocks < IDLE_POLL_BLOCKS
        self._last_poll_blocks = blocks
        self._tight_polls = self._tight_polls + 1 if tight else 0
        if self._tight_polls >= IDLE_POLL_COUNT:
            self._tight_polls = 0
            self._stop_for(Wait.IDLE)

    def _dispatch_interrupts(self, now: int) -> bool:
        """Deliver a pending IRQ if the CPU takes it; False if the CPU must keep waiting."""
        pending = self.pic.pending()
        if_set = bool(self.engine.read(Reg.EFLAGS) & EFLAGS_IF)
        if self._wait is Wait.NONE:
            if pending and if_set:
                if self.engine.stop_ctl.stopped_by == STOPPED_AT_IRQ_WINDOW:
                    self._step_over_hlt()
                self._deliver_now(self.pic.acknowledge())
            return True
        if pending and (if_set or self._wait is not Wait.HALT):
            # A BIOS wait is the BIOS's own "sti; hlt": it takes interrupts regardless.
            self._wait = Wait.NONE
            self._deliver_now(self.pic.acknowledge())
            return True
        deadline = self._next_deadline()
        if self._wait is Wait.BIOS and self.bios.system.wait_deadline_ns is not None \
                and now >= self.bios.system.wait_deadline_ns:
            self._wait = Wait.NONE
            return True
        self._sleep(deadline)
        return False

    def _step_over_hlt(self) -> None:
        """The engine stopped where IF came on (after STI, POPF, IRET) with an IRQ
        pending.  ``sti; hlt`` is how idle loops wait: the CPU executes the HLT and the
        IRQ wakes it at once, returning past it.  Delivered before the HLT, the IRQ would
        return onto it and the guest would sleep until the next one."""
        if self._hlt_at_pc(0):
            self.engine.write(Reg.EIP, self.engine.read(Reg.EIP) + 1)

    def _hlt_at_pc(self, offset: int) -> bool:
        """Is the byte at CS:EIP + ``offset`` a HLT (mode-aware; memory that cannot be
        read is not)?"""
        if self._protected_mode():
            try:
                return self.pm.read_linear(self.pm.linear_pc() + offset, 1) == b"\xf4"
            except (pmode.DeliveryFault, IndexError, ValueError):
                return False
        linear = (self.engine.read(Reg.CS) << 4) + self.engine.read(Reg.EIP) + offset
        return 0 <= linear < self.memory.size and self.memory.read_u8(linear) == 0xF4

    def _halted(self) -> bool:
        """Did the engine stop after a HLT?  (It returns with EIP past it, no reason.)"""
        return self._hlt_at_pc(-1)

