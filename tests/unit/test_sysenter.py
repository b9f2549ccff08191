"""SYSENTER (vmgui.core.sysenter): from ring 3 into the flat ring-0 code and stack the
IA32_SYSENTER_* MSRs name, with IF cleared, as Linux's vDSO uses it; the engine's own
SYSEXIT brings the caller back; SYSENTER_CS = 0 raises #GP(0) at the instruction.  Before
the hook the engine ran SYSENTER as a no-op (EIP just moved past it)."""

from __future__ import annotations

import struct

import pytest
from unicorn import x86_const as x86

from vmgui.bios.api import Reg
from vmgui.core import cpustate, pmode
from vmgui.core.engine import UC_REG_CR0, Engine, Mmr
from vmgui.core.sysenter import SYSENTER_CS_MSR, SYSENTER_EIP_MSR, SYSENTER_ESP_MSR, Sysenter

USER_CODE = 0x1000
KERNEL_ENTRY = 0x2000
KERNEL_STACK = 0x9000
USER_STACK = 0x7000
IDT = 0x3000
GP_HANDLER = 0x4000
KERNEL_CS = 0x10  # SS is KERNEL_CS + 8; SYSEXIT returns to KERNEL_CS + 16/24 | 3


class Ram:
    def __init__(self, size: int = 0x100000) -> None:
        self.ram = bytearray(size)

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.ram[addr:addr + size])

    def write_data(self, addr: int, data: bytes) -> None:
        self.ram[addr:addr + len(data)] = data


@pytest.fixture(scope="module")
def layout():
    return cpustate.probe_layout()


@pytest.fixture
def cpu(layout):
    """Flat protected mode at CPL 3 in USER_CODE, the MSRs set as Linux sets them."""
    engine = Engine(code_cache_mb=4)
    ram = Ram()
    engine.map_buffer(0, ram.ram, 0, len(ram.ram))
    pm = pmode.ProtectedMode(engine, ram, layout)
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | 1)
    user_code = cpustate.Segment(KERNEL_CS + 16 | 3, 0, 0xFFFFFFFF, 0x00CFFB00)
    user_data = cpustate.Segment(KERNEL_CS + 24 | 3, 0, 0xFFFFFFFF, 0x00CFF300)
    pm.cpu.save().load(cs=user_code, ss=user_data, cpl=3, esp=USER_STACK, eip=USER_CODE,
                       eflags=0x202)
    engine.write_msr(SYSENTER_CS_MSR, KERNEL_CS)
    engine.write_msr(SYSENTER_ESP_MSR, KERNEL_STACK)
    engine.write_msr(SYSENTER_EIP_MSR, KERNEL_ENTRY)
    hook = Sysenter(engine, pm)
    yield engine, ram, pm, hook
    engine.close()


def test_sysenter_enters_ring_0_at_the_msrs_entry_with_interrupts_off(cpu):
    engine, ram, pm, hook = cpu
    ram.ram[USER_CODE:USER_CODE + 3] = b"\x0f\x34\xf4"  # sysenter; (hlt, never reached)
    ram.ram[KERNEL_ENTRY:KERNEL_ENTRY + 3] = b"\x89\xe3\xf4"  # mov ebx, esp; hlt
    engine.write(Reg.EIP, USER_CODE)
    assert engine.run() == 0
    assert engine.read(Reg.EIP) == KERNEL_ENTRY + 3  # after the kernel's hlt
    assert engine.read(Reg.EBX) == KERNEL_STACK
    assert (engine.read(Reg.CS), engine.read(Reg.SS)) == (KERNEL_CS, KERNEL_CS + 8)
    ctx = pm.cpu.save()
    assert ctx.cpl == 0 and not ctx.eflags & 0x200
    assert hook.calls == 1


def test_sysexit_returns_to_the_caller_at_edx_with_ecx_as_stack(cpu):
    """Linux's round trip: the vDSO's SYSENTER, the kernel's STI; SYSEXIT."""
    engine, ram, pm, hook = cpu
    seen = []
    engine.hook_interrupt(lambda vector: (seen.append(vector), engine.stop_now()))
    ram.ram[USER_CODE:USER_CODE + 4] = b"\x0f\x34\x90\xcc"  # sysenter; nop; int3
    kernel = (b"\xba" + struct.pack("<I", USER_CODE + 2)  # mov edx, return address
              + b"\xb9" + struct.pack("<I", USER_STACK - 16)  # mov ecx, user stack
              + b"\xb8\x2a\x00\x00\x00"  # mov eax, 42 (the system call's result)
              + b"\xfb\x0f\x35")  # sti; sysexit
    ram.ram[KERNEL_ENTRY:KERNEL_ENTRY + len(kernel)] = kernel
    engine.write(Reg.EIP, USER_CODE)
    engine.write(Reg.EAX, 0)
    engine.run()
    assert seen == [3]  # the int3 after the nop: back in the caller
    assert engine.read(Reg.EIP) == USER_CODE + 4 and engine.read(Reg.EAX) == 42
    assert engine.read(Reg.ESP) == USER_STACK - 16
    assert engine.read(Reg.CS) == (KERNEL_CS + 16) | 3 and pm.cpu.save().cpl == 3


