"""The PC/AT interrupt controller pair: two cascaded Intel 8259A PICs (plus the ELCR).

Owns: both chips' IRR/ISR/IMR, their ICW1-4 initialisation sequences, OCW1-3, the
priority resolver (with optional rotation), the cascade of the slave's INT output into
master input IR2, the INTA cycle the run loop performs (:meth:`Pic8259Pair.acknowledge`)
and the PIIX-style edge/level control registers (ELCR, ports 4D0h/4D1h).

Follows the Intel 8259A datasheet (order no. 231468): ICW/OCW formats, fully nested mode,
specific/non-specific EOI, automatic EOI, poll command, spurious IR7 when the request is
gone by the time of INTA.  Behavioural details (ELCR masks, priority arithmetic) were
checked against QEMU's hw/intc/i8259.c.

Trigger modes: in edge mode a rising edge on an input latches the IRR bit and it stays
latched until acknowledged (:meth:`IrqLine.pulse` is an instantaneous edge, so a device
cannot retract an edge request).  In level mode (ELCR bit or ICW1.LTIM) the IRR bit follows
the line; a request lowered before INTA yields the spurious vector (base + 7).  The master's
cascade input is a true level signal and behaves as the datasheet describes (edge latch AND
level), so a slave request that vanishes before INTA gives spurious IRQ 7 on the master; the
slave's spurious IRQ 15 (master IR2 in service, slave vector base + 7) is produced if the
master acknowledges IR2 and the slave has nothing to offer.

On a PC/AT the ISA bus IRQ2 pin is wired to the slave's IR1, so ``irq_line(2)`` returns the
same line as ``irq_line(9)``; the master's IR2 input is the cascade.

Thread rule: used from the VM's emulation thread only.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus, IrqLine, Registration

log = logging.getLogger(__name__)


class PicPort(enum.IntEnum):
    """Offsets within one 8259A's two-port span."""

    COMMAND = 0  # ICW1, OCW2, OCW3 (write); IRR/ISR/poll (read)
    DATA = 1  # ICW2-4, OCW1 = IMR (write); IMR (read)


class Icw1(enum.IntFlag):
    IC4 = 0x01  # ICW4 follows
    SNGL = 0x02  # single chip, no ICW3
    ADI = 0x04  # call address interval (8080 mode only)
    LTIM = 0x08  # level-triggered mode for all inputs
    INIT = 0x10  # marks ICW1 on the command port


class Icw4(enum.IntFlag):
    UPM = 0x01  # 8086/8088 mode
    AEOI = 0x02  # automatic end of interrupt
    MS = 0x04  # buffered master/slave
    BUF = 0x08  # buffered mode
    SFNM = 0x10  # special fully nested mode


class Ocw2Cmd(enum.IntEnum):
    """OCW2 bits 7-5 (R, SL, EOI)."""

    ROTATE_AEOI_CLEAR = 0
    NONSPECIFIC_EOI = 1
    NOP = 2
    SPECIFIC_EOI = 3
    ROTATE_AEOI_SET = 4
    ROTATE_NONSPECIFIC_EOI = 5
    SET_PRIORITY = 6
    ROTATE_SPECIFIC_EOI = 7


class Ocw3(enum.IntFlag):
    RIS = 0x01  # read ISR (with RR) instead of IRR
    RR = 0x02  # read register command
    POLL = 0x04
    MARKER = 0x08  # distinguishes OCW3 from OCW2
    SMM = 0x20  # special mask mode value
    ESMM = 0x40  # enable changing special mask mode


class InitStep(enum.IntEnum):
    READY = 0
    ICW2 = 1
    ICW3 = 2
    ICW4 = 3


