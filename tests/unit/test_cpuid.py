"""CPU identity (vmgui.core.cpuid) and the engine's CPU model and instruction hooks."""

from __future__ import annotations

import gc

import pytest

from vmgui.bios.api import Reg
from vmgui.core.cpuid import (
    MODELS,
    NOT_OFFERED,
    RDTSC_NS,
    TSC_AUX,
    TSC_HZ,
    CpuIdentity,
    Feature,
    get_model,
)
from vmgui.core.engine import Engine

CODE_AT = 0x1000
CPUID, RDTSC, RDTSCP, HLT = b"\x0f\xa2", b"\x0f\x31", b"\x0f\x01\xf9", b"\xf4"
CMOVZ_AX_BX = b"\x0f\x44\xc3"


class RealModeEngine:
    """An engine with 64 KiB of RAM at 0 running ``code`` from 0000:1000."""

    def __init__(self, cpu_model: str | None) -> None:
        self.engine = Engine(cpu_model=cpu_model, use_native_stop=False)
        self.ram = bytearray(0x10000)
        self.engine.map_buffer(0, self.ram, 0, len(self.ram))

    def run(self, code: bytes, **regs: int) -> int:
        self.ram[CODE_AT:CODE_AT + len(code) + 1] = code + HLT
        self.engine.invalidate_code(CODE_AT, CODE_AT + 0x100)
        for name, value in regs.items():
            self.engine.write(Reg[name.upper()], value)
        self.engine.write(Reg.CS, 0)
        self.engine.write(Reg.EIP, CODE_AT)
        return self.engine.run(max_instructions=10)

    def close(self) -> None:
        self.engine.close()
        gc.collect()


@pytest.fixture
def engines():
    made: list[RealModeEngine] = []
    yield lambda model: made.append(RealModeEngine(model)) or made[-1]
    for rig in made:
        rig.close()


TABLED = sorted(name for name, model in MODELS.items() if model.leaves is not None)


@pytest.mark.parametrize("name", TABLED)
def test_claimed_features_are_ones_the_engine_model_runs(engines, name):
    """Self-check against the engine build: every feature our table claims is offered
    by the engine's own model (so its instructions execute), and we claim none of what
    vmgui does not provide."""
    model = get_model(name)
    rig = engines(model.engine_model)
    assert rig.run(CPUID, eax=1) == 0
    engine_features = rig.engine.read(Reg.EDX)
    assert model.features & ~engine_features == 0, hex(model.features & ~engine_features)
    assert model.features & NOT_OFFERED == 0
    assert engine_features & Feature.APIC  # why the hook exists at all


def test_the_engine_model_decides_which_instructions_run(engines):
    from unicorn import unicorn_const as ucc

    assert engines("pentium3").run(CMOVZ_AX_BX, eax=1, ebx=2) == 0
    assert engines("pentium").run(CMOVZ_AX_BX, eax=1, ebx=2) == ucc.UC_ERR_INSN_INVALID


def test_every_profile_names_a_known_model():
    from vmgui.core.profiles import all_profiles

    for profile in all_profiles():
        assert get_model(profile.cpu_model).name == profile.cpu_model


def test_the_default_model_keeps_the_engines_cpuid_and_hooks_rdtsc(engines):
    """pc-at's "unicorn-default": CPUID as the engine answers it (as before CPU models
    existed), RDTSC and RDTSCP from guest time."""
    rig = engines(None)
    assert rig.run(CPUID, eax=1) == 0
    native = tuple(rig.engine.read(r) for r in (Reg.EAX, Reg.EBX, Reg.ECX, Reg.EDX))
    cpu, clock, _charged, _errors = identity(rig.engine, "unicorn-default", ns=4000)
    assert len(cpu.handles) == 2  # RDTSC and RDTSCP, no CPUID
    assert rig.run(CPUID, eax=1) == 0
    assert tuple(rig.engine.read(r) for r in (Reg.EAX, Reg.EBX, Reg.ECX, Reg.EDX)) == native
    assert rig.run(RDTSC) == 0
    assert rig.engine.read(Reg.EAX) == clock.ns * TSC_HZ // 1_000_000_000
    with pytest.raises(ValueError, match="the engine answers CPUID itself"):
        get_model("unicorn-default").cpuid(0)


def test_unknown_models_are_refused():
    with pytest.raises(ValueError, match="CPU model 'k6' is unknown to the engine"):
        Engine(cpu_model="k6")
    with pytest.raises(ValueError, match="CPU model 'k6' is unknown"):
        get_model("k6")


def test_leaves_above_the_maximum_answer_as_the_highest_basic_leaf():
    p3 = get_model("pentium3")
    assert p3.cpuid(0)[0] == 2
    assert p3.cpuid(2) == (0x03020101, 0, 0, 0x0C040843)
    assert p3.cpuid(3) == p3.cpuid(2) == p3.cpuid(0x80000000)
    pentium = get_model("pentium")
    assert pentium.cpuid(0x80000000) == pentium.cpuid(1)


class Clock:
    def __init__(self, ns: int) -> None:
        self.ns = ns

    def now_ns(self) -> int:
        return self.ns


def identity(engine: Engine, model: str = "pentium3", ns: int = 0, **extra):
    charged: list[int] = []
    errors: list[Exception] = []
    clock = Clock(ns)

    def charge(amount: int) -> None:
        charged.append(amount)
        clock.ns += amount

    cpu = CpuIdentity(engine, extra.get("cpu_model") or get_model(model), clock, charge,
                      errors.append)
    return cpu, clock, charged, errors


def test_cpuid_hook_answers_from_the_table(engines):
    rig = engines("pentium3")
    identity(rig.engine)
    assert rig.run(CPUID, eax=1, ebx=0xDEAD, ecx=0xBEEF) == 0
    expected = get_model("pentium3").cpuid(1)
    got = tuple(rig.engine.read(r) for r in (Reg.EAX, Reg.EBX, Reg.ECX, Reg.EDX))
    assert got == expected
    assert not got[3] & Feature.APIC


def test_rdtsc_hook_reads_guest_time_at_the_nominal_clock(engines):
    rig = engines("pentium3")
    _cpu, _clock, charged, _errors = identity(rig.engine, ns=3_000_000_000 * 4)
    assert rig.run(RDTSC) == 0
    tsc = rig.engine.read(Reg.EDX) << 32 | rig.engine.read(Reg.EAX)
    assert charged == [RDTSC_NS]
    assert tsc == (12_000_000_000 + RDTSC_NS) * TSC_HZ // 1_000_000_000  # past 2**32


def test_rdtscp_hook_also_returns_tsc_aux(engines):
    """The engine's default (Haswell-class) model has RDTSCP; TSC_AUX reads 0 here."""
    from dataclasses import replace

    rig = engines(None)
    model = replace(get_model("pentium3"), has_rdtscp=True)
    cpu, clock, _charged, _errors = identity(rig.engine, cpu_model=model, ns=2000)
    assert rig.engine.read_msr(TSC_AUX) == 0
    assert rig.run(RDTSCP, ecx=0x1234) == 0
    assert rig.engine.read(Reg.ECX) == 0
    assert rig.engine.read(Reg.EAX) == cpu.tsc() == clock.ns * TSC_HZ // 1_000_000_000


def test_a_failing_hook_reports_and_lets_the_instruction_run(engines):
    rig = engines("pentium3")
    _cpu, clock, _charged, errors = identity(rig.engine)
    clock.now_ns = None  # a broken clock: calling it raises TypeError
    assert rig.run(RDTSC) == 0
    assert len(errors) == 1 and isinstance(errors[0], TypeError)
