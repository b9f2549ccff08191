"""vmgui's TLB fill hook (vmgui.core.fasttlb): data-only entries for pages that never
held code, self-modifying code still seen, and the CPU's own TLB once paging is on."""

from __future__ import annotations

import struct

import pytest

from vmgui.bios.api import Reg
from vmgui.core import cpustate, fasttlb
from vmgui.core.engine import UC_REG_CR0, UC_REG_CR3, Engine

PAGE_DIR, PAGE_TABLE = 0x10000, 0x11000
MAPPED_LINEAR, MAPPED_PHYS = 0x400000, 0x200000


@pytest.fixture
def engine():
    eng = Engine()
    ram = bytearray(0x500000)
    eng.map_buffer(0, ram, 0, len(ram))
    eng.test_ram = ram
    assert eng.fast_tlb is not None, "the C extension should have the TLB hook"
    yield eng
    eng.close()


def run_at(eng: Engine, at: int, code: bytes | None = None) -> None:
    if code is not None:
        eng.mem_write(at, code)
    eng.write(Reg.CS, at >> 4 & 0xF000)
    eng.write(Reg.EIP, at & 0xFFFF)
    assert eng.run() == 0


def test_stores_to_a_page_without_code_leave_it_data_and_code_pages_are_marked(engine):
    # mov ax, 2000h ; mov ds, ax ; mov word [0], 1234h ; mov word [2], 5678h ; hlt
    run_at(engine, 0x1000, bytes.fromhex("b80020 8ed8 c70600003412 c70602007856 f4"
                                         .replace(" ", "")))
    assert engine.test_ram[0x20000:0x20004] == bytes.fromhex("34127856")
    assert engine.fast_tlb.is_code_page(0x1000)
    assert not engine.fast_tlb.is_code_page(0x20000)


def test_code_written_by_the_guest_runs_as_written_before_and_after_it_ran(engine):
    """Page 3000h is first only written (data entries), then run, then rewritten by the
    guest while it holds translated code, then run again."""
    # write "mov ax, N ; hlt" (B8 N N F4) to 3000h, N from BX
    writer = bytes.fromhex("c6060030b8 891e0130 c6060330f4 f4".replace(" ", ""))
    engine.mem_write(0x1000, writer)
    for value in (0x1111, 0x2222, 0x3333):
        engine.write(Reg.EBX, value)
        run_at(engine, 0x1000)
        run_at(engine, 0x3000)
        assert engine.read(Reg.EAX) & 0xFFFF == value


def test_a_page_with_code_gets_no_fast_entry_after_its_entries_were_dropped(engine):
    """The TLB holds no entry of 3000h when the patcher stores there first at an offset
    without code, then over the code: a data-only entry would take the second store on
    the fast path, past the self-modifying-code check, and the old code would run."""
    run_at(engine, 0x3000, bytes.fromhex("b80100f4"))  # mov ax, 1 ; hlt
    assert engine.read(Reg.EAX) & 0xFFFF == 1
    # mov byte [3800h], 0 ; mov byte [3001h], 2 ; hlt  (writing it empties the TLB)
    run_at(engine, 0x1000, bytes.fromhex("c606003800 c606013002 f4".replace(" ", "")))
    run_at(engine, 0x3000)
    assert engine.read(Reg.EAX) & 0xFFFF == 2


def protected_mode(eng: Engine) -> None:
    """Flat 32-bit ring 0, paging off; page tables ready: MAPPED_LINEAR -> MAPPED_PHYS,
    the first 4 MiB identity-mapped."""
    ram = eng.test_ram
    struct.pack_into("<I", ram, PAGE_DIR, (PAGE_TABLE + 0x1000) | 3)
    for i in range(1024):
        struct.pack_into("<I", ram, PAGE_TABLE + 0x1000 + 4 * i, (i << 12) | 3)
    struct.pack_into("<I", ram, PAGE_DIR + 4 * (MAPPED_LINEAR >> 22), PAGE_TABLE | 3)
    struct.pack_into("<I", ram, PAGE_TABLE, MAPPED_PHYS | 3)
    cpu = cpustate.CpuContext(eng, cpustate.probe_layout())
    eng.write_raw(UC_REG_CR0, eng.read_raw(UC_REG_CR0) | 1)
    flat_code = cpustate.Segment(0x08, 0, 0xFFFFFFFF, 0x00CF9A00)
    flat_data = cpustate.Segment(0x10, 0, 0xFFFFFFFF, 0x00CF9200)
    cpu.save().load(cs=flat_code, ss=flat_data, cpl=0, esp=0x9000,
                    eip=0x1000, eflags=0x2)
    eng.write_raw(UC_REG_CR3, PAGE_DIR)


