"""IoBus: unclaimed ports, registration handles, multi-byte splitting; IrqLine."""

from __future__ import annotations

import pytest

from vmgui.devices.bus import IoBus, IrqLine


class ByteRegs:
    def __init__(self, bus: IoBus, base: int, count: int) -> None:
        self.mem = bytearray(count)
        self.reads: list[tuple[int, int]] = []
        self.handle = bus.register(base, count, "regs", self.read, self.write)

    def read(self, offset: int, size: int) -> int:
        self.reads.append((offset, size))
        return self.mem[offset]

    def write(self, offset: int, size: int, value: int) -> None:
        self.mem[offset] = value & 0xFF


def test_unclaimed_ports_read_all_ones_and_drop_writes():
    bus = IoBus()
    assert bus.read(0x123) == 0xFF
    assert bus.read(0x123, 2) == 0xFFFF
    assert bus.read(0x123, 4) == 0xFFFFFFFF
    bus.write(0x123, 1, 0x55)
    assert bus.read(0x123) == 0xFF
    assert bus.last_access == ("in", 0x123, 1, 0xFF)


def test_overlapping_registration_is_refused():
    bus = IoBus()
    ByteRegs(bus, 0x60, 1)
    with pytest.raises(ValueError, match="already claimed"):
        bus.register(0x5F, 2, "other")
    bus.register(0x61, 1, "next")  # adjacent is fine
    assert bus.owner(0x61) == "next"


def test_range_outside_port_space_is_refused():
    with pytest.raises(ValueError):
        IoBus().register(0xFFFF, 2, "too-far")


def test_remove_frees_the_ports():
    bus = IoBus()
    regs = ByteRegs(bus, 0x80, 2)
    regs.mem[0] = 0x12
    assert bus.read(0x80) == 0x12
    regs.handle.remove()
    assert bus.owner(0x80) is None
    assert bus.read(0x80) == 0xFF
    ByteRegs(bus, 0x80, 2)  # can be claimed again


def test_word_access_past_range_end_is_split_low_port_first():
    bus = IoBus()
    regs = ByteRegs(bus, 0x3F8, 1)
    other = ByteRegs(bus, 0x3F9, 1)
    regs.mem[0], other.mem[0] = 0x34, 0x12
    assert bus.read(0x3F8, 2) == 0x1234
    bus.write(0x3F8, 2, 0xBEEF)
    assert regs.mem[0] == 0xEF and other.mem[0] == 0xBE


def test_word_access_half_unclaimed_reads_ff_in_missing_byte():
    bus = IoBus()
    regs = ByteRegs(bus, 0x100, 1)
    regs.mem[0] = 0x42
    assert bus.read(0x100, 2) == 0xFF42


def test_word_access_inside_range_goes_to_device_whole():
    bus = IoBus()
    regs = ByteRegs(bus, 0x1F0, 8)
    regs.mem[0] = 0x99
    bus.read(0x1F0, 2)
    assert regs.reads[-1] == (0, 2)


def test_irq_line_reports_each_level_to_sink():
    seen: list[bool] = []
    line = IrqLine(seen.append, name="irq5")
    line.pulse()
    line.raise_()
    line.lower()
    assert seen == [True, False, True, False]
    assert line.level is False
