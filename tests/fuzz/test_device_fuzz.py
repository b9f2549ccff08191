"""Fuzz: random 8-bit port traffic into every device model, as a guest can send it.

The PC/AT device set (PIC pair + ELCR, PIT + port 61h, CMOS/RTC, i8042 + port 92h, 16550
UART, debug console, VGA) sits on one bus with a hand-driven clock, wired as the machine
wires it.  A random program of IN/OUT (8-bit, device ports or any), clock advances, INTA
cycles, key/mouse/serial input is played against it; then the screen is drawn and every
device's state goes through save/load.  Properties: no Python exception anywhere, IN
returns a byte, the display renders in every register state the guest can set, and a
saved state loads back into a fresh device set and saves identically.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.cmos import CmosRtc
from vmgui.devices.debugcon import DebugConsole
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.i8042 import I8042, Port92
from vmgui.devices.pic import Pic8259Pair
from vmgui.devices.pit import Pit8254, SystemControlPortB
from vmgui.devices.render import render, text_lines
from vmgui.devices.uart import Uart16550
from vmgui.devices.vga import Vga

from .budget import fuzz_settings

FUZZ = fuzz_settings(150)
PORTS = {
    "pic": (0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1),
    "pit": (0x40, 0x41, 0x42, 0x43, 0x61),
    "cmos": (0x70, 0x71),
    "i8042": (0x60, 0x64, 0x92),
    "uart": tuple(range(0x3F8, 0x400)),
    "vga": (*range(0x3B4, 0x3BB), *range(0x3C0, 0x3D0), *range(0x3D4, 0x3DB)),
    "debugcon": (0xE9,),
}
ALL_PORTS = tuple(p for ports in PORTS.values() for p in ports)


class Devices:
    """The machine's device set without an engine (see vmgui.core.machine._build)."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.bus = bus = IoBus()
        self.output: list[bytes] = []
        self.resets = 0
        self.a20: list[bool] = []
        self.pic = Pic8259Pair(bus)
        irq = self.pic.irq_line
        self.pit = Pit8254(bus, self.clock, irq(0))
        self.port61 = SystemControlPortB(bus, self.pit)
        self.cmos = CmosRtc(bus, self.clock, irq(8))
        self.kbc = I8042(bus, self.clock, irq(1), irq(12), self._reset, self.a20.append)
        self.port92 = Port92(bus, self.a20.append, self._reset)
        self.uart = Uart16550(bus, irq(4), 0x3F8, on_transmit=self.output.append)
        self.debugcon = DebugConsole(bus, self.output.append)
        self.vram = bytearray(0x20000)
        self.vga = Vga(bus, self.clock, memoryview(self.vram))

    def _reset(self) -> None:
        self.resets += 1

    @property
    def stateful(self) -> dict:
        return {"pic": self.pic, "pit": self.pit, "port61": self.port61, "cmos": self.cmos,
                "i8042": self.kbc, "port92": self.port92, "uart": self.uart, "vga": self.vga}

    def advance(self, ns: int) -> None:
        self.clock.advance(ns)
        now = self.clock.now_ns()
        for dev in (self.pit, self.cmos, self.kbc, self.uart):
            dev.advance(now)
            deadline = dev.next_deadline_ns()
            assert deadline is None or isinstance(deadline, int)


port = st.one_of(st.sampled_from(ALL_PORTS), st.integers(0, 0xFFFF))
byte = st.one_of(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]), st.integers(0, 0xFF))
op = st.one_of(
    st.tuples(st.just("out"), port, byte),
    st.tuples(st.just("out"), port, byte),
    st.tuples(st.just("in"), port, st.just(0)),
    st.tuples(st.just("advance"), st.sampled_from([1, 1000, 55_000_000, 10**9]), st.just(0)),
    st.tuples(st.just("inta"), st.just(0), st.just(0)),
    st.tuples(st.just("key"), st.binary(min_size=1, max_size=4), st.just(0)),
    st.tuples(st.just("mouse"), st.integers(-1000, 1000), st.integers(0, 7)),
    st.tuples(st.just("serial"), st.binary(min_size=1, max_size=20), st.just(0)),
)


def play(devices: Devices, program: list) -> None:
    for kind, a, b in program:
        if kind == "out":
            devices.bus.write(a, 1, b)
        elif kind == "in":
            value = devices.bus.read(a, 1)
            assert isinstance(value, int) and 0 <= value <= 0xFF, (hex(a), value)
        elif kind == "advance":
            devices.advance(a)
        elif kind == "inta":
            if devices.pic.pending():
                assert 0 <= devices.pic.acknowledge() <= 0xFF
        elif kind == "key":
            devices.kbc.key_input(a)
        elif kind == "mouse":
            devices.kbc.mouse_input(a, -a, b)
        else:
            devices.uart.receive(a)


def draw(devices: Devices) -> None:
    state = devices.vga.display()
    font = load_rom_font(16)
    width, height, rgb = render(state, font)
    assert len(rgb) == width * height * 3
    assert isinstance(text_lines(state), list)


@FUZZ
@given(program=st.lists(op, max_size=80))
def test_devices_survive_random_port_traffic(program):
    devices = Devices()
    play(devices, program)
    draw(devices)


@FUZZ
@given(device=st.sampled_from(sorted(PORTS)), data=st.data())
def test_one_device_survives_random_writes_to_its_ports(device, data):
    """Dense traffic on one device's own ports (index/data pairs, init sequences cut
    short) reaches states that scattered traffic rarely does."""
    ports = PORTS[device]
    program = data.draw(st.lists(st.one_of(
        st.tuples(st.just("out"), st.sampled_from(ports), byte),
        st.tuples(st.just("out"), st.sampled_from(ports), byte),
        st.tuples(st.just("in"), st.sampled_from(ports), st.just(0)),
        st.tuples(st.just("advance"), st.sampled_from([1, 1000, 55_000_000]), st.just(0)),
        st.tuples(st.just("inta"), st.just(0), st.just(0))), max_size=120))
    devices = Devices()
    play(devices, program)
    draw(devices)


@FUZZ
@given(program=st.lists(op, max_size=60))
def test_device_state_saves_and_loads_after_random_traffic(program):
    devices = Devices()
    play(devices, program)
    saved = {name: dev.save_state() for name, dev in devices.stateful.items()}
    fresh = Devices()
    for name, dev in fresh.stateful.items():
        dev.load_state(saved[name])
    assert {name: dev.save_state() for name, dev in fresh.stateful.items()} == saved
    draw(fresh)
