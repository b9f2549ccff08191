"""PCI, CPUID and RDTSC as guests see them, on the two machine profiles (issue 10).

tests/guests/pcienum.asm asks the PCI BIOS and walks bus 0 through mechanism #1;
tests/guests/cpuinfo.asm prints CPUID leaves 0 and 1, two RDTSC readings taken
100,000 loop iterations apart and how many reads a 10 ms busy-wait on the counter took.
Both run in deterministic mode (guest time from executed blocks), driven on the test's
own thread.
"""

from __future__ import annotations

import gc
import re

import pytest

from vmgui.core import events as ev
from vmgui.core import snapshot
from vmgui.core.cpuid import TSC_HZ
from vmgui.core.machine import Machine, MachineConfig
from vmgui.devices.pci import CfgReg

GUEST_SECONDS = 0.3  # both guests finish in well under 10 ms of guest time
LOOP_BLOCKS = 100_000  # cpuinfo.asm's delay loop: one block per iteration
NS_PER_BLOCK = 10  # vmgui.core.timing.VirtualClock's default

FPU, TSC, APIC, SEP, CMOV, MMX, SSE = 1, 1 << 4, 1 << 9, 1 << 11, 1 << 15, 1 << 23, 1 << 25


def run(image, profile: str) -> tuple[str, Machine]:
    """Serial output of ``image`` after GUEST_SECONDS on a deterministic ``profile``
    machine (left open: the caller closes it)."""
    events: list[ev.Event] = []
    machine = Machine(MachineConfig(floppies=(image,), profile=profile, deterministic=True),
                      on_event=events.append)
    machine.power_on()
    machine.advance(GUEST_SECONDS)
    assert not [e for e in events if isinstance(e, ev.GuestCrashed)]
    serial = b"".join(e.data for e in events if isinstance(e, ev.SerialOutput))
    return serial.decode("ascii"), machine


def output(image, profile: str) -> str:
    text, machine = run(image, profile)
    machine.close()
    gc.collect()
    assert text.endswith("DONE\r\n"), text
    return text


def fields(text: str, label: str) -> list[int]:
    line = re.search(rf"^{label} (.*)$", text, re.M)
    assert line, text
    return [int(word, 16) for word in line.group(1).split()]


# ---------------------------------------------------------------------- PCI
def test_pc_pci_answers_the_pci_bios_and_enumerates_four_functions(test_guests):
    text = output(test_guests / "pcienum.img", "pc-pci")
    edx, ax, bx, cx = fields(text, "BIOS")
    assert edx == 0x20494350 and ax & 0xFF == 0x01 and bx == 0x0210 and cx & 0xFF == 0
    found = re.findall(r"^@(\w{8}) (\w{8}) (\w{8})", text, re.M)
    assert found == [
        ("80000000", "12378086", "06000002"),  # 00:00.0 i440FX host bridge
        ("80000800", "70008086", "06010000"),  # 00:01.0 PIIX3 ISA bridge
        ("80000900", "70108086", "01018000"),  # 00:01.1 PIIX3 IDE (compatibility mode)
        ("80001000", "11111234", "03000000"),  # 00:02.0 std VGA
    ]
    assert fields(text, "CFC") == [0x12378086]


def test_pc_at_has_no_pci_bios_and_reads_all_ones(test_guests):
    text = output(test_guests / "pcienum.img", "pc-at")
    assert fields(text, "NOBIOS") == [0xB101]  # CF set, AX untouched: as before PCI
    assert "@" not in text
    assert fields(text, "CFC") == [0xFFFFFFFF]


def test_pci_configuration_survives_a_saved_state(test_guests, tmp_path):
    first, machine = run(test_guests / "pcienum.img", "pc-pci")
    copy = Machine(MachineConfig(floppies=(test_guests / "pcienum.img",), profile="pc-pci",
                                 deterministic=True))
    try:
        vga = machine.pci.function_at(2)
        assert vga.read(CfgReg.BAR0, 4) == 0xE0000008  # POST placed the framebuffer
        vga.write(CfgReg.INTERRUPT_LINE, 1, 0x0B)
        snapshot.save(machine, tmp_path / "pci.vmstate")
        copy.power_on()
        copy.pci.function_at(2).write(CfgReg.BAR0, 4, 0)
        snapshot.load(copy, tmp_path / "pci.vmstate")
        restored = copy.pci.function_at(2)
        assert restored.read(CfgReg.INTERRUPT_LINE, 1) == 0x0B
        assert restored.read(CfgReg.BAR0, 4) == 0xE0000008
        assert copy.pci.address == machine.pci.address
    finally:
        machine.close()
        copy.close()
        gc.collect()


