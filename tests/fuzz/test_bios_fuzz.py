"""Fuzz: random registers and random memory into every BIOS service and IRQ handler.

Each example powers on a fresh machine (POST done, nothing executed), scribbles random
bytes over the BDA, IVT, EBDA and the buffers the registers point at, sets every register
at random (AH from the service's implemented leaves or anything), and calls the service
the way the machine does for ``int n``.  Properties: the call returns (no Python
exception: a guest asking nonsense gets CF set or the service's "no" answer, never a
crash of the service), registers stay in range, and no access reaches outside guest
memory.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmgui.bios.api import Flag, Reg
from vmgui.core.machine import Machine

from .biosrig import HDD_BYTES, call_service, check_registers, make_images, powered_on
from .budget import fuzz_settings

FUZZ = fuzz_settings(40)  # per service; the targeted tests below take TARGETED
TARGETED = fuzz_settings(80)

# Implemented leaves (AH) per vector, from the service modules' tables; anything else is
# drawn too, less often.
LEAVES = {
    0x10: [*range(0x00, 0x14), 0x1A, 0x1B, 0x4F],
    0x11: [0],
    0x12: [0],
    0x13: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0C, 0x0D, 0x10, 0x11, 0x15, 0x16,
           0x17, 0x18, 0x41, 0x42, 0x43, 0x44, 0x47, 0x48],
    0x14: [0x00, 0x01, 0x02, 0x03],
    0x15: [0x24, 0x4F, 0x86, 0x87, 0x88, 0x90, 0x91, 0xC0, 0xC1, 0xC2, 0xE8],
    0x16: [0x00, 0x01, 0x02, 0x03, 0x05, 0x09, 0x0A, 0x10, 0x11, 0x12],
    0x17: [0x00, 0x01, 0x02],
    0x18: [0],
    0x19: [0],
    0x1A: [*range(0x00, 0x08)],
}
# Where random bytes land before the call (linear base, span)
AREAS = ((0x000, 0x400), (0x400, 0x100), (0x9FC00, 0x400), (0x500, 0x7700))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, Path]:
    return make_images(tmp_path_factory.mktemp("bios-fuzz"))


registers = st.fixed_dictionaries({
    **{reg: st.one_of(st.integers(0, 0xFFFFFFFF), st.sampled_from([0, 0xFFFF, 0xFFFFFFFF]))
       for reg in (Reg.EAX, Reg.EBX, Reg.ECX, Reg.EDX, Reg.ESI, Reg.EDI, Reg.EBP)},
    **{reg: st.one_of(st.integers(0, 0xFFFF), st.sampled_from([0, 0x40, 0x9FC0, 0xF000,
                                                             0xFFFF, 0xA000, 0xB800]))
       for reg in (Reg.DS, Reg.ES, Reg.FS, Reg.GS, Reg.SS)},
    Reg.ESP: st.integers(0, 0xFFFF),
    Reg.EFLAGS: st.integers(0, 0xFFF).map(lambda f: (f & 0xCD5) | 0x2),
})
scribbles = st.lists(st.tuples(st.sampled_from(AREAS), st.integers(0, 0xFFFF),
                               st.binary(min_size=1, max_size=64)), max_size=6)

def _dap() -> st.SearchStrategy[bytes]:
    """An int 13h extensions disk address packet (EDD 3.0 layout, 24 bytes)."""
    return st.builds(
        lambda size, count, buf, lba, flat: (bytes((size, 0)) + count.to_bytes(2, "little")
                                             + buf.to_bytes(4, "little")
                                             + lba.to_bytes(8, "little")
                                             + flat.to_bytes(8, "little")),
        st.sampled_from([0x10, 0x18, 0x00, 0xFF]),
        st.one_of(st.integers(0, 0x80), st.integers(0, 0xFFFF)),
        st.one_of(st.sampled_from([0xFFFFFFFF, 0x07C00000, 0xB8000000, 0xFFFF0000]),
                  st.integers(0, 0xFFFFFFFF)),
        st.one_of(st.integers(0, HDD_BYTES // 512 + 2), st.integers(0, 2**64 - 1)),
        st.one_of(st.integers(0, 0x400000), st.integers(0, 2**64 - 1)))


# Bytes placed where the call's pointer registers point (DS:SI, ES:DI, ES:BX, ES:BP,
# ES:DX, ES:SI): disk address packets, GDTs for block moves, parameter buffers.
pointed = st.one_of(st.none(), _dap(), st.binary(min_size=1, max_size=48))
port_writes = st.lists(st.tuples(st.sampled_from([0x20, 0x21, 0xA0, 0xA1, 0x43, 0x40, 0x61,
                                                  0x64, 0x60, 0x70, 0x71, 0x3F9, 0x3FB,
                                                  0x3C0, 0x3C4, 0x3C5, 0x3CE, 0x3CF, 0x3D4,
                                                  0x3D5]),
                                 st.integers(0, 0xFF)), max_size=6)


POINTERS = ((Reg.DS, Reg.ESI), (Reg.ES, Reg.EDI), (Reg.ES, Reg.EBX), (Reg.ES, Reg.EBP),
            (Reg.ES, Reg.EDX), (Reg.ES, Reg.ESI))


def prepare(m: Machine, values: dict, writes: Sequence, ports: Sequence,
            blob: bytes | None = None) -> None:
    for (base, span), offset, data in writes:
        addr = base + offset % span
        m.memory.ram[addr : addr + len(data)] = data
    if blob is not None:
        for seg, off in POINTERS:
            addr = (values[seg] << 4) + (values[off] & 0xFFFF)
            m.memory.ram[addr : addr + len(blob)] = blob
    for port, value in ports:
        m.bus.write(port, 1, value)


def serve_once(images, vector: int, values: dict, writes: Sequence = (),
               ports: Sequence = (), blob: bytes | None = None):
    """int ``vector`` called once on a fresh machine :func:`prepare`-d with the rest: the
    registers it leaves are checked and nothing may be written outside guest memory.
    Returns the call's backend (its registers after the call)."""
    m, bounded = powered_on(images)
    try:
        prepare(m, values, writes, ports, blob)
        call, backend = call_service(m, vector, values)
        m.bios.services[vector](call)
        check_registers(backend)
        assert not bounded.violations
        return backend
    finally:
        m.close()


