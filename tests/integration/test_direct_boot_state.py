"""Saved state of a directly booted kernel (tests/guests/bzhello.img, in lockstep): it
restores into a fresh machine of the same configuration with the screen and COM1's
report as saved, and a reset there boots the configured kernel again, command line and
all (the kernel and initrd are guest RAM in the state; the files are read at power-on).
Debian's kernel at its shell: test_linux_snapshot.py (slow)."""

from __future__ import annotations

from tests.integration.test_direct_boot import BZHELLO, expected_report
from vmgui.core import events as ev
from vmgui.core import snapshot
from vmgui.core.machine import Machine, MachineConfig

CMDLINE = "console=ttyS0 quiet"


def booted(config: MachineConfig, serial: bytearray) -> Machine:
    def on_event(event):
        if isinstance(event, ev.SerialOutput):
            serial.extend(event.data)

    machine = Machine(config, on_event=on_event)
    machine.power_on()
    return machine


def test_a_kernel_state_restores_and_a_reset_boots_the_kernel_again(tmp_path):
    config = MachineConfig(memory_mb=16, profile="pc-pci", kernel=BZHELLO, append=CMDLINE,
                           deterministic=True)
    path = tmp_path / "kernel.state"
    report = expected_report(16, CMDLINE, 0).replace("01000000 00000000", "00000000 00000000")
    first_serial = bytearray()
    first = booted(config, first_serial)
    try:
        first.advance(0.5)
        assert first_serial.decode().endswith("done\r\n")
        snapshot.save(first, path)
        screen = first.text_lines()
    finally:
        first.close()
    serial = bytearray()
    fresh = booted(config, serial)
    try:
        serial.clear()  # the fresh machine's own POST and boot are not the point
        snapshot.load(fresh, path)
        assert fresh.text_lines() == screen and "kernel=PMOK" in "\n".join(screen)
        fresh.advance(0.2)
        assert serial == b""  # halted where it was saved: nothing runs again
        fresh.send(ev.Reset())
        fresh.advance(0.5)
        assert serial.decode() == report
    finally:
        fresh.close()