def test_pc_at_saved_state_has_no_pci_part(test_guests):
    _text, machine = run(test_guests / "pcienum.img", "pc-at")
    try:
        assert machine.pci is None
        _meta, parts = snapshot.capture(machine)
        assert b'"pci"' not in parts["devices"]
    finally:
        machine.close()
        gc.collect()


# ---------------------------------------------------------------------- CPUID, RDTSC
def test_pc_pci_is_a_pentium_iii_without_apic(test_guests):
    text = output(test_guests / "cpuinfo.img", "pc-pci")
    eax, ebx, ecx, edx = fields(text, "C0")
    assert eax == 2  # highest basic leaf (serial number disabled)
    assert (ebx, edx, ecx) == (0x756E6547, 0x49656E69, 0x6C65746E)  # "GenuineIntel"
    eax, ebx, ecx, edx = fields(text, "C1")
    assert (eax >> 8 & 0xF, eax >> 4 & 0xF) == (6, 7)  # family 6, model 7: Katmai
    assert edx & (FPU | TSC | CMOV | MMX | SSE) == FPU | TSC | CMOV | MMX | SSE
    assert not edx & (APIC | SEP) and ecx == 0 and ebx == 0


def test_pc_at_keeps_the_engines_own_cpuid(test_guests):
    """As before CPU models existed: unicorn's default (Haswell-class) identity, which
    runs CMOV, SSE and VEX-encoded code that pc-at guests and bug reproductions use."""
    text = output(test_guests / "cpuinfo.img", "pc-at")
    assert fields(text, "C0") == [0x0D, 0x756E6547, 0x6C65746E, 0x49656E69]
    eax, _ebx, _ecx, edx = fields(text, "C1")
    assert eax == 0x000306C4  # family 6, model 3Ch
    assert edx & (FPU | TSC | CMOV | MMX | SSE | APIC) == FPU | TSC | CMOV | MMX | SSE | APIC


@pytest.mark.parametrize("profile", ["pc-at", "pc-pci"])
def test_rdtsc_follows_guest_time_and_repeats_in_deterministic_mode(test_guests, profile):
    runs = []
    for _ in range(2):
        text, machine = run(test_guests / "cpuinfo.img", profile)
        end_tsc = machine.clock.now_ns() * TSC_HZ // 1_000_000_000
        machine.close()
        gc.collect()
        runs.append(text)
        t1, t2 = fields(text, "T1")[0], fields(text, "T2")[0]
        # at least the loop's guest time lies between the readings, at 500 MHz
        assert t2 - t1 >= LOOP_BLOCKS * NS_PER_BLOCK * TSC_HZ // 1_000_000_000
        assert 0 < t1 < t2 <= end_tsc
    assert runs[0] == runs[1]


def test_a_busy_wait_on_the_tsc_sees_time_pass_in_deterministic_mode(test_guests):
    """cpuinfo.asm spins on RDTSC until 10 ms of counter have passed.  Each read is a
    hook costing the host microseconds, so each must cost the guest about as much: the
    wait takes ~10,000 reads, not the ~170,000 it took when a read cost 20 ns (a
    real RDTSC's time), which made GRUB's ``sleep`` run 150 times slower than real time."""
    text = output(test_guests / "cpuinfo.img", "pc-pci")
    spins = fields(text, "W")[0]
    assert 1 <= spins <= 20_000


def test_rdtsc_stands_still_while_the_machine_is_paused(test_guests):
    """Guest time, not host time: between two reads with no guest code run, the counter
    does not move, however long the host waited."""
    _text, machine = run(test_guests / "cpuinfo.img", "pc-pci")
    try:
        first = machine.cpu.tsc()
        assert machine.cpu.tsc() == first
        machine.advance(0.001)
        assert machine.cpu.tsc() - first >= 1_000_000 * TSC_HZ // 1_000_000_000
    finally:
        machine.close()
        gc.collect()


@pytest.mark.parametrize("profile", ["pc-at", "pc-pci"])
def test_rdtsc_advances_in_real_time_mode(test_guests, profile):
    """Guest time from the host clock: the two readings increase too."""
    import threading
    import time

    events: list[ev.Event] = []
    machine = Machine(MachineConfig(floppies=(test_guests / "cpuinfo.img",), profile=profile),
                      on_event=events.append)
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while b"DONE" not in b"".join(e.data for e in list(events)
                                     if isinstance(e, ev.SerialOutput)):
            assert time.monotonic() < deadline, "the guest did not finish"
            time.sleep(0.01)
    finally:
        machine.send(ev.PowerOff())
        thread.join(5)
    text = b"".join(e.data for e in events if isinstance(e, ev.SerialOutput)).decode()
    assert 0 < fields(text, "T1")[0] < fields(text, "T2")[0]
