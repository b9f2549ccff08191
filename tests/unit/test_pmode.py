"""Protected-mode pieces on their own: the start-up probe of the engine's hidden CPU
state, the page walk used for delivery and reports, and the double-fault rules."""

from __future__ import annotations

import struct

import pytest
from unicorn import x86_const as x86

from vmgui.core import cpustate, pmode
from vmgui.core.engine import UC_REG_CR0, UC_REG_CR3, Engine


class Ram:
    """Guest RAM as the Memory protocol's read/write_data see it."""

    def __init__(self, size: int = 0x800000) -> None:
        self.ram = bytearray(size)

    def read(self, addr: int, size: int) -> bytes:
        if addr < 0 or addr + size > len(self.ram):
            raise IndexError(f"read of {size} bytes at {addr:#x} beyond memory")
        return bytes(self.ram[addr:addr + size])

    def write_data(self, addr: int, data: bytes) -> None:
        self.ram[addr:addr + len(data)] = data

    def u32(self, addr: int) -> int:
        return struct.unpack_from("<I", self.ram, addr)[0]


@pytest.fixture(scope="module")
def layout():
    return cpustate.probe_layout()


@pytest.fixture
def cpu(layout):
    engine = Engine(code_cache_mb=4)
    ram = Ram()
    yield engine, ram, pmode.ProtectedMode(engine, ram, layout)
    engine.close()


def test_the_probe_finds_each_field_once_and_in_the_engines_order(layout):
    assert layout.seg_stride > 0
    assert layout.regs < layout.eip < layout.eflags < layout.hflags < layout.segs
    assert layout.segs < layout.gdt < layout.idt
    assert layout.error_code < layout.exception_is_int < layout.old_exception


def test_an_ambiguous_field_refuses_the_engine_build(monkeypatch):
    real = cpustate._find_all
    monkeypatch.setattr(cpustate, "_find_all",
                        lambda blob, pattern, step=4: real(blob, pattern, step) * 2)
    with pytest.raises(cpustate.EngineCheckError, match="found at 2 places"):
        cpustate.probe_layout()


def test_a_machine_refuses_to_start_on_an_engine_that_fails_the_check(monkeypatch):
    from vmgui.core import machine as machine_mod

    def broken():
        raise cpustate.EngineCheckError("start-up probe: EAX found at 0 places")

    monkeypatch.setattr(machine_mod, "probe_layout", broken)
    with pytest.raises(cpustate.EngineCheckError, match="EAX found at 0 places"):
        machine_mod.Machine(machine_mod.MachineConfig())


def test_loading_cs_and_ss_caches_sets_cpl_and_the_32_bit_flags(cpu, layout):
    engine, _ram, pm = cpu
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | 1)
    code = cpustate.Segment(0x1B, 0, 0xFFFFFFFF, 0x00CFFA00)
    stack = cpustate.Segment(0x23, 0x1000, 0xFFFFF, 0x00CFF200)
    pm.cpu.save().load(cs=code, ss=stack, cpl=3, esp=0x7FF0, eip=0x4000, eflags=0x202)
    ctx = pm.cpu.save()
    assert ctx.cpl == 3 and ctx.eip == 0x4000 and ctx.reg(4) == 0x7FF0
    assert ctx.seg("ss") == stack and ctx.seg("cs") == code
    assert ctx.hflags & cpustate.HF_CS32 and ctx.hflags & cpustate.HF_SS32
    assert ctx.hflags & cpustate.HF_ADDSEG  # SS has a non-zero base
    assert ctx.exception_in_flight == -1


def _paging(engine, ram, cr3=0x10000, cr4=0):
    engine.write_raw(UC_REG_CR3, cr3)
    engine.write_raw(x86.UC_X86_REG_CR4, cr4)
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | 0x80000001)


def test_4k_pages_translate_and_get_accessed_and_dirty_bits(cpu):
    engine, ram, pm = cpu
    ram.write_data(0x10000 + 4 * 1, struct.pack("<I", 0x11000 | 0x7))  # 400000h-7FFFFFh
    ram.write_data(0x11000 + 4 * 5, struct.pack("<I", 0x234000 | 0x7))  # 405000h
    _paging(engine, ram)
    assert pm.translate(0x405ABC) == 0x234ABC
    assert ram.u32(0x11000 + 20) & 0x60 == 0x20  # accessed, not dirty
    assert pm.translate(0x405ABC, write=True) == 0x234ABC
    assert ram.u32(0x11000 + 20) & 0x60 == 0x60  # and now dirty


def test_not_present_and_protection_faults_have_the_cpus_error_codes(cpu):
    engine, ram, pm = cpu
    ram.write_data(0x10000, struct.pack("<I", 0x11000 | 0x3))  # supervisor only
    ram.write_data(0x11000 + 4 * 7, struct.pack("<I", 0x7000 | 0x1))  # read-only
    _paging(engine, ram)
    with pytest.raises(pmode.DeliveryFault) as fault:
        pm.translate(0x8123, write=True)  # not present
    assert (fault.value.vector, fault.value.error_code, fault.value.cr2) == (14, 2, 0x8123)
    with pytest.raises(pmode.DeliveryFault) as fault:
        pm.translate(0x7000, user=True)  # a supervisor page read from ring 3
    assert fault.value.error_code == 0b101
    assert pm.translate(0x7010, write=True) == 0x7010  # CR0.WP clear: ring 0 may write
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | (1 << 16))
    with pytest.raises(pmode.DeliveryFault) as fault:
        pm.translate(0x7010, write=True)
    assert fault.value.error_code == 0b011


def test_4m_pages_with_pse_and_pae_walks(cpu):
    engine, ram, pm = cpu
    ram.write_data(0x10000 + 4 * 2, struct.pack("<I", 0x00400000 | 0x83))  # 800000h: 4 MB
    _paging(engine, ram, cr4=1 << 4)
    assert pm.translate(0x823456) == 0x423456
    # PAE: PDPT at 20000h, one page directory, one page table
    ram.write_data(0x20000, struct.pack("<Q", 0x21000 | 1))
    ram.write_data(0x21000 + 8 * 3, struct.pack("<Q", 0x22000 | 0x3))  # 600000h-7FFFFFh
    ram.write_data(0x22000 + 8 * 0x10, struct.pack("<Q", 0x345000 | 0x3))  # 610000h
    _paging(engine, ram, cr3=0x20000, cr4=1 << 5)
    assert pm.translate(0x610FED) == 0x345FED


@pytest.mark.parametrize(("first", "second", "double"), [
    (13, 11, True), (0, 13, True), (14, 14, True), (14, 13, True),
    (13, 14, False), (6, 13, False), (32, 13, False), (1, 14, False)])
def test_which_nested_faults_make_a_double_fault(first, second, double):
    assert pmode._double(first, second) is double
