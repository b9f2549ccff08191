"""Open bus (vmgui.core.openbus): where no memory answers, reads give all ones and
writes vanish, with paging off (Linux 6.1 reads its stack canary there before it turns
paging on) and on (a page table pointing past RAM); fetching code from there still stops
the engine, and so does a guest that strays over too many pages."""

from __future__ import annotations

import struct

import pytest
from unicorn import unicorn_const as ucc

from vmgui.bios.api import Reg
from vmgui.core import cpustate, openbus
from vmgui.core.engine import UC_REG_CR0, UC_REG_CR3, Engine

RAM = 0x400000
CODE = 0x1000
CANARY = 0xC3E6A6E0  # the address Linux 6.1 reads: its percpu canary, taken as physical
PAGE_DIR, PAGE_TABLE = 0x10000, 0x11000
LINEAR = 0x400000  # mapped by the page table to PHYS_NOWHERE
PHYS_NOWHERE = 0x9000000  # past the end of RAM


@pytest.fixture(scope="module")
def layout():
    return cpustate.probe_layout()


@pytest.fixture(params=["everywhere", "above RAM"])
def flat(layout, request):
    """An engine in flat 32-bit protected mode, paging off, RAM 0..4 MiB, an OpenBus
    watching all of memory or only above RAM (as a machine has it)."""
    engine = Engine(use_native_stop=True, code_cache_mb=4)
    ram = bytearray(RAM)
    engine.map_buffer(0, ram, 0, RAM)
    cpu = cpustate.CpuContext(engine, layout)
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | 1)
    code = cpustate.Segment(0x08, 0, 0xFFFFFFFF, 0x00CF9A00)
    data = cpustate.Segment(0x10, 0, 0xFFFFFFFF, 0x00CF9200)
    cpu.save().load(cs=code, ss=data, cpl=0, esp=0x9000, eip=CODE, eflags=0x2)
    ranges = None if request.param == "everywhere" else [(RAM, 0xFFFFFFFFFFFFFFFF)]
    bus = openbus.OpenBus(engine, ranges)
    yield engine, ram, bus
    engine.close()


def run(engine: Engine, code: bytes, at: int = CODE) -> int:
    engine.mem_write(at, code)
    engine.write(Reg.EIP, at)
    return engine.run()


def test_reads_where_nothing_answers_give_all_ones_and_writes_vanish(flat):
    engine, _ram, bus = flat
    code = (b"\xa1" + struct.pack("<I", CANARY)  # mov eax, [CANARY]
            + b"\xc7\x05" + struct.pack("<II", CANARY, 0x12345678)  # mov dword [CANARY], ..
            + b"\x8b\x1d" + struct.pack("<I", CANARY)  # mov ebx, [CANARY]
            + b"\x66\x8b\x0d" + struct.pack("<I", CANARY + 0x10)  # mov cx, [CANARY+10h]
            + b"\xf4")
    assert run(engine, code) == ucc.UC_ERR_OK
    assert engine.read(Reg.EAX) == 0xFFFFFFFF
    assert engine.read(Reg.EBX) == 0xFFFFFFFF  # the write went nowhere
    assert engine.read(Reg.ECX) & 0xFFFF == 0xFFFF
    assert bus.pages == [CANARY & ~0xFFF]  # one page, mapped once


def test_a_write_first_maps_the_page_too(flat):
    engine, _ram, bus = flat
    code = (b"\xc7\x05" + struct.pack("<II", PHYS_NOWHERE, 7)
            + b"\xa1" + struct.pack("<I", PHYS_NOWHERE) + b"\xf4")
    assert run(engine, code) == ucc.UC_ERR_OK
    assert engine.read(Reg.EAX) == 0xFFFFFFFF and bus.pages == [PHYS_NOWHERE]


def test_with_paging_on_the_physical_page_is_the_one_mapped(flat):
    engine, ram, bus = flat
    struct.pack_into("<I", ram, PAGE_DIR + 4 * (LINEAR >> 22), PAGE_TABLE | 0x3)
    struct.pack_into("<I", ram, PAGE_TABLE, PHYS_NOWHERE | 0x3)
    struct.pack_into("<I", ram, PAGE_DIR, 0x12000 | 0x3)  # identity map of the first 4 MiB
    for i in range(1024):
        struct.pack_into("<I", ram, 0x12000 + 4 * i, (i << 12) | 0x3)
    engine.write_raw(UC_REG_CR3, PAGE_DIR)
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | 0x80000000)
    code = b"\xa1" + struct.pack("<I", LINEAR + 0x20) + b"\xf4"  # mov eax, [LINEAR+20h]
    assert run(engine, code) == ucc.UC_ERR_OK
    assert engine.read(Reg.EAX) == 0xFFFFFFFF
    assert bus.pages == [PHYS_NOWHERE]


def test_jumping_to_where_nothing_answers_still_stops_the_engine(flat):
    engine, _ram, bus = flat
    code = b"\xe9" + struct.pack("<i", PHYS_NOWHERE - (CODE + 5))  # jmp PHYS_NOWHERE
    assert run(engine, code) == ucc.UC_ERR_FETCH_UNMAPPED
    assert bus.pages == []


def test_a_guest_straying_over_too_many_pages_is_stopped(flat, monkeypatch):
    engine, _ram, bus = flat
    monkeypatch.setattr(openbus, "MAX_PAGES", 2)
    reads = b"".join(b"\xa1" + struct.pack("<I", PHYS_NOWHERE + n * 0x1000) for n in range(3))
    assert run(engine, reads + b"\xf4") == ucc.UC_ERR_READ_UNMAPPED
    assert bus.pages[:2] == [PHYS_NOWHERE, PHYS_NOWHERE + 0x1000]


@pytest.mark.parametrize("profile", ["pc-at", "pc-pci"])
def test_a_machine_watches_only_where_nothing_is_mapped(profile, monkeypatch):
    """The open bus's engine hook must not cover RAM, the framebuffer or the high BIOS:
    a memory hook over a page keeps every guest store there on the engine's slow path
    (measured: 35 ns a store instead of 1.5 ns with paging off)."""
    from vmgui.core.machine import Machine, MachineConfig
    from vmgui.core.memory import HIGH_BIOS_BASE, HIGH_BIOS_SIZE, LFB_BASE, LFB_SIZE

    watched: list[tuple[int, int]] = []
    original = Engine.hook_mem_invalid

    def record(engine, fn, begin=1, end=0):
        watched.append((begin, end))
        return original(engine, fn, begin, end)

    monkeypatch.setattr(Engine, "hook_mem_invalid", record)
    machine = Machine(MachineConfig(memory_mb=32, profile=profile))
    try:
        mapped = [(0, machine.memory.size - 1)]
        if machine.memory.lfb is not None:
            mapped.append((LFB_BASE, LFB_BASE + LFB_SIZE - 1))
        if machine.memory.high_bios:
            mapped.append((HIGH_BIOS_BASE, HIGH_BIOS_BASE + HIGH_BIOS_SIZE - 1))
        assert watched and all(begin <= end for begin, end in watched)  # no "everywhere"
        for begin, end in watched:
            for low, high in mapped:
                assert end < low or begin > high, (hex(begin), hex(end), hex(low))
        # everything else is watched: just above RAM, past 4 GiB
        for address in (machine.memory.size, 0xDFFFFFFF, 0x100000000):
            assert any(begin <= address <= end for begin, end in watched)
    finally:
        machine.close()
