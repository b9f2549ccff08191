"""Timer BIOS: the IRQ0 tick handler (int 08h) and the time-of-day service (int 1Ah).

Owns: the tick count at 0040:006C (18.2065 Hz, 1800B0h ticks a day) and its midnight
flag, the diskette motor time-out, and int 1Ah functions 00h-07h, which read and set the
RTC through the CMOS ports as a real BIOS does; other modules may serve further functions
(:meth:`TimerBios.add_function`: the PCI BIOS, AH=B1h).
References: IBM PC/AT Technical Reference (TIME_OF_DAY), Ralf Brown's interrupt list
(INT 1A), MC146818 datasheet (registers 0-9, status A/B).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda
from vmgui.devices.bus import IoBus

log = logging.getLogger(__name__)

TICKS_PER_DAY = 0x1800B0
PIT_HZ = 1193182
CMOS_INDEX = 0x70
CMOS_DATA = 0x71
NMI_DISABLE = 0x80


class Rtc:
    """Reads and writes MC146818 registers through the CMOS ports on a bus."""

    SECONDS, SEC_ALARM, MINUTES, MIN_ALARM, HOURS, HOUR_ALARM = 0, 1, 2, 3, 4, 5
    DAY, MONTH, YEAR, STATUS_A, STATUS_B, CENTURY = 7, 8, 9, 0x0A, 0x0B, 0x32
    B_SET, B_AIE, B_24H = 0x80, 0x20, 0x02
    A_UIP = 0x80

    def __init__(self, bus: IoBus) -> None:
        self.bus = bus

    def read(self, reg: int) -> int:
        self.bus.write(CMOS_INDEX, 1, reg | NMI_DISABLE)
        return self.bus.read(CMOS_DATA, 1)

    def write(self, reg: int, value: int) -> None:
        self.bus.write(CMOS_INDEX, 1, reg | NMI_DISABLE)
        self.bus.write(CMOS_DATA, 1, value)


def bcd_to_int(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


class TimerBios:
    def __init__(self, mem: Memory, bus: IoBus) -> None:
        self.mem = mem
        self.rtc = Rtc(bus)
        self._leaves = {0x00: self._get_ticks, 0x01: self._set_ticks, 0x02: self._get_time,
                        0x03: self._set_time, 0x04: self._get_date, 0x05: self._set_date,
                        0x06: self._set_alarm, 0x07: self._reset_alarm}
        self._unknown_logged: set[int] = set()

    def post(self) -> None:
        """Set the tick count from the RTC time, as the BIOS does at power-on."""
        rtc = self.rtc
        seconds = (bcd_to_int(rtc.read(Rtc.HOURS) & 0x3F) * 3600
                   + bcd_to_int(rtc.read(Rtc.MINUTES)) * 60 + bcd_to_int(rtc.read(Rtc.SECONDS)))
        self.mem.write_u32(Bda.TIMER_TICKS, seconds * PIT_HZ // 65536 % TICKS_PER_DAY)
        self.mem.write_u8(Bda.TIMER_ROLLOVER, 0)
        rtc.write(Rtc.STATUS_B, Rtc.B_24H)

    # ------------------------------------------------------------------ int 08h
    def on_tick(self, call: BiosCall) -> None:
        """Trap in the IRQ0 stub (before it calls int 1Ch and sends EOI)."""
        m = self.mem
        ticks = m.read_u32(Bda.TIMER_TICKS) + 1
        if ticks >= TICKS_PER_DAY:
            ticks = 0
            m.write_u8(Bda.TIMER_ROLLOVER, 1)
        m.write_u32(Bda.TIMER_TICKS, ticks)
        motor = m.read_u8(Bda.FLOPPY_MOTOR_TIMEOUT)
        if motor:
            m.write_u8(Bda.FLOPPY_MOTOR_TIMEOUT, motor - 1)
            if motor == 1:
                m.write_u8(Bda.FLOPPY_MOTOR, m.read_u8(Bda.FLOPPY_MOTOR) & 0xF0)

    # ------------------------------------------------------------------ int 1Ah
    def add_function(self, ah: int, leaf: Callable[[BiosCall], None]) -> None:
        """Serve int 1Ah function ``ah`` by another module (AH=B1h: the PCI BIOS of
        vmgui.bios.pci, on machines with PCI)."""
        self._leaves[ah] = leaf

    def handle(self, call: BiosCall) -> None:
        ah = call.regs.ah
        leaf = self._leaves.get(ah)
        if leaf is None:
            if ah not in self._unknown_logged:
                self._unknown_logged.add(ah)
                log.info("INT 1Ah AH=%02Xh: unsupported function", ah)
            call.set_cf(True)
            return
        leaf(call)

    def _get_ticks(self, call: BiosCall) -> None:
        ticks = self.mem.read_u32(Bda.TIMER_TICKS)
        regs = call.regs
        regs.cx = ticks >> 16
        regs.dx = ticks & 0xFFFF
        regs.al = self.mem.read_u8(Bda.TIMER_ROLLOVER)
        self.mem.write_u8(Bda.TIMER_ROLLOVER, 0)
        call.set_cf(False)

    def _set_ticks(self, call: BiosCall) -> None:
        self.mem.write_u32(Bda.TIMER_TICKS, (call.regs.cx << 16) | call.regs.dx)
        self.mem.write_u8(Bda.TIMER_ROLLOVER, 0)
        call.set_cf(False)

    def _get_time(self, call: BiosCall) -> None:
        rtc = self.rtc
        regs = call.regs
        regs.ch = rtc.read(Rtc.HOURS)
        regs.cl = rtc.read(Rtc.MINUTES)
        regs.dh = rtc.read(Rtc.SECONDS)
        regs.dl = rtc.read(Rtc.STATUS_B) & 0x01
        call.set_cf(False)

    def _set_time(self, call: BiosCall) -> None:
        rtc = self.rtc
        regs = call.regs
        b = rtc.read(Rtc.STATUS_B)
        rtc.write(Rtc.STATUS_B, b | Rtc.B_SET)
        rtc.write(Rtc.HOURS, regs.ch)
        rtc.write(Rtc.MINUTES, regs.cl)
        rtc.write(Rtc.SECONDS, regs.dh)
        rtc.write(Rtc.STATUS_B, (b & ~(Rtc.B_SET | 0x01)) | Rtc.B_24H | (regs.dl & 0x01))
        call.set_cf(False)

    def _get_date(self, call: BiosCall) -> None:
        rtc = self.rtc
        regs = call.regs
        regs.ch = rtc.read(Rtc.CENTURY)
        regs.cl = rtc.read(Rtc.YEAR)
        regs.dh = rtc.read(Rtc.MONTH)
        regs.dl = rtc.read(Rtc.DAY)
        call.set_cf(False)

    def _set_date(self, call: BiosCall) -> None:
        rtc = self.rtc
        regs = call.regs
        b = rtc.read(Rtc.STATUS_B)
        rtc.write(Rtc.STATUS_B, b | Rtc.B_SET)
        rtc.write(Rtc.CENTURY, regs.ch)
        rtc.write(Rtc.YEAR, regs.cl)
        rtc.write(Rtc.MONTH, regs.dh)
        rtc.write(Rtc.DAY, regs.dl)
        rtc.write(Rtc.STATUS_B, b & ~Rtc.B_SET)
        call.set_cf(False)

    def _set_alarm(self, call: BiosCall) -> None:
        rtc = self.rtc
        b = rtc.read(Rtc.STATUS_B)
        if b & Rtc.B_AIE:
            call.set_cf(True)  # alarm already set
            return
        rtc.write(Rtc.HOUR_ALARM, call.regs.ch)
        rtc.write(Rtc.MIN_ALARM, call.regs.cl)
        rtc.write(Rtc.SEC_ALARM, call.regs.dh)
        rtc.write(Rtc.STATUS_B, b | Rtc.B_AIE)
        call.set_cf(False)

    def _reset_alarm(self, call: BiosCall) -> None:
        rtc = self.rtc
        rtc.write(Rtc.STATUS_B, rtc.read(Rtc.STATUS_B) & ~Rtc.B_AIE)
        call.set_cf(False)