CASCADE_INPUT = 2
"""Master input the slave's INT output drives on a PC/AT."""
ISA_IRQ2_REDIRECT = 9
"""The ISA IRQ2 pin reaches the slave's IR1 (IRQ 9) on a PC/AT."""
SPURIOUS_INPUT = 7
# The same bits as plain ints for the per-interrupt paths (an int & IntFlag goes through
# the enum machinery: ~0.5 us each, several per EOI)
_ICW1_INIT, _OCW3_MARKER = int(Icw1.INIT), int(Ocw3.MARKER)
_EOI_NONSPECIFIC = (int(Ocw2Cmd.NONSPECIFIC_EOI), int(Ocw2Cmd.ROTATE_NONSPECIFIC_EOI))
_EOI_SPECIFIC = (int(Ocw2Cmd.SPECIFIC_EOI), int(Ocw2Cmd.ROTATE_SPECIFIC_EOI))
_AEOI_ROTATION = (int(Ocw2Cmd.ROTATE_AEOI_CLEAR), int(Ocw2Cmd.ROTATE_AEOI_SET))
ELCR_MASK_MASTER = 0xF8  # IRQ 0, 1, 2 are always edge
ELCR_MASK_SLAVE = 0xDE  # IRQ 8, 13 are always edge
NO_IRQ = -1
_NUM_PRIORITIES = 8


class _Chip:
    """One 8259A: registers, init state machine and priority resolver."""

    FIELDS = (
        "irr", "isr", "imr", "vector_base", "icw3", "init_step", "needs_icw4", "single",
        "level_all", "auto_eoi", "rotate_on_aeoi", "sfnm", "priority_add", "read_isr",
        "poll", "special_mask", "elcr", "line_levels",
    )

    def __init__(self, name: str, is_master: bool, elcr_mask: int) -> None:
        self.name = name
        self.is_master = is_master
        self.elcr_mask = elcr_mask
        self.elcr = 0
        self.line_levels = 0
        # Inputs driven by a real level signal (the slave's INT on the master): the request
        # is edge latch AND level, as in the 8259A, so a vanished request is not delivered.
        self.follow_level = (1 << CASCADE_INPUT) if is_master else 0
        self.reset()

    def reset(self) -> None:
        self.irr = 0
        self.isr = 0
        self.imr = 0
        self.vector_base = 0
        self.icw3 = 0
        self.init_step = InitStep.READY
        self.needs_icw4 = False
        self.single = False
        self.level_all = False
        self.auto_eoi = False
        self.rotate_on_aeoi = False
        self.sfnm = False
        self.priority_add = 0
        self.read_isr = False
        self.poll = False
        self.special_mask = False

    # -- priority ---------------------------------------------------------------------
    def _priority(self, mask: int) -> int:
        """Priority level (0 = highest) of the best bit set in ``mask``; 8 if none."""
        if not mask:
            return _NUM_PRIORITIES
        level = 0
        while not mask & (1 << ((level + self.priority_add) & 7)):
            level += 1
        return level

    def best_request(self) -> int:
        """Input number that would be acknowledged now, or NO_IRQ."""
        req = self._priority(self.irr & ~self.imr)
        if req == _NUM_PRIORITIES:
            return NO_IRQ
        in_service = self.isr
        if self.special_mask:
            in_service &= ~self.imr
        if self.sfnm and self.is_master:
            in_service &= ~(1 << CASCADE_INPUT)
        if req < self._priority(in_service):
            return (req + self.priority_add) & 7
        return NO_IRQ

    def intack(self, irq: int) -> None:
        mask = 1 << irq
        if self.auto_eoi:
            if self.rotate_on_aeoi:
                self.priority_add = (irq + 1) & 7
        else:
            self.isr |= mask
        if not self.is_level(irq):
            self.irr &= ~mask

    # -- inputs -----------------------------------------------------------------------
    def is_level(self, irq: int) -> bool:
        return self.level_all or bool(self.elcr & (1 << irq))

    def set_input(self, irq: int, level: bool) -> None:
        mask = 1 << irq
        was_high = bool(self.line_levels & mask)
        if level:
            self.line_levels |= mask
            if self.is_level(irq) or not was_high:
                self.irr |= mask
        else:
            self.line_levels &= ~mask
            if self.is_level(irq) or mask & self.follow_level:
                self.irr &= ~mask

    # -- programming ------------------------------------------------------------------
    def write_command(self, value: int) -> None:
        if value & _ICW1_INIT:
            self._icw1(value)
        elif value & _OCW3_MARKER:
            self._ocw3(value)
        else:
            self._ocw2(value)

    def _icw1(self, value: int) -> None:
        levels, elcr = self.line_levels, self.elcr
        self.reset()
        self.line_levels, self.elcr = levels, elcr
        self.needs_icw4 = bool(value & Icw1.IC4)
        self.single = bool(value & Icw1.SNGL)
        self.level_all = bool(value & Icw1.LTIM)
        self.init_step = InitStep.ICW2
        if self.level_all:
            self.irr = self.line_levels

    def _ocw2(self, value: int) -> None:
        cmd = value >> 5  # an Ocw2Cmd
        if cmd in _AEOI_ROTATION:
            self.rotate_on_aeoi = cmd == Ocw2Cmd.ROTATE_AEOI_SET
        elif cmd in _EOI_NONSPECIFIC:
            level = self._priority(self.isr)
            if level != _NUM_PRIORITIES:
                irq = (level + self.priority_add) & 7
                self.isr &= ~(1 << irq)
                if cmd == Ocw2Cmd.ROTATE_NONSPECIFIC_EOI:
                    self.priority_add = (irq + 1) & 7
        elif cmd in _EOI_SPECIFIC:
            irq = value & 7
            self.isr &= ~(1 << irq)
            if cmd == Ocw2Cmd.ROTATE_SPECIFIC_EOI:
                self.priority_add = (irq + 1) & 7
        elif cmd == Ocw2Cmd.SET_PRIORITY:
            self.priority_add = ((value & 7) + 1) & 7

    def _ocw3(self, value: int) -> None:
        if value & Ocw3.POLL:
            self.poll = True
        if value & Ocw3.RR:
            self.read_isr = bool(value & Ocw3.RIS)
        if value & Ocw3.ESMM:
            self.special_mask = bool(value & Ocw3.SMM)

    def write_data(self, value: int) -> None:
        step = self.init_step
        if step == InitStep.READY:
            self.imr = value
        elif step == InitStep.ICW2:
            self.vector_base = value & 0xF8
            self.init_step = self._after(InitStep.ICW2)
        elif step == InitStep.ICW3:
            self.icw3 = value
            self.init_step = self._after(InitStep.ICW3)
        else:
            if not value & Icw4.UPM:
                log.warning("%s: ICW4 selects 8080 mode (%#04x); treated as 8086", self.name,
                            value)
            self.auto_eoi = bool(value & Icw4.AEOI)
            self.sfnm = bool(value & Icw4.SFNM)
            self.init_step = InitStep.READY

    def _after(self, step: InitStep) -> InitStep:
        if step == InitStep.ICW2 and not self.single:
            return InitStep.ICW3
        return InitStep.ICW4 if self.needs_icw4 else InitStep.READY

    def read_status(self) -> int:
        return self.isr if self.read_isr else self.irr

    # -- state ------------------------------------------------------------------------
    def save(self) -> dict[str, Any]:
        return {f: int(getattr(self, f)) for f in self.FIELDS}

    def load(self, state: dict[str, Any]) -> None:
        for f in self.FIELDS:
            value = state[f]
            if f == "init_step":
                value = InitStep(value)
            elif isinstance(getattr(self, f), bool):
                value = bool(value)
            setattr(self, f, value)


