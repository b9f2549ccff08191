"""PCI bus 0 behind configuration mechanism #1, and the functions of an i440FX-class PC.

Owns: :class:`PciFunction` (one function's 256-byte configuration space with its write
masks: read-only identity fields, writable command/latency/interrupt line, BARs whose
write mask is their size mask, so that the sizing protocol works: write all ones, read
back the mask), :class:`PciBus` (the functions of bus 0 by device/function number, the
CF8h address register and the CFCh-CFFh data window on an :class:`IoBus`, and the PIIX3
reset control register at CF9h) and the four functions of the "pc-pci" machine
(:func:`pc_pci_bus`): the i440FX host bridge at 00:00.0, the PIIX3 PCI-to-ISA bridge at
00:01.0, the PIIX3's IDE function at 00:01.1 (the machine's ATA controller seen from PCI)
and a Bochs/QEMU "std VGA" display adapter at 00:02.0.

Facts followed: PCI Local Bus Specification 2.1 (configuration header type 0, mechanism
#1: CONFIG_ADDRESS bit 31 enable, bits 23:16 bus, 15:11 device, 10:8 function, 7:2
register; a read that no function claims ends in a master abort and returns all ones);
Intel 82441FX/82371SB (PIIX3) datasheets: CONFADD decodes only double-word accesses, a
byte or word access to CF8h-CFBh is an ordinary I/O cycle, RCR at CF9h resets the system
when bit 2 is written as 1; PIRQRC[A:D] at 60h-63h (bit 7 disables the route, bits 3:0 the
ISA IRQ); the IDE function 8086:7010, class 0101h with programming interface 80h (both
channels in compatibility mode, so the legacy ports and IRQ 14/15 of
:mod:`vmgui.devices.ata` and no BARs 0-3; bit 7: bus-master capable), IDETIM at 40h-43h
(bit 15 of each word: the channel's decode enable) and SIDETIM at 44h, all zero at
power-on (POST enables the channels, as SeaBIOS does). Linux's arch/x86/pci/direct.c
probes exactly this: a byte written to CFBh must not disturb the address register, and
``outl(0x80000000, 0xCF8)`` reads back as written. The VGA function's identity (1234:1111,
class 0300h, a prefetchable 32-bit memory BAR0 for the framebuffer) is that of the
Bochs/QEMU standard VGA.

Not modelled: the IDE function's bus-master DMA (BMIBA, BAR4, reads 0 and takes no
address, so Linux's ata_piix logs "BMDMA: BAR4 is zero, falling back to PIO" and uses PIO)
and its decode enables (the ATA ports answer whatever IDETIM says); other buses, the
chipset's own registers beyond the header (PAM shadowing, DRAM rows, SMRAM read as zero
and ignore writes), moving the framebuffer when a guest reprograms the VGA BAR, and decode
enables (the legacy VGA ports answer regardless of the command register).

Thread rule: used from the VM's emulation thread only, like the IoBus it sits on.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from vmgui.devices.base import Device, StateVersionError
from vmgui.devices.bus import IoBus, Registration
from vmgui.devices.vbe_lfb import LFB_SIZE

log = logging.getLogger(__name__)

CONFIG_SPACE = 256
ALL_ONES = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}
ENABLE = 0x80000000
ADDRESS_MASK = 0x80FFFFFC  # bits 30:24 and 1:0 are reserved and read as zero
MAX_DEVICE = 32
MAX_FUNCTION = 8


class CfgReg(enum.IntEnum):
    """Offsets in a type 0 configuration header."""

    VENDOR_ID = 0x00
    DEVICE_ID = 0x02
    COMMAND = 0x04
    STATUS = 0x06
    REVISION = 0x08
    CLASS_CODE = 0x09  # 3 bytes: programming interface, sub-class, base class
    CACHE_LINE_SIZE = 0x0C
    LATENCY_TIMER = 0x0D
    HEADER_TYPE = 0x0E
    BAR0 = 0x10
    SUBSYSTEM_VENDOR_ID = 0x2C
    SUBSYSTEM_ID = 0x2E
    ROM_ADDRESS = 0x30
    INTERRUPT_LINE = 0x3C
    INTERRUPT_PIN = 0x3D


class Command(enum.IntFlag):
    IO = 0x0001
    MEMORY = 0x0002
    MASTER = 0x0004
    PARITY = 0x0040
    SERR = 0x0100
    INTX_DISABLE = 0x0400


COMMAND_WRITABLE = (Command.IO | Command.MEMORY | Command.MASTER | Command.PARITY
                    | Command.SERR | Command.INTX_DISABLE)
STATUS_WRITE_ONE_TO_CLEAR = 0xF900  # parity/abort/system-error bits 8, 11-15
STATUS_DEVSEL_MEDIUM = 0x0200
STATUS_FAST_BACK_TO_BACK = 0x0080
HEADER_MULTIFUNCTION = 0x80
BAR_COUNT = 6


class BarKind(enum.Enum):
    IO = "io"
    MEM32 = "mem32"
    MEM32_PREFETCH = "mem32-prefetchable"

    @property
    def flag_bits(self) -> int:
        """The read-only low bits of the BAR: bit 0 I/O space, bit 3 prefetchable."""
        return {BarKind.IO: 0x1, BarKind.MEM32: 0x0, BarKind.MEM32_PREFETCH: 0x8}[self]


class MechanismPort(enum.IntEnum):
    """Offsets from the mechanism's base port (CF8h)."""

    ADDRESS = 0  # CONFADD, double-word accesses only
    RESET_CONTROL = 1  # CF9h, the PIIX3's RCR (a byte register)
    DATA = 4  # CFCh-CFFh: the configuration dword selected by ADDRESS, any byte lanes


