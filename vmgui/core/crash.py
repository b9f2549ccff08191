"""Readable reports for a guest that stopped on an error.

Owns: turning an engine error code or a recorded fault into a sentence, and the report
that goes with a :class:`vmgui.core.events.GuestCrashed` event: registers, the bytes (and,
when capstone is installed, the instructions) at CS:IP, and the last port access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import unicorn_const as ucc

from vmgui.bios.api import Reg

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


def _disassemble(code: bytes, address: int) -> list[str]:
    try:
        import capstone
    except ImportError:
        return []
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16)
    return [f"  {insn.address:04x}: {insn.mnemonic} {insn.op_str}"
            for insn in list(md.disasm(code, address))[:4]]


def report(machine: Machine, reason: str) -> str:
    eng = machine.engine
    r = {reg: eng.read(reg) for reg in Reg}
    cs, ip = r[Reg.CS], r[Reg.EIP] & 0xFFFF
    lines = [
        f"reason: {reason}",
        f"CS:IP={cs:04X}:{ip:04X}  SS:SP={r[Reg.SS]:04X}:{r[Reg.ESP] & 0xFFFF:04X}  "
        f"FLAGS={r[Reg.EFLAGS]:08X}",
        f"EAX={r[Reg.EAX]:08X} EBX={r[Reg.EBX]:08X} ECX={r[Reg.ECX]:08X} EDX={r[Reg.EDX]:08X}",
        f"ESI={r[Reg.ESI]:08X} EDI={r[Reg.EDI]:08X} EBP={r[Reg.EBP]:08X}",
        f"DS={r[Reg.DS]:04X} ES={r[Reg.ES]:04X} FS={r[Reg.FS]:04X} GS={r[Reg.GS]:04X}",
    ]
    linear = (cs << 4) + ip
    try:
        code = machine.memory.read(linear, 16)
    except (IndexError, ValueError):
        code = b""
    if code:
        lines.append(f"bytes at CS:IP: {code.hex(' ')}")
        lines.extend(_disassemble(code, ip))
    last = machine.bus.last_access
    if last:
        kind, port, size, value = last
        lines.append(f"last port access: {kind} {port:#06x} (size {size}) = {value:#x}")
    return "\n".join(lines)
