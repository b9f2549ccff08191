"""A 2 GB machine (the pc-pci profile, issue 10): the guest reaches its last megabyte, the
BIOS and CMOS report the size, host memory holds only what the guest touched, and a saved
state of it is small and round-trips with the data at the top."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest

from vmgui.core import events as ev
from vmgui.core import keys, snapshot
from vmgui.core.machine import Machine, MachineConfig
from vmgui.core.snapshot import RestoreError

MB = 1 << 20
TOP, TOP_MB = 0x7FFFFE00, 0x7FF00000  # where bigmem.asm puts its pattern
PATTERN = bytes(i ^ 0x5A for i in range(256)) * 2
SMALL = 16 * MB  # "near what the guest touched": a boot sector touches well under this


class Stepped:
    """A machine driven from this thread; its COM1 output collects in ``serial``."""

    def __init__(self, image: Path, memory_mb: int, profile: str = "pc-pci",
                 run: bool = True) -> None:
        self.serial = bytearray()
        self.machine = Machine(MachineConfig(floppies=(image,), memory_mb=memory_mb,
                                             profile=profile), on_event=self._event)
        self.machine.power_on()
        if run:
            self.machine._set_state(ev.RunState.RUNNING)

    def _event(self, event: ev.Event) -> None:
        if isinstance(event, ev.SerialOutput):
            self.serial += event.data

    def step_until(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while self.serial.count(text.encode()) < count:
            assert time.monotonic() < end, f"no {text!r}; serial: {bytes(self.serial)!r}"
            assert self.machine._step()
            assert self.machine.state is not ev.RunState.CRASHED

    def touched_bytes(self) -> int:
        return int(self.machine.memory.maybe_used_pages().sum()) * 4096

    def close(self) -> None:
        self.machine.close()


@pytest.fixture
def vms():
    made: list[Stepped] = []
    yield made
    for vm in made:
        vm.close()
    gc.collect()


def test_a_guest_writes_and_reads_back_the_last_megabyte_of_2gb(test_guests, vms):
    vm = Stepped(test_guests / "bigmem.img", 2048)
    vms.append(vm)
    vm.step_until("TOP OK")
    ram = vm.machine.memory.ram
    assert len(ram) == 2048 * MB
    assert ram[TOP : TOP + 512] == PATTERN and ram[TOP_MB : TOP_MB + 512] == PATTERN
    assert vm.touched_bytes() < SMALL  # 2 GB of guest RAM, a few pages of host memory


def test_the_top_of_2gb_is_beyond_a_16mb_machine(test_guests, vms):
    vm = Stepped(test_guests / "bigmem.img", 16)
    vms.append(vm)
    vm.step_until("FAIL ")
    vm.step_until("FAIL 02")  # AH=87h: the block move reaches past the end of memory


@pytest.mark.parametrize(("memory_mb", "profile", "ext_kb", "above_16m"), [
    (16, "pc-at", 15 * 1024, 0),
    (256, "pc-at", 0xFFFF, (256 - 16) * 16),
    (1024, "pc-pci", 0xFFFF, (1024 - 16) * 16),
    (2048, "pc-pci", 0xFFFF, 0x7F00),
])
def test_cmos_memory_registers(memory_mb, profile, ext_kb, above_16m, test_guests, vms):
    """17h/18h and 30h/31h: KB above 1 MB (at most FFFFh); 34h/35h: 64 KB blocks above
    16 MB; 15h/16h: 640 KB base memory (as SeaBIOS/QEMU fill them)."""
    vm = Stepped(test_guests / "bigmem.img", memory_mb, profile, run=False)
    vms.append(vm)

    def word(low: int) -> int:
        values = []
        for reg in (low, low + 1):
            vm.machine.bus.write(0x70, 1, reg)
            values.append(vm.machine.bus.read(0x71, 1))
        return values[0] | values[1] << 8

    assert (word(0x15), word(0x17), word(0x30), word(0x34)) == (640, ext_kb, ext_kb,
                                                                above_16m)


def test_e820_map_of_the_pci_machine_ends_at_2gb(test_guests, vms):
    from vmgui.bios.system import e820_map

    vm = Stepped(test_guests / "bigmem.img", 2048, run=False)
    vms.append(vm)
    assert e820_map(vm.machine.layout) == [
        (0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2),
        (0x100000, 0x7FF00000, 1), (0xFFFE0000, 0x20000, 2)]
    assert vm.machine.memory.read(0xFFFFFFF0, 16) == vm.machine.memory.read(0xFFFF0, 16)


def test_saved_state_of_2gb_is_small_and_brings_back_the_top(test_guests, tmp_path, vms):
    image = test_guests / "bigmem.img"
    first = Stepped(image, 2048)
    vms.append(first)
    first.step_until("TOP OK")
    touched = first.touched_bytes()
    state = tmp_path / "big.vmstate"
    snapshot.save(first.machine, state)
    assert state.stat().st_size < 1 * MB  # the untouched 2 GB are not in the file ...
    assert first.touched_bytes() == touched  # ... nor were they read to find that out

    second = Stepped(image, 2048, run=False)  # built and powered on: the guest has not run
    vms.append(second)
    ram = second.machine.memory.ram
    assert ram[TOP : TOP + 512] == bytes(512)
    ram[0x40000000 : 0x40000004] = b"junk"  # a page the saved machine never touched
    snapshot.load(second.machine, state)
    assert ram[TOP : TOP + 512] == PATTERN and ram[TOP_MB : TOP_MB + 512] == PATTERN
    assert ram[0x40000000 : 0x40000004] == bytes(4)
    assert second.touched_bytes() < SMALL
    second.machine._set_state(ev.RunState.RUNNING)
    for event in keys.text(" "):  # the guest waits for a key, then checks the top again
        second.machine.send(ev.KeyScancodes(event))
    second.step_until("TOP OK")


def test_a_2gb_state_does_not_load_into_a_smaller_machine(test_guests, tmp_path, vms):
    image = test_guests / "bigmem.img"
    first = Stepped(image, 2048)
    vms.append(first)
    first.step_until("TOP OK")
    state = tmp_path / "big.vmstate"
    snapshot.save(first.machine, state)
    small = Stepped(image, 16, run=False)
    vms.append(small)
    with pytest.raises(RestoreError, match="saved machine has 2048 MB of RAM"):
        snapshot.load(small.machine, state)


def test_the_machine_refuses_more_memory_than_its_profile_takes(test_guests):
    with pytest.raises(ValueError, match=r"memory 300 MB is more than the pc-at machine "
                                         r"takes \(257 MB\)"):
        Machine(MachineConfig(floppies=(test_guests / "bigmem.img",), memory_mb=300))
    gc.collect()
