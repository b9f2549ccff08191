"""The machine's run loop with tiny guests: HLT idling, interrupts, resets, crashes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.running import Running
from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig


def boot_image(tmp_path: Path, code: bytes) -> Path:
    path = tmp_path / "guest.img"
    path.write_bytes(code + bytes(510 - len(code)) + b"\x55\xaa")
    return path


OUT_E9 = b"\xe6\xe9"


def test_hlt_idles_without_burning_cpu(tmp_path):
    # sti ; l: hlt ; jmp l  -- woken 18.2 times a second by the timer, else asleep
    image = boot_image(tmp_path, b"\xfb\xf4\xeb\xfd")
    with Running(image) as vm:
        time.sleep(0.3)
        cpu0 = time.thread_time(), time.process_time()
        t0 = time.perf_counter()
        time.sleep(1.0)
        used = time.process_time() - cpu0[1]
        assert used / (time.perf_counter() - t0) < 0.05, f"{used:.3f} s CPU in 1 s idle"
        assert vm.machine.state is ev.RunState.RUNNING


def test_timer_ticks_reach_the_bda_while_halted(tmp_path):
    image = boot_image(tmp_path, b"\xfb\xf4\xeb\xfd")
    with Running(image) as vm:
        mem = vm.machine.memory
        vm.wait_for(lambda: vm.machine.state is ev.RunState.RUNNING)
        time.sleep(0.1)  # POST has set the count from the RTC
        first = mem.read_u32(0x46C)
        time.sleep(0.5)
        ticks = mem.read_u32(0x46C) - first
        # 9 expected; a loaded host coalesces late ticks (the PIT counts them as lost)
        assert 3 <= ticks <= 12, f"{ticks} ticks in 0.5 s (18.2 Hz expected)"


def test_debug_port_and_power_off(tmp_path):
    # mov al,'O' ; out e9,al ; mov al,'K' ; out e9,al ; cli ; hlt
    image = boot_image(tmp_path, b"\xb0O" + OUT_E9 + b"\xb0K" + OUT_E9 + b"\xfa\xf4")
    with Running(image) as vm:
        vm.wait_for(lambda: vm.debug_text() == b"OK")
    assert isinstance(vm.events[-1], ev.StateChanged)
    assert vm.events[-1].state is ev.RunState.POWERED_OFF


def test_port_92_reset_reboots_the_guest(tmp_path):
    # mov al,'B' ; out e9,al ; in al,92h ; or al,1 ; out 92h,al ; hlt
    image = boot_image(tmp_path, b"\xb0B" + OUT_E9 + b"\xe4\x92\x0c\x01\xe6\x92\xf4")
    with Running(image) as vm:
        vm.wait_for(lambda: vm.debug_text().count(b"B") >= 3)


def test_divide_error_without_handler_is_a_crash_with_a_report(tmp_path):
    image = boot_image(tmp_path, b"\x31\xc9\xf7\xf1\xf4")  # xor cx,cx ; div cx
    with Running(image) as vm:
        vm.wait_for(lambda: any(isinstance(e, ev.GuestCrashed) for e in vm.events))
        crash = next(e for e in vm.events if isinstance(e, ev.GuestCrashed))
        assert "divide error" in crash.reason
        assert "CS:IP=0000:7C02" in crash.report and "div" in crash.report
        assert vm.machine.state is ev.RunState.CRASHED


def test_reset_command_after_a_crash_boots_again(tmp_path):
    image = boot_image(tmp_path, b"\xb0B" + OUT_E9 + b"\x31\xc9\xf7\xf1")
    with Running(image) as vm:
        vm.wait_for(lambda: vm.machine.state is ev.RunState.CRASHED)
        vm.machine.send(ev.Reset())
        vm.wait_for(lambda: vm.debug_text().count(b"B") >= 2)


def test_pause_stops_guest_time(tmp_path):
    image = boot_image(tmp_path, b"\xfb\xf4\xeb\xfd")
    with Running(image) as vm:
        time.sleep(0.2)
        vm.machine.send(ev.Pause())
        vm.wait_for(lambda: vm.machine.state is ev.RunState.PAUSED)
        before = vm.machine.memory.read_u32(0x46C)
        time.sleep(0.4)
        assert vm.machine.memory.read_u32(0x46C) == before
        vm.machine.send(ev.Resume())
        vm.wait_for(lambda: vm.machine.memory.read_u32(0x46C) > before + 2)


@pytest.mark.parametrize("enabled", [True, False])
def test_a20_gate_aliases_the_hma(tmp_path, enabled):
    image = boot_image(tmp_path, b"\xfa\xf4")
    machine = Machine(MachineConfig(floppies=(image,)))
    machine.memory.set_a20(enabled)
    machine.engine.mem_write(0x100000 + 0x10, b"\xAB")
    assert (machine.memory.read_u8(0x10) == 0xAB) is (not enabled)
    assert machine.memory.read_u8(0x100010) == 0xAB
    machine.close()


def test_cpu_limit_caps_guest_speed(tmp_path):
    """A busy loop counting in EBX: with a 10% cap it gets far fewer iterations in the
    same wall time than unlimited."""
    # l: inc ebx ; jmp l
    image = boot_image(tmp_path, b"\x66\x43\xeb\xfc")
    counts = []
    for limit in (0, 10):
        with Running(image, cpu_limit_percent=limit) as vm:
            time.sleep(0.3)
            blocks0 = vm.machine.engine.stop_ctl.blocks
            time.sleep(0.6)
            counts.append(vm.machine.engine.stop_ctl.blocks - blocks0)
    assert counts[1] < counts[0] * 0.5, counts


def test_a_reset_loop_takes_guest_time_in_deterministic_mode(tmp_path):
    """mov al, FEh; out 64h, al; jmp $ -- the 8042 resets the machine over and over.  Each
    reset now costs guest time, so a guest second is a bounded number of resets (before,
    resets charged nothing and 0.05 guest seconds took minutes of host time)."""
    image = boot_image(tmp_path, b"\xb0\xfe\xe6\x64\xeb\xfe")
    machine = Machine(MachineConfig(floppies=(image,), deterministic=True))
    boots = []
    power_on = machine.power_on
    machine.power_on = lambda: (boots.append(1), power_on())[1]
    try:
        machine.power_on()
        machine.advance(0.005)
    finally:
        machine.close()
    assert 2 <= len(boots) <= 7  # 1 ms of guest time a reset


def test_paging_without_protected_mode_is_a_crash_report_and_reset_recovers(tmp_path):
    """mov eax, 80000000h; mov cr0, eax; jmp $: a real CPU raises #GP(0); unicorn takes
    the value and then executes nothing, so the run loop used to spin without a report."""
    image = boot_image(tmp_path, b"\x66\xb8\x00\x00\x00\x80\x0f\x22\xc0\xeb\xfe")
    with Running(image) as vm:
        vm.wait_for(lambda: any(isinstance(e, ev.GuestCrashed) for e in vm.events))
        crash = next(e for e in vm.events if isinstance(e, ev.GuestCrashed))
        assert "CR0.PG" in crash.reason and "#GP" in crash.reason
        vm.machine.send(ev.Reset())  # power_on clears PG again: the boot runs once more
        vm.wait_for(lambda: sum(isinstance(e, ev.GuestCrashed) for e in vm.events) == 2)
