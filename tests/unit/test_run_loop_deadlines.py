"""The run loop arms the next device deadline even when it fell due while the loop ran.

In real time guest time is host time, and it moves on between the devices' advance()
and the arming of the deadline timer (the loop's own Python code runs in between).  A
PIT edge that falls due in that gap was dropped as "already past": no timer was armed,
the engine ran on without a stop, and the guest never got another timer IRQ.  With the
BIOS's 18.2 Hz that needs a 55 ms stall; with a guest's 10 kHz PIT it happened at the
first IRQ (measured with tests/perf/bench_pm_irq.py: one IRQ delivered, then none).
"""

from __future__ import annotations

from pathlib import Path

from tests.running import Running
from vmgui.core.machine import Machine, MachineConfig

PIT_CONTROL, PIT_COUNTER0 = 0x43, 0x40
MODE2_LOHI = 0x34  # channel 0, low then high byte, mode 2 (rate generator)
PERIOD_NS = 100_000  # divisor 119: about 10 kHz


def boot_image(tmp_path: Path) -> Path:
    path = tmp_path / "guest.img"
    path.write_bytes(b"\xfa\xf4" + bytes(508) + b"\x55\xaa")  # cli; hlt
    return path


def test_a_deadline_due_since_the_devices_advanced_is_armed(tmp_path):
    machine = Machine(MachineConfig(floppies=(boot_image(tmp_path),)))
    try:
        machine.power_on()
        now = [machine.clock.now_ns()]
        machine.clock.now_ns = lambda: now[0]  # the PIT reads this same clock
        machine.bus.write(PIT_CONTROL, 1, MODE2_LOHI)
        machine.bus.write(PIT_COUNTER0, 1, 119)
        machine.bus.write(PIT_COUNTER0, 1, 0)
        now[0] += 10 * PERIOD_NS
        served = machine._advance_devices()
        assert machine.pic.pending()  # the edges up to now raised IRQ0
        now[0] += 3 * PERIOD_NS  # the loop's own work: three more edges fall due
        deadline = machine._next_deadline()
        assert deadline is not None, "nothing armed: the engine would run on unstopped"
        assert served < deadline <= now[0]  # due already: the engine stops at once
    finally:
        machine.close()


def test_a_deadline_served_by_advance_is_not_armed_again(tmp_path):
    """The other side: what advance() served stays served (else a waiting guest spins)."""
    machine = Machine(MachineConfig(floppies=(boot_image(tmp_path),)))
    try:
        machine.power_on()
        now = [machine.clock.now_ns()]
        machine.clock.now_ns = lambda: now[0]
        machine.bus.write(PIT_CONTROL, 1, MODE2_LOHI)
        machine.bus.write(PIT_COUNTER0, 1, 119)
        machine.bus.write(PIT_COUNTER0, 1, 0)
        now[0] += 10 * PERIOD_NS + PERIOD_NS // 2
        served = machine._advance_devices()
        assert machine._next_deadline() > served
    finally:
        machine.close()


def test_a_protected_mode_guest_with_a_100_khz_pit_keeps_getting_irqs(test_guests):
    """tests/guests/pmfastirq.asm: 500 IRQs at ~100 kHz, then "FAST IRQS OK" on E9h
    (before the fix it stopped after the first IRQ and never printed)."""
    with Running(test_guests / "pmfastirq.img", profile="pc-pci") as vm:
        vm.wait_for(lambda: vm.debug_text() == b"FAST IRQS OK", timeout=30)


def count_engine_runs(vm: Running) -> list[int]:
    """A list that gets an item each time the run loop starts the engine (once halted
    at the end the loop waits without running it, however often it turns)."""
    runs: list[int] = []
    run = vm.machine.engine.run
    vm.machine.engine.run = lambda **kw: runs.append(1) or run(**kw)
    return runs


def test_timer_irqs_of_a_protected_mode_guest_are_served_inside_the_run(test_guests):
    """Real time: at a deadline the native hook asks the machine first; a PIT IRQ into a
    protected-mode guest is delivered there and the engine runs on, without a turn of
    the run loop (which cost more than the IRQ itself: tests/perf/bench_pm_irq.py)."""
    with Running(test_guests / "pmfastirq.img", profile="pc-pci") as vm:
        runs = count_engine_runs(vm)
        vm.wait_for(lambda: vm.debug_text() == b"FAST IRQS OK", timeout=30)
        assert vm.machine.pm.deliveries >= 500
        assert len(runs) < 100


def test_with_an_execution_cap_every_deadline_goes_through_the_run_loop(test_guests):
    """The cap idles between runs: the run loop must see each of them."""
    with Running(test_guests / "pmfastirq.img", profile="pc-pci",
                 cpu_limit_percent=50) as vm:
        runs = count_engine_runs(vm)
        vm.wait_for(lambda: vm.debug_text() == b"FAST IRQS OK", timeout=30)
        assert len(runs) >= 500
