"""VGA register model: port behaviour, retrace timing, mode geometry as display() derives it."""

from __future__ import annotations

import dataclasses

import pytest

from vmgui.devices.base import StateVersionError
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.display import DisplayKind
from vmgui.devices.vga import FRAME_NS, RETRACE_NS, Vga
from vmgui.devices.vga_tables import MODES, default_dac


@pytest.fixture
def parts():
    bus, clock, vram = IoBus(), ManualClock(), bytearray(0x20000)
    return bus, clock, vram, Vga(bus, clock, memoryview(vram))


@pytest.fixture
def vga(parts) -> Vga:
    return parts[3]


@pytest.fixture
def bus(parts) -> IoBus:
    return parts[0]


def test_dac_write_and_read_auto_increment(bus: IoBus, vga: Vga) -> None:
    bus.write(0x3C8, 1, 5)
    for value in (1, 2, 3, 0x3F, 0xFF, 0x40):
        bus.write(0x3C9, 1, value)
    assert vga.get_dac(5) == (1, 2, 3)
    assert vga.get_dac(6) == (0x3F, 0x3F, 0x00)  # 6-bit values
    assert bus.read(0x3C8) == 7
    assert bus.read(0x3C7) == 0  # DAC state: write mode
    bus.write(0x3C7, 1, 5)
    assert bus.read(0x3C7) == 3  # read mode
    assert [bus.read(0x3C9) for _ in range(6)] == [1, 2, 3, 0x3F, 0x3F, 0]
    assert bus.read(0x3C9) == vga.get_dac(7)[0]


def test_dac_partial_write_is_latched(bus: IoBus, vga: Vga) -> None:
    before = vga.get_dac(9)
    bus.write(0x3C8, 1, 9)
    bus.write(0x3C9, 1, 0x10)
    bus.write(0x3C9, 1, 0x11)
    assert vga.get_dac(9) == before
    bus.write(0x3C9, 1, 0x12)
    assert vga.get_dac(9) == (0x10, 0x11, 0x12)


def test_attribute_flip_flop(bus: IoBus, vga: Vga) -> None:
    bus.read(0x3DA)
    bus.write(0x3C0, 1, 0x03)  # index 3, palette address source off
    bus.write(0x3C0, 1, 0x2A)  # data
    assert vga.get_attr_palette(3) == 0x2A
    assert bus.read(0x3C0) == 0x03
    assert vga.display().kind is DisplayKind.BLANK  # PAS = 0 blanks the screen
    bus.write(0x3C0, 1, 0x04)  # next write is an index again
    bus.read(0x3DA)  # ...but reading input status resets the flip-flop to "index"
    bus.write(0x3C0, 1, 0x05)
    bus.write(0x3C0, 1, 0x11)
    assert vga.get_attr_palette(5) == 0x11 and vga.get_attr_palette(4) == 0x04
    assert bus.read(0x3C1) == 0x11
    bus.read(0x3DA)
    bus.write(0x3C0, 1, 0x20)
    assert vga.display().kind is DisplayKind.TEXT


def test_crtc_cursor_and_word_out(bus: IoBus, vga: Vga) -> None:
    bus.write(0x3D4, 2, 0x010E)  # out dx, ax: index 0Eh, data 01h
    bus.write(0x3D4, 2, 0x420F)
    bus.write(0x3D4, 1, 0x0A)
    bus.write(0x3D5, 1, 0x06)
    bus.write(0x3D4, 1, 0x0B)
    bus.write(0x3D5, 1, 0x07)
    state = vga.display()
    assert state.cursor_offset == 0x142
    assert (state.cursor_start, state.cursor_end, state.cursor_visible) == (6, 7, True)
    bus.write(0x3D4, 2, 0x260A)  # bit 5: cursor off
    assert not vga.display().cursor_visible
    bus.write(0x3D4, 1, 0x0E)
    assert bus.read(0x3D5) == 0x01


def test_crtc_start_address_moves_cursor_origin(bus: IoBus, vga: Vga) -> None:
    vga.set_cursor_offset(2000 + 5)
    bus.write(0x3D4, 2, (2000 >> 8) << 8 | 0x0C)
    bus.write(0x3D4, 2, (2000 & 0xFF) << 8 | 0x0D)
    state = vga.display()
    assert state.start == 4000 and state.cursor_offset == 5


