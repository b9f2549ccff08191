"""The contract between BIOS service code and the CPU it serves.

Owns: :class:`Reg` (register ids), :class:`Registers` (named 8/16/32-bit views over a
register backend), :class:`Memory` (guest physical memory access), :class:`BiosCall` (what
one BIOS service invocation may read and change) and in-memory fakes of each for unit
tests.  BIOS services import only this module's types, never the engine, so every service
is testable with :class:`FakeCpu`.
"""

from __future__ import annotations

import enum
from typing import Protocol


class Reg(enum.IntEnum):
    """Register ids.  Segments come first: batched writes go in this order, and a new CS
    base must be in place before a new EIP takes effect."""

    CS = 0
    DS = 1
    ES = 2
    SS = 3
    FS = 4
    GS = 5
    EAX = 6
    EBX = 7
    ECX = 8
    EDX = 9
    ESI = 10
    EDI = 11
    EBP = 12
    ESP = 13
    EIP = 14
    EFLAGS = 15


class Flag(enum.IntFlag):
    CF = 1 << 0
    PF = 1 << 2
    AF = 1 << 4
    ZF = 1 << 6
    SF = 1 << 7
    TF = 1 << 8
    IF = 1 << 9
    DF = 1 << 10
    OF = 1 << 11


class RegisterBackend(Protocol):
    """``values[reg]`` reads a register (a list or dict indexed by :class:`Reg`: the
    named views read it directly, the hot path of every BIOS call); ``write`` sets one."""

    values: object

    def read(self, reg: Reg) -> int: ...
    def write(self, reg: Reg, value: int) -> None: ...


def _full(reg: Reg):
    def get(self: Registers) -> int:
        return self._b.values[reg]

    def put(self: Registers, value: int) -> None:
        self._b.write(reg, value & 0xFFFFFFFF)

    return property(get, put)


def _word(reg: Reg):
    def get(self: Registers) -> int:
        return self._b.values[reg] & 0xFFFF

    def put(self: Registers, value: int) -> None:
        b = self._b
        b.write(reg, (b.values[reg] & 0xFFFF0000) | (value & 0xFFFF))

    return property(get, put)


def _low(reg: Reg):
    def get(self: Registers) -> int:
        return self._b.values[reg] & 0xFF

    def put(self: Registers, value: int) -> None:
        b = self._b
        b.write(reg, (b.values[reg] & 0xFFFFFF00) | (value & 0xFF))

    return property(get, put)


def _high(reg: Reg):
    def get(self: Registers) -> int:
        return (self._b.values[reg] >> 8) & 0xFF

    def put(self: Registers, value: int) -> None:
        b = self._b
        b.write(reg, (b.values[reg] & 0xFFFF00FF) | ((value & 0xFF) << 8))

    return property(get, put)


def _seg(reg: Reg):
    def get(self: Registers) -> int:
        return self._b.values[reg] & 0xFFFF

    def put(self: Registers, value: int) -> None:
        self._b.write(reg, value & 0xFFFF)

    return property(get, put)


class Registers:
    """Named views (``al``, ``ax``, ``eax``, ``es`` ...) over a :class:`RegisterBackend`.

    Every access goes to the backend: nothing is cached, so a value written is the value
    the guest sees when the call returns.
    """

    __slots__ = ("_b",)

    def __init__(self, backend: RegisterBackend) -> None:
        self._b = backend

    eax = _full(Reg.EAX)
    ebx = _full(Reg.EBX)
    ecx = _full(Reg.ECX)
    edx = _full(Reg.EDX)
    esi = _full(Reg.ESI)
    edi = _full(Reg.EDI)
    ebp = _full(Reg.EBP)
    esp = _full(Reg.ESP)
    eip = _full(Reg.EIP)
    eflags = _full(Reg.EFLAGS)
    ax = _word(Reg.EAX)
    bx = _word(Reg.EBX)
    cx = _word(Reg.ECX)
    dx = _word(Reg.EDX)
    si = _word(Reg.ESI)
    di = _word(Reg.EDI)
    bp = _word(Reg.EBP)
    sp = _word(Reg.ESP)
    ip = _word(Reg.EIP)
    flags = _word(Reg.EFLAGS)
    al = _low(Reg.EAX)
    bl = _low(Reg.EBX)
    cl = _low(Reg.ECX)
    dl = _low(Reg.EDX)
    ah = _high(Reg.EAX)
    bh = _high(Reg.EBX)
    ch = _high(Reg.ECX)
    dh = _high(Reg.EDX)
    cs = _seg(Reg.CS)
    ds = _seg(Reg.DS)
    es = _seg(Reg.ES)
    ss = _seg(Reg.SS)
    fs = _seg(Reg.FS)
    gs = _seg(Reg.GS)


