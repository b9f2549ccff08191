"""Real time: the native block hook stops the engine at a host-clock deadline by itself.

Before, a helper thread slept until each device deadline and then set the stop flag;
arming it on every turn of the run loop woke that thread (a Python thread: the GIL,
two context switches), about 0.1 ms a turn, which a guest taking 10,000 IRQs a second
pays 10,000 times (tests/perf/bench_pm_irq.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.running import Running
from vmgui.bios.api import Reg
from vmgui.core.engine import Engine

STOPPED_BY_DEADLINE = 3
BDA_TICKS = 0x46C


def test_the_hook_stops_a_spinning_guest_at_the_deadline():
    eng = Engine()
    ram = bytearray(0x20000)
    eng.map_buffer(0, ram, 0, len(ram))
    safety = threading.Timer(10, eng.request_stop)  # a broken hook must not hang the test
    safety.start()
    try:
        eng.stop_ctl.deadline_ns = time.monotonic_ns() + 20_000_000
        eng.mem_write(0x1000, bytes.fromhex("ebfe"))  # jmp $
        eng.write(Reg.CS, 0)
        eng.write(Reg.EIP, 0x1000)
        eng.run()
        assert eng.stop_ctl.stopped_by == STOPPED_BY_DEADLINE
        assert time.monotonic_ns() >= eng.stop_ctl.deadline_ns
    finally:
        safety.cancel()
        eng.close()


def test_no_deadline_means_no_stop_from_the_clock():
    eng = Engine()
    ram = bytearray(0x20000)
    eng.map_buffer(0, ram, 0, len(ram))
    eng.stop_ctl.deadline_ns = 0
    eng.stop_ctl.limit = 200_000  # the budget ends the run instead
    eng.mem_write(0x1000, bytes.fromhex("ebfe"))
    eng.write(Reg.CS, 0)
    eng.write(Reg.EIP, 0x1000)
    eng.run()
    assert eng.stop_ctl.stopped_by == 2
    eng.close()


def test_a_spinning_guest_gets_its_timer_ticks_without_the_timer_thread(tmp_path: Path):
    """sti; jmp $ -- the BIOS's IRQ0 handler counts ticks in the BDA only if the engine
    is stopped at each PIT deadline; the helper thread must not be involved."""
    image = tmp_path / "spin.img"
    image.write_bytes(b"\xfb\xeb\xfe" + bytes(507) + b"\x55\xaa")
    vm = Running(image)
    armed = []
    vm.machine.timer.arm = armed.append  # the helper thread would be armed through this
    with vm:
        vm.wait_for(lambda: vm.machine.memory.read_u32(BDA_TICKS) > 0)
        first = vm.machine.memory.read_u32(BDA_TICKS)
        vm.wait_for(lambda: vm.machine.memory.read_u32(BDA_TICKS) >= first + 3)
    assert armed == []


def spinning_engine() -> tuple[Engine, bytearray]:
    eng = Engine()
    ram = bytearray(0x20000)
    eng.map_buffer(0, ram, 0, len(ram))
    eng.mem_write(0x1000, bytes.fromhex("40ebfd"))  # inc ax; jmp short -3 (back to inc)
    eng.write(Reg.CS, 0)
    eng.write(Reg.EIP, 0x1000)
    return eng, ram


def test_a_deadline_handler_that_serves_it_keeps_the_engine_running():
    eng, _ = spinning_engine()
    calls = []

    def serve() -> bool:
        calls.append(time.monotonic_ns())
        if len(calls) < 5:
            eng.stop_ctl.deadline_ns = time.monotonic_ns() + 1_000_000  # the next one
            return True
        return False  # the fifth: stop here

    eng.set_deadline_handler(serve)
    safety = threading.Timer(10, eng.request_stop)
    safety.start()
    try:
        eng.stop_ctl.deadline_ns = time.monotonic_ns() + 1_000_000
        eng.run()
        assert eng.stop_ctl.stopped_by == STOPPED_BY_DEADLINE
        assert len(calls) == 5  # one run, five deadlines
        assert all(b - a >= 900_000 for a, b in zip(calls, calls[1:], strict=False))
    finally:
        safety.cancel()
        eng.close()


def test_a_failing_deadline_handler_stops_the_engine():
    eng, _ = spinning_engine()

    def broken() -> bool:
        raise RuntimeError("bug")

    eng.set_deadline_handler(broken)
    safety = threading.Timer(10, eng.request_stop)
    safety.start()
    try:
        eng.stop_ctl.deadline_ns = time.monotonic_ns() + 1_000_000
        eng.run()
        assert eng.stop_ctl.stopped_by == STOPPED_BY_DEADLINE
    finally:
        safety.cancel()
        eng.close()


def test_a_pc_written_by_the_deadline_handler_takes_effect_before_the_block_runs():
    """What serving an IRQ inside the run relies on: the block the hook fires for is
    abandoned when the handler moves EIP (uc_reg_write of the PC ends it)."""
    eng, ram = spinning_engine()
    eng.mem_write(0x2000, bytes.fromhex("bb3412f4"))  # mov bx, 1234h; hlt

    def redirect() -> bool:
        eng.write(Reg.EIP, 0x2000)
        eng.stop_ctl.deadline_ns = 0
        return True

    eng.set_deadline_handler(redirect)
    safety = threading.Timer(10, eng.request_stop)
    safety.start()
    try:
        eng.stop_ctl.deadline_ns = time.monotonic_ns() + 1_000_000
        eng.run()
        assert eng.read(Reg.EBX) & 0xFFFF == 0x1234
        assert eng.read(Reg.EIP) == 0x2004  # stopped by the HLT
    finally:
        safety.cancel()
        eng.close()
