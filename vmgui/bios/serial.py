"""Serial-port BIOS (int 14h) over a 16550 UART's ports.

Owns: functions 00h (initialise from the AL parameter byte), 01h (send), 02h (receive),
03h (status) for COM1-COM4 as listed in the BDA.  The BIOS drives the UART through its
registers on the bus, exactly as a guest could.  Send/receive do not spin: with nothing
to receive the call returns a time-out at once (bit 7 of AH), as a real BIOS does after
its polling loop ends.
References: Ralf Brown's interrupt list (INT 14), National Semiconductor PC16550D datasheet.
"""

from __future__ import annotations

from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda
from vmgui.devices.bus import IoBus

RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR = 0, 1, 2, 3, 4, 5, 6
LCR_DLAB = 0x80
LSR_DR, LSR_THRE = 0x01, 0x20
TIMEOUT = 0x80
# AL bits 7-5 of function 00h: 110, 150, 300, 600, 1200, 2400, 4800, 9600 baud
_DIVISORS = (1047, 768, 384, 192, 96, 48, 24, 12)


class SerialBios:
    def __init__(self, mem: Memory, bus: IoBus) -> None:
        self.mem = mem
        self.bus = bus

    def _base(self, dx: int) -> int:
        if dx > 3:
            return 0
        return self.mem.read_u16(Bda.COM_PORTS + 2 * dx)

    def _status(self, base: int) -> int:
        return (self.bus.read(base + LSR, 1) << 8) | self.bus.read(base + MSR, 1)

    def handle(self, call: BiosCall) -> None:
        regs = call.regs
        base = self._base(regs.dx)
        if not base:
            regs.ah = TIMEOUT
            return
        ah = regs.ah
        bus = self.bus
        if ah == 0x00:
            params = regs.al
            divisor = _DIVISORS[params >> 5]
            bus.write(base + LCR, 1, LCR_DLAB)
            bus.write(base + RBR_THR, 1, divisor & 0xFF)
            bus.write(base + IER, 1, divisor >> 8)
            bus.write(base + LCR, 1, params & 0x1F)
            regs.ax = self._status(base)
        elif ah == 0x01:
            char = regs.al
            if bus.read(base + LSR, 1) & LSR_THRE:
                bus.write(base + RBR_THR, 1, char)
                regs.ah = bus.read(base + LSR, 1)
            else:
                regs.ah = bus.read(base + LSR, 1) | TIMEOUT
        elif ah == 0x02:
            lsr = bus.read(base + LSR, 1)
            if lsr & LSR_DR:
                regs.al = bus.read(base + RBR_THR, 1)
                regs.ah = lsr & 0x1E  # error bits of this read (reading LSR clears them)
            else:
                regs.ah = lsr | TIMEOUT
        elif ah == 0x03:
            regs.ax = self._status(base)
        else:
            regs.ah = TIMEOUT