class Memory(Protocol):
    """Guest physical memory (linear addresses; real mode: ``seg * 16 + off``).  An
    access reaching beyond the end of guest memory raises IndexError and changes
    nothing; services turn that into the caller's error status."""

    def read(self, addr: int, size: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...
    def read_u8(self, addr: int) -> int: ...
    def read_u16(self, addr: int) -> int: ...
    def read_u32(self, addr: int) -> int: ...
    def write_u8(self, addr: int, value: int) -> None: ...
    def write_u16(self, addr: int, value: int) -> None: ...
    def write_u32(self, addr: int, value: int) -> None: ...


class MemoryMixin:
    """Integer accessors built on ``read``/``write``; implementations may override them."""

    def read(self, addr: int, size: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def write(self, addr: int, data: bytes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_u8(self, addr: int) -> int:
        return self.read(addr, 1)[0]

    def read_u16(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 2), "little")

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def write_u8(self, addr: int, value: int) -> None:
        self.write(addr, bytes((value & 0xFF,)))

    def write_u16(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFF).to_bytes(2, "little"))

    def write_u32(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))


class BiosCall:
    """One invocation of a BIOS service: registers, memory and the call's outcome.

    Services set the carry/zero flags with :meth:`set_cf`/:meth:`set_zf`; the dispatcher
    applies them where the caller will see them (the live FLAGS register when ``int n``
    was served directly, the FLAGS image on the stack when the call came through the ROM
    stub's IRET).  A service that must block (wait for a key) calls :meth:`retry_after_irq`:
    the call is re-issued after the next interrupt instead of blocking the emulator.
    """

    __slots__ = ("regs", "mem", "vector", "_flags_setter", "retry", "halt_request")

    def __init__(self, regs: Registers, mem: Memory, vector: int, flags_setter) -> None:
        self.regs = regs
        self.mem = mem
        self.vector = vector
        self._flags_setter = flags_setter
        self.retry = False
        self.halt_request: str | None = None

    def set_cf(self, value: bool) -> None:
        self._flags_setter(Flag.CF, value)

    def set_zf(self, value: bool) -> None:
        self._flags_setter(Flag.ZF, value)

    def set_if(self, value: bool) -> None:
        self._flags_setter(Flag.IF, value)

    def retry_after_irq(self) -> None:
        self.retry = True

    def fail(self, status: int, status_reg: str = "ah") -> None:
        """Common BIOS error return: status in AH (by default) and CF set."""
        setattr(self.regs, status_reg, status)
        self.set_cf(True)

    def ok(self, status: int | None = 0) -> None:
        """Common BIOS success return: AH=status (unless None) and CF clear."""
        if status is not None:
            self.regs.ah = status
        self.set_cf(False)


# ---------------------------------------------------------------------------- fakes


class FakeRegisterBackend:
    def __init__(self) -> None:
        self.values = dict.fromkeys(Reg, 0)
        self.values[Reg.EFLAGS] = 0x2

    def read(self, reg: Reg) -> int:
        return self.values[reg]

    def write(self, reg: Reg, value: int) -> None:
        self.values[reg] = value & 0xFFFFFFFF


class FakeMemory(MemoryMixin):
    """A flat bytearray standing in for guest RAM (1 MiB + 64 KiB by default)."""

    def __init__(self, size: int = 0x110000) -> None:
        self.data = bytearray(size)

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.data[addr : addr + size])

    def write(self, addr: int, data: bytes) -> None:
        self.data[addr : addr + len(data)] = data


class FakeCpu:
    """Registers + memory + a :class:`BiosCall` factory for service unit tests."""

    def __init__(self, mem_size: int = 0x110000) -> None:
        self.backend = FakeRegisterBackend()
        self.regs = Registers(self.backend)
        self.mem = FakeMemory(mem_size)

    def _set_flag(self, flag: Flag, value: bool) -> None:
        fl = self.backend.values[Reg.EFLAGS]
        self.backend.values[Reg.EFLAGS] = (fl | flag) if value else (fl & ~flag)

    @property
    def cf(self) -> bool:
        return bool(self.backend.values[Reg.EFLAGS] & Flag.CF)

    @property
    def zf(self) -> bool:
        return bool(self.backend.values[Reg.EFLAGS] & Flag.ZF)

    def call(self, vector: int, **regs: int) -> BiosCall:
        """Set the named registers (``ax=0x0201, es=0x7c0`` ...) and make a call object."""
        for name, value in regs.items():
            setattr(self.regs, name, value)
        return BiosCall(self.regs, self.mem, vector, self._set_flag)
