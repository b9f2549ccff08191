"""A state loaded into a machine that has run on since (lockstep, ``snapshot.load`` on
the caller's thread, as ``vmgui run --deterministic`` and the automation API do) keeps
its timer interrupts coming: the run loop's cached device deadlines belong to the
abandoned timeline and must be asked for again.  Before, the PIT's cached deadline lay
1 s ahead of the restored guest time, and tests/guests/pmtick.asm (ring 3, paging, IRQ 0
through its IDT) got no tick for that second."""

from __future__ import annotations

from vmgui.core import snapshot
from vmgui.core.machine import Machine, MachineConfig

TICK_HZ = 18.2


def ticks(machine: Machine) -> int:
    line = machine.text_lines()[0]
    assert line.startswith("TICKS "), line
    return int(line[6:14], 16)


def test_timer_interrupts_go_on_after_loading_an_earlier_state(tmp_path, test_guests):
    image = tmp_path / "pmtick.img"
    image.write_bytes((test_guests / "pmtick.img").read_bytes().ljust(1_474_560, b"\0"))
    machine = Machine(MachineConfig(floppies=(image,), deterministic=True))
    path = tmp_path / "pm.state"
    try:
        machine.power_on()
        machine.advance(0.4)
        snapshot.save(machine, path)
        saved = ticks(machine)
        machine.advance(1.0)  # the run loop learns the PIT's deadlines 1 s on
        assert ticks(machine) >= saved + 1.0 * TICK_HZ - 2
        snapshot.load(machine, path)
        assert ticks(machine) == saved
        machine.advance(0.4)
        assert saved + 6 <= ticks(machine) <= saved + 8  # 18.2 Hz for 0.4 s
    finally:
        machine.close()
