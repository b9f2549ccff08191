"""A serial port: National Semiconductor / TI PC16550D UART.

Owns: the eight registers at ``base`` (RBR/THR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR and
the divisor latch behind DLAB), the 16-byte receive FIFO with its trigger level, interrupt
identification and priority, the THRE interrupt's arming rules, loopback mode, and the
PC's use of OUT2 as the interrupt-enable gate on the IRQ line.

Follows the TI PC16550D datasheet (SLLS057): register layout, IIR priority (line status >
received data / character timeout > THR empty > modem status), THRE interrupt cleared by an
IIR read that reports it or by a THR write, LSR error bits cleared by reading LSR, MSR delta
bits cleared by reading MSR, loopback wiring (CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2, outputs
forced inactive so the PC's IRQ gate is closed).

Timing: transmission is immediate (``on_transmit`` gets each byte as the guest writes it,
so THR and the shifter are always empty again).  There is no baud-rate clock: host bytes
given to :meth:`Uart16550.receive` beyond the FIFO's free space wait in a host-side backlog
and move into the FIFO as the guest reads, and a FIFO below its trigger level reports the
character-timeout interrupt at once (the 4-character idle time has always passed).

Thread rule: used from the VM's emulation thread only; :meth:`receive` is called there.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus, IrqLine, Registration

log = logging.getLogger(__name__)

FIFO_SIZE = 16
UART_CLOCK_HZ = 1_843_200
BAUD_BASE = UART_CLOCK_HZ // 16


class UartReg(enum.IntEnum):
    DATA = 0  # RBR (read) / THR (write) / DLL (DLAB=1)
    IER = 1  # DLM when DLAB=1
    IIR = 2  # IIR (read) / FCR (write)
    LCR = 3
    MCR = 4
    LSR = 5
    MSR = 6
    SCR = 7


class Ier(enum.IntFlag):
    RX_DATA = 0x01
    THRE = 0x02
    LINE_STATUS = 0x04
    MODEM_STATUS = 0x08
    MASK = 0x0F


class IirId(enum.IntEnum):
    """IIR bits 3-0 (bit 0 = 1: no interrupt pending)."""

    MODEM_STATUS = 0x00
    NONE = 0x01
    THRE = 0x02
    RX_DATA = 0x04
    LINE_STATUS = 0x06
    CHAR_TIMEOUT = 0x0C


IIR_FIFO_ENABLED = 0xC0


class Fcr(enum.IntFlag):
    ENABLE = 0x01
    CLEAR_RX = 0x02
    CLEAR_TX = 0x04
    DMA_MODE = 0x08
    TRIGGER_MASK = 0xC0


FCR_TRIGGER_SHIFT = 6
TRIGGER_LEVELS = (1, 4, 8, 14)


class Lcr(enum.IntFlag):
    DLAB = 0x80


class Mcr(enum.IntFlag):
    DTR = 0x01
    RTS = 0x02
    OUT1 = 0x04
    OUT2 = 0x08
    LOOP = 0x10
    MASK = 0x1F


class Lsr(enum.IntFlag):
    DR = 0x01
    OE = 0x02
    PE = 0x04
    FE = 0x08
    BI = 0x10
    THRE = 0x20
    TEMT = 0x40
    FIFO_ERROR = 0x80
    ERRORS = 0x1E


class Msr(enum.IntFlag):
    DCTS = 0x01
    DDSR = 0x02
    TERI = 0x04
    DDCD = 0x08
    CTS = 0x10
    DSR = 0x20
    RI = 0x40
    DCD = 0x80
    DELTAS = 0x0F


MSR_CONNECTED = Msr.CTS | Msr.DSR | Msr.DCD  # a host end that is always ready


class Uart16550(Device):
    """One 16550A serial port at ``base`` .. ``base+7`` driving ``irq``."""

    NAME = "uart"
    STATE_VERSION = 1
    FIELDS = ("ier", "lcr", "mcr", "scr", "divisor", "fifo_enabled", "trigger",
              "line_errors", "msr", "thr_ipending", "host_lines")

    def __init__(
        self,
        bus: IoBus,
        irq: IrqLine,
        base: int = 0x3F8,
        on_transmit: Callable[[bytes], None] | None = None,
    ) -> None:
        self._irq = irq
        self._on_transmit = on_transmit
        self.rx: deque[int] = deque()
        self.backlog: deque[int] = deque()
        self.reset()
        self.registration: Registration = bus.register(
            base, len(UartReg), f"uart@{base:#x}", self._read, self._write)

    def reset(self) -> None:
        self.ier = 0
        self.lcr = 0
        self.mcr = 0
        self.scr = 0
        self.divisor = 12  # 9600 baud
        self.fifo_enabled = False
        self.trigger = 1
        self.line_errors = 0
        self.host_lines = int(MSR_CONNECTED)
        self.msr = self.host_lines
        self.thr_ipending = True  # THR is empty after reset (interrupt needs ETBEI)
        self.rx.clear()
        self.backlog.clear()
        self._update_irq()

    # -- host side ------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """Bytes arriving on the line from the host end."""
        self.backlog.extend(data)
        self._fill_fifo()
        self._update_irq()

    def set_modem_lines(self, cts: bool, dsr: bool, ri: bool, dcd: bool) -> None:
        """The host end's handshake outputs (as seen on the MSR when not in loopback)."""
        lines = ((Msr.CTS if cts else 0) | (Msr.DSR if dsr else 0) | (Msr.RI if ri else 0)
                 | (Msr.DCD if dcd else 0))
        self.host_lines = int(lines)
        if not self.mcr & Mcr.LOOP:
            self._set_msr_lines(self.host_lines)

    @property
    def baud(self) -> int:
        return BAUD_BASE // self.divisor if self.divisor else 0

    def _capacity(self) -> int:
        return FIFO_SIZE if self.fifo_enabled else 1

    def _fill_fifo(self) -> None:
        while self.backlog and len(self.rx) < self._capacity():
            self.rx.append(self.backlog.popleft())

    def _line_receive(self, value: int) -> None:
        """One character from the wire (loopback): overruns when there is no room."""
        if len(self.rx) >= self._capacity():
            self.line_errors |= Lsr.OE
            if not self.fifo_enabled:
                self.rx[-1] = value  # the 16450 holding register is overwritten
            return
        self.rx.append(value)

    # -- interrupts -------------------------------------------------------------------------
    def _interrupt_id(self) -> IirId:
        ier = self.ier
        if ier & Ier.LINE_STATUS and self.line_errors:
            return IirId.LINE_STATUS
        if ier & Ier.RX_DATA and self.rx:
            if not self.fifo_enabled or len(self.rx) >= self.trigger:
                return IirId.RX_DATA
            return IirId.CHAR_TIMEOUT
        if ier & Ier.THRE and self.thr_ipending:
            return IirId.THRE
        if ier & Ier.MODEM_STATUS and self.msr & Msr.DELTAS:
            return IirId.MODEM_STATUS
        return IirId.NONE

    def _update_irq(self) -> None:
        gate_open = self.mcr & Mcr.OUT2 and not self.mcr & Mcr.LOOP
        level = bool(gate_open) and self._interrupt_id() != IirId.NONE
        if level != self._irq.level:
            self._irq.set(level)

    # -- registers --------------------------------------------------------------------------
    def _read(self, offset: int, size: int) -> int:
        dlab = self.lcr & Lcr.DLAB
        if offset == UartReg.DATA:
            value = self.divisor & 0xFF if dlab else self._read_rbr()
        elif offset == UartReg.IER:
            value = self.divisor >> 8 if dlab else self.ier
        elif offset == UartReg.IIR:
            value = self._read_iir()
        elif offset == UartReg.LCR:
            value = self.lcr
        elif offset == UartReg.MCR:
            value = self.mcr
        elif offset == UartReg.LSR:
            value = self._read_lsr()
        elif offset == UartReg.MSR:
            value = self.msr
            self.msr &= ~Msr.DELTAS
        else:
            value = self.scr
        self._update_irq()
        return value

    def _read_rbr(self) -> int:
        if not self.rx:
            return 0
        value = self.rx.popleft()
        self._fill_fifo()
        return value

    def _read_iir(self) -> int:
        ident = self._interrupt_id()
        if ident == IirId.THRE:
            self.thr_ipending = False
        return ident | (IIR_FIFO_ENABLED if self.fifo_enabled else 0)

    def _read_lsr(self) -> int:
        value = Lsr.THRE | Lsr.TEMT | self.line_errors
        if self.rx:
            value |= Lsr.DR
        self.line_errors = 0
        return int(value)

    def _write(self, offset: int, size: int, value: int) -> None:
        dlab = self.lcr & Lcr.DLAB
        if offset == UartReg.DATA:
            if dlab:
                self.divisor = (self.divisor & 0xFF00) | value
            else:
                self._transmit(value)
        elif offset == UartReg.IER:
            if dlab:
                self.divisor = (self.divisor & 0xFF) | (value << 8)
            else:
                self._write_ier(value)
        elif offset == UartReg.IIR:
            self._write_fcr(value)
        elif offset == UartReg.LCR:
            self.lcr = value
        elif offset == UartReg.MCR:
            self._write_mcr(value)
        elif offset == UartReg.SCR:
            self.scr = value
        else:
            log.debug("write %#04x to read-only UART register %s", value, UartReg(offset).name)
        self._update_irq()

    def _transmit(self, value: int) -> None:
        if self.mcr & Mcr.LOOP:
            self._line_receive(value)
        elif self._on_transmit is not None:
            self._on_transmit(bytes((value,)))
        self.thr_ipending = True  # the byte left at once: THR is empty again

    def _write_ier(self, value: int) -> None:
        old, self.ier = self.ier, value & Ier.MASK
        if self.ier & ~old & Ier.THRE:
            self.thr_ipending = True  # enabling ETBEI with THR empty interrupts at once

    def _write_fcr(self, value: int) -> None:
        enable = bool(value & Fcr.ENABLE)
        if enable != self.fifo_enabled:
            self.rx.clear()
            self.fifo_enabled = enable
        if not enable:
            return
        if value & Fcr.CLEAR_RX:
            self.rx.clear()
            self.line_errors &= ~Lsr.OE
        self.trigger = TRIGGER_LEVELS[(value & Fcr.TRIGGER_MASK) >> FCR_TRIGGER_SHIFT]
        self._fill_fifo()

    def _write_mcr(self, value: int) -> None:
        self.mcr = value & Mcr.MASK
        if self.mcr & Mcr.LOOP:
            lines = ((Msr.CTS if value & Mcr.RTS else 0) | (Msr.DSR if value & Mcr.DTR else 0)
                     | (Msr.RI if value & Mcr.OUT1 else 0) | (Msr.DCD if value & Mcr.OUT2 else 0))
            self._set_msr_lines(int(lines))
        else:
            self._set_msr_lines(self.host_lines)

    def _set_msr_lines(self, lines: int) -> None:
        old = self.msr
        changed = (old ^ lines) & ~Msr.DELTAS
        deltas = 0
        if changed & Msr.CTS:
            deltas |= Msr.DCTS
        if changed & Msr.DSR:
            deltas |= Msr.DDSR
        if changed & Msr.DCD:
            deltas |= Msr.DDCD
        if old & Msr.RI and not lines & Msr.RI:
            deltas |= Msr.TERI
        self.msr = (old & Msr.DELTAS) | deltas | (lines & ~Msr.DELTAS)
        self._update_irq()

    # -- Device -----------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for f in self.FIELDS:
            value = getattr(self, f)
            state[f] = value if isinstance(value, bool) else int(value)
        state.update(version=self.STATE_VERSION, rx=list(self.rx), backlog=list(self.backlog))
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        for f in self.FIELDS:
            setattr(self, f, state[f])
        self.rx = deque(state["rx"])
        self.backlog = deque(state["backlog"])
        self._update_irq()
