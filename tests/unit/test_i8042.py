"""8042 keyboard controller, PS/2 keyboard and mouse, port 92h."""

from __future__ import annotations

import pytest

from vmgui.devices.bus import IoBus, IrqLine
from vmgui.devices.clock import ManualClock
from vmgui.devices.i8042 import BYTE_GAP_NS, I8042, Port92

DATA, CMD = 0x60, 0x64
OBF, SYS, A2, UNLOCKED, AUX_OBF = 0x01, 0x04, 0x08, 0x10, 0x20


class Setup:
    def __init__(self) -> None:
        self.bus = IoBus()
        self.clock = ManualClock()
        self.irq1_edges = 0
        self.irq12_edges = 0
        self.irq1 = IrqLine(lambda lv: self._edge("irq1_edges", lv))
        self.irq12 = IrqLine(lambda lv: self._edge("irq12_edges", lv))
        self.resets = 0
        self.a20: list[bool] = []
        self.kbc = I8042(self.bus, self.clock, self.irq1, self.irq12, self._reset,
                         self.a20.append)

    def _edge(self, name: str, level: bool) -> None:
        if level:
            setattr(self, name, getattr(self, name) + 1)

    def _reset(self) -> None:
        self.resets += 1

    def status(self) -> int:
        return self.bus.read(CMD)

    def command(self, cmd: int, data: int | None = None) -> None:
        self.bus.write(CMD, 1, cmd)
        if data is not None:
            self.bus.write(DATA, 1, data)

    def read_all(self) -> list[int]:
        """Read bytes as a polling guest would, letting guest time pass between them."""
        out = []
        for _ in range(64):
            self.kbc.advance(self.clock.now_ns())
            if not self.status() & OBF:
                deadline = self.kbc.next_deadline_ns()
                if deadline is None:
                    break
                self.clock.set(max(deadline, self.clock.now_ns()))
                continue
            out.append(self.bus.read(DATA))
        return out


@pytest.fixture
def s():
    return Setup()


def test_power_on_status_and_command_byte(s):
    assert s.status() == UNLOCKED | SYS
    s.command(0x20)
    assert s.status() & OBF
    assert s.bus.read(DATA) == 0x45
    assert s.status() & A2


def test_self_test_and_interface_tests(s):
    s.command(0xAA)
    assert s.read_all() == [0x55]
    s.command(0xAB)
    assert s.read_all() == [0x00]
    s.command(0xA9)
    assert s.read_all() == [0x00]


def test_write_command_byte(s):
    s.command(0x60, 0x47)
    assert not s.status() & A2
    s.command(0x20)
    assert s.read_all() == [0x47]


def test_key_input_raises_irq1_and_paces_bytes(s):
    s.kbc.key_input(bytes([0x1E, 0x9E]))
    assert s.status() & OBF
    assert s.irq1_edges == 1 and s.irq1.level
    assert s.bus.read(DATA) == 0x1E
    assert not s.irq1.level
    assert not s.status() & OBF
    assert s.kbc.next_deadline_ns() == BYTE_GAP_NS
    s.clock.advance(BYTE_GAP_NS - 1)
    s.kbc.advance(s.clock.now_ns())
    assert not s.status() & OBF
    s.clock.advance(1)
    s.kbc.advance(s.clock.now_ns())
    assert s.status() & OBF and s.irq1_edges == 2
    assert s.bus.read(DATA) == 0x9E


def test_irq1_disabled_in_command_byte(s):
    s.command(0x60, 0x44)
    s.kbc.key_input(b"\x1c")
    assert s.kbc.output_buffer_full
    assert s.irq1_edges == 0


def test_keyboard_disable_holds_bytes(s):
    s.command(0xAD)
    s.kbc.key_input(b"\x1c")
    assert not s.status() & OBF
    s.command(0xAE)
    assert s.bus.read(DATA) == 0x1C


def test_keyboard_reset_and_identify(s):
    s.bus.write(DATA, 1, 0xFF)
    assert s.read_all() == [0xFA, 0xAA]
    s.bus.write(DATA, 1, 0xF2)
    assert s.read_all() == [0xFA, 0xAB, 0x41]
    s.command(0x60, 0x05)  # translation off
    s.bus.write(DATA, 1, 0xF2)
    assert s.read_all() == [0xFA, 0xAB, 0x83]


def test_keyboard_leds_typematic_echo_unknown(s):
    s.bus.write(DATA, 1, 0xED)
    assert s.read_all() == [0xFA]
    s.bus.write(DATA, 1, 0x07)
    assert s.read_all() == [0xFA]
    assert s.kbc.keyboard.leds == 0x07
    s.bus.write(DATA, 1, 0xF3)
    s.bus.write(DATA, 1, 0x00)
    assert s.read_all() == [0xFA, 0xFA]
    s.bus.write(DATA, 1, 0xEE)
    assert s.read_all() == [0xEE]
    s.bus.write(DATA, 1, 0x42)
    assert s.read_all() == [0xFE]


