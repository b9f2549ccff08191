"""Readable reports for a guest that stopped on an error.

Owns: turning an engine error code or a recorded fault into a sentence, and the report
that goes with a :class:`vmgui.core.events.GuestCrashed` event: the CPU mode, registers,
the bytes (and, when capstone is installed, the instructions in the code segment's
bitness) at CS:IP or, in protected mode, at CS.base+EIP through the guest's page tables,
and the last port access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import unicorn_const as ucc
from unicorn import x86_const as x86

from vmgui.bios.api import Reg
from vmgui.core.engine import UC_REG_CR0
from vmgui.core.pmode import DeliveryFault

if TYPE_CHECKING:
    from vmgui.core.machine import Machine

_ERRORS = {
    ucc.UC_ERR_READ_UNMAPPED: "read from unmapped memory",
    ucc.UC_ERR_WRITE_UNMAPPED: "write to unmapped memory",
    ucc.UC_ERR_FETCH_UNMAPPED: "jumped to unmapped memory",
    ucc.UC_ERR_READ_PROT: "read from protected memory",
    ucc.UC_ERR_WRITE_PROT: "write to protected memory",
    ucc.UC_ERR_FETCH_PROT: "executed protected memory",
    ucc.UC_ERR_INSN_INVALID: "invalid opcode with no handler installed",
    ucc.UC_ERR_EXCEPTION: "unhandled CPU exception (triple fault)",
    ucc.UC_ERR_READ_UNALIGNED: "unaligned read",
    ucc.UC_ERR_WRITE_UNALIGNED: "unaligned write",
}


def describe_error(err: int) -> str:
    return _ERRORS.get(err, f"engine error {err}")


def _disassemble(code: bytes, address: int, bits: int = 16) -> list[str]:
    try:
        import capstone
    except ImportError:
        return []
    mode = capstone.CS_MODE_32 if bits == 32 else capstone.CS_MODE_16
    md = capstone.Cs(capstone.CS_ARCH_X86, mode)
    width = 8 if bits == 32 else 4
    return [f"  {insn.address:0{width}x}: {insn.mnemonic} {insn.op_str}"
            for insn in list(md.disasm(code, address))[:4]]


def report(machine: Machine, reason: str) -> str:
    eng = machine.engine
    r = {reg: eng.read(reg) for reg in Reg}
    if eng.read_raw(UC_REG_CR0) & 1:
        lines, code, address, bits = _protected(machine, r)
    else:
        lines, code, address, bits = _real(machine, r)
    lines.insert(0, f"reason: {reason}")
    if code:
        lines.append(f"bytes at CS:{'EIP' if bits == 32 else 'IP'}: {code.hex(' ')}")
        lines.extend(_disassemble(code, address, bits))
    last = machine.bus.last_access
    if last:
        kind, port, size, value = last
        lines.append(f"last port access: {kind} {port:#06x} (size {size}) = {value:#x}")
    return "\n".join(lines)


def _common(r: dict) -> list[str]:
    return [f"EAX={r[Reg.EAX]:08X} EBX={r[Reg.EBX]:08X} ECX={r[Reg.ECX]:08X} "
            f"EDX={r[Reg.EDX]:08X}",
            f"ESI={r[Reg.ESI]:08X} EDI={r[Reg.EDI]:08X} EBP={r[Reg.EBP]:08X}"]


def _real(machine: Machine, r: dict) -> tuple[list[str], bytes, int, int]:
    cs, ip = r[Reg.CS], r[Reg.EIP] & 0xFFFF
    lines = [f"real mode  CS:IP={cs:04X}:{ip:04X}  SS:SP={r[Reg.SS]:04X}:"
             f"{r[Reg.ESP] & 0xFFFF:04X}  FLAGS={r[Reg.EFLAGS]:08X}", *_common(r),
             f"DS={r[Reg.DS]:04X} ES={r[Reg.ES]:04X} FS={r[Reg.FS]:04X} GS={r[Reg.GS]:04X}"]
    try:
        code = machine.memory.read((cs << 4) + ip, 16)
    except (IndexError, ValueError):
        code = b""
    return lines, code, ip, 16


def _protected(machine: Machine, r: dict) -> tuple[list[str], bytes, int, int]:
    """Segment bases and the code at CS:EIP as the guest's descriptors and page tables
    make them (CS*16 means nothing in protected mode)."""
    eng, pm = machine.engine, machine.pm
    ctx = pm.cpu.save()
    cs, ss = ctx.seg("cs"), ctx.seg("ss")
    eip = r[Reg.EIP] & 0xFFFFFFFF
    bits = 32 if cs.big else 16
    linear = (cs.base + eip) & 0xFFFFFFFF
    vm86 = bool(r[Reg.EFLAGS] & (1 << 17))
    cr = {n: eng.read_raw(getattr(x86, f"UC_X86_REG_CR{n}")) for n in (0, 2, 3, 4)}
    mode = ("virtual-8086 mode" if vm86 else f"{bits}-bit protected mode, CPL {ctx.cpl}")
    mode += ", paging on" if cr[0] & 0x80000000 else ", paging off"
    lines = [f"{mode}  CS:EIP={cs.selector:04X}:{eip:08X} (linear {linear:08X})  "
             f"SS:ESP={ss.selector:04X}:{r[Reg.ESP]:08X}  EFLAGS={r[Reg.EFLAGS]:08X}",
             *_common(r),
             "  ".join(f"{name.upper()}={ctx.seg(name).selector:04X} base "
                       f"{ctx.seg(name).base:08X}" for name in ("ds", "es", "fs", "gs")),
             f"CR0={cr[0]:08X} CR2={cr[2]:08X} CR3={cr[3]:08X} CR4={cr[4]:08X}"]
    try:
        code = pm.read_linear(linear, 16)
    except (DeliveryFault, IndexError, ValueError):
        code = b""
        lines.append(f"the code at linear {linear:08X} is not mapped")
    return lines, code, eip, bits