def test_a_prefixed_sysenter_lands_at_the_entry_too(cpu):
    engine, ram, pm, hook = cpu
    ram.ram[USER_CODE:USER_CODE + 4] = b"\x3e\x0f\x34\xf4"  # ds: sysenter
    ram.ram[KERNEL_ENTRY] = 0xF4
    engine.write(Reg.EIP, USER_CODE)
    assert engine.run() == 0
    assert engine.read(Reg.EIP) == KERNEL_ENTRY + 1


def test_sysenter_with_sysenter_cs_zero_raises_gp_at_the_instruction(cpu):
    engine, ram, pm, hook = cpu
    engine.write_msr(SYSENTER_CS_MSR, 0)
    # an IDT whose #GP gate (a 32-bit interrupt gate, DPL 0) leads to GP_HANDLER: hlt
    gate = struct.pack("<HHBBH", GP_HANDLER & 0xFFFF, KERNEL_CS, 0, 0x8E, GP_HANDLER >> 16)
    ram.ram[IDT + 8 * 13:IDT + 8 * 14] = gate
    engine.write_mmr(x86.UC_X86_REG_IDTR, Mmr(0, IDT, 8 * 32 - 1, 0))
    gdt = 0x5000  # the handler's CS and the TSS with the ring-0 stack
    ram.ram[gdt + KERNEL_CS:gdt + KERNEL_CS + 8] = struct.pack("<Q", 0x00CF9A000000FFFF)
    ram.ram[gdt + KERNEL_CS + 8:gdt + KERNEL_CS + 16] = struct.pack("<Q", 0x00CF92000000FFFF)
    engine.write_mmr(x86.UC_X86_REG_GDTR, Mmr(0, gdt, 0x7F, 0))
    tss = 0x6000
    struct.pack_into("<II", ram.ram, tss + 4, KERNEL_STACK, KERNEL_CS + 8)  # ESP0, SS0
    engine.write_mmr(x86.UC_X86_REG_TR, Mmr(0x40, tss, 0x67, 0x8B00))
    ram.ram[USER_CODE:USER_CODE + 3] = b"\x0f\x34\x90"
    ram.ram[GP_HANDLER] = 0xF4
    engine.write(Reg.EIP, USER_CODE)
    assert engine.run() == 0
    assert engine.read(Reg.EIP) == GP_HANDLER + 1
    esp = engine.read(Reg.ESP)
    error_code, eip, cs = struct.unpack_from("<III", ram.ram, esp)
    assert (error_code, eip, cs & 0xFFFF) == (0, USER_CODE, (KERNEL_CS + 16) | 3)
    assert hook.calls == 0


def test_a_restored_state_enters_at_the_msrs_entry(cpu, layout):
    """Saved state: the IA32_SYSENTER_* MSRs travel in the engine's context blob, so a
    guest restored into a fresh engine (another machine) still enters its kernel."""
    engine, ram, _, _ = cpu
    ram.ram[USER_CODE:USER_CODE + 3] = b"\x0f\x34\xf4"  # sysenter; (hlt, never reached)
    ram.ram[KERNEL_ENTRY:KERNEL_ENTRY + 3] = b"\x89\xe3\xf4"  # mov ebx, esp; hlt
    engine.write(Reg.EIP, USER_CODE)
    blob = engine.context_save()
    fresh = Engine(code_cache_mb=4)
    try:
        fresh.map_buffer(0, ram.ram, 0, len(ram.ram))
        hook = Sysenter(fresh, pmode.ProtectedMode(fresh, ram, layout))
        fresh.context_restore(blob)
        assert fresh.read_msr(SYSENTER_EIP_MSR) == KERNEL_ENTRY
        assert fresh.run() == 0
        assert fresh.read(Reg.EIP) == KERNEL_ENTRY + 3 and fresh.read(Reg.EBX) == KERNEL_STACK
        assert hook.calls == 1
    finally:
        fresh.close()