def test_scancode_set_query(s):
    s.bus.write(DATA, 1, 0xF0)
    s.bus.write(DATA, 1, 0x00)
    assert s.read_all() == [0xFA, 0xFA, 0x41]  # set 2, translated


def test_scanning_disable_drops_keys(s):
    s.bus.write(DATA, 1, 0xF5)
    assert s.read_all() == [0xFA]
    s.kbc.key_input(b"\x1e")
    assert s.read_all() == []
    s.bus.write(DATA, 1, 0xF4)
    s.kbc.key_input(b"\x1e")
    assert s.read_all() == [0xFA, 0x1E]


def test_a20_via_output_port_and_dd_df(s):
    assert s.kbc.a20_enabled
    s.command(0xD1, 0xDD)  # A20 off, reset released
    assert s.a20 == [False] and not s.kbc.a20_enabled
    s.command(0xD0)
    assert s.read_all() == [0xCD]  # bit 4 reports OBF, empty when the port was read
    s.command(0xDF)
    assert s.a20 == [False, True]
    s.command(0xDD)
    assert s.a20 == [False, True, False]
    assert s.resets == 0


def test_reset_via_pulse_and_output_port(s):
    s.command(0xFE)
    assert s.resets == 1
    s.command(0xFF)  # pulses nothing
    assert s.resets == 1
    s.command(0xD1, 0xDE)
    assert s.resets == 2


def test_input_port_and_write_buffers(s):
    s.command(0xC0)
    assert s.read_all() == [0xA0]
    s.command(0xD2, 0x99)
    assert s.status() & (OBF | AUX_OBF) == OBF
    assert s.read_all() == [0x99]
    s.command(0x60, 0x47)  # IRQ12 on
    s.command(0xD3, 0x88)
    assert s.status() & AUX_OBF
    assert s.irq12_edges == 1
    assert s.read_all() == [0x88]


def test_mouse_reset_id_and_packets(s):
    s.command(0x60, 0x47)
    s.command(0xA8)
    s.command(0xD4, 0xFF)
    assert s.read_all() == [0xFA, 0xAA, 0x00]
    s.kbc.mouse_input(5, 5, 1)
    assert s.read_all() == []  # not enabled yet
    s.command(0xD4, 0xF2)
    assert s.read_all() == [0xFA, 0x00]
    s.command(0xD4, 0xF4)
    assert s.read_all() == [0xFA]
    s.clock.advance(BYTE_GAP_NS)
    s.kbc.mouse_input(-3, 4, 0b001)  # left button, 4 down
    assert s.status() & AUX_OBF
    assert s.read_all() == [0x08 | 0x01 | 0x10 | 0x20, 0xFD, 0xFC]
    assert s.irq12_edges >= 3


def test_mouse_status_and_settings(s):
    s.command(0xD4, 0xF3)
    s.command(0xD4, 40)
    s.command(0xD4, 0xE8)
    s.command(0xD4, 3)
    s.command(0xD4, 0xE7)
    assert s.read_all() == [0xFA, 0xFA, 0xFA, 0xFA, 0xFA]
    s.command(0xD4, 0xE9)
    assert s.read_all() == [0xFA, 0x10, 3, 40]
    s.command(0xD4, 0x12)
    assert s.read_all() == [0xFE]


def test_aux_disabled_holds_mouse_bytes(s):
    s.command(0xD4, 0xF4)
    assert s.read_all() == [0xFA]
    s.command(0xA7)
    s.kbc.mouse_input(1, 0, 0)
    assert s.read_all() == []
    s.command(0xA8)
    assert s.read_all() == [0x08, 0x01, 0x00]


def test_port92_a20_and_fast_reset():
    bus = IoBus()
    a20: list[bool] = []
    resets: list[int] = []
    Port92(bus, a20.append, lambda: resets.append(1))
    assert bus.read(0x92) == 0
    bus.write(0x92, 1, 0x02)
    assert a20 == [True] and bus.read(0x92) == 0x02
    bus.write(0x92, 1, 0x03)
    assert resets == [1]
    bus.write(0x92, 1, 0x03)
    assert resets == [1]  # only a 0 -> 1 transition resets
    bus.write(0x92, 1, 0x00)
    assert a20 == [True, False]


def test_save_load_roundtrip(s):
    s.kbc.key_input(b"\x10\x11")
    s.bus.read(DATA)
    state = s.kbc.save_state()
    other = Setup()
    other.clock.set(s.clock.now_ns())
    other.kbc.load_state(state)
    assert other.read_all() == [0x11]
