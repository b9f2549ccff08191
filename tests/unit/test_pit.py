"""8254 PIT and port 61h: counts derived from time, IRQ 0 edges, latches, gates."""

from __future__ import annotations

import pytest

from vmgui.devices.bus import IoBus, IrqLine
from vmgui.devices.clock import ManualClock
from vmgui.devices.pit import Pit8254, SystemControlPortB

CH0, CH1, CH2, CTRL = 0x40, 0x41, 0x42, 0x43
PORT_B = 0x61
TICK_NS = 1e9 / 1_193_182


class Setup:
    def __init__(self) -> None:
        self.bus = IoBus()
        self.clock = ManualClock()
        self.pulses = 0
        self.irq0 = IrqLine(self._sink)
        self.pit = Pit8254(self.bus, self.clock, self.irq0)
        self.port_b = SystemControlPortB(self.bus, self.pit)

    def _sink(self, level: bool) -> None:
        if level:
            self.pulses += 1

    def program(self, channel: int, mode: int, count: int, access: int = 3) -> None:
        self.bus.write(CTRL, 1, (channel << 6) | (access << 4) | (mode << 1))
        if access in (1, 3):
            self.bus.write(CH0 + channel, 1, count & 0xFF)
        if access in (2, 3):
            self.bus.write(CH0 + channel, 1, count >> 8)

    def latch_read(self, channel: int) -> int:
        self.bus.write(CTRL, 1, channel << 6)
        low = self.bus.read(CH0 + channel)
        return low | (self.bus.read(CH0 + channel) << 8)


@pytest.fixture
def s():
    return Setup()


def test_mode2_count_after_100us(s):
    s.program(0, 2, 1000)
    s.clock.advance(100_000)  # 119.3 ticks
    assert s.latch_read(0) == 1000 - 119


def test_mode2_count_wraps_each_period(s):
    s.program(0, 2, 1000)
    s.clock.advance(1_000_000)  # 1193.18 ticks -> 193 into the second period
    assert s.latch_read(0) == 1000 - 193


def test_mode3_counts_down_by_two(s):
    s.program(0, 3, 1000)
    s.clock.advance(100_000)  # 119 ticks into the high half
    assert s.latch_read(0) == 1000 - 2 * 119
    s.clock.advance(400_000)  # 596 ticks: second half, 96 ticks in
    assert s.latch_read(0) == 1000 - 2 * 96


def test_mode3_output_square_wave(s):
    s.program(0, 3, 100)
    assert s.pit.output(0)
    s.clock.advance(int(60 * TICK_NS))  # tick 59/60: past half period (50)
    assert not s.pit.output(0)
    s.clock.advance(int(45 * TICK_NS))  # ~tick 105: next period, high again
    assert s.pit.output(0)


def test_reload_zero_means_65536(s):
    s.program(0, 2, 0)
    s.clock.advance(1_000_000)  # 1193 ticks
    assert s.pit.count(0) == 65536 - 1193
    assert s.latch_read(0) == 65536 - 1193


def test_irq0_period_of_bios_timer(s):
    s.program(0, 3, 0)  # 18.2 Hz
    deadline = s.pit.next_deadline_ns()
    assert deadline == pytest.approx(54_925_401, abs=1)
    s.clock.set(deadline - 1)
    s.pit.advance(s.clock.now_ns())
    assert s.pulses == 0
    s.clock.set(deadline)
    s.pit.advance(s.clock.now_ns())
    assert s.pulses == 1
    assert s.pit.next_deadline_ns() == pytest.approx(2 * 54_925_401, abs=1)


def test_missed_periods_coalesce_into_one_pulse(s):
    s.program(0, 2, 1193)  # ~1 kHz
    s.clock.advance(10_500_000)  # 10.5 periods
    s.pit.advance(s.clock.now_ns())
    assert s.pulses == 1
    assert s.pit.lost_ticks == 9
    s.pit.advance(s.clock.now_ns())
    assert s.pulses == 1


