"""What the guest's CPU says it is (CPUID) and what its time-stamp counter reads.

Owns: the CPU models a machine profile may name (a real Pentium and Pentium III, their
CPUID tables as Intel documents them, restricted to what the engine really executes; and
the engine's own default model, CPUID untouched, which the pc-at profile keeps),
the nominal clock the time-stamp counter runs at (:data:`TSC_HZ`), and
:class:`CpuIdentity`, which answers CPUID and RDTSC/RDTSCP from those through the
engine's instruction hooks (the mechanics live in vmgui.core.engine).

Why a CPUID hook (for models with a table): the engine's own models claim a local APIC
(no APIC is modelled here: a guest that believes in one programs registers nobody
answers), SEP (unicorn 2.1.4 runs SYSENTER as a no-op that only calls hooks) and the
hypervisor bit, and report QEMU's cache descriptors.  Why an RDTSC hook: the engine
reads the host's own counter, which keeps running while the VM is paused and knows
nothing of deterministic mode.  Here the counter is guest time (vmgui.core.timing: host
time while running, or executed blocks in deterministic mode) times :data:`TSC_HZ`, so a
guest that calibrates its delay loops against the PIT finds a steady 500 MHz CPU, and
two deterministic runs read the same values.  It counts from power-on (a reset does not
zero it).

References: Intel AP-485 "Processor Identification and the CPUID Instruction" (leaves 0-2,
the Pentium III's cache descriptors, "GenuineIntel"); Intel SDM vol. 2 (a leaf above
the maximum returns the highest basic leaf); unicorn 2.1.4 qemu/target/i386/cpu.c
(builtin models: family/model/stepping, TCG_FEATURES without VME) and misc_helper.c
(hooks run before the instruction; a non-zero return skips it).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from vmgui.bios.api import Reg

log = logging.getLogger(__name__)

TSC_HZ = 500_000_000  # nominal clock: a 500 MHz Pentium III (Katmai)
RDTSC_NS = 1_000
"""Deterministic mode: guest time one RDTSC takes, as much as a port access (the machine's
PORT_ACCESS_NS).  Far more than a real RDTSC, on purpose: a guest that busy-waits on the
counter (GRUB's ``sleep``: an RDTSC and a compare, 4 blocks a turn) must see time pass
about as fast as the host can serve the hook (~3-9 us a turn).  At 20 ns a turn, one guest
second of such a wait took ~150 s of host time; at 1 us ~9 s, close to the ~12 s the same
loop cost before the hook, when the engine returned the host's counter."""
NS_PER_S = 1_000_000_000
TSC_AUX = 0xC0000103  # the MSR RDTSCP returns in ECX
GENUINE_INTEL = (0x756E6547, 0x6C65746E, 0x49656E69)  # EBX "Genu", ECX "ntel", EDX "ineI"


class Feature(enum.IntFlag):
    """CPUID leaf 1 EDX bits."""

    FPU = 1 << 0
    VME = 1 << 1
    DE = 1 << 2
    PSE = 1 << 3
    TSC = 1 << 4
    MSR = 1 << 5
    PAE = 1 << 6
    MCE = 1 << 7
    CX8 = 1 << 8
    APIC = 1 << 9
    SEP = 1 << 11
    MTRR = 1 << 12
    PGE = 1 << 13
    MCA = 1 << 14
    CMOV = 1 << 15
    PAT = 1 << 16
    PSE36 = 1 << 17
    MMX = 1 << 23
    FXSR = 1 << 24
    SSE = 1 << 25


NOT_OFFERED = Feature.APIC | Feature.SEP | Feature.VME
"""Never claimed: no APIC is modelled, SYSENTER does nothing in the engine, and the
engine's TCG lacks VME (its own models drop it too)."""

PENTIUM_FEATURES = (Feature.FPU | Feature.DE | Feature.PSE | Feature.TSC | Feature.MSR
                    | Feature.MCE | Feature.CX8 | Feature.MMX)  # P55C, APIC left out
PENTIUM3_FEATURES = (PENTIUM_FEATURES | Feature.PAE | Feature.MTRR | Feature.PGE
                     | Feature.MCA | Feature.CMOV | Feature.PAT | Feature.PSE36
                     | Feature.FXSR | Feature.SSE)  # Katmai, APIC and SEP left out

Leaf = tuple[int, int, int, int]  # EAX, EBX, ECX, EDX
_EAX_EDX = 1 << Reg.EAX | 1 << Reg.EDX  # register masks for Engine.write_some
_EAX_EBX_ECX_EDX = _EAX_EDX | 1 << Reg.EBX | 1 << Reg.ECX


@dataclass(frozen=True)
class CpuModel:
    """A CPU identity: the engine model that executes it (None: unicorn's default) and
    its CPUID leaves (basic leaves 0..max; any leaf above, extended ones included,
    answers as the last), or None to let the engine answer CPUID itself."""

    name: str
    engine_model: str | None  # a name of vmgui.core.engine.CPU_MODELS
    leaves: Mapping[int, Leaf] | None
    has_rdtscp: bool = False

    def cpuid(self, eax: int) -> Leaf:
        if self.leaves is None:
            raise ValueError(f"CPU model {self.name}: the engine answers CPUID itself")
        top = self.leaves[0][0]
        return self.leaves[eax if eax <= top else top]

    @property
    def features(self) -> int:
        return self.cpuid(1)[3]


def _leaves(max_basic: int, signature: int, features: int, *more: Leaf) -> Mapping[int, Leaf]:
    table = {0: (max_basic, GENUINE_INTEL[0], GENUINE_INTEL[1], GENUINE_INTEL[2]),
             1: (signature, 0, 0, features)}
    table.update(enumerate(more, start=2))
    return MappingProxyType(table)


MODELS: Mapping[str, CpuModel] = MappingProxyType({
    # The engine's own default (QEMU's Haswell definition, with an APIC, SSE4, AVX bits,
    # RDTSCP and the hypervisor bit): what every machine ran before CPU models existed.
    # The pc-at profile keeps it: on a Pentium model the engine raises #UD for CMOV, SSE
    # and VEX-encoded instructions that guests (and bug reproductions) run there today.
    "unicorn-default": CpuModel("unicorn-default", None, None, has_rdtscp=True),
    # Pentium with MMX (P55C): family 5, model 4, stepping 3
    "pentium": CpuModel("pentium", "pentium", _leaves(1, 0x0543, PENTIUM_FEATURES)),
    # Pentium III (Katmai): family 6, model 7, stepping 3; serial number disabled (max
    # leaf 2); leaf 2: ITLB 4K/4M, DTLB 4K/4M, 16 KiB L1 I and D, 512 KiB L2
    "pentium3": CpuModel("pentium3", "pentium3",
                         _leaves(2, 0x0673, PENTIUM3_FEATURES,
                                 (0x03020101, 0, 0, 0x0C040843))),
})


def get_model(name: str) -> CpuModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"CPU model {name!r} is unknown "
                         f"(known: {', '.join(MODELS)})") from None


