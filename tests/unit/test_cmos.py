"""MC146818 RTC + CMOS RAM: BCD/binary time, UIP, SET, interrupts, POST helpers."""

from __future__ import annotations

import datetime as dt

import pytest

from vmgui.devices.bus import IoBus, IrqLine
from vmgui.devices.clock import ManualClock
from vmgui.devices.cmos import CmosRtc, FloppyType

INDEX, DATA = 0x70, 0x71
S = 1_000_000_000
START = dt.datetime(2024, 2, 28, 23, 59, 30)  # a Wednesday


class Setup:
    def __init__(self, start: dt.datetime = START) -> None:
        self.bus = IoBus()
        self.clock = ManualClock()
        self.edges = 0
        self.irq8 = IrqLine(self._sink)
        self.rtc = CmosRtc(self.bus, self.clock, self.irq8, start_time=start)

    def _sink(self, level: bool) -> None:
        if level:
            self.edges += 1

    def read(self, reg: int) -> int:
        self.bus.write(INDEX, 1, reg)
        return self.bus.read(DATA)

    def write(self, reg: int, value: int) -> None:
        self.bus.write(INDEX, 1, reg)
        self.bus.write(DATA, 1, value)

    def tick(self, ns: int) -> None:
        self.clock.advance(ns)
        self.rtc.advance(self.clock.now_ns())


@pytest.fixture
def s():
    return Setup()


def test_initial_time_in_bcd(s):
    assert s.read(0x00) == 0x30
    assert s.read(0x02) == 0x59
    assert s.read(0x04) == 0x23
    assert s.read(0x06) == 4  # Wednesday (1 = Sunday)
    assert s.read(0x07) == 0x28
    assert s.read(0x08) == 0x02
    assert s.read(0x09) == 0x24
    assert s.read(0x32) == 0x20


def test_time_after_61_seconds_rolls_over_the_day(s):
    s.clock.advance(61 * S)
    assert s.read(0x00) == 0x31
    assert s.read(0x02) == 0x00
    assert s.read(0x04) == 0x00
    assert s.read(0x07) == 0x29  # 2024 is a leap year
    assert s.read(0x08) == 0x02
    assert s.read(0x06) == 5  # Thursday


def test_binary_and_12_hour_modes(s):
    s.write(0x0B, 0x04)  # binary, 12-hour
    assert s.read(0x00) == 30
    assert s.read(0x04) == 0x80 | 11  # 11 PM
    s.write(0x0B, 0x00)  # BCD, 12-hour
    assert s.read(0x04) == 0x80 | 0x11


def test_register_defaults(s):
    assert s.read(0x0A) & 0x7F == 0x26
    assert s.read(0x0B) == 0x02
    assert s.read(0x0D) == 0x80


def test_uip_set_only_just_before_the_second_boundary(s):
    s.clock.advance(S - 300_000)
    assert not s.read(0x0A) & 0x80
    s.clock.advance(100_000)  # 200 us before the update
    assert s.read(0x0A) & 0x80
    assert s.read(0x00) == 0x30  # not updated yet
    s.clock.advance(200_000)
    assert not s.read(0x0A) & 0x80
    assert s.read(0x00) == 0x31


def test_set_bit_freezes_and_guest_sets_time(s):
    s.write(0x0B, 0x82)  # SET, 24h, BCD
    s.clock.advance(5 * S)
    assert s.read(0x00) == 0x30  # frozen
    s.write(0x00, 0x00)
    s.write(0x02, 0x15)
    s.write(0x04, 0x08)
    s.write(0x07, 0x31)
    s.write(0x08, 0x12)
    s.write(0x09, 0x99)
    s.write(0x32, 0x19)
    s.write(0x0B, 0x02)  # release
    s.clock.advance(S)
    assert s.read(0x00) == 0x01
    assert s.rtc.now() == dt.datetime(1999, 12, 31, 8, 15, 1)


def test_write_without_set_changes_time_keeping_the_offset(s):
    s.write(0x04, 0x10)  # hour 10
    s.clock.advance(30 * S)
    assert s.rtc.now() == dt.datetime(2024, 2, 28, 11, 0, 0)  # 10:59:30 + 30 s


