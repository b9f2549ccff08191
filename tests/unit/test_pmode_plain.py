"""The short path of protected-mode delivery (ProtectedMode._deliver_plain) against the
full one (_deliver_one): over many gate, segment, privilege, stack and flag
combinations, either the short path declines and changes nothing, or both leave the
same CPU state and the same memory."""

from __future__ import annotations

import itertools
import random
import struct

import pytest
from unicorn import x86_const as x86

from vmgui.bios.api import Reg
from vmgui.core import cpustate, pmode
from vmgui.core.engine import UC_REG_CR0, Engine, Mmr

GDT_AT, IDT_AT = 0x1000, 0x2000
SELECTORS = {  # selector -> descriptor high word (low word: base 0, limit FFFFh)
    0x08: 0x00CF9A00,  # code, ring 0, 32-bit
    0x10: 0x00CF9200,  # data, ring 0
    0x1B: 0x00CFFA00,  # code, ring 3
    0x23: 0x00CFF200,  # data, ring 3
    0x28: 0x00CF9E00,  # conforming code, DPL 0
    0x30: 0x00009200,  # data, ring 0, 16-bit (B=0), byte granular
    0x38: 0x00CF9600,  # expand-down data, ring 0
    0x40: 0x00CF1A00,  # code, not present
    0x48: 0x00409A00,  # code, ring 0, limit FFFh only
}
RINGS = {0: (0x08, 0x10), 3: (0x1B, 0x23)}


class Ram:
    def __init__(self, size: int = 0x100000) -> None:
        self.ram = bytearray(size)

    def read(self, addr: int, size: int) -> bytes:
        if addr < 0 or addr + size > len(self.ram):
            raise IndexError(f"read of {size} bytes at {addr:#x} beyond memory")
        return bytes(self.ram[addr:addr + size])

    def write_data(self, addr: int, data: bytes) -> None:
        if addr < 0 or addr + len(data) > len(self.ram):
            raise IndexError(f"write of {len(data)} bytes at {addr:#x} beyond memory")
        self.ram[addr:addr + len(data)] = data


@pytest.fixture(scope="module")
def setup():
    engine = Engine(code_cache_mb=4)
    ram = Ram()
    pm = pmode.ProtectedMode(engine, ram, cpustate.probe_layout())
    engine.write_raw(UC_REG_CR0, engine.read_raw(UC_REG_CR0) | 1)
    for selector, high in SELECTORS.items():
        low = 0x00000FFF if selector == 0x48 else 0x0000FFFF
        struct.pack_into("<II", ram.ram, GDT_AT + (selector & 0xFFF8), low, high)
    engine.write_mmr(x86.UC_X86_REG_GDTR, Mmr(0, GDT_AT, 0x4F, 0))
    engine.write_mmr(x86.UC_X86_REG_IDTR, Mmr(0, IDT_AT, 0x7FF, 0))
    yield engine, ram, pm
    engine.close()


def segment(selector: int) -> cpustate.Segment:
    low, high = 0x0000FFFF, SELECTORS[selector]
    return cpustate.Segment(selector, pmode.descriptor_base(low, high),
                            pmode.descriptor_limit(low, high), high & 0x00FFFF00)


def cases():
    rng = random.Random(10)
    gates = list(itertools.product((0xE, 0xF, 0x6, 0x5, 0xC), (True, False), (0, 3),
                                   (0x08, 0x1B, 0x28, 0x40, 0x48, 0x00, 0x60, 0x0C),
                                   (0x100, 0x2000)))
    for gate in gates:
        plausible = gate[0] in (0xE, 0xF) and gate[1] and gate[3] in (0x08, 0x1B, 0x28, 0x48)
        for _ in range(12 if plausible else 2):
            cpl = rng.choice((0, 3))
            cs, ss = RINGS[cpl]
            ss = rng.choice((ss, ss, 0x30, 0x38)) if cpl == 0 else ss
            yield (gate, cpl, cs, ss, rng.choice((0x8000, 0x10000, 0x8, 0x0)),
                   rng.choice((0x202, 0x302, 0x4202, 0x10002, 0x246)),
                   rng.choice((False, True)), rng.choice((0x20, 0x0D)))


def snapshot(engine: Engine, ram: Ram, pm: pmode.ProtectedMode) -> tuple[bytes, bytes, int]:
    return bytes(pm.cpu.save()._view), bytes(ram.ram), engine.read(Reg.EFLAGS)


def prepare(engine, ram, pm, case) -> None:
    (gtype, present, gdpl, target, offset), cpl, cs, ss, esp, eflags, software, vector = case
    ram.ram[:] = bytes(len(ram.ram))
    for selector, high in SELECTORS.items():
        low = 0x00000FFF if selector == 0x48 else 0x0000FFFF
        struct.pack_into("<II", ram.ram, GDT_AT + (selector & 0xFFF8), low, high)
    high = (offset & 0xFFFF0000) | (0x8000 if present else 0) | (gdpl << 13) | (gtype << 8)
    struct.pack_into("<II", ram.ram, IDT_AT + 8 * vector, (target << 16) | (offset & 0xFFFF),
                     high)
    pm.cpu.save().load(cs=segment(cs), ss=segment(ss), cpl=cpl, esp=esp, eip=0x1234,
                       eflags=eflags)
    engine.write(Reg.EFLAGS, eflags)


def test_the_short_path_does_what_the_full_one_does_or_nothing(setup):
    engine, ram, pm = setup
    taken = declined = 0
    for case in cases():
        software, vector = case[6], case[7]
        event = pmode.Event(vector, software=software)
        prepare(engine, ram, pm, case)
        before = snapshot(engine, ram, pm)
        if not pm._deliver_plain(event):
            declined += 1
            assert snapshot(engine, ram, pm) == before, case
            continue
        taken += 1
        short = snapshot(engine, ram, pm)
        prepare(engine, ram, pm, case)
        assert snapshot(engine, ram, pm) == before
        pm._deliver_one(event)  # must not raise: the short path only takes clean cases
        assert snapshot(engine, ram, pm) == short, case
    assert taken >= 80 and declined >= 400, (taken, declined)


def test_deliver_takes_the_short_path_only_without_an_error_code(setup, monkeypatch):
    engine, ram, pm = setup
    prepare(engine, ram, pm, ((0xE, True, 0, 0x08, 0x100), 0, 0x08, 0x10, 0x8000, 0x202,
                              False, 0x0D))
    calls = []
    real = pm._deliver_plain
    monkeypatch.setattr(pm, "_deliver_plain", lambda event: calls.append(event) or real(event))
    pm.deliver(pmode.Event(0x0D, error_code=0x10))
    assert calls == []
    assert struct.unpack_from("<I", ram.ram, 0x8000 - 16)[0] == 0x10  # the error code
    prepare(engine, ram, pm, ((0xE, True, 0, 0x08, 0x100), 0, 0x08, 0x10, 0x8000, 0x202,
                              False, 0x20))
    pm.deliver(pmode.Event(0x20))
    assert len(calls) == 1 and pm.cpu.save().eip == 0x100
