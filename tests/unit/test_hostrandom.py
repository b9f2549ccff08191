"""Deterministic mode hides RDRAND and RDSEED (vmgui.core.hostrandom): the engine runs
them with the host's random generator, and Linux seeded KASLR from RDRAND, so two
deterministic boots of one kernel diverged.  Real-time machines keep the engine's CPUID."""

from __future__ import annotations

import pytest

from tests.unit.test_cpuid import CPUID, RealModeEngine
from vmgui.bios.api import Reg
from vmgui.core.hostrandom import RDRAND, RDSEED, HiddenHostRandom, probe_leaves
from vmgui.core.machine import Machine, MachineConfig

RDRAND_AX = b"\x0f\xc7\xf0"
REGS = (Reg.EAX, Reg.EBX, Reg.ECX, Reg.EDX)


@pytest.fixture
def rig():
    made = RealModeEngine(None)
    yield made
    made.close()


def cpuid(rig: RealModeEngine, leaf: int, subleaf: int = 0) -> tuple[int, ...]:
    assert rig.run(CPUID, eax=leaf, ecx=subleaf) == 0
    return tuple(rig.engine.read(r) for r in REGS)


def test_the_engine_claims_rdrand_and_it_draws_from_the_host(rig):
    """The premise: unicorn's default model claims RDRAND, and two runs of it differ."""
    assert cpuid(rig, 1)[2] & RDRAND
    values = set()
    for _ in range(4):
        assert rig.run(RDRAND_AX) == 0
        values.add(rig.engine.read(Reg.EAX) & 0xFFFF)
    assert len(values) > 1


def test_the_hook_clears_rdrand_and_rdseed_and_leaves_the_rest(rig):
    native = {leaf: cpuid(rig, leaf) for leaf in (0, 1, 7)}
    native_7_1 = cpuid(rig, 7, 1)
    errors = []
    HiddenHostRandom.install(rig.engine, None, errors.append)
    eax, ebx, ecx, edx = cpuid(rig, 1)
    assert not ecx & RDRAND
    assert (eax, ebx, ecx | RDRAND & native[1][2], edx) == native[1]
    eax, ebx, ecx, edx = cpuid(rig, 7)
    assert not ebx & RDSEED and (eax, ecx, edx) == (native[7][0], native[7][2], native[7][3])
    assert cpuid(rig, 0) == native[0] and cpuid(rig, 7, 1) == native_7_1
    assert errors == []


def test_probe_reads_what_the_guest_would_read(rig):
    assert probe_leaves(None) == {1: cpuid(rig, 1), 7: cpuid(rig, 7)}


@pytest.mark.parametrize(("deterministic", "hidden"), [(True, True), (False, False)])
def test_only_deterministic_pc_at_machines_hide_it(deterministic, hidden):
    machine = Machine(MachineConfig(deterministic=deterministic))
    try:
        assert (machine.host_random is not None) == hidden
        if hidden:
            assert not machine.host_random.leaves[1][2] & RDRAND
    finally:
        machine.close()