@pytest.mark.parametrize("vector", sorted(LEAVES), ids=lambda v: f"int{v:02X}h")
@FUZZ
@given(data=st.data(), values=registers, writes=scribbles, ports=port_writes, blob=pointed)
def test_bios_service_survives_random_registers(images, vector, data, values, writes, ports,
                                                blob):
    ah = data.draw(st.one_of(st.sampled_from(LEAVES[vector]), st.integers(0, 0xFF)), "ah")
    al = data.draw(st.one_of(st.sampled_from([0, 1, 2, 3, 0x20, 0x80, 0xFF]),
                             st.integers(0, 0xFF)), "al")
    dl = data.draw(st.one_of(st.sampled_from([0x00, 0x01, 0x80, 0x81, 0xFF]),
                             st.integers(0, 0xFF)), "dl")
    values = dict(values)
    values[Reg.EAX] = (values[Reg.EAX] & 0xFFFF0000) | (ah << 8) | al
    values[Reg.EDX] = (values[Reg.EDX] & 0xFFFFFF00) | dl
    serve_once(images, vector, values, writes, ports, blob)


@TARGETED
@given(data=st.data(), values=registers, writes=scribbles, ports=port_writes)
def test_irq_handlers_survive_random_state(images, data, values, writes, ports):
    """The ROM traps of hardware interrupts (timer tick, keyboard byte, mouse packet,
    floppy) with random registers, BDA/EBDA contents and device state."""
    m, bounded = powered_on(images)
    try:
        prepare(m, values, writes, ports)
        traps = sorted(m.bios.traps.items())
        for _ in range(data.draw(st.integers(1, 6), "calls")):
            address, trap = data.draw(st.sampled_from(traps), "trap")
            values = dict(values)
            values[Reg.EAX] = data.draw(st.integers(0, 0xFFFFFFFF), "eax")
            if data.draw(st.booleans(), "key"):
                m.kbc.key_input(data.draw(st.binary(min_size=1, max_size=3), "scancodes"))
            if data.draw(st.booleans(), "mouse"):
                m.kbc.mouse_input(data.draw(st.integers(-300, 300)),
                                  data.draw(st.integers(-300, 300)), data.draw(st.integers(0, 7)))
            call, backend = call_service(m, trap.vector, values)
            trap.handler(call)
            check_registers(backend)
        assert not bounded.violations
    finally:
        m.close()