def test_when_the_guest_turns_paging_on_its_page_tables_decide(engine):
    ram = engine.test_ram
    struct.pack_into("<I", ram, MAPPED_PHYS, 0xC0DE)
    struct.pack_into("<I", ram, MAPPED_LINEAR, 0xBAD)
    protected_mode(engine)
    # mov [400004h], ebx  (before paging: linear = physical) ;
    # mov eax, cr0 ; or eax, 80000000h ; mov cr0, eax ;
    # mov ecx, [400000h] ; mov [400008h], ebx ; hlt
    code = bytes.fromhex("891d04004000 0f20c0 0d00000080 0f22c0 8b0d00004000"
                         " 891d08004000 f4".replace(" ", ""))
    engine.mem_write(0x1000, code)
    engine.write(Reg.EBX, 0x5EED)
    assert engine.run() == 0
    assert engine.read(Reg.ECX) == 0xC0DE
    assert struct.unpack_from("<I", ram, MAPPED_LINEAR + 4)[0] == 0x5EED
    assert struct.unpack_from("<I", ram, MAPPED_PHYS + 8)[0] == 0x5EED
    assert struct.unpack_from("<I", ram, MAPPED_LINEAR + 8)[0] == 0
    assert not engine.fast_tlb.virtual
    engine.reset_cpu()
    assert engine.fast_tlb.virtual
    assert not engine.fast_tlb.is_code_page(0x1000)  # the reset dropped the code


def test_without_the_native_hook_the_engine_keeps_the_cpu_tlb(monkeypatch):
    monkeypatch.setattr(fasttlb, "_native_fill", lambda: None)
    eng = Engine()
    ram = bytearray(0x20000)
    eng.map_buffer(0, ram, 0, len(ram))
    assert eng.fast_tlb is None
    eng.mem_write(0x1000, bytes.fromhex("b83412f4"))
    eng.write(Reg.EIP, 0x1000)
    assert eng.run() == 0 and eng.read(Reg.EAX) & 0xFFFF == 0x1234
    eng.close()


def test_code_on_a_page_stored_to_from_ring_3_is_seen_when_ring_3_rewrites_it(engine):
    """Ring 3 and ring 0 use separate TLBs in the CPU.  Ring 3 stores to page 3000h
    (a data-only entry in its TLB), ring 0 then runs code there: marking the page must
    drop ring 3's entry too, else ring 3's next stores over that code skip the
    self-modifying-code check and ring 0 runs the old code."""
    protected_mode(engine)
    cpu = cpustate.CpuContext(engine, cpustate.probe_layout())
    engine.hook_interrupt(lambda vector: engine.stop_now())  # int3 ends each piece
    ring = {0: (cpustate.Segment(0x08, 0, 0xFFFFFFFF, 0x00CF9A00),
                cpustate.Segment(0x10, 0, 0xFFFFFFFF, 0x00CF9200)),
            3: (cpustate.Segment(0x1B, 0, 0xFFFFFFFF, 0x00CFFA00),
                cpustate.Segment(0x23, 0, 0xFFFFFFFF, 0x00CFF200))}

    def run(cpl: int, eip: int) -> None:
        cs, ss = ring[cpl]
        cpu.save().load(cs=cs, ss=ss, cpl=cpl, esp=0x9000, eip=eip, eflags=0x2)
        assert engine.run() == 0

    # mov dword [3000h], 000001B8h ; mov word [3004h], 0CC00h ; int3
    # (writes "mov eax, 1 ; int3")
    engine.mem_write(0x1000, bytes.fromhex("c70500300000b8010000 66c70504300000 00cc cc"
                                           .replace(" ", "")))
    # mov byte [3800h], 0 ; mov byte [3001h], 2 ; int3
    engine.mem_write(0x1100, bytes.fromhex("c60500380000 00 c60501300000 02 cc"
                                           .replace(" ", "")))
    run(3, 0x1000)
    run(0, 0x3000)
    assert engine.read(Reg.EAX) == 1
    run(3, 0x1100)
    run(0, 0x3000)
    assert engine.read(Reg.EAX) == 2


def test_host_writes_to_pages_without_code_leave_them_data(engine):
    """A BIOS disk read into fresh memory drops no code, and must not mark the pages
    as code (the engine's lookup for dropping code is an instruction fetch)."""
    engine.mem_write(0x30000, bytes(0x2000))
    assert not engine.fast_tlb.is_code_page(0x30000)
    assert not engine.fast_tlb.is_code_page(0x31000)
    assert not engine.fast_tlb.may_hold_code(0x30000, 0x32000)
    run_at(engine, 0x1000, bytes.fromhex("b80100f4"))  # mov ax, 1 ; hlt
    assert engine.fast_tlb.may_hold_code(0x1000, 0x1001)
    assert engine.fast_tlb.may_hold_code(0x101000, 0x101001)  # its alias with A20 closed
    run_at(engine, 0x1000, bytes.fromhex("b80200f4"))  # rewritten by the host: seen
    assert engine.read(Reg.EAX) & 0xFFFF == 2
