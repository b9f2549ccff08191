"""VGA planar memory: latches, read modes 0/1, write modes 0-3, rotate, logical functions,
set/reset, bit mask, map mask, odd/even; and which mapping the VGA asks for at A0000h."""

from __future__ import annotations

import pytest

from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.vga import Vga
from vmgui.devices.vga_planar import PlanarMemory
from vmgui.devices.video_memory import IoWindow, RamWindow


@pytest.fixture
def env():
    bus = IoBus()
    planes = bytearray(0x40000)
    vga = Vga(bus, ManualClock(), memoryview(bytearray(0x20000)), memoryview(planes))
    vga.set_mode(0x12)
    return bus, vga, planes


def gc(bus: IoBus, index: int, value: int) -> None:
    bus.write(0x3CE, 2, (value << 8) | index)


def map_mask(bus: IoBus, value: int) -> None:
    bus.write(0x3C4, 2, (value << 8) | 0x02)


def plane_bytes(planes: bytearray, offset: int) -> tuple[int, int, int, int]:
    return tuple(planes[4 * offset: 4 * offset + 4])


def test_mode_12h_maps_a0000_through_the_planar_logic(env) -> None:
    _, vga, _ = env
    assert isinstance(vga.window(), IoWindow)
    vga.set_mode(0x13)
    window = vga.window()
    assert isinstance(window, RamWindow) and window.name == "window"
    vga.set_mode(0x03)
    assert isinstance(vga.window(), RamWindow)


def test_guest_programmed_unchained_mode_switches_the_mapping(env) -> None:
    bus, vga, _ = env
    vga.set_mode(0x13)
    seen = []
    vga.attach_window(seen.append)
    bus.write(0x3C4, 2, 0x0604)  # memory mode: chain 4 off, odd/even off ("mode X")
    assert len(seen) == 2 and isinstance(seen[-1], IoWindow)
    bus.write(0x3C4, 2, 0x0604)  # the same again: no remap
    assert len(seen) == 2
    bus.write(0x3C4, 2, 0x0E04)  # chained again
    assert isinstance(seen[-1], RamWindow)


def test_write_mode_0_goes_to_the_planes_the_map_mask_selects(env) -> None:
    bus, vga, planes = env
    map_mask(bus, 0b0101)
    vga.planar.write(10, 0xC3)
    assert plane_bytes(planes, 10) == (0xC3, 0, 0xC3, 0)


def test_set_reset_and_bit_mask_keep_latched_bits(env) -> None:
    bus, vga, planes = env
    planes[4 * 7: 4 * 7 + 4] = bytes((0xFF, 0x00, 0xF0, 0x0F))
    gc(bus, 0x01, 0x0F)  # enable set/reset on all planes
    gc(bus, 0x00, 0b1010)  # colour 10
    gc(bus, 0x08, 0x3C)  # bit mask
    vga.planar.read(7)  # latches
    vga.planar.write(7, 0x00)  # data ignored: set/reset on every plane
    assert plane_bytes(planes, 7) == (0xC3, 0x3C, 0xC0, 0x3F)


def test_write_mode_0_rotates_and_applies_the_function(env) -> None:
    bus, vga, planes = env
    planes[0:4] = bytes((0xF0, 0xF0, 0xF0, 0xF0))
    vga.planar.read(0)
    gc(bus, 0x03, (3 << 3) | 4)  # XOR, rotate right by 4
    vga.planar.write(0, 0x0F)  # rotated: F0h; XOR latch F0h -> 00h
    assert plane_bytes(planes, 0) == (0, 0, 0, 0)
    gc(bus, 0x03, (1 << 3) | 1)  # AND, rotate right by 1
    planes[4:8] = bytes((0xFF, 0x0F, 0xF0, 0x00))
    vga.planar.read(1)
    vga.planar.write(1, 0x03)  # rotated: 81h
    assert plane_bytes(planes, 1) == (0x81, 0x01, 0x80, 0x00)
    gc(bus, 0x03, 2 << 3)  # OR
    vga.planar.read(1)
    vga.planar.write(1, 0x18)
    assert plane_bytes(planes, 1) == (0x99, 0x19, 0x98, 0x18)