def _gdt() -> st.SearchStrategy[bytes]:
    """int 15h AH=87h's GDT: two dummies, then source and destination descriptors."""
    descriptor = st.builds(
        lambda limit, base: (limit.to_bytes(2, "little") + (base & 0xFFFFFF).to_bytes(3, "little")
                             + b"\x93" + b"\x00" + (base >> 24).to_bytes(1, "little")),
        st.integers(0, 0xFFFF),
        st.one_of(st.integers(0, 0x300000), st.integers(0, 0xFFFFFFFF)))
    return st.builds(lambda src, dst: bytes(16) + src + dst + bytes(16), descriptor, descriptor)


@TARGETED
@given(values=registers, ah=st.sampled_from([0x02, 0x03, 0x04, 0x42, 0x43, 0x44, 0x47, 0x48]),
       dl=st.sampled_from([0x00, 0x01, 0x80, 0x81]), dap=_dap())
def test_int13_transfers_with_random_packets(images, values, ah, dl, dap):
    """Disk transfers whose packet, count, CHS and buffer are all random: an error
    status with CF set, never an exception or a write outside guest memory."""
    values = dict(values)
    values[Reg.EAX] = (values[Reg.EAX] & 0xFFFF00FF) | (ah << 8)
    values[Reg.EDX] = (values[Reg.EDX] & 0xFFFFFF00) | dl
    backend = serve_once(images, 0x13, values, blob=dap)
    status = (backend.values[Reg.EAX] >> 8) & 0xFF
    assert bool(backend.values[Reg.EFLAGS] & Flag.CF) == (status != 0)


@TARGETED
@given(values=registers, gdt=_gdt())
def test_int15_block_move_with_random_descriptors(images, values, gdt):
    values = dict(values)
    values[Reg.EAX] = (values[Reg.EAX] & 0xFFFF00FF) | 0x8700
    serve_once(images, 0x15, values, blob=gdt)


@pytest.mark.parametrize("vector", [0x13, 0x15, 0x1A], ids=lambda v: f"int{v:02X}h")
def test_every_unimplemented_leaf_sets_cf_and_is_logged_once(images, vector, caplog):
    """All 256 AH values: an implemented leaf answers; any other sets CF and is named
    in the log ("INT 13h AH=xxh") once, however often the guest asks."""
    caplog.set_level(logging.INFO, logger="vmgui.bios")
    m, _ = powered_on(images)
    try:
        for ah in range(256):
            if ah in LEAVES[vector]:
                continue
            for _ in range(2):
                values = {reg: 0 for reg in Reg}
                values[Reg.EAX] = ah << 8
                values[Reg.EDX] = 0x80
                call, backend = call_service(m, vector, values)
                m.bios.services[vector](call)
                assert backend.values[Reg.EFLAGS] & Flag.CF, f"AH={ah:02X}h"
            pattern = re.compile(rf"INT {vector:02X}h A[HX]={ah:02X}")
            named = [r for r in caplog.records if pattern.match(r.getMessage())]
            assert len(named) == 1, (f"AH={ah:02X}h", [r.getMessage() for r in named])
    finally:
        m.close()
