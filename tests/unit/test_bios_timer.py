"""Unit tests for vmgui.bios.timer (int 08h tick, int 1Ah) over a real CmosRtc.

Values per Ralf Brown's interrupt list (INT 1A functions 00h-07h, BCD results) and the
IBM PC/AT Technical Reference (1800B0h ticks per day, midnight flag at 0040:0070).
"""

from __future__ import annotations

import datetime as dt

import pytest

from vmgui.bios.api import FakeCpu, Flag
from vmgui.bios.bda import Bda
from vmgui.bios.timer import TICKS_PER_DAY, TimerBios
from vmgui.devices.bus import IoBus, IrqLine
from vmgui.devices.clock import ManualClock
from vmgui.devices.cmos import CmosRtc

NS = 1_000_000_000
START = dt.datetime(2026, 11, 24, 13, 45, 30)


class Rig:
    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.bus = IoBus()
        self.clock = ManualClock()
        self.irq8 = IrqLine()
        self.rtc = CmosRtc(self.bus, self.clock, self.irq8, start_time=START)
        self.timer = TimerBios(self.cpu.mem, self.bus)
        self.timer.post()

    def int1a(self, ax: int, **regs: int):
        call = self.cpu.call(0x1A, ax=ax, **regs)
        self.timer.handle(call)
        return call

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.timer.on_tick(self.cpu.call(0x08))

    @property
    def ticks(self) -> int:
        return self.cpu.mem.read_u32(Bda.TIMER_TICKS)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_ticks_per_day_constant():
    assert TICKS_PER_DAY == 0x1800B0


def test_post_sets_ticks_from_rtc(rig):
    seconds = 13 * 3600 + 45 * 60 + 30
    assert rig.ticks == seconds * 1193182 // 65536 == 901_768
    assert rig.cpu.mem.read_u8(Bda.TIMER_ROLLOVER) == 0


def test_post_at_midnight_is_zero():
    cpu, bus, clock = FakeCpu(), IoBus(), ManualClock()
    CmosRtc(bus, clock, IrqLine(), start_time=dt.datetime(2026, 1, 1, 0, 0, 0))
    cpu.mem.write_u32(Bda.TIMER_TICKS, 0xDEADBEEF)
    cpu.mem.write_u8(Bda.TIMER_ROLLOVER, 1)
    TimerBios(cpu.mem, bus).post()
    assert cpu.mem.read_u32(Bda.TIMER_TICKS) == 0
    assert cpu.mem.read_u8(Bda.TIMER_ROLLOVER) == 0


def test_post_leaves_rtc_in_bcd_24h(rig):
    assert rig.rtc.ram[0x0B] & 0x06 == 0x02  # 24-hour, BCD


def test_on_tick_increments(rig):
    before = rig.ticks
    rig.tick(3)
    assert rig.ticks == before + 3


def test_on_tick_rolls_over_at_midnight(rig):
    rig.cpu.mem.write_u32(Bda.TIMER_TICKS, TICKS_PER_DAY - 2)
    rig.tick()
    assert rig.ticks == 0x1800AF
    assert rig.cpu.mem.read_u8(Bda.TIMER_ROLLOVER) == 0
    rig.tick()
    assert rig.ticks == 0
    assert rig.cpu.mem.read_u8(Bda.TIMER_ROLLOVER) != 0
    rig.tick()
    assert rig.ticks == 1


def test_ah00_returns_ticks_and_clears_midnight_flag(rig):
    rig.cpu.mem.write_u32(Bda.TIMER_TICKS, TICKS_PER_DAY - 1)
    rig.tick()
    rig.tick(0x1234)
    rig.int1a(0x0000)
    assert rig.cpu.regs.cx == 0x0000
    assert rig.cpu.regs.dx == 0x1234
    assert rig.cpu.regs.al != 0
    assert not rig.cpu.cf
    assert rig.cpu.mem.read_u8(Bda.TIMER_ROLLOVER) == 0
    rig.int1a(0x0000)
    assert rig.cpu.regs.al == 0


def test_ah00_splits_cx_dx(rig):
    rig.cpu.mem.write_u32(Bda.TIMER_TICKS, 0x000DBF2A)
    rig.int1a(0x0000)
    assert (rig.cpu.regs.cx, rig.cpu.regs.dx) == (0x000D, 0xBF2A)


def test_ah01_sets_ticks(rig):
    rig.cpu.mem.write_u8(Bda.TIMER_ROLLOVER, 1)
    rig.int1a(0x0100, cx=0x0012, dx=0x3456)
    assert rig.ticks == 0x00123456
    assert rig.cpu.mem.read_u8(Bda.TIMER_ROLLOVER) == 0
    assert not rig.cpu.cf


def test_ah02_reads_bcd_time(rig):
    rig.int1a(0x0200)
    r = rig.cpu.regs
    assert (r.ch, r.cl, r.dh, r.dl) == (0x13, 0x45, 0x30, 0x00)
    assert not rig.cpu.cf


def test_ah02_follows_the_clock(rig):
    rig.clock.advance(61 * NS)
    rig.int1a(0x0200)
    r = rig.cpu.regs
    assert (r.ch, r.cl, r.dh) == (0x13, 0x46, 0x31)