RCR_SYSTEM_RESET = 0x02  # kept: the kind of reset (hard), on the PIIX3
RCR_RESET_CPU = 0x04  # writing 1 resets the machine


def devfn(device: int, function: int) -> int:
    return (device << 3) | function


def bdf_name(bus: int, dev_fn: int) -> str:
    return f"{bus:02x}:{dev_fn >> 3:02x}.{dev_fn & 7}"


class PciFunction:
    """One function's configuration space: contents, write mask, write-one-to-clear mask.

    A write changes only the bits its mask allows; a bit set in the write-one-to-clear
    mask is cleared by writing 1 (the status register's error bits).  :meth:`reset`
    brings back the power-on contents (BARs unassigned, decoding off)."""

    def __init__(self, name: str, *, vendor: int, device: int, class_code: int,
                 revision: int = 0, header_type: int = 0, command: int = 0,
                 status: int = 0, interrupt_pin: int = 0) -> None:
        self.name = name
        self.config = bytearray(CONFIG_SPACE)
        self.wmask = bytearray(CONFIG_SPACE)
        self.w1cmask = bytearray(CONFIG_SPACE)
        self.bars: dict[int, tuple[BarKind, int]] = {}
        self.define(CfgReg.VENDOR_ID, 2, vendor)
        self.define(CfgReg.DEVICE_ID, 2, device)
        self.define(CfgReg.COMMAND, 2, command, COMMAND_WRITABLE)
        self.define(CfgReg.STATUS, 2, status)
        self._set_mask(self.w1cmask, CfgReg.STATUS, 2, STATUS_WRITE_ONE_TO_CLEAR)
        self.define(CfgReg.REVISION, 1, revision)
        self.define(CfgReg.CLASS_CODE, 3, class_code)
        self.define(CfgReg.CACHE_LINE_SIZE, 1, 0, 0xFF)
        self.define(CfgReg.LATENCY_TIMER, 1, 0, 0xFF)
        self.define(CfgReg.HEADER_TYPE, 1, header_type)
        self.define(CfgReg.INTERRUPT_LINE, 1, 0, 0xFF)
        self.define(CfgReg.INTERRUPT_PIN, 1, interrupt_pin)
        self._power_on = bytes(self.config)

    # ------------------------------------------------------------------ building
    def define(self, reg: int, size: int, value: int, writable: int = 0) -> None:
        """A register of ``size`` bytes at ``reg``: its power-on ``value`` and the bits
        a guest may change.  Everything not defined reads as zero and ignores writes."""
        if not 0 <= reg and reg + size <= CONFIG_SPACE:
            raise ValueError(f"{self.name}: register {reg:#x}+{size} outside the "
                             f"{CONFIG_SPACE}-byte configuration space")
        self.config[reg:reg + size] = value.to_bytes(size, "little")
        self._set_mask(self.wmask, reg, size, writable)
        self._power_on = bytes(self.config)

    @staticmethod
    def _set_mask(mask: bytearray, reg: int, size: int, bits: int) -> None:
        mask[reg:reg + size] = bits.to_bytes(size, "little")

    def add_bar(self, index: int, kind: BarKind, size: int) -> None:
        """Base address register ``index`` decoding ``size`` bytes (a power of two, at
        least 16 for memory and 4 for I/O).  Its address bits above the size are
        writable; the low bits read as ``kind``'s flags."""
        minimum = 4 if kind is BarKind.IO else 16
        if not 0 <= index < BAR_COUNT or size < minimum or size & (size - 1):
            raise ValueError(f"{self.name}: BAR{index} of {size} bytes is not a "
                             f"power of two of at least {minimum}")
        self.define(CfgReg.BAR0 + 4 * index, 4, kind.flag_bits, ~(size - 1) & 0xFFFFFFFF)
        self.bars[index] = (kind, size)

    # ------------------------------------------------------------------ access
    def read(self, reg: int, size: int) -> int:
        return int.from_bytes(self.config[reg:reg + size], "little")

    def write(self, reg: int, size: int, value: int) -> None:
        config, wmask, w1c = self.config, self.wmask, self.w1cmask
        for i in range(size):
            r = reg + i
            byte = (value >> (8 * i)) & 0xFF
            config[r] = ((config[r] & ~wmask[r]) | (byte & wmask[r])) & ~(byte & w1c[r])

    def reset(self) -> None:
        self.config[:] = self._power_on

    # ------------------------------------------------------------------ views
    @property
    def vendor(self) -> int:
        return self.read(CfgReg.VENDOR_ID, 2)

    @property
    def device(self) -> int:
        return self.read(CfgReg.DEVICE_ID, 2)

    @property
    def class_code(self) -> int:
        return self.read(CfgReg.CLASS_CODE, 3)

    def bar_address(self, index: int) -> int | None:
        """Where BAR ``index`` decodes now, or None (no such BAR, or its kind of
        decoding is off in the command register)."""
        if index not in self.bars:
            return None
        kind, _size = self.bars[index]
        command = self.read(CfgReg.COMMAND, 2)
        if not command & (Command.IO if kind is BarKind.IO else Command.MEMORY):
            return None
        value = self.read(CfgReg.BAR0 + 4 * index, 4)
        return value & (0xFFFFFFFC if kind is BarKind.IO else 0xFFFFFFF0)


