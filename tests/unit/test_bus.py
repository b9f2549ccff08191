"""IoBus: unclaimed ports, registration handles, multi-byte splitting; IrqLine."""

from __future__ import annotations

import pytest

from vmgui.devices.bus import IoBus, IrqLine


class ByteRegs:
    """A device that records every access; its handlers refuse values wider than the
    access, as a strict 8-bit device model would (the PIC once raised on F000h)."""

    def __init__(self, bus: IoBus, base: int, count: int,
                 widths: frozenset[int] = frozenset({1})) -> None:
        self.mem = bytearray(count)
        self.reads: list[tuple[int, int]] = []
        self.writes: list[tuple[int, int, int]] = []
        self.handle = bus.register(base, count, "regs", self.read, self.write, widths=widths)

    def read(self, offset: int, size: int) -> int:
        self.reads.append((offset, size))
        return self.mem[offset]

    def write(self, offset: int, size: int, value: int) -> None:
        assert 0 <= value < 1 << (8 * size), f"value {value:#x} wider than {size} byte(s)"
        self.writes.append((offset, size, value))
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


def test_word_access_inside_range_goes_whole_to_a_device_that_decodes_words():
    bus = IoBus()
    regs = ByteRegs(bus, 0x1F0, 8, widths=frozenset({1, 2}))
    regs.mem[0] = 0x99
    bus.read(0x1F0, 2)
    assert regs.reads[-1] == (0, 2)
    bus.write(0x1F0, 2, 0x1234)
    assert regs.writes[-1] == (0, 2, 0x1234)


def test_word_out_to_a_byte_device_is_two_byte_writes_low_port_first():
    """pic-word-out.img: `out dx, ax` with DX=A0h, AX=F000h.  On the ISA bus an 8-bit
    card sees A0h <- 00h then A1h <- F0h; the device never sees F000h."""
    bus = IoBus()
    pic = ByteRegs(bus, 0xA0, 2)
    bus.write(0xA0, 2, 0xF000)
    assert pic.writes == [(0, 1, 0x00), (1, 1, 0xF0)]
    assert bus.read(0xA0, 2) == 0xF000
    assert pic.reads == [(0, 1), (1, 1)]


def test_dword_access_to_byte_device_reaches_each_port_and_the_next_device():
    bus = IoBus()
    low = ByteRegs(bus, 0x60, 2)
    high = ByteRegs(bus, 0x62, 2)
    bus.write(0x60, 4, 0x44332211)
    assert low.writes == [(0, 1, 0x11), (1, 1, 0x22)]
    assert high.writes == [(0, 1, 0x33), (1, 1, 0x44)]
    assert bus.read(0x60, 4) == 0x44332211


def test_word_write_starting_on_an_unclaimed_port_still_reaches_the_next_port():
    bus = IoBus()
    regs = ByteRegs(bus, 0x81, 1)
    bus.write(0x80, 2, 0xAB00)
    assert regs.writes == [(0, 1, 0xAB)]


def test_values_wider_than_the_access_are_masked():
    bus = IoBus()
    regs = ByteRegs(bus, 0x70, 1)
    bus.write(0x70, 1, 0x1FF)
    assert regs.writes == [(0, 1, 0xFF)]


def test_widths_other_than_1_2_4_are_refused():
    with pytest.raises(ValueError, match="widths"):
        IoBus().register(0x100, 4, "odd", widths=frozenset({3}))


def test_irq_line_reports_each_level_to_sink():
    seen: list[bool] = []
    line = IrqLine(seen.append, name="irq5")
    line.pulse()
    line.raise_()
    line.lower()
    assert seen == [True, False, True, False]
    assert line.level is False


def test_ports_of_lists_the_ports_a_device_handles():
    class Device:
        def read(self, offset, size):
            return 0

        def write(self, offset, size, value):
            pass

    bus = IoBus()
    mine, other = Device(), Device()
    bus.register(0x40, 4, "mine", read=mine.read, write=mine.write)
    bus.register(0x61, 1, "mine too", write=mine.write)
    bus.register(0x70, 2, "other", read=other.read)
    assert bus.ports_of(mine) == [0x40, 0x41, 0x42, 0x43, 0x61]
    assert bus.ports_of(other) == [0x70, 0x71]
    assert bus.ports_of(object()) == []