def test_update_ended_interrupt_and_register_c(s):
    s.write(0x0B, 0x12)  # UIE
    assert s.rtc.next_deadline_ns() == S
    s.tick(S)
    assert s.edges == 1 and s.irq8.level
    assert s.rtc.next_deadline_ns() is None  # IRQ 8 held until C is read
    assert s.read(0x0C) == 0xD0  # IRQF | PF (set even without PIE) | UF
    assert not s.irq8.level
    assert s.read(0x0C) == 0x00  # cleared on read
    s.tick(S)
    assert s.edges == 2


def test_periodic_interrupt_1024hz(s):
    s.write(0x0B, 0x42)  # PIE
    deadline = s.rtc.next_deadline_ns()
    assert deadline == 976_563  # 1/1024 s rounded up
    s.tick(976_562)
    assert s.edges == 0
    s.tick(1)
    assert s.edges == 1
    assert s.read(0x0C) == 0xC0  # IRQF | PF


def test_periodic_rate_select(s):
    s.write(0x0A, 0x2F)  # 2 Hz
    s.write(0x0B, 0x42)
    assert s.rtc.next_deadline_ns() == 500_000_000


def test_next_deadline_is_the_earlier_of_periodic_and_update_ended(s):
    s.write(0x0A, 0x2F)  # 2 Hz periodic
    s.write(0x0B, 0x52)  # PIE | UIE
    assert s.rtc.next_deadline_ns() == 500_000_000  # the periodic one comes first
    s.write(0x0A, 0x20)  # rate 0: no periodic interrupt, the second's update remains
    assert s.rtc.next_deadline_ns() == S
    s.write(0x0B, 0x02)  # nothing enabled: nothing falls due
    assert s.rtc.next_deadline_ns() is None


def test_flags_set_without_enable_and_no_irq(s):
    s.tick(S)
    assert s.edges == 0
    assert s.read(0x0C) == 0x50  # PF (1024 Hz default rate) | UF, no IRQF


def test_alarm_interrupt(s):
    s.write(0x01, 0x35)  # alarm at xx:xx:35 (minutes/hours don't care)
    s.write(0x03, 0xC0)
    s.write(0x05, 0xC0)
    s.write(0x0B, 0x22)  # AIE
    s.tick(4 * S)
    assert s.edges == 0
    s.tick(S)
    assert s.edges == 1
    assert s.read(0x0C) & 0xA0 == 0xA0


def test_nmi_bit_of_index_port(s):
    assert s.rtc.nmi_enabled
    s.bus.write(INDEX, 1, 0x8F)
    assert not s.rtc.nmi_enabled
    s.bus.write(DATA, 1, 0x0A)
    assert s.read(0x0F) == 0x0A  # the index is 0Fh without the NMI bit
    assert s.rtc.nmi_enabled


def test_ram_bytes_store_values(s):
    s.write(0x40, 0x5A)
    assert s.read(0x40) == 0x5A
    s.write(0x7F, 0xA5)
    assert s.read(0x7F) == 0xA5


def test_set_memory_and_checksum(s):
    s.rtc.set_memory(640, 31 * 1024)  # 32 MiB machine
    assert (s.read(0x15), s.read(0x16)) == (0x80, 0x02)
    assert (s.read(0x17), s.read(0x18)) == (0x00, 0x7C)
    assert (s.read(0x30), s.read(0x31)) == (0x00, 0x7C)
    assert (s.read(0x34), s.read(0x35)) == (0x00, 0x01)  # 16 MiB above 16 MiB = 256 x 64K
    total = 0x80 + 0x02 + 0x7C + 0x00
    assert (s.read(0x2E), s.read(0x2F)) == (total >> 8, total & 0xFF)


@pytest.mark.parametrize(("total_mb", "ext", "above_16m"), [
    (16, 15 * 1024, 0), (256, 0xFFFF, 240 * 16), (1024, 0xFFFF, 1008 * 16),
    (2048, 0xFFFF, 0x7F00)])