class Pic8259Pair(Device):
    """Master and slave 8259A as wired on a PC/AT (slave INT -> master IR2)."""

    NAME = "pic"
    STATE_VERSION = 1

    def __init__(
        self,
        bus: IoBus,
        master_base: int = 0x20,
        slave_base: int = 0xA0,
        elcr_base: int | None = 0x4D0,
    ) -> None:
        self.master = _Chip("pic-master", True, ELCR_MASK_MASTER)
        self.slave = _Chip("pic-slave", False, ELCR_MASK_SLAVE)
        self._slave_output = False
        self._lines = [IrqLine(self._sink(n), name=f"irq{n}") for n in range(16)]
        self._lines[CASCADE_INPUT] = self._lines[ISA_IRQ2_REDIRECT]
        self.registrations: list[Registration] = [
            bus.register(master_base, len(PicPort), "pic-master",
                         self._port_reader(self.master), self._port_writer(self.master)),
            bus.register(slave_base, len(PicPort), "pic-slave",
                         self._port_reader(self.slave), self._port_writer(self.slave)),
        ]
        if elcr_base is not None:
            self.registrations.append(
                bus.register(elcr_base, 2, "pic-elcr", self._elcr_read, self._elcr_write))

    def _sink(self, irq: int):
        def sink(level: bool) -> None:
            self.set_irq(irq, level)

        return sink

    # -- run loop API -----------------------------------------------------------------
    def irq_line(self, n: int) -> IrqLine:
        """The wire for ISA IRQ ``n`` (0-15), already connected to this PIC pair."""
        if not 0 <= n < 16:
            raise ValueError(f"IRQ {n} out of range 0-15")
        return self._lines[n]

    def set_irq(self, irq: int, level: bool) -> None:
        """Drive input ``irq`` (0-15) to ``level`` (what the IrqLine sinks call)."""
        if irq == CASCADE_INPUT:
            irq = ISA_IRQ2_REDIRECT
        if irq < 8:
            self.master.set_input(irq, level)  # the slave's output cannot change
        else:
            self.slave.set_input(irq - 8, level)
            self._update_cascade()

    def pending(self) -> bool:
        """True when an unmasked request outranks everything in service (INT is high)."""
        return self.master.best_request() != NO_IRQ

    def acknowledge(self) -> int:
        """The INTA cycle: return the vector and move the request from IRR to ISR."""
        irq = self.master.best_request()
        if irq == NO_IRQ:
            log.debug("spurious IRQ 7")
            return self.master.vector_base + SPURIOUS_INPUT
        self.master.intack(irq)
        if irq == CASCADE_INPUT and not self.master.single:
            irq2 = self.slave.best_request()
            if irq2 == NO_IRQ:
                log.debug("spurious IRQ 15")
                vector = self.slave.vector_base + SPURIOUS_INPUT
            else:
                self.slave.intack(irq2)
                vector = self.slave.vector_base + irq2
        else:
            vector = self.master.vector_base + irq
        self._update_cascade()
        return vector

    def vector_base(self, master: bool) -> int:
        """The ICW2 vector base of the master (True) or slave (False)."""
        return (self.master if master else self.slave).vector_base

    def _update_cascade(self) -> None:
        output = self.slave.best_request() != NO_IRQ
        if output != self._slave_output:
            self._slave_output = output
            self.master.set_input(CASCADE_INPUT, output)

    # -- ports ------------------------------------------------------------------------
    def _port_reader(self, chip: _Chip):
        def read(offset: int, size: int) -> int:
            if offset == PicPort.DATA:
                return chip.imr
            if chip.poll:
                chip.poll = False
                return self._poll(chip)
            return chip.read_status()

        return read

    def _port_writer(self, chip: _Chip):
        def write(offset: int, size: int, value: int) -> None:
            if offset == PicPort.DATA:
                chip.write_data(value)
            else:
                chip.write_command(value)
            self._update_cascade()

        return write

    def _poll(self, chip: _Chip) -> int:
        """Poll command read: bit 7 = request present, bits 2-0 = its level; acks it."""
        irq = chip.best_request()
        if irq == NO_IRQ:
            return 0
        chip.intack(irq)
        if chip is self.slave and self.master.irr & (1 << CASCADE_INPUT):
            self.master.intack(CASCADE_INPUT)
        self._update_cascade()
        return 0x80 | irq

    def _elcr_read(self, offset: int, size: int) -> int:
        return self.slave.elcr if offset else self.master.elcr

    def _elcr_write(self, offset: int, size: int, value: int) -> None:
        chip = self.slave if offset else self.master
        chip.elcr = value & chip.elcr_mask
        for irq in range(8):
            if chip.is_level(irq):
                if chip.line_levels & (1 << irq):
                    chip.irr |= 1 << irq
                else:
                    chip.irr &= ~(1 << irq)
        self._update_cascade()

    # -- Device -----------------------------------------------------------------------
    def reset(self) -> None:
        self.master.reset()
        self.slave.reset()
        self.master.elcr = self.slave.elcr = 0
        self._slave_output = False
        self.master.line_levels &= ~(1 << CASCADE_INPUT)
        self._update_cascade()

    def save_state(self) -> dict[str, Any]:
        return {
            "version": self.STATE_VERSION,
            "master": self.master.save(),
            "slave": self.slave.save(),
            "slave_output": self._slave_output,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        self.master.load(state["master"])
        self.slave.load(state["slave"])
        self._slave_output = bool(state["slave_output"])