class PciBus(Device):
    """Bus 0 and configuration mechanism #1 at ports ``base`` .. ``base+7`` (CF8h-CFFh).

    ``on_reset`` is called when the guest writes RCR (CF9h) with bit 2 set."""

    NAME = "pci"
    STATE_VERSION = 1

    def __init__(self, io: IoBus, on_reset: Callable[[], None] | None = None,
                 base: int = 0xCF8) -> None:
        self.functions: dict[int, PciFunction] = {}
        # functions a state saved by an older vmgui may lack: loaded as powered on
        self.added_later: frozenset[int] = frozenset()
        self._on_reset = on_reset
        self.address = 0
        self.rcr = 0
        self.registrations: tuple[Registration, ...] = (
            io.register(base + MechanismPort.ADDRESS, 4, "pci-config-address",
                        self._address_read, self._address_write, widths=frozenset({1, 4})),
            io.register(base + MechanismPort.DATA, 4, "pci-config-data",
                        self._data_read, self._data_write, widths=frozenset({1, 2, 4})),
        )

    def add(self, device: int, function: int, fn: PciFunction) -> None:
        if not (0 <= device < MAX_DEVICE and 0 <= function < MAX_FUNCTION):
            raise ValueError(f"{fn.name}: PCI device {device}, function {function} "
                             "does not exist on a bus (device 0-31, function 0-7)")
        key = devfn(device, function)
        if key in self.functions:
            raise ValueError(f"{fn.name}: 00:{device:02x}.{function} is already "
                             f"{self.functions[key].name}")
        self.functions[key] = fn

    def function_at(self, device: int, function: int = 0) -> PciFunction | None:
        return self.functions.get(devfn(device, function))

    # ------------------------------------------------------------------ config cycles
    def config_read(self, bus: int, dev_fn: int, reg: int, size: int) -> int:
        """A configuration read; all ones when no function answers (master abort)."""
        fn = self.functions.get(dev_fn) if bus == 0 else None
        if fn is None or reg + size > CONFIG_SPACE:
            return ALL_ONES[size]
        return fn.read(reg, size)

    def config_write(self, bus: int, dev_fn: int, reg: int, size: int, value: int) -> None:
        fn = self.functions.get(dev_fn) if bus == 0 else None
        if fn is not None and reg + size <= CONFIG_SPACE:
            fn.write(reg, size, value)

    # ------------------------------------------------------------------ ports
    def _address_read(self, offset: int, size: int) -> int:
        if size == 4:
            return self.address
        if offset == MechanismPort.RESET_CONTROL:
            return self.rcr
        return ALL_ONES[size]  # an ordinary I/O cycle that nothing claims

    def _address_write(self, offset: int, size: int, value: int) -> None:
        if size == 4:
            self.address = value & ADDRESS_MASK
        elif offset == MechanismPort.RESET_CONTROL:
            if value & RCR_RESET_CPU:
                log.info("PIIX3 reset control register (CF9h) = %02Xh: reset", value)
                if self._on_reset is not None:
                    self._on_reset()
                return
            self.rcr = value & RCR_SYSTEM_RESET

    def _target(self, offset: int) -> tuple[int, int, int] | None:
        """(bus, devfn, register) the data window at ``offset`` selects, or None."""
        address = self.address
        if not address & ENABLE:
            return None
        return (address >> 16) & 0xFF, (address >> 8) & 0xFF, (address & 0xFC) + offset

    def _data_read(self, offset: int, size: int) -> int:
        target = self._target(offset)
        if target is None:
            return ALL_ONES[size]
        return self.config_read(*target, size)

    def _data_write(self, offset: int, size: int, value: int) -> None:
        target = self._target(offset)
        if target is not None:
            self.config_write(*target, size, value)

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        self.address = 0
        self.rcr = 0
        for fn in self.functions.values():
            fn.reset()

    def save_state(self) -> dict[str, Any]:
        return {"version": self.STATE_VERSION, "address": self.address, "rcr": self.rcr,
                "functions": {bdf_name(0, key): bytes(fn.config)
                              for key, fn in sorted(self.functions.items())}}

    def check_state_version(self, state: dict[str, Any]) -> None:
        super().check_state_version(state)
        saved = state.get("functions")
        have = sorted(bdf_name(0, key) for key in self.functions)
        optional = {bdf_name(0, key) for key in self.added_later}
        if not isinstance(saved, dict) or not (
                set(have) - optional <= set(saved) <= set(have)):
            found = sorted(saved) if isinstance(saved, dict) else saved
            raise StateVersionError(f"{self.NAME}: saved state has PCI functions {found!r}, "
                                    f"this machine has {have}")
        for name, config in saved.items():
            if not isinstance(config, bytes | bytearray) or len(config) != CONFIG_SPACE:
                raise StateVersionError(f"{self.NAME}: saved configuration space of "
                                        f"{name} is not {CONFIG_SPACE} bytes")

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        self.address = int(state["address"]) & ADDRESS_MASK
        self.rcr = int(state["rcr"]) & RCR_SYSTEM_RESET
        for key, fn in self.functions.items():
            config = state["functions"].get(bdf_name(0, key))
            if config is None:  # one of added_later: the guest never saw it
                fn.reset()
            else:
                fn.config[:] = config


