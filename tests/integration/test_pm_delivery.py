"""Protected-mode interrupt and exception delivery through the guest's IDT (issue 10):
tests/guests/pmint.asm runs one case after another and reports each on port E9h."""

from __future__ import annotations

import pytest

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig

FLOPPY_BYTES = 1_474_560
EXPECTED = [
    "INT30 CPL0 OK",  # int n from ring 0 through a DPL 0 gate
    "GP 00001234",  # #GP with the faulting selector as error code
    "PF 00000000 00300123",  # #PF: not present, read; CR2 the address
    "PF 00000002 00301ABC",  # #PF: not present, write
    "PF FIXED 5A",  # the handler mapped the page and the MOV ran again
    "RING3 IRQS 03 SS 0023 OK",  # IRQ0 in ring 3: TSS stack, SS:ESP pushed, IRETD back
    "DF 00000000",  # #GP with its gate not present -> #NP -> #DF, error code 0
    "AFTER TRIPLE FAULT",  # an empty IDT: #UD -> #GP -> #DF -> shutdown -> reset
]


@pytest.fixture
def pmint(tmp_path, test_guests):
    image = tmp_path / "pmint.img"
    image.write_bytes((test_guests / "pmint.img").read_bytes().ljust(FLOPPY_BYTES, b"\0"))
    return image


def run(image, seconds: float) -> tuple[str, list]:
    out, events = bytearray(), []

    def on_event(event) -> None:
        if isinstance(event, ev.DebugOutput):
            out.extend(event.data)
        elif isinstance(event, ev.GuestReset | ev.GuestCrashed):
            events.append(event)

    machine = Machine(MachineConfig(floppies=(image,), deterministic=True), on_event=on_event)
    try:
        machine.power_on()
        machine.advance(seconds)
    finally:
        machine.close()
    return out.decode("ascii", "replace"), events


def test_every_delivery_case_reports_as_on_a_real_cpu(pmint):
    text, events = run(pmint, 2.0)
    assert text.splitlines() == EXPECTED
    resets = [e for e in events if isinstance(e, ev.GuestReset)]
    assert len(resets) == 1 and not any(isinstance(e, ev.GuestCrashed) for e in events)
    assert "triple fault" in resets[0].reason
    assert "#UD" in resets[0].reason  # names what started it


def test_the_same_run_twice_gives_the_same_output(pmint):
    assert run(pmint, 1.0) == run(pmint, 1.0)


def test_a_task_gate_stops_with_a_protected_mode_report(tmp_path, test_guests):
    image = tmp_path / "pmtask.img"
    image.write_bytes((test_guests / "pmtask.img").read_bytes().ljust(FLOPPY_BYTES, b"\0"))
    _text, events = run(image, 0.5)
    crash = next(e for e in events if isinstance(e, ev.GuestCrashed))
    assert "task gate" in crash.reason and "vector 40h" in crash.reason
    report = crash.report
    assert "32-bit protected mode, CPL 0, paging off" in report
    assert "EAX=7A5C6A7E" in report
    head = report.splitlines()[1]
    eip = int(head.split("CS:EIP=0008:")[1][:8], 16)
    assert f"(linear {eip:08X})" in head  # flat code segment: linear = EIP
    assert f"{eip:08x}: int 0x40" in report  # 32-bit disassembly at CS.base+EIP


def test_an_idt_beyond_ram_faults_into_a_triple_fault_not_an_internal_error(tmp_path):
    """The boot-sector fuzz found it: lidt with a base past the end of RAM made the gate
    read raise IndexError inside vmgui.  Memory that is not there reads all ones, so the
    gate is not a valid one: #GP, #DF, and the machine resets."""
    # lgdt [gdtr]; mov eax,cr0; or al,1; mov cr0,eax; jmp 08h:pm32;
    # pm32: lidt [idtr]; int 30h; jmp $     (GDT: null, flat code; IDT at 40000000h)
    code = bytes.fromhex("0f0116" "207c" "0f20c0" "0c01" "0f22c0" "ea" "1a7c" "0800")
    code = code.ljust(0x1A, b"\x90")
    code += bytes.fromhex("0f011d" "2e7c0000" "cd30" "ebfe")
    code = code.ljust(0x20, b"\x90")
    code += bytes.fromhex("0f00" "267c0000") + bytes(2)  # gdtr: limit 15, base 7C26h
    code += bytes.fromhex("0000000000000000" "ffff0000009acf00")  # null, flat 32-bit code
    code += bytes.fromhex("ff07" "00000040")  # idtr: 256 gates at 40000000h (no RAM)
    image = tmp_path / "idt-beyond-ram.img"
    image.write_bytes((code.ljust(510, b"\0") + b"\x55\xaa").ljust(FLOPPY_BYTES, b"\0"))
    _text, events = run(image, 0.2)
    assert not any(isinstance(e, ev.GuestCrashed) for e in events), events
    resets = [e for e in events if isinstance(e, ev.GuestReset)]
    assert resets and "triple fault" in resets[0].reason


def test_virtual_8086_mode_and_16_bit_gates(tmp_path, test_guests):
    """tests/guests/pmv86.asm: int 41h through a 16-bit gate (6-byte frame, 16-bit IRET);
    int 40h and IRQ0 from virtual-8086 mode reach ring 0 through the TSS with the V86
    frame (ES, DS, FS, GS pushed, VM set, data segments null), and IRETD goes back."""
    image = tmp_path / "pmv86.img"
    image.write_bytes((test_guests / "pmv86.img").read_bytes().ljust(FLOPPY_BYTES, b"\0"))
    text, events = run(image, 0.5)
    assert text.splitlines() == ["GATE16 OK", "V86 INT OK", "V86 IRQ OK"]
    assert not events