def test_mode0_one_shot_edge(s):
    s.program(0, 0, 500)
    assert not s.pit.output(0)
    s.clock.advance(int(499 * TICK_NS))
    s.pit.advance(s.clock.now_ns())
    assert s.pulses == 0 and not s.pit.output(0)
    deadline = s.pit.next_deadline_ns()
    s.clock.set(deadline)
    s.pit.advance(s.clock.now_ns())
    assert s.pulses == 1 and s.pit.output(0)
    s.clock.advance(100_000_000)
    s.pit.advance(s.clock.now_ns())
    assert s.pulses == 1  # terminal count only once
    assert s.pit.next_deadline_ns() is None
    assert s.latch_read(0) == (500 - s.clock.now_ns() * 1_193_182 // 10**9) % 65536


def test_mode4_strobe_rises_one_tick_after_terminal_count(s):
    s.program(0, 4, 100)
    assert s.pit.output(0)
    s.clock.set(int(100 * TICK_NS) + 1)
    assert not s.pit.output(0)
    s.clock.set(int(101 * TICK_NS) + 1)
    assert s.pit.output(0)


def test_lobyte_and_hibyte_access(s):
    s.program(1, 2, 0x12, access=1)
    assert s.pit.counters[1].reload == 0x12
    s.program(1, 2, 0x3400, access=2)
    assert s.pit.counters[1].reload == 0x3400
    s.bus.write(CTRL, 1, 0x40)  # latch counter 1
    assert s.bus.read(CH1) == 0x34  # hibyte access reads the high byte only


def test_latch_holds_until_read(s):
    s.program(0, 2, 10000)
    s.bus.write(CTRL, 1, 0x00)
    s.clock.advance(1_000_000)
    s.bus.write(CTRL, 1, 0x00)  # second latch is ignored until the first is read
    low = s.bus.read(CH0)
    high = s.bus.read(CH0)
    assert low | (high << 8) == 10000
    # unlatched reads follow time
    assert s.latch_read(0) == 10000 - 1193


def test_read_back_status_and_count(s):
    s.program(2, 3, 0x1234)
    s.bus.write(CTRL, 1, 0xC0 | 0x08)  # read-back: count and status of counter 2
    status = s.bus.read(CH2)
    assert status == (0x80 | 0x30 | (3 << 1))  # output high, lo/hi, mode 3, binary
    # gate of counter 2 is low (port 61h bit 0 = 0): count holds the reload value
    assert s.bus.read(CH2) | (s.bus.read(CH2) << 8) == 0x1234


def test_read_back_null_count_before_count_written(s):
    s.bus.write(CTRL, 1, 0x34)  # counter 0, lo/hi, mode 2, no count yet
    s.bus.write(CTRL, 1, 0xE2)  # read-back status only, counter 0
    assert s.bus.read(CH0) & 0x40


def test_bcd_counting(s):
    s.bus.write(CTRL, 1, 0x35)  # counter 0, lo/hi, mode 2, BCD
    s.bus.write(CH0, 1, 0x00)
    s.bus.write(CH0, 1, 0x10)  # 1000 decimal
    s.clock.advance(100_000)
    assert s.latch_read(0) == 0x0881


def test_gate_controls_channel2_and_port61_reflects_output(s):
    s.program(2, 3, 100)
    s.bus.write(PORT_B, 1, 0x00)
    s.clock.advance(1_000_000)
    assert s.pit.count(2) == 100  # gate low: not counting
    assert s.bus.read(PORT_B) & 0x20  # output held high in mode 3
    s.bus.write(PORT_B, 1, 0x03)  # rising gate reloads
    assert s.port_b.speaker_on
    assert s.port_b.speaker_frequency_hz == pytest.approx(11931.82)
    s.clock.advance(int(60 * TICK_NS))
    assert not s.bus.read(PORT_B) & 0x20  # low half of the square wave
    assert s.bus.read(PORT_B) & 0x03 == 0x03


def test_mode0_gate_low_pauses(s):
    s.bus.write(PORT_B, 1, 0x01)
    s.program(2, 0, 1000)
    s.clock.advance(100_000)  # 119 ticks
    s.bus.write(PORT_B, 1, 0x00)
    s.clock.advance(1_000_000)
    assert s.pit.count(2) == 1000 - 119
    s.bus.write(PORT_B, 1, 0x01)
    s.clock.advance(100_000)
    assert s.pit.count(2) == 1000 - 238


def test_mode1_one_shot_triggered_by_gate(s):
    s.program(2, 1, 200)
    assert s.pit.output(2)
    s.bus.write(PORT_B, 1, 0x01)  # trigger
    assert not s.pit.output(2)
    s.clock.advance(int(201 * TICK_NS))
    assert s.pit.output(2)


def test_refresh_toggle_flips_every_15us(s):
    first = s.bus.read(PORT_B) & 0x10
    s.clock.advance(15_085)
    second = s.bus.read(PORT_B) & 0x10
    s.clock.advance(15_085)
    assert first != second
    assert s.bus.read(PORT_B) & 0x10 == first


def test_save_load_roundtrip(s):
    s.program(0, 2, 1000)
    s.clock.advance(100_000)
    state = s.pit.save_state()
    other = Setup()
    other.clock.set(s.clock.now_ns())
    other.pit.load_state(state)
    assert other.latch_read(0) == 881
    assert other.pit.next_deadline_ns() == s.pit.next_deadline_ns()


def test_an_armed_one_shot_fires_once_after_save_and_load(s):
    """Linux's tickless idle programs counter 0 in mode 0 before it halts: a state saved
    while the count runs must still end in exactly one IRQ 0 edge, on time."""
    s.program(0, 0, 5000)
    s.clock.advance(int(2000 * TICK_NS))
    s.pit.advance(s.clock.now_ns())
    deadline = s.pit.next_deadline_ns()
    state = s.pit.save_state()
    other = Setup()
    other.clock.set(s.clock.now_ns())
    other.pit.load_state(state)
    assert other.pit.next_deadline_ns() == deadline
    assert other.latch_read(0) == s.latch_read(0)
    other.clock.set(deadline - 1)
    other.pit.advance(other.clock.now_ns())
    assert other.pulses == 0 and not other.pit.output(0)
    other.clock.set(deadline)
    other.pit.advance(other.clock.now_ns())
    assert other.pulses == 1 and other.pit.output(0)
    other.clock.advance(100_000_000)
    other.pit.advance(other.clock.now_ns())
    assert other.pulses == 1 and other.pit.next_deadline_ns() is None
