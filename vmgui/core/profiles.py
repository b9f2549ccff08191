"""Machine profiles: which PC a VM is, as data.

Owns: the table of machine kinds (modelled on 86Box's machine tables): for each, the
chipset it stands for, the devices on the ISA bus with their ports and IRQ lines, and the
firmware features its BIOS offers (PCI BIOS, VBE, El Torito CD boot), the CPU model and
the memory it takes.  :class:`vmgui.core.machine.Machine` is assembled from one of them;
the configuration layer validates names against :func:`profile_names`; the wizard lists
:func:`all_profiles` by label.  The table is immutable (a mapping proxy over frozen
dataclasses): nothing here changes at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

MIN_MEMORY_MB = 2  # 640 KiB conventional + 1 MiB extended, rounded up


@dataclass(frozen=True)
class IsaDevice:
    """One device of the profile: ``kind`` names the model (see Machine), ``ports`` its
    first I/O port (0 for none), ``irqs`` the IRQ lines it drives (in its own order)."""

    kind: str
    port: int = 0
    irqs: tuple[int, ...] = ()


@dataclass(frozen=True)
class MachineProfile:
    name: str  # stored in vm.toml and state files
    label: str  # what the wizard and the details pane show
    chipset: str  # what the machine stands for, for the details pane and logs
    devices: tuple[IsaDevice, ...]
    cpu_model: str  # a name of vmgui.core.cpuid.MODELS (engine model, CPUID identity)
    pci: bool = False  # PCI configuration mechanism #1 and the int 1Ah B1xxh PCI BIOS
    vbe: bool = False  # VBE 2.0/3.0 on int 10h 4Fxxh with a linear framebuffer
    cdrom: bool = False  # an ATAPI-class CD drive the BIOS boots from (El Torito)
    max_memory_mb: int = 257  # total RAM (640 KiB + extended from 1 MiB), see memory_problem
    # The BIOS ROM also answers at FFFE0000h-FFFFFFFFh (a 386+ chipset's high alias), and
    # int 15h E820h reports the ROM areas as SeaBIOS does, with ACPI 3.0 attributes.
    high_bios: bool = False

    def device(self, kind: str) -> IsaDevice | None:
        """The profile's device of ``kind``, or None when this machine has none."""
        for dev in self.devices:
            if dev.kind == kind:
                return dev
        return None

    def memory_problem(self, memory_mb: int) -> str | None:
        """Why this machine cannot have ``memory_mb`` MB of RAM, or None when it can."""
        if memory_mb > self.max_memory_mb:
            return (f"memory {memory_mb} MB is more than the {self.name} machine takes "
                    f"({self.max_memory_mb} MB)")
        if memory_mb < MIN_MEMORY_MB:
            return (f"memory {memory_mb} MB is outside {MIN_MEMORY_MB}-{self.max_memory_mb} "
                    f"MB (a machine needs at least {MIN_MEMORY_MB} MB)")
        return None


# The PC/AT's fixed resources, as every AT-compatible board has them.
_AT_DEVICES = (
    IsaDevice("pic", 0x20, (2,)),  # master at 20h, slave at A0h cascaded on IRQ2
    IsaDevice("pit", 0x40, (0,)),
    IsaDevice("port61", 0x61),
    IsaDevice("i8042", 0x60, (1, 12)),  # keyboard, PS/2 mouse
    IsaDevice("port92", 0x92),
    IsaDevice("cmos", 0x70, (8,)),
    IsaDevice("uart", 0x3F8, (4,)),  # COM1
    IsaDevice("debugcon", 0xE9),  # Bochs/QEMU debug port
    IsaDevice("vga", 0x3C0),
    IsaDevice("ata-primary", 0x1F0, (14,)),  # IDE: C: master, D: slave (control at 3F6h)
    IsaDevice("ata-secondary", 0x170, (15,)),  # the CD drive's master position (376h)
)

DEFAULT_PROFILE = "pc-at"

_TABLE = MappingProxyType({
    "pc-at": MachineProfile(
        name="pc-at", label="IBM PC/AT compatible (ISA), BIOS",
        chipset="ISA PC/AT (8259A pair, 8254, 8042, MC146818)",
        devices=_AT_DEVICES, cpu_model="unicorn-default", max_memory_mb=257),  # 640K + 256 MB
    "pc-pci": MachineProfile(
        name="pc-pci", label="PC with PCI, VBE graphics and CD-ROM (i440FX-class), BIOS",
        chipset="i440FX host bridge, PIIX3 ISA bridge, VBE display adapter",
        devices=_AT_DEVICES, cpu_model="pentium3", pci=True, vbe=True, cdrom=True,
        max_memory_mb=2048, high_bios=True),  # RAM ends at 80000000h, far below the PCI hole
})


def get_profile(name: str) -> MachineProfile:
    """The profile called ``name``; ValueError naming the known ones otherwise."""
    try:
        return _TABLE[name]
    except (KeyError, TypeError):
        raise ValueError(f"machine profile {name!r} is unknown "
                         f"(known: {', '.join(_TABLE)})") from None


def profile_names() -> tuple[str, ...]:
    return tuple(_TABLE)


def all_profiles() -> tuple[MachineProfile, ...]:
    return tuple(_TABLE.values())
