"""A powered-on machine whose BIOS services the fuzz tests call directly.

Owns: :func:`powered_on` (a fresh machine per example, POST done, nothing executed, with
a floppy, an empty floppy slot and a hard disk), :class:`Bounded` (fails any memory
access outside guest RAM, including the services' own), and calling a service the way
the machine does for ``int n`` with registers from a dict.
"""

from __future__ import annotations

from pathlib import Path

from vmgui.bios.api import BiosCall, FakeRegisterBackend, Flag, Reg, Registers
from vmgui.core.machine import Machine, MachineConfig
from vmgui.storage.image import DiskImage

HDD_BYTES = 4 * 1024 * 1024


def make_images(folder: Path) -> tuple[Path, Path]:
    """A bootable 1.44 MB floppy (cli; hlt) and an empty 4 MB hard disk in ``folder``."""
    floppy, hdd = folder / "a.img", folder / "c.img"
    with open(floppy, "wb") as f:
        f.write(b"\xfa\xf4" + bytes(508) + b"\x55\xaa")
        f.truncate(1474560)
    with open(hdd, "wb") as f:
        f.truncate(HDD_BYTES)
    return floppy, hdd


class Bounded:
    """Wraps a machine's memory (services hold the same object, so their own accesses
    are checked too): an access beyond the end of guest RAM raises IndexError before
    anything happens, as the :class:`vmgui.bios.api.Memory` contract says, on every
    path (the machine's fast paths index host buffers directly, where a negative
    address would silently wrap); a negative address is recorded as a violation."""

    def __init__(self, memory) -> None:
        self.size = memory.size
        self.violations: list[str] = []
        for name in ("read", "write", "read_u8", "read_u16", "read_u32", "write_u8",
                     "write_u16", "write_u32", "write_data"):
            setattr(memory, name, self._wrap(name, getattr(memory, name)))

    def _wrap(self, name: str, fn):
        sizes = {"u8": 1, "u16": 2, "u32": 4}

        def checked(addr: int, arg=None):
            if name == "read":
                span = arg
            elif name in ("write", "write_data"):
                span = len(arg)
            else:
                span = sizes[name.split("_")[1]]
            if addr < 0:
                self.violations.append(f"{name}({addr:#x}, {span} bytes)")
                raise AssertionError(f"BIOS memory access at a negative address: {name} "
                                     f"at {addr:#x}, {span} bytes")
            if addr + span > self.size:
                raise IndexError(f"{name} of {span} bytes at {addr:#x} beyond guest RAM "
                                 f"({self.size:#x})")
            return fn(addr) if arg is None else fn(addr, arg)

        return checked


def powered_on(images: tuple[Path, Path], profile: str = "pc-at") -> tuple[Machine, Bounded]:
    """A new 2 MB machine with ``images`` as A: and C: (B: an empty slot), after POST."""
    floppy, hdd = images
    drives = {0: DiskImage.open(floppy, kind="floppy"), 1: None,
              0x80: DiskImage.open(hdd, kind="hdd")}
    m = Machine(MachineConfig(memory_mb=2, native_stop=False, profile=profile), drives=drives)
    m.power_on()
    return m, Bounded(m.memory)


def call_service(m: Machine, vector: int, values: dict):
    """A :class:`BiosCall` on registers ``values`` (Reg -> int) and the backend holding
    them, as the machine makes one for ``int n`` (flags land in the live FLAGS)."""
    backend = FakeRegisterBackend()
    backend.values.update(values)
    regs = Registers(backend)

    def set_flag(flag: Flag, value: bool) -> None:
        fl = backend.values[Reg.EFLAGS]
        backend.values[Reg.EFLAGS] = (fl | flag) if value else (fl & ~flag)

    call = BiosCall(regs, m.memory, vector, set_flag)
    return call, backend


def check_registers(backend: FakeRegisterBackend) -> None:
    for reg, value in backend.values.items():
        limit = 0xFFFF if reg <= Reg.GS else 0xFFFFFFFF
        assert isinstance(value, int) and 0 <= value <= limit, (reg.name, value)