def test_crtc_protect_bit(bus: IoBus, vga: Vga) -> None:
    bus.write(0x3D4, 2, 0x8E11)  # protect on
    bus.write(0x3D4, 2, 0x2701)
    bus.write(0x3D4, 2, 0xFF07)
    assert vga.display().cols == 80
    assert vga.crtc[7] == (0x1F | 0x10)  # only line compare bit 8 got through
    bus.write(0x3D4, 2, 0x0E11)
    bus.write(0x3D4, 2, 0x2701)
    assert vga.display().cols == 40


def test_mono_mode_moves_crtc_ports(bus: IoBus, vga: Vga) -> None:
    assert vga.set_mode(7)
    assert vga.crtc_base == 0x3B4
    bus.write(0x3B4, 2, 0x050F)
    assert vga.display().cursor_offset == 5
    assert bus.read(0x3D5) == 0xFF
    assert bus.read(0x3CC) == 0x66


def test_retrace_toggles_with_clock(parts) -> None:
    _bus, clock, _vram, vga = parts
    bus = _bus
    assert not bus.read(0x3DA) & 0x08
    clock.set(FRAME_NS - RETRACE_NS + 10)
    assert bus.read(0x3DA) & 0x09 == 0x09
    clock.set(FRAME_NS + 10)
    assert not bus.read(0x3DA) & 0x08
    retrace = display_off = 0
    samples = 7000
    for _ in range(samples):
        clock.advance(FRAME_NS // samples)
        status = vga.input_status_1()
        retrace += bool(status & 0x08)
        display_off += bool(status & 0x01)
    assert 0.005 < retrace / samples < 0.02
    assert retrace < display_off < samples // 2


@pytest.mark.parametrize(
    ("mode", "kind", "width", "height", "cols", "rows", "char_height", "base", "pitch"),
    [
        (0x03, DisplayKind.TEXT, 640, 400, 80, 25, 16, 0x18000, 160),
        (0x01, DisplayKind.TEXT, 320, 400, 40, 25, 16, 0x18000, 80),
        (0x04, DisplayKind.CGA4, 320, 200, 40, 25, 8, 0x18000, 80),
        (0x06, DisplayKind.CGA2, 640, 200, 80, 25, 8, 0x18000, 80),
        (0x07, DisplayKind.TEXT, 640, 400, 80, 25, 16, 0x10000, 160),
        (0x13, DisplayKind.VGA256, 320, 200, 40, 25, 8, 0x00000, 320),
        (0x0D, DisplayKind.PLANAR16, 320, 200, 40, 25, 8, 0x00000, 40),
        (0x12, DisplayKind.PLANAR16, 640, 480, 80, 30, 16, 0x00000, 80),
        (0x10, DisplayKind.PLANAR16, 640, 350, 80, 25, 14, 0x00000, 80),
    ],
)
def test_set_mode_geometry(vga: Vga, mode, kind, width, height, cols, rows, char_height, base,
                           pitch) -> None:
    assert vga.set_mode(mode)
    s = vga.display()
    got = (s.kind, s.width, s.height, s.cols, s.rows, s.char_height, s.base, s.pitch, s.mode)
    assert got == (kind, width, height, cols, rows, char_height, base, pitch, mode)


def test_unsupported_mode(vga: Vga) -> None:
    assert not vga.set_mode(0x6A)
    assert vga.display().mode == 3


def test_set_mode_clears_memory(parts) -> None:
    _bus, _clock, vram, vga = parts
    vram[:] = b"\x55" * len(vram)
    vga.set_mode(3)
    assert vram[0x18000:0x18004] == b"\x20\x07\x20\x07" and vram[0x1FFFE:] == b"\x20\x07"
    vram[0x18000] = 0x41
    vga.set_mode(3 | 0x80)
    assert vram[0x18000] == 0x41
    vga.set_mode(0x13)
    assert not any(vram[:0x10000])
    vga.set_mode(3, clear=False)
    assert vram[0x18000] == 0x41


def _program_mode_13h(bus: IoBus) -> None:
    regs = MODES[0x13]
    bus.write(0x3C2, 1, regs.misc)
    for i, v in enumerate(b"\x03" + regs.seq):
        bus.write(0x3C4, 2, v << 8 | i)
    bus.write(0x3D4, 2, 0x0E11)  # unprotect CRTC 0-7
    for i, v in enumerate(regs.crtc):
        bus.write(0x3D4, 1, i)
        bus.write(0x3D5, 1, v)
    for i, v in enumerate(regs.gc):
        bus.write(0x3CE, 2, v << 8 | i)
    bus.read(0x3DA)
    for i, v in enumerate(regs.attr):
        bus.write(0x3C0, 1, i)
        bus.write(0x3C0, 1, v)
    bus.write(0x3C0, 1, 0x14)
    bus.write(0x3C0, 1, 0x00)
    bus.write(0x3C0, 1, 0x20)
    bus.write(0x3C8, 1, 0)
    for rgb in default_dac(regs.dac):
        for c in rgb:
            bus.write(0x3C9, 1, c)


def test_register_programmed_13h_equals_set_mode(parts) -> None:
    bus, _clock, _vram, vga = parts
    _program_mode_13h(bus)
    poked = vga.display()
    vga.set_mode(0x13, clear=False)
    bios = vga.display()
    assert poked.kind is DisplayKind.VGA256
    assert dataclasses.replace(poked, mode=0x13, vram=bios.vram) == bios


def test_cga_palette_port(bus: IoBus, vga: Vga) -> None:
    vga.set_mode(4)
    assert [vga.get_attr_palette(i) for i in range(4)] == [0x00, 0x13, 0x15, 0x17]
    bus.write(0x3D9, 1, 0x01)  # palette 0 (green/red/brown), dim, blue background
    assert [vga.get_attr_palette(i) for i in range(4)] == [0x01, 0x02, 0x04, 0x06]
    vga.set_cga_palette(0x3C)  # palette 1, bright, light red background
    assert [vga.get_attr_palette(i) for i in range(4)] == [0x14, 0x13, 0x15, 0x17]
    assert vga.display().cga_palette == 0x3C


def test_blink_and_cga_mode_register(bus: IoBus, vga: Vga) -> None:
    assert vga.display().blink_enabled
    vga.set_blink(False)
    assert not vga.display().blink_enabled
    bus.write(0x3D8, 1, 0x29)
    assert vga.display().blink_enabled
    bus.write(0x3D8, 1, 0x21)  # CGA "video disabled": a VGA does not blank for it
    assert vga.display().kind is DisplayKind.TEXT
    bus.write(0x3BF, 1, 0x06)  # OpenBSD's Hercules probe, on a colour VGA
    bus.write(0x3D8, 1, 0xA0)
    assert vga.display().kind is DisplayKind.TEXT


def test_pel_mask_and_palette_scaling(vga: Vga) -> None:
    vga.set_mode(0x13)
    vga.set_dac(0x0F, 63, 0, 32)
    assert vga.display().palette[0x0F * 3: 0x0F * 3 + 3] == bytes((255, 0, 130))
    vga.write_port(0x3C6, 0x0F)
    assert vga.display().palette[0xFF * 3: 0xFF * 3 + 3] == bytes((255, 0, 130))


def test_save_load_roundtrip(parts) -> None:
    bus, clock, vram, vga = parts
    vga.set_mode(0x13)
    vga.set_dac(3, 1, 2, 3)
    vram[100] = 7
    saved = vga.save_state()
    other_vram = bytearray(0x20000)
    other = Vga(IoBus(), clock, memoryview(other_vram))
    other.load_state(saved)
    assert other.save_state() == saved
    assert other_vram[100] == 7
    assert dataclasses.replace(other.display(), vram=vga.display().vram) == vga.display()
    with pytest.raises(StateVersionError):
        other.load_state({**saved, "version": 99})


def test_reset_returns_to_text(vga: Vga) -> None:
    vga.set_mode(0x13)
    vga.reset()
    assert vga.display().kind is DisplayKind.TEXT


def test_detach_frees_ports(bus: IoBus, vga: Vga) -> None:
    vga.detach()
    assert bus.owner(0x3C0) is None and bus.read(0x3DA) == 0xFF
