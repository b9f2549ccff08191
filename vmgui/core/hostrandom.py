"""Deterministic mode: the guest gets no host randomness through RDRAND or RDSEED.

Owns: hiding RDRAND (CPUID leaf 1, ECX bit 30) and RDSEED (leaf 7 subleaf 0, EBX bit 18)
from a guest that runs deterministically on a CPU model whose CPUID the engine answers
itself (``unicorn-default``, the pc-at machine's; the table models of vmgui.core.cpuid
claim neither).

Why: unicorn 2.1.4 carries out RDRAND and RDSEED with the host's random generator
(QEMU's helper_rdrand, qemu_guest_getrandom), and no instruction hook reaches them.
Linux's decompressor mixes RDRAND into the seed of its address randomisation (KASLR,
arch/x86/lib/kaslr.c kaslr_get_random_long) when CPUID claims it, so two deterministic
boots of the same kernel put it 16 MB apart and went separate ways 3.0 guest seconds in.
A guest that is told there is no RDRAND falls back on RDTSC and the PIT, which are
functions of guest execution here.

How: the engine's own leaves 1 and 7 are read once, on a scratch engine of the same
model (a CPUID run in real mode), and a CPUID hook answers those two leaves with the
bits cleared; every other leaf, and leaf 7's other subleaves, run as the engine has them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from vmgui.bios.api import Reg

log = logging.getLogger(__name__)

RDRAND = 1 << 30  # CPUID.1:ECX
RDSEED = 1 << 18  # CPUID.(7,0):EBX
PROBE_AT = 0x1000
CPUID_HLT = b"\x0f\xa2\xf4"  # cpuid; hlt
Leaf = tuple[int, int, int, int]  # EAX, EBX, ECX, EDX
_EAX_EBX_ECX_EDX = (1 << Reg.EAX) | (1 << Reg.EBX) | (1 << Reg.ECX) | (1 << Reg.EDX)


class CpuidEngine(Protocol):
    """What :class:`HiddenHostRandom` needs of vmgui.core.engine.Engine."""

    def read(self, reg: Reg) -> int: ...
    def write(self, reg: Reg, value: int) -> None: ...
    def write_some(self, values: list[int], mask: int) -> None: ...
    def hook_cpuid(self, fn: Callable[[], bool]) -> object: ...


def probe_leaves(engine_model: str | None) -> dict[int, Leaf]:
    """The engine's own answers to CPUID leaves 1 and 7 (subleaf 0) for ``engine_model``
    (None: unicorn's default), read on a scratch engine."""
    from vmgui.core.engine import Engine  # the engine itself only for the probe

    engine = Engine(code_cache_mb=1, cpu_model=engine_model)
    try:
        ram = bytearray(0x2000)
        ram[PROBE_AT:PROBE_AT + len(CPUID_HLT)] = CPUID_HLT
        engine.map_buffer(0, ram, 0, len(ram))
        leaves = {}
        for leaf in (1, 7):
            engine.write(Reg.EAX, leaf)
            engine.write(Reg.ECX, 0)
            engine.write(Reg.CS, 0)
            engine.write(Reg.EIP, PROBE_AT)
            err = engine.run()
            if err or engine.read(Reg.EIP) != PROBE_AT + len(CPUID_HLT):
                raise RuntimeError(f"probing the engine's CPUID leaf {leaf} failed "
                                   f"(error {err}, EIP {engine.read(Reg.EIP):#x})")
            leaves[leaf] = (engine.read(Reg.EAX), engine.read(Reg.EBX),
                            engine.read(Reg.ECX), engine.read(Reg.EDX))
        return leaves
    finally:
        engine.close()


def without_host_random(leaves: dict[int, Leaf]) -> dict[int, Leaf]:
    """``leaves`` with RDRAND and RDSEED cleared."""
    eax, ebx, ecx, edx = leaves[1]
    out = dict(leaves)
    out[1] = (eax, ebx, ecx & ~RDRAND, edx)
    if 7 in leaves:
        eax, ebx, ecx, edx = leaves[7]
        out[7] = (eax, ebx & ~RDSEED, ecx, edx)
    return out


class HiddenHostRandom:
    """A CPUID hook on ``engine`` answering ``leaves`` (see :func:`without_host_random`);
    ``on_error(exc)`` hears of a failure inside the hook (the engine then answers)."""

    def __init__(self, engine: CpuidEngine, leaves: dict[int, Leaf],
                 on_error: Callable[[Exception], None]) -> None:
        self.engine = engine
        self.leaves = leaves
        self._on_error = on_error
        self._values = [0] * len(Reg)
        self.handle = engine.hook_cpuid(self._on_cpuid)

    @classmethod
    def install(cls, engine: CpuidEngine, engine_model: str | None,
                on_error: Callable[[Exception], None]) -> HiddenHostRandom:
        leaves = probe_leaves(engine_model)
        log.debug("deterministic mode: CPUID hides RDRAND/RDSEED (leaf 1 ECX %#x, leaf 7 "
                  "EBX %#x)", leaves[1][2], leaves[7][1])
        return cls(engine, without_host_random(leaves), on_error)

    def _on_cpuid(self) -> bool:
        try:
            leaf = self.engine.read(Reg.EAX)
            if leaf not in self.leaves or (leaf == 7 and self.engine.read(Reg.ECX) != 0):
                return False  # the engine's own answer
            v = self._values
            v[Reg.EAX], v[Reg.EBX], v[Reg.ECX], v[Reg.EDX] = self.leaves[leaf]
            self.engine.write_some(v, _EAX_EBX_ECX_EDX)
            return True
        except Exception as exc:  # noqa: BLE001 - nothing may escape into libunicorn
            log.exception("error in the CPUID hook")
            self._on_error(exc)
            return False