# ---------------------------------------------------------------------- the pc-pci board
INTEL = 0x8086
I440FX_DEVICE = 0x1237
PIIX3_ISA_DEVICE = 0x7000
STD_VGA_VENDOR = 0x1234  # Bochs/QEMU
STD_VGA_DEVICE = 0x1111
CLASS_HOST_BRIDGE = 0x060000
CLASS_ISA_BRIDGE = 0x060100
CLASS_VGA = 0x030000
PIIX3_IDE_DEVICE = 0x7010
CLASS_IDE_COMPATIBILITY = 0x010180  # mass storage, IDE, both channels legacy, bus master
IDETIM = 0x40  # IDETIM primary at 40h-41h, secondary at 42h-43h
IDETIM_WRITABLE = 0xF3FF  # bits 11:10 are reserved
IDETIM_DECODE_ENABLE = 0x8000
SIDETIM = 0x44
IDE_FUNCTION = 1  # the IDE controller is function 1 of the PIIX3
PIRQ_ROUTE = 0x60  # PIIX3 PIRQRC[A:D] at 60h-63h
PIRQ_DISABLED = 0x80
PIRQ_WRITABLE = 0x8F  # bit 7 routing disabled, bits 3:0 the IRQ (6:4 reserved)
HOST_BRIDGE_SLOT, ISA_BRIDGE_SLOT, VGA_SLOT = 0, 1, 2


