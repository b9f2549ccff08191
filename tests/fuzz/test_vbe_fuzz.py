"""Fuzz: the VBE BIOS and the VGA's planar and VBE hardware with random input.

1. int 10h AH=4Fh on a powered-on pc-pci machine with random registers, random bytes
   where the pointer registers point, and random VGA/DISPI port writes first: the call
   returns (a status, never an exception), registers stay in range, no BIOS access
   leaves guest memory, and the screen renders afterwards.
2. A VGA with the VBE extension (no engine) under random port traffic on its VGA and
   DISPI ports mixed with random byte reads and writes at A0000h through whatever the
   card maps there (RAM, a framebuffer bank, the planar logic): no exception, reads
   return bytes, every register state renders, and its saved state loads back.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmgui.bios.api import Reg
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.render import render
from vmgui.devices.vbe_lfb import LFB_SIZE
from vmgui.devices.vga import Vga
from vmgui.devices.video_memory import IoWindow

from .biosrig import call_service, check_registers, make_images, powered_on
from .budget import fuzz_settings
from .test_bios_fuzz import pointed, prepare, registers

FUZZ = fuzz_settings(60)
VGA_PORTS = (0x3C0, 0x3C4, 0x3C5, 0x3C8, 0x3C9, 0x3CE, 0x3CF, 0x3D4, 0x3D5, 0x3DA)
DISPI_PORTS = (0x1CE, 0x1CF, 0x1D0)
word = st.one_of(st.sampled_from([0, 1, 4, 8, 15, 16, 24, 32, 0x40, 0x41, 0xC1, 640, 1024,
                                  0xFFFF]), st.integers(0, 0xFFFF))
port_writes = st.lists(st.tuples(st.sampled_from(VGA_PORTS + DISPI_PORTS), word), max_size=10)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, Path]:
    return make_images(tmp_path_factory.mktemp("vbe-fuzz"))


def draw(vga: Vga) -> None:
    width, height, rgb = render(vga.display(), b"")
    assert len(rgb) == width * height * 3


@FUZZ
@given(data=st.data(), values=registers, ports=port_writes, blob=pointed)
def test_vbe_bios_survives_random_registers(images, data, values, ports, blob):
    al = data.draw(st.one_of(st.integers(0, 0x0B), st.integers(0, 0xFF)), "al")
    values = dict(values)
    values[Reg.EAX] = (values[Reg.EAX] & 0xFFFF0000) | 0x4F00 | al
    if data.draw(st.booleans(), "vbe mode number"):
        values[Reg.EBX] = data.draw(st.sampled_from([0x4101, 0x4112, 0xC142, 0x0105, 0x4147,
                                                     0x0013, 0x0012]), "mode")
    m, bounded = powered_on(images, "pc-pci")
    try:
        prepare(m, values, (), (), blob)
        for port, value in ports:
            m.bus.write(port, 2 if port in DISPI_PORTS else 1, value & (0xFF if port >= 0x3C0
                                                                        else 0xFFFF))
        call, backend = call_service(m, 0x10, values)
        m.bios.services[0x10](call)
        check_registers(backend)
        assert not bounded.violations
        assert (backend.values[Reg.EAX] & 0xFF) in (0x4F, 0x00)
        draw(m.vga)
    finally:
        m.close()


op = st.one_of(
    st.tuples(st.just("out"), st.sampled_from(VGA_PORTS + DISPI_PORTS), word),
    st.tuples(st.just("in"), st.sampled_from(VGA_PORTS + DISPI_PORTS), st.just(0)),
    st.tuples(st.just("write"), st.integers(0, 0xFFFF), st.integers(0, 0xFF)),
    st.tuples(st.just("read"), st.integers(0, 0xFFFF), st.just(0)),
    st.tuples(st.just("mode"), st.sampled_from([0x03, 0x0D, 0x0F, 0x11, 0x12, 0x13]),
              st.just(0)),
)


class Card:
    def __init__(self) -> None:
        self.bus = IoBus()
        self.lfb = memoryview(mmap.mmap(-1, LFB_SIZE))
        self.vga = Vga(self.bus, ManualClock(), memoryview(bytearray(0x20000)), lfb=self.lfb)
        self.window = self.vga.window()
        self.vga.attach_window(self._remap)

    def _remap(self, window) -> None:
        self.window = window

    def access(self, kind: str, offset: int, value: int) -> None:
        window = self.window
        if isinstance(window, IoWindow):
            if kind == "write":
                window.write(offset, value)
            else:
                assert 0 <= window.read(offset) <= 0xFF
        elif kind == "write":
            window.buffer[window.offset + offset] = value
        else:
            assert 0 <= window.buffer[window.offset + offset] <= 0xFF


@FUZZ
@given(program=st.lists(op, max_size=60))
def test_vga_with_vbe_survives_random_traffic_and_memory_access(program):
    card = Card()
    for kind, a, b in program:
        if kind == "out":
            card.bus.write(a, 2 if a in DISPI_PORTS else 1, b & (0xFFFF if a in DISPI_PORTS
                                                                 else 0xFF))
        elif kind == "in":
            assert 0 <= card.bus.read(a, 1) <= 0xFF
        elif kind == "mode":
            card.vga.set_mode(a)
        else:
            card.access(kind, a, b)
    draw(card.vga)
    state = card.vga.save_state()
    other = Card()
    other.vga.load_state(state)
    assert other.vga.save_state() == state
    assert other.window.key == card.window.key
