"""The PS/2 mouse end to end: host MouseInput -> 8042 -> IRQ12 -> the BIOS's int 74h
handler -> the guest's int 15h C207h callback (tests/guests/mouse.asm prints each packet
as "<status> <X> <Y>" on screen and COM1).

Packets as a PS/2 mouse sends them: status bit 3 always set, bit 4 X negative, bit 5 Y
negative, bits 0-2 left/right/middle; Y counts upwards (MouseInput's dy counts down).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.running import Running as BaseRunning
from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig


class Running(BaseRunning):
    """A machine running tests/guests/mouse.img, with its packets as printed on COM1."""

    def __init__(self, image: Path, **config) -> None:
        super().__init__(image, read_only=True, **config)

    def packets(self) -> list[str]:
        text = self.serial()
        if "MOUSE READY" not in text:
            return []
        return [line for line in text.split("MOUSE READY", 1)[1].split("\r\n") if line]


@pytest.fixture
def vm(test_guests):
    with Running(test_guests / "mouse.img") as running:
        running.wait_for(lambda: "MOUSE READY" in running.serial() or "ERR" in running.serial())
        assert "ERR" not in running.serial()
        yield running


def send_and_wait(vm: Running, dx: int, dy: int, buttons: int) -> str:
    count = len(vm.packets())
    vm.machine.send(ev.MouseInput(dx, dy, buttons))
    vm.wait_for(lambda: len(vm.packets()) > count)
    return vm.packets()[count]


@pytest.mark.parametrize("move,packet", [
    ((5, -3, 1), "09 05 03"),  # right and up, left button
    ((-2, 4, 2), "3A FE FC"),  # left and down (both signs), right button
    ((0, 0, 4), "0C 00 00"),  # middle button alone
    ((300, 0, 0), "08 FF 00"),  # clamped to the 9-bit range
])
def test_packet_reaches_callback(vm, move, packet):
    assert send_and_wait(vm, *move) == packet


def test_packets_in_order_and_on_screen(vm):
    moves = [(1, 0, 0), (0, 1, 0), (-1, -1, 1), (0, 0, 0)]
    for move in moves:
        vm.machine.send(ev.MouseInput(*move))
    vm.wait_for(lambda: len(vm.packets()) >= len(moves))
    assert vm.packets() == ["08 01 00", "28 00 FF", "19 FF 01", "08 00 00"]
    screen = "\n".join(vm.machine.text_lines())
    assert "19 FF 01" in screen


def test_keyboard_still_works_with_mouse_enabled(vm):
    vm.machine.send(ev.MouseInput(1, 1, 0))
    vm.machine.send(ev.KeyScancodes(b"\x1e\x9e"))
    vm.wait_for(lambda: vm.packets() == ["28 01 FF"])
    assert vm.machine.kbc.command_byte & 0x01  # IRQ1 still on


def test_deterministic_machine(test_guests):
    """Guest time from executed code: the BIOS's reply polling charges the virtual clock."""
    events: list[ev.Event] = []
    try:
        machine = Machine(MachineConfig(floppies=(test_guests / "mouse.img",), read_only=True,
                                        deterministic=True), on_event=events.append)
    except ValueError as exc:
        pytest.skip(str(exc))

    def serial() -> str:
        return b"".join(e.data for e in events if isinstance(e, ev.SerialOutput)).decode()

    try:
        machine.power_on()
        for _ in range(50):
            if "MOUSE READY" in serial():
                break
            machine.advance(0.05)
        assert serial().endswith("MOUSE READY\r\n")
        machine.send(ev.MouseInput(3, 2, 0))
        machine.advance(0.05)
        assert serial().endswith("MOUSE READY\r\n28 03 FE\r\n")
    finally:
        machine.close()