def test_ah02_across_midnight_and_ah04_date_changes():
    cpu, bus, clock = FakeCpu(), IoBus(), ManualClock()
    CmosRtc(bus, clock, IrqLine(), start_time=dt.datetime(1999, 12, 31, 23, 59, 59))
    timer = TimerBios(cpu.mem, bus)
    timer.post()
    clock.advance(2 * NS)
    timer.handle(cpu.call(0x1A, ax=0x0200))
    assert (cpu.regs.ch, cpu.regs.cl, cpu.regs.dh) == (0x00, 0x00, 0x01)
    timer.handle(cpu.call(0x1A, ax=0x0400))
    assert (cpu.regs.ch, cpu.regs.cl, cpu.regs.dh, cpu.regs.dl) == (0x20, 0x00, 0x01, 0x01)


def test_ah04_reads_bcd_date(rig):
    rig.int1a(0x0400)
    r = rig.cpu.regs
    assert (r.ch, r.cl, r.dh, r.dl) == (0x20, 0x26, 0x11, 0x24)
    assert not rig.cpu.cf


def test_ah03_sets_time(rig):
    rig.int1a(0x0300, cx=0x0809, dx=0x1000)  # 08:09:10, standard time
    assert not rig.cpu.cf
    rig.int1a(0x0200)
    r = rig.cpu.regs
    assert (r.ch, r.cl, r.dh, r.dl) == (0x08, 0x09, 0x10, 0x00)
    assert rig.rtc.now() == dt.datetime(2026, 11, 24, 8, 9, 10)
    assert not rig.rtc.ram[0x0B] & 0x80  # SET bit released: the clock runs again
    rig.clock.advance(5 * NS)
    rig.int1a(0x0200)
    assert (r.ch, r.cl, r.dh) == (0x08, 0x09, 0x15)


def test_ah03_daylight_saving_flag(rig):
    rig.int1a(0x0300, cx=0x2359, dx=0x5901)
    rig.int1a(0x0200, dx=0)
    assert rig.cpu.regs.dl == 0x01
    assert rig.rtc.ram[0x0B] & 0x01


def test_ah05_sets_date(rig):
    rig.int1a(0x0500, cx=0x1999, dx=0x1231)
    assert not rig.cpu.cf
    rig.int1a(0x0400, cx=0, dx=0)
    r = rig.cpu.regs
    assert (r.ch, r.cl, r.dh, r.dl) == (0x19, 0x99, 0x12, 0x31)
    assert rig.rtc.now() == dt.datetime(1999, 12, 31, 13, 45, 30)


def test_ah06_alarm_once_then_cf(rig):
    rig.int1a(0x0600, cx=0x1346, dx=0x0000)
    assert not rig.cpu.cf
    assert rig.rtc.ram[0x0B] & 0x20  # AIE
    assert (rig.rtc.ram[0x05], rig.rtc.ram[0x03], rig.rtc.ram[0x01]) == (0x13, 0x46, 0x00)
    rig.int1a(0x0600, cx=0x1400, dx=0x0000)
    assert rig.cpu.cf  # alarm already set
    assert rig.rtc.ram[0x03] == 0x46  # unchanged


def test_ah06_alarm_raises_irq8_at_the_time(rig):
    rig.int1a(0x0600, cx=0x1346, dx=0x0000)
    rig.clock.advance(29 * NS)
    rig.rtc.advance(rig.clock.now_ns())
    assert not rig.irq8.level
    rig.clock.advance(1 * NS)  # 13:46:00
    rig.rtc.advance(rig.clock.now_ns())
    assert rig.irq8.level


def test_ah07_resets_alarm(rig):
    rig.int1a(0x0600, cx=0x1346, dx=0x0000)
    rig.int1a(0x0700)
    assert not rig.cpu.cf
    assert not rig.rtc.ram[0x0B] & 0x20
    rig.int1a(0x0600, cx=0x1500, dx=0x0000)
    assert not rig.cpu.cf


def test_unknown_function_sets_cf(rig):
    rig.int1a(0x0800)
    assert rig.cpu.cf
    rig.cpu._set_flag(Flag.CF, False)
    rig.int1a(0xB100)  # PCI BIOS: not provided
    assert rig.cpu.cf


def test_floppy_motor_timeout(rig):
    mem = rig.cpu.mem
    mem.write_u8(Bda.FLOPPY_MOTOR, 0x81)  # drive 0 motor on, write bit
    mem.write_u8(Bda.FLOPPY_MOTOR_TIMEOUT, 3)
    rig.tick(2)
    assert mem.read_u8(Bda.FLOPPY_MOTOR_TIMEOUT) == 1
    assert mem.read_u8(Bda.FLOPPY_MOTOR) == 0x81
    rig.tick()
    assert mem.read_u8(Bda.FLOPPY_MOTOR_TIMEOUT) == 0
    assert mem.read_u8(Bda.FLOPPY_MOTOR) & 0x0F == 0
    rig.tick()
    assert mem.read_u8(Bda.FLOPPY_MOTOR_TIMEOUT) == 0  # no underflow


def test_motor_left_alone_without_timeout(rig):
    mem = rig.cpu.mem
    mem.write_u8(Bda.FLOPPY_MOTOR, 0x01)
    rig.tick(5)
    assert mem.read_u8(Bda.FLOPPY_MOTOR) == 0x01
