"""SYSENTER, which the engine leaves undone.

Owns: what the CPU does on SYSENTER (Intel SDM vol. 2B, "SYSENTER"): with
IA32_SYSENTER_CS = 0, #GP(0); otherwise VM, IF and RF cleared, CPL 0, CS = SYSENTER_CS
(flat 4 GiB 32-bit code, DPL 0), SS = SYSENTER_CS + 8 (flat 4 GiB 32-bit data, DPL 0),
ESP = IA32_SYSENTER_ESP, EIP = IA32_SYSENTER_EIP.  unicorn 2.1.4 runs SYSENTER as "call
the SYSENTER hooks, then add the instruction's length to EIP" (qemu/target/i386/
seg_helper.c helper_sysenter), so the hook here loads that state and leaves EIP short of
the target by the instruction's length.  SYSEXIT the engine does itself.

Why it matters: the pc-at machine runs the engine's default CPU model, whose CPUID claims
SEP, so Linux's vDSO enters the kernel with SYSENTER; with the instruction a no-op, the
first system call of init fell through to ``int 80h`` with EBP clobbered and returned
onto its stack.  (Real mode never gets here: the engine raises #GP itself.)
"""

from __future__ import annotations

import logging
from typing import Protocol

from vmgui.bios.api import Reg
from vmgui.core import pmode
from vmgui.core.cpustate import CpuContext, Segment

log = logging.getLogger(__name__)

SYSENTER_CS_MSR = 0x174
SYSENTER_ESP_MSR = 0x175
SYSENTER_EIP_MSR = 0x176
GP = 13
EFLAGS_CLEARED = (1 << 17) | (1 << 16) | (1 << 9)  # VM, RF, IF
# descriptor high words (flags as the engine keeps them): G, D/B, P, DPL 0, S, type
FLAT_CODE = 0x00CF9B00  # execute/read, accessed
FLAT_DATA = 0x00CF9300  # read/write, accessed
PREFIXES = frozenset((0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3))
OPCODE = b"\x0f\x34"
MAX_INSN = 15


class SysenterEngine(Protocol):
    """What :class:`Sysenter` needs of vmgui.core.engine.Engine."""

    def hook_sysenter(self, fn) -> object: ...
    def read_msr(self, index: int) -> int: ...
    def read(self, reg: Reg) -> int: ...
    def write(self, reg: Reg, value: int) -> None: ...


class Sysenter:
    """Carries out SYSENTER on ``engine``; ``pm`` reads the code and delivers #GP."""

    def __init__(self, engine: SysenterEngine, pm: pmode.ProtectedMode) -> None:
        self.engine = engine
        self.pm = pm
        self.calls = 0
        self.handle = engine.hook_sysenter(self._on_sysenter)

    def _length(self) -> int:
        """The length of the SYSENTER at CS:EIP (prefixes count; 2 without any)."""
        code = self.pm.read_linear(self.pm.linear_pc(), MAX_INSN)
        at = 0
        while at < MAX_INSN - 1 and code[at] in PREFIXES:
            at += 1
        if code[at:at + 2] != OPCODE:
            raise ValueError(f"no SYSENTER at CS:EIP ({code[:4].hex()})")
        return at + 2

    def _on_sysenter(self) -> None:
        # the engine adds the instruction's length to EIP once this hook returns: every
        # EIP set here is that much short of where the CPU must continue
        length = self._length()
        selector = self.engine.read_msr(SYSENTER_CS_MSR) & 0xFFFC
        if selector == 0:
            self.pm.deliver(pmode.Event(GP, error_code=0))  # EIP still at the SYSENTER
            self.engine.write(Reg.EIP, (self.engine.read(Reg.EIP) - length) & 0xFFFFFFFF)
            return
        cpu: CpuContext = self.pm.cpu.save()
        cpu.load(cs=Segment(selector, 0, 0xFFFFFFFF, FLAT_CODE),
                 ss=Segment((selector + 8) & 0xFFFC, 0, 0xFFFFFFFF, FLAT_DATA), cpl=0,
                 esp=self.engine.read_msr(SYSENTER_ESP_MSR),
                 eip=(self.engine.read_msr(SYSENTER_EIP_MSR) - length) & 0xFFFFFFFF,
                 eflags=cpu.eflags & ~EFLAGS_CLEARED)
        self.calls += 1
