"""A snapshot of the CPU registers for the length of one hook.

Owns: :class:`RegisterCache`, the register backend BIOS calls and interrupt delivery
use inside a hook: all registers are read in one batch call on entry, services work on
plain Python ints, and only the registers that changed are written back, again in one
call, before the hook returns.  (One ctypes call costs ~0.7 us; a BIOS call touches 5-10
registers.)
"""

from __future__ import annotations

from vmgui.bios.api import Flag, Reg
from vmgui.core.engine import CR0_INDEX, Engine


class RegisterCache:
    __slots__ = ("_engine", "values", "dirty")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.values = engine.read_all()
        self.dirty = 0

    def read(self, reg: Reg) -> int:
        return self.values[reg]

    def write(self, reg: Reg, value: int) -> None:
        self.values[reg] = value & 0xFFFFFFFF
        self.dirty |= 1 << reg

    @property
    def cr0(self) -> int:
        return self.values[CR0_INDEX]

    def set_flag(self, flag: Flag, value: bool) -> None:
        eflags = self.values[Reg.EFLAGS]
        self.write(Reg.EFLAGS, (eflags | flag) if value else (eflags & ~flag))

    def flush(self) -> None:
        if self.dirty:
            self._engine.write_some(self.values, self.dirty)
            self.dirty = 0