class CpuEngine(Protocol):
    """What :class:`CpuIdentity` needs of vmgui.core.engine.Engine."""

    def read(self, reg: Reg) -> int: ...
    def write(self, reg: Reg, value: int) -> None: ...
    def write_some(self, values: list[int], mask: int) -> None: ...
    def read_msr(self, index: int) -> int: ...
    def hook_cpuid(self, fn: Callable[[], bool]) -> object: ...
    def hook_rdtsc(self, fn: Callable[[], bool]) -> object: ...
    def hook_rdtscp(self, fn: Callable[[], bool]) -> object: ...


class GuestClock(Protocol):
    def now_ns(self) -> int: ...


class CpuIdentity:
    """Answers CPUID from ``model`` and RDTSC from ``clock`` on ``engine``.

    ``charge(ns)`` accounts guest time for an RDTSC (deterministic mode; a no-op when
    guest time follows the host).  ``on_error(exc)`` hears of a failure inside a hook
    (which must not escape into the engine); the instruction then runs as the engine
    has it.  Hooks run on the emulation thread."""

    def __init__(self, engine: CpuEngine, model: CpuModel, clock: GuestClock,
                 charge: Callable[[int], None], on_error: Callable[[Exception], None]) -> None:
        self.engine = engine
        self.model = model
        self.clock = clock
        self._charge = charge
        self._on_error = on_error
        self._values = [0] * len(Reg)  # scratch for batched register writes
        self.handles = [engine.hook_rdtsc(self._guard(self.on_rdtsc))]
        if model.leaves is not None:
            self.handles.append(engine.hook_cpuid(self._guard(self.on_cpuid)))
        if model.has_rdtscp:
            self.handles.append(engine.hook_rdtscp(self._guard(self.on_rdtscp)))

    def _guard(self, fn: Callable[[], bool]) -> Callable[[], bool]:
        def hook() -> bool:
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - nothing may escape into libunicorn
                log.exception("error in a CPU instruction hook")
                self._on_error(exc)
                return False

        return hook

    def tsc(self) -> int:
        """The time-stamp counter now: guest nanoseconds at :data:`TSC_HZ`."""
        return self.clock.now_ns() * TSC_HZ // NS_PER_S

    def on_cpuid(self) -> bool:
        v = self._values
        v[Reg.EAX], v[Reg.EBX], v[Reg.ECX], v[Reg.EDX] = self.model.cpuid(
            self.engine.read(Reg.EAX))
        self.engine.write_some(v, _EAX_EBX_ECX_EDX)
        return True

    def on_rdtsc(self) -> bool:
        self._charge(RDTSC_NS)
        value = self.tsc()
        v = self._values
        v[Reg.EAX], v[Reg.EDX] = value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF
        self.engine.write_some(v, _EAX_EDX)
        return True

    def on_rdtscp(self) -> bool:
        self.on_rdtsc()
        self.engine.write(Reg.ECX, self.engine.read_msr(TSC_AUX) & 0xFFFFFFFF)
        return True