def i440fx_host_bridge() -> PciFunction:
    """82441FX PMC: PCICMD 0006h and PCISTS 0280h at power-on, revision 02h."""
    return PciFunction("i440FX host bridge", vendor=INTEL, device=I440FX_DEVICE,
                       class_code=CLASS_HOST_BRIDGE, revision=0x02,
                       command=Command.MEMORY | Command.MASTER,
                       status=STATUS_DEVSEL_MEDIUM | STATUS_FAST_BACK_TO_BACK)


def piix3_isa_bridge() -> PciFunction:
    """82371SB function 0: multifunction header, PCICMD 0007h, the four PIRQ routes
    (disabled at power-on; POST routes them)."""
    fn = PciFunction("PIIX3 ISA bridge", vendor=INTEL, device=PIIX3_ISA_DEVICE,
                     class_code=CLASS_ISA_BRIDGE, header_type=HEADER_MULTIFUNCTION,
                     command=Command.IO | Command.MEMORY | Command.MASTER,
                     status=STATUS_DEVSEL_MEDIUM)
    for pirq in range(4):
        fn.define(PIRQ_ROUTE + pirq, 1, PIRQ_DISABLED, PIRQ_WRITABLE)
    return fn


def piix3_ide() -> PciFunction:
    """82371SB function 1 in compatibility mode: no BARs (the legacy ports and IRQ 14/15
    are fixed), no interrupt pin, PCISTS 0280h; the timing registers IDETIM (both
    channels) and SIDETIM are read/write and zero, decoding off, until POST."""
    fn = PciFunction("PIIX3 IDE", vendor=INTEL, device=PIIX3_IDE_DEVICE,
                     class_code=CLASS_IDE_COMPATIBILITY,
                     status=STATUS_DEVSEL_MEDIUM | STATUS_FAST_BACK_TO_BACK)
    for channel in range(2):
        fn.define(IDETIM + 2 * channel, 2, 0, IDETIM_WRITABLE)
    fn.define(SIDETIM, 1, 0, 0xFF)
    return fn


def std_vga(framebuffer_size: int = LFB_SIZE) -> PciFunction:
    """Bochs/QEMU standard VGA: BAR0 the prefetchable linear framebuffer, no interrupt
    pin, decoding off until POST enables it."""
    fn = PciFunction("std VGA", vendor=STD_VGA_VENDOR, device=STD_VGA_DEVICE,
                     class_code=CLASS_VGA)
    fn.add_bar(0, BarKind.MEM32_PREFETCH, framebuffer_size)
    return fn


def pc_pci_bus(io: IoBus, on_reset: Callable[[], None] | None = None) -> PciBus:
    """The PCI side of the "pc-pci" machine: 00:00.0 host bridge, 00:01.0 ISA bridge,
    00:01.1 IDE, 00:02.0 VGA."""
    bus = PciBus(io, on_reset)
    bus.add(HOST_BRIDGE_SLOT, 0, i440fx_host_bridge())
    bus.add(ISA_BRIDGE_SLOT, 0, piix3_isa_bridge())
    bus.add(ISA_BRIDGE_SLOT, IDE_FUNCTION, piix3_ide())
    bus.add(VGA_SLOT, 0, std_vga())
    # states saved before vmgui had the IDE function still resume (the ATA ports
    # themselves are in the machine's state either way)
    bus.added_later = frozenset({devfn(ISA_BRIDGE_SLOT, IDE_FUNCTION)})
    return bus
