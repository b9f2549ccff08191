"""The engine with the guest's paging on: returning from a run leaves the CPU's fault
state alone, and dropping translated code goes by physical address.

Both broke KolibriOS: every return from the engine translated an exit address through
the guest's page tables (a page fault each time: CR2 = FFFFFFFEh and a fault recorded
as in flight, so the guest's next #PF became a #DF and the one after stopped the engine
for good), and code was dropped by taking a physical address as linear."""

from __future__ import annotations

import struct

import pytest
from unicorn import x86_const as x86

from vmgui.bios.api import Reg
from vmgui.core import cpustate
from vmgui.core.engine import UC_REG_CR0, UC_REG_CR3, Engine

CODE_PHYS = 0x200000  # where the code is in RAM ...
CODE_LINEAR = 0x400000  # ... and where the guest sees it (RAM at 200000h is not mapped)
PAGE_DIR, PAGE_TABLE = 0x10000, 0x11000
CR2_SENTINEL = 0x00C0FFEE


@pytest.fixture(scope="module")
def layout():
    return cpustate.probe_layout()


@pytest.fixture(params=[True, False], ids=["native-stop", "slicing"])
def paged(request, layout):
    """An engine in 32-bit protected mode with paging: one page table mapping
    CODE_LINEAR to CODE_PHYS, nothing else."""
    engine = Engine(use_native_stop=request.param, code_cache_mb=4)
    ram = bytearray(0x400000)
    engine.map_buffer(0, ram, 0, len(ram))
    struct.pack_into("<I", ram, PAGE_DIR + 4 * (CODE_LINEAR >> 22), PAGE_TABLE | 0x3)
    struct.pack_into("<I", ram, PAGE_TABLE + 4 * ((CODE_LINEAR >> 12) & 0x3FF), CODE_PHYS | 0x3)
    cpu = cpustate.CpuContext(engine, layout)
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | 1)
    flat_code = cpustate.Segment(0x08, 0, 0xFFFFFFFF, 0x00CF9A00)
    flat_data = cpustate.Segment(0x10, 0, 0xFFFFFFFF, 0x00CF9200)
    cpu.save().load(cs=flat_code, ss=flat_data, cpl=0, esp=0x9000, eip=CODE_LINEAR,
                    eflags=0x2)
    engine.write_raw(UC_REG_CR3, PAGE_DIR)
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | 0x80000000)
    engine.write_raw(x86.UC_X86_REG_CR2, CR2_SENTINEL)
    yield engine, cpu
    engine.close()


def _run_from(engine: Engine, code_value: int) -> None:
    engine.write(Reg.EIP, CODE_LINEAR)
    assert engine.run() == 0
    assert engine.read(Reg.EAX) == code_value


def test_a_run_with_paging_on_leaves_cr2_and_the_fault_record_alone(paged):
    engine, cpu = paged
    engine.mem_write(CODE_PHYS, bytes.fromhex("b801000000f4"))  # mov eax, 1 ; hlt
    for _ in range(3):  # the third return used to stop the engine for good
        _run_from(engine, 1)
        assert engine.read_raw(x86.UC_X86_REG_CR2) == CR2_SENTINEL
        assert cpu.save().exception_in_flight == -1


def test_host_writes_drop_translated_code_by_physical_address(paged):
    engine, cpu = paged
    engine.mem_write(CODE_PHYS, bytes.fromhex("b801000000f4"))  # mov eax, 1 ; hlt
    _run_from(engine, 1)
    engine.mem_write(CODE_PHYS, bytes.fromhex("b802000000f4"))  # mov eax, 2 ; hlt
    _run_from(engine, 2)
    # dropping the code raised no fault and left paging as it was
    assert cpu.save().exception_in_flight == -1
    assert engine.read_raw(x86.UC_X86_REG_CR2) == CR2_SENTINEL
    assert engine.read_raw(UC_REG_CR0) & 0x80000001 == 0x80000001


def test_a_guest_page_fault_after_many_runs_is_a_page_fault_not_a_double_fault(paged):
    engine, _cpu = paged
    seen = []
    engine.hook_interrupt(lambda vector: (seen.append(vector), engine.stop_now()))
    engine.mem_write(CODE_PHYS, bytes.fromhex("b801000000f4"))
    for _ in range(3):
        _run_from(engine, 1)
    # mov eax, [0x00800000] (not mapped): #PF, vector 14
    engine.mem_write(CODE_PHYS, bytes.fromhex("a100008000f4"))
    engine.write(Reg.EIP, CODE_LINEAR)
    engine.run()
    assert seen == [14]
    assert engine.read_raw(x86.UC_X86_REG_CR2) == 0x00800000