def test_write_mode_1_copies_the_latches(env) -> None:
    bus, vga, planes = env
    planes[4 * 3: 4 * 3 + 4] = bytes((1, 2, 3, 4))
    gc(bus, 0x05, 0x01)
    vga.planar.read(3)
    vga.planar.write(90, 0xEE)
    assert plane_bytes(planes, 90) == (1, 2, 3, 4)
    map_mask(bus, 0b1000)
    vga.planar.write(91, 0)
    assert plane_bytes(planes, 91) == (0, 0, 0, 4)


def test_write_mode_2_spreads_the_colour_through_the_bit_mask(env) -> None:
    bus, vga, planes = env
    gc(bus, 0x05, 0x02)
    gc(bus, 0x08, 0x81)
    vga.planar.read(5)
    vga.planar.write(5, 0x06)  # colour 6: planes 1 and 2
    assert plane_bytes(planes, 5) == (0x00, 0x81, 0x81, 0x00)


def test_write_mode_3_ands_the_rotated_data_into_the_bit_mask(env) -> None:
    bus, vga, planes = env
    planes[0:4] = bytes((0xFF, 0xFF, 0xFF, 0xFF))
    gc(bus, 0x05, 0x03)
    gc(bus, 0x00, 0b0001)  # set/reset: colour 1
    gc(bus, 0x03, 0x02)  # rotate right by 2
    gc(bus, 0x08, 0xF0)
    vga.planar.read(0)
    vga.planar.write(0, 0xF0)  # rotated 3Ch, AND F0h -> 30h
    assert plane_bytes(planes, 0) == (0xFF, 0xCF, 0xCF, 0xCF)


def test_read_mode_0_returns_the_selected_plane_and_loads_all_latches(env) -> None:
    bus, vga, planes = env
    planes[4 * 9: 4 * 9 + 4] = bytes((0x11, 0x22, 0x33, 0x44))
    gc(bus, 0x04, 2)
    assert vga.planar.read(9) == 0x33
    assert vga.planar.latch == 0x44332211


def test_read_mode_1_compares_colours_with_dont_care(env) -> None:
    bus, vga, planes = env
    # pixels (bit 7 first): colours 5, 5, 4, 1, 0, 5, 7, 13
    colours = (5, 5, 4, 1, 0, 5, 7, 13)
    for plane in range(4):
        planes[4 * 2 + plane] = sum(((c >> plane) & 1) << (7 - i) for i, c in enumerate(colours))
    gc(bus, 0x05, 0x08)
    gc(bus, 0x02, 5)
    assert vga.planar.read(2) == 0b11000100
    gc(bus, 0x07, 0b0111)  # plane 3 does not count: 13 matches 5
    assert vga.planar.read(2) == 0b11000101
    gc(bus, 0x07, 0)  # nothing counts: every pixel matches
    assert vga.planar.read(2) == 0xFF


def test_odd_even_addressing_picks_the_plane_by_address_bit_0(env) -> None:
    bus, vga, planes = env
    gc(bus, 0x05, 0x10)
    vga.planar.write(0x21, 0xAB)  # odd: plane 1, offset 10h
    vga.planar.write(0x20, 0xCD)  # even: plane 0
    assert planes[4 * 0x10 + 1] == 0xAB and planes[4 * 0x10] == 0xCD
    gc(bus, 0x04, 2)  # read map bit 1 selects planes 2/3
    assert vga.planar.read(0x21) == 0


def test_mode_set_clears_the_planes_and_state_keeps_them(env) -> None:
    bus, vga, planes = env
    vga.planar.write(100, 0x5A)
    vga.planar.read(100)
    state = vga.save_state()
    vga.set_mode(0x12)
    assert not any(planes)
    vga.load_state(state)
    assert plane_bytes(planes, 100) == (0x5A,) * 4 and vga.planar.latch == 0x5A5A5A5A


def test_planar_memory_refuses_a_buffer_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="plane memory"):
        PlanarMemory(memoryview(bytearray(100)), bytearray(5), bytearray(9))
