"""PCI BIOS: int 1Ah AH=B1h in real mode, the PCI part of POST, the $PIR routing table.

Owns: the PCI BIOS functions B101h (installation check), B102h (find device), B103h
(find class code), B108h-B10Dh (read/write configuration byte, word, dword) and B10Eh
(interrupt routing options); POST on a PCI machine: every function's BARs sized and
assigned (the display adapter's framebuffer BAR at :data:`LFB_BASE`, where the VBE BIOS
reports its linear framebuffer), PIRQ links routed at the PIIX3, interrupt line registers
set from them, I/O and memory decoding enabled, the PIIX3 IDE function's two channels
switched on (IDETIM decode enable) -- what SeaBIOS's pciinit does, in spirit
-- and the $PIR table that tells an OS where the interrupt router is.  Everything goes
through configuration mechanism #1 ports, as BIOS code on a real board does, so this
module knows nothing of the device model.

No BIOS32 service directory ("_32_") and so no protected-mode PCI BIOS: Linux 6.1 finds
configuration type 1 by probing CF8h itself (arch/x86/pci/direct.c) and uses it whether
or not a BIOS32 PCI service exists (pcbios.c is only its fallback); the 32-bit entry
would need a ROM trap that works in paged protected mode.  B101h therefore leaves EDI
(the protected-mode entry point) unchanged.
References: PCI BIOS Specification 2.1 (function numbers, return codes, the routing
buffer of B10Eh); Microsoft's "PCI IRQ Routing Table Specification" 1.0 ($PIR layout);
SeaBIOS src/pcibios.c and src/fw/pciinit.c (PIRQ links A-D on IRQ 10, 10, 11, 11; slot
n's INTA# on link (n - 1) mod 4).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from vmgui.bios import rom
from vmgui.bios.api import BiosCall
from vmgui.devices.bus import IoBus
from vmgui.devices.vbe_lfb import LFB_BASE, LFB_SIZE

log = logging.getLogger(__name__)

CONFIG_ADDRESS = 0xCF8
CONFIG_DATA = 0xCFC
ENABLE = 0x80000000
PCI_SIGNATURE = 0x20494350  # "PCI " in EDX
PCI_BIOS_VERSION = 0x0210  # BCD 2.10
MECHANISM_1 = 0x01  # AL of B101h: configuration mechanism #1 supported
LAST_BUS = 0
ALL_ONES = 0xFFFFFFFF
VENDOR_NONE = 0xFFFF

# configuration header offsets (PCI 2.1 type 0 header)
VENDOR_ID, COMMAND, CLASS_REVISION, HEADER_TYPE = 0x00, 0x04, 0x08, 0x0E
BAR0, INTERRUPT_LINE, INTERRUPT_PIN = 0x10, 0x3C, 0x3D
COMMAND_IO, COMMAND_MEMORY = 0x0001, 0x0002
HEADER_MULTIFUNCTION, HEADER_LAYOUT = 0x80, 0x7F
BAR_COUNT = 6
BAR_IO, BAR_MEM_64 = 0x1, 0x4
CLASS_VGA = 0x0300  # base class and sub-class of a VGA-compatible display adapter

# PCI-to-ISA interrupt routing (PIIX3)
PIIX3_ROUTER = (0x8086, 0x7000)
PIRQ_ROUTE = 0x60  # PIRQRC[A:D] at 60h-63h of the router
PIRQ_IRQS = (10, 10, 11, 11)  # links A-D, as SeaBIOS routes them
PIIX3_IDE = (0x8086, 0x7010)
IDETIM_PORTS = (0x40, 0x42)  # IDETIM of the primary and secondary channel
IDETIM_DECODE_ENABLE = 0x8000
PIR_SIGNATURE = b"$PIR"
PIR_VERSION = 0x0100
PIR_HEADER_SIZE = 32
PIR_SLOT_SIZE = 16

IO_WINDOW = (0xC000, 0x10000)  # I/O BARs are placed here (SeaBIOS's choice)
MEM_WINDOW = (LFB_BASE + LFB_SIZE, 0xFEC00000)  # other memory BARs, above the framebuffer


class PciStatus(enum.IntEnum):
    """AH on return (PCI BIOS 2.1)."""

    SUCCESSFUL = 0x00
    FUNC_NOT_SUPPORTED = 0x81
    BAD_VENDOR_ID = 0x83
    DEVICE_NOT_FOUND = 0x86
    BAD_REGISTER_NUMBER = 0x87
    BUFFER_TOO_SMALL = 0x89


class PciConfig:
    """Configuration cycles through mechanism #1 on an I/O bus, as firmware does them.
    ``bdf`` is bus << 8 | device << 3 | function (the PCI BIOS's BX)."""

    def __init__(self, bus: IoBus) -> None:
        self.bus = bus

    def _select(self, bdf: int, reg: int) -> int:
        self.bus.write(CONFIG_ADDRESS, 4, ENABLE | (bdf & 0xFFFF) << 8 | (reg & 0xFC))
        return CONFIG_DATA + (reg & 3)

    def read(self, bdf: int, reg: int, size: int) -> int:
        return self.bus.read(self._select(bdf, reg), size)

    def write(self, bdf: int, reg: int, size: int, value: int) -> None:
        self.bus.write(self._select(bdf, reg), size, value)

    def functions(self, bus: int = 0):
        """Yield the bdf of every function present on ``bus``: function 0 of each
        device, and functions 1-7 only of multifunction devices."""
        for device in range(32):
            bdf = bus << 8 | device << 3
            if self.read(bdf, VENDOR_ID, 2) == VENDOR_NONE:
                continue
            yield bdf
            if not self.read(bdf, HEADER_TYPE, 1) & HEADER_MULTIFUNCTION:
                continue
            for function in range(1, 8):
                if self.read(bdf | function, VENDOR_ID, 2) != VENDOR_NONE:
                    yield bdf | function


@dataclass(frozen=True)
class Bar:
    bdf: int
    index: int
    io: bool
    size: int
    flags: int  # the BAR's read-only low bits


def _size_bar(cfg: PciConfig, bdf: int, index: int) -> Bar | None:
    """The sizing protocol: write all ones, read back the mask, restore."""
    reg = BAR0 + 4 * index
    old = cfg.read(bdf, reg, 4)
    cfg.write(bdf, reg, 4, ALL_ONES)
    mask = cfg.read(bdf, reg, 4)
    cfg.write(bdf, reg, 4, old)
    if mask in (0, ALL_ONES):
        return None
    if mask & BAR_IO:
        size = (~(mask & 0xFFFC) & 0xFFFF) + 1  # the upper half may be hardwired to 0
        return Bar(bdf, index, True, size, mask & 0x3)
    return Bar(bdf, index, False, (~(mask & 0xFFFFFFF0) & 0xFFFFFFFF) + 1, mask & 0xF)


class PciBios:
    """The PCI BIOS of a machine with PCI.  Serve :meth:`handle` as int 1Ah AH=B1h and
    run :meth:`post` once per power-on, after the ROM is built."""

    def __init__(self, bus: IoBus, load_rom: Callable[[int, bytes], None] | None = None) -> None:
        self.cfg = PciConfig(bus)
        self._load_rom = load_rom
        self._leaves: dict[int, Callable[[BiosCall], None]] = {
            0x01: self._installation_check, 0x02: self._find_device,
            0x03: self._find_class, 0x08: self._read, 0x09: self._read, 0x0A: self._read,
            0x0B: self._write, 0x0C: self._write, 0x0D: self._write,
            0x0E: self._routing_options}
        self._unknown_logged: set[int] = set()
        self.pir_table = b""

    # ------------------------------------------------------------------ int 1Ah B1h
    def handle(self, call: BiosCall) -> None:
        al = call.regs.al
        leaf = self._leaves.get(al)
        if leaf is None:
            if al not in self._unknown_logged:
                self._unknown_logged.add(al)
                log.info("INT 1Ah AX=B1%02Xh: unsupported PCI BIOS function", al)
            call.fail(PciStatus.FUNC_NOT_SUPPORTED)
            return
        leaf(call)

    def _installation_check(self, call: BiosCall) -> None:
        regs = call.regs
        regs.edx = PCI_SIGNATURE
        regs.al = MECHANISM_1
        regs.bx = PCI_BIOS_VERSION
        regs.cl = LAST_BUS
        call.ok()

    def _find_device(self, call: BiosCall) -> None:
        regs = call.regs
        if regs.dx == VENDOR_NONE:
            call.fail(PciStatus.BAD_VENDOR_ID)
            return
        wanted = regs.cx << 16 | regs.dx
        self._find(call, lambda bdf: self.cfg.read(bdf, VENDOR_ID, 4) == wanted)

    def _find_class(self, call: BiosCall) -> None:
        wanted = call.regs.ecx & 0xFFFFFF
        self._find(call, lambda bdf: self.cfg.read(bdf, CLASS_REVISION, 4) >> 8 == wanted)

    def _find(self, call: BiosCall, match: Callable[[int], bool]) -> None:
        """BX = the bdf of the SI-th (from 0) matching function."""
        count = call.regs.si
        for bus in range(LAST_BUS + 1):
            for bdf in self.cfg.functions(bus):
                if match(bdf):
                    if count == 0:
                        call.regs.bx = bdf
                        call.ok()
                        return
                    count -= 1
        call.fail(PciStatus.DEVICE_NOT_FOUND)

    @staticmethod
    def _access_size(call: BiosCall) -> int | None:
        """1, 2 or 4 for AL=08h-0Dh; None when DI is not a register of that size."""
        size = (1, 2, 4)[(call.regs.al - 0x08) % 3]
        reg = call.regs.di
        if reg > 0xFF or reg % size:
            call.fail(PciStatus.BAD_REGISTER_NUMBER)
            return None
        return size

    def _read(self, call: BiosCall) -> None:
        size = self._access_size(call)
        if size is None:
            return
        value = self.cfg.read(call.regs.bx, call.regs.di, size)
        regs = call.regs
        if size == 1:
            regs.cl = value
        elif size == 2:
            regs.cx = value
        else:
            regs.ecx = value
        call.ok()

    def _write(self, call: BiosCall) -> None:
        size = self._access_size(call)
        if size is None:
            return
        value = call.regs.ecx & ((1 << (8 * size)) - 1)
        self.cfg.write(call.regs.bx, call.regs.di, size, value)
        call.ok()

    def _routing_options(self, call: BiosCall) -> None:
        """ES:DI -> {word buffer size, word offset, word segment}: copy the slot entries
        of the $PIR table there; BX = IRQs reserved for PCI (none)."""
        regs = call.regs
        if not self.pir_table:
            call.fail(PciStatus.FUNC_NOT_SUPPORTED)
            return
        slots = self.pir_table[PIR_HEADER_SIZE:]
        request = (regs.es << 4) + regs.di
        room = call.mem.read_u16(request)
        call.mem.write_u16(request, len(slots))
        if room < len(slots):
            call.fail(PciStatus.BUFFER_TOO_SMALL)
            return
        offset, segment = call.mem.read_u16(request + 2), call.mem.read_u16(request + 4)
        call.mem.write((segment << 4) + offset, slots)
        regs.bx = 0
        call.ok()

    # ------------------------------------------------------------------ POST
    def post(self) -> None:
        """Route, assign and enable every function on bus 0; install the $PIR table."""
        cfg = self.cfg
        functions = list(cfg.functions(0))
        router = next((bdf for bdf in functions
                       if cfg.read(bdf, VENDOR_ID, 4) == PIIX3_ROUTER[1] << 16 | PIIX3_ROUTER[0]),
                       None)
        if router is not None:
            for link, irq in enumerate(PIRQ_IRQS):
                cfg.write(router, PIRQ_ROUTE + link, 1, irq)
        self._assign_bars([bdf for bdf in functions
                           if cfg.read(bdf, HEADER_TYPE, 1) & HEADER_LAYOUT == 0])
        for bdf in functions:
            pin = cfg.read(bdf, INTERRUPT_PIN, 1)
            if router is not None and 1 <= pin <= 4:
                cfg.write(bdf, INTERRUPT_LINE, 1, PIRQ_IRQS[pirq_link(bdf >> 3 & 31, pin)])
            cfg.write(bdf, COMMAND, 2, cfg.read(bdf, COMMAND, 2) | COMMAND_IO | COMMAND_MEMORY)
            if cfg.read(bdf, VENDOR_ID, 4) == PIIX3_IDE[1] << 16 | PIIX3_IDE[0]:
                for reg in IDETIM_PORTS:  # both IDE channels on, as SeaBIOS's piix_ide_setup
                    cfg.write(bdf, reg, 2, IDETIM_DECODE_ENABLE)
        self.pir_table = b"" if router is None else pir_table(router, functions)
        if self.pir_table and self._load_rom is not None:
            self._load_rom(rom.linear(rom.PCI_IRQ_TABLE_OFF), self.pir_table)
        log.info("PCI POST: %d functions on bus 0", len(functions))

    def _assign_bars(self, functions: list[int]) -> None:
        bars = [bar for bdf in functions for bar in self._bars_of(bdf)]
        framebuffer = [bar for bar in bars if not bar.io and bar.index == 0
                       and self.cfg.read(bar.bdf, CLASS_REVISION, 4) >> 16 == CLASS_VGA]
        for bar in framebuffer[:1]:
            if bar.size > LFB_SIZE:
                log.error("PCI POST: the display adapter's framebuffer BAR is %d MiB, "
                          "more than the %d MiB at LFB_BASE", bar.size >> 20, LFB_SIZE >> 20)
            self._place(bar, LFB_BASE)
            bars.remove(bar)
        next_io, next_mem = IO_WINDOW[0], MEM_WINDOW[0]
        for bar in sorted(bars, key=lambda b: -b.size):  # largest first: no alignment gaps
            start = next_io if bar.io else next_mem
            address = -(-start // bar.size) * bar.size
            limit = IO_WINDOW[1] if bar.io else MEM_WINDOW[1]
            if address + bar.size > limit:
                log.error("PCI POST: no room for BAR%d of %s (%d bytes)", bar.index,
                          _bdf(bar.bdf), bar.size)
                continue
            self._place(bar, address)
            if bar.io:
                next_io = address + bar.size
            else:
                next_mem = address + bar.size

    def _bars_of(self, bdf: int) -> list[Bar]:
        bars, index = [], 0
        while index < BAR_COUNT:
            bar = _size_bar(self.cfg, bdf, index)
            index += 1
            if bar is None:
                continue
            bars.append(bar)
            if not bar.io and bar.flags & 0x6 == BAR_MEM_64:
                self.cfg.write(bdf, BAR0 + 4 * index, 4, 0)  # the upper half: below 4 GB
                index += 1
        return bars

    def _place(self, bar: Bar, address: int) -> None:
        self.cfg.write(bar.bdf, BAR0 + 4 * bar.index, 4, address)
        log.debug("PCI POST: %s BAR%d at %#x (%d bytes)", _bdf(bar.bdf), bar.index,
                  address, bar.size)


def _bdf(bdf: int) -> str:
    return f"{bdf >> 8:02x}:{bdf >> 3 & 31:02x}.{bdf & 7}"


def pirq_link(device: int, pin: int) -> int:
    """Link (0-3 for A-D) that INTx# ``pin`` (1-4) of PCI ``device`` is wired to."""
    return (device - 1 + pin - 1) & 3


def pir_table(router: int, functions: list[int]) -> bytes:
    """The $PIR table: the router at ``router`` and one embedded-slot entry per device
    number (other than the host bridge's 0) present on bus 0."""
    irq_bitmap = sum(1 << irq for irq in set(PIRQ_IRQS))
    devices = sorted({bdf >> 3 & 31 for bdf in functions} - {0})
    slots = b""
    for device in devices:
        links = b"".join((PIRQ_ROUTE + pirq_link(device, pin)).to_bytes(1, "little")
                         + irq_bitmap.to_bytes(2, "little") for pin in (1, 2, 3, 4))
        slots += bytes((0, device << 3)) + links + bytes((0, 0))  # slot 0: embedded
    size = PIR_HEADER_SIZE + len(slots)
    header = (PIR_SIGNATURE + PIR_VERSION.to_bytes(2, "little") + size.to_bytes(2, "little")
              + bytes((router >> 8, router & 0xFF)) + (0).to_bytes(2, "little")
              + (PIIX3_ROUTER[1] << 16 | PIIX3_ROUTER[0]).to_bytes(4, "little")
              + bytes(4) + bytes(11))
    checksum = (-sum(header + slots)) & 0xFF
    return header + bytes((checksum,)) + slots