def test_memory_registers_up_to_2gb(s, total_mb, ext, above_16m):
    """As QEMU fills them for SeaBIOS: 17h/18h = 30h/31h = KB above 1 MB capped at
    FFFFh; 34h/35h = 64 KB blocks above 16 MB."""
    s.rtc.set_memory(640, (total_mb - 1) * 1024)
    word = lambda low: s.read(low) | s.read(low + 1) << 8  # noqa: E731
    assert (word(0x17), word(0x30), word(0x34)) == (ext, ext, above_16m)
    assert s.rtc.checksum() == (s.read(0x2E) << 8) | s.read(0x2F)


def test_floppy_types_equipment_and_checksum(s):
    s.rtc.set_floppy_types(FloppyType.M1_44, FloppyType.M1_2)
    assert s.read(0x10) == 0x42
    assert s.read(0x14) == 0x41  # 2 drives, floppy present
    s.rtc.set_floppy_types(FloppyType.M1_44, FloppyType.NONE)
    assert s.read(0x14) == 0x01
    assert (s.read(0x2E), s.read(0x2F)) == (0x00, 0x40 + 0x01)


def test_hard_disk_type_47(s):
    s.rtc.set_hard_disk_present(0, geometry=(1024, 16, 63))
    assert s.read(0x12) == 0xF0
    assert s.read(0x19) == 47
    assert (s.read(0x1B), s.read(0x1C), s.read(0x1D)) == (0x00, 0x04, 16)
    assert s.read(0x23) == 63
    assert s.rtc.checksum() == (s.read(0x2E) << 8) | s.read(0x2F)
    expected = sum(s.read(r) for r in range(0x10, 0x2E))
    assert s.rtc.checksum() == expected


def test_reset_clears_enables_and_flags_keeps_time(s):
    s.write(0x0B, 0x72)
    s.tick(S)
    assert s.irq8.level
    s.rtc.reset()
    assert not s.irq8.level
    assert s.read(0x0B) == 0x02
    assert s.read(0x00) == 0x31


def test_save_load_roundtrip(s):
    s.rtc.set_memory(640, 1024)
    s.clock.advance(3 * S + 5)
    state = s.rtc.save_state()
    other = Setup(start=dt.datetime(2000, 1, 1))
    other.clock.set(s.clock.now_ns())
    other.rtc.load_state(state)
    assert other.read(0x00) == 0x33
    assert other.read(0x17) == 0x00 and other.read(0x18) == 0x04


def test_host_time_default():
    bus = IoBus()
    rtc = CmosRtc(bus, ManualClock(), IrqLine())
    assert abs((rtc.now() - dt.datetime.now()).total_seconds()) < 5


def test_periodic_and_alarm_interrupts_go_on_after_save_and_load(s):
    """A 2 Hz periodic interrupt and an alarm 2 s ahead, saved between two periodic
    interrupts: the loaded RTC raises them at the same guest times."""
    s.write(0x0A, 0x2F)  # 2 Hz
    s.write(0x01, 0x32)  # alarm at hh:mm:32 (the clock starts at :30)
    s.write(0x03, 0xC0)  # "don't care" minutes
    s.write(0x05, 0xC0)  # and hours
    s.write(0x0B, 0x62)  # PIE | AIE
    s.tick(700_000_000)
    assert s.edges == 1
    s.read(0x0C)  # acknowledged
    state = s.rtc.save_state()
    other = Setup(start=dt.datetime(2000, 1, 1))
    other.clock.set(s.clock.now_ns())
    other.rtc.load_state(state)
    assert other.rtc.next_deadline_ns() == s.rtc.next_deadline_ns() == S
    other.tick(300_000_000)  # 1.0 s: the second periodic interrupt
    assert other.edges == 1 and other.read(0x0C) & 0x40
    other.tick(S)  # 2.0 s: periodic and the alarm at :32
    assert other.edges == 2 and other.read(0x0C) & 0x60 == 0x60
    assert other.read(0x00) == 0x32
