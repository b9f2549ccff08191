"""The BIOS as a whole: ROM image, power-on self test, service table, bootstrap.

Owns: which Python service serves which interrupt vector, the traps (ROM addresses whose
execution calls into Python), POST (IVT, BDA, EBDA, equipment word, memory sizes, PIC and
PIT programming through their ports, video mode 3) and the bootstrap loader (int 19h by
boot order -- floppies, hard disks and, on machines with one, the CD drive E0h through El
Torito, :mod:`vmgui.bios.cdrom` -- int 18h when nothing boots).  Services talk to device
models through the bus or their own small APIs, never to a front end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from vmgui.bios import rom
from vmgui.bios.api import BiosCall, FakeRegisterBackend, Registers
from vmgui.bios.bda import Bda
from vmgui.bios.cdrom import CD_DRIVE, CD_NAME, CdBootError, CdromService
from vmgui.bios.disk import DiskService, diskette_parameter_table
from vmgui.bios.keyboard import KeyboardBios
from vmgui.bios.mouse import MouseBios
from vmgui.bios.serial import SerialBios
from vmgui.bios.system import MemoryLayout, SystemBios
from vmgui.bios.timer import TimerBios
from vmgui.bios.video import VideoBios
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import Clock
from vmgui.devices.fonts import load_rom_font
from vmgui.storage.image import DiskImage

log = logging.getLogger(__name__)

Handler = Callable[[BiosCall], None]
BOOT_SEGMENT_ADDR = 0x7C00
BOOT_SIGNATURE = b"\x55\xaa"
HALT_LOOP_OFF = 0x9000  # sti; hlt; jmp back: where int 18h leaves the CPU
COM1_BASE = 0x3F8
EBDA_KB = 1

# PIC/PIT programming done by POST (port numbers and words of the 8259A/8254 datasheets)
PIC1_CMD, PIC1_DATA, PIC2_CMD, PIC2_DATA = 0x20, 0x21, 0xA0, 0xA1
PIT_CH0, PIT_CMD = 0x40, 0x43
ICW1_INIT_ICW4 = 0x11
ICW4_8086 = 0x01
KBC_DATA, KBC_CMD = 0x60, 0x64
KBC_WRITE_CMD_BYTE = 0x60
KBC_CMD_BYTE = 0x65  # IRQ1 on, system flag, aux clock off, scan-code translation


class DirectBoot(Protocol):
    """A kernel the BIOS starts instead of a boot sector (vmgui.bios.linuxboot)."""

    def describe(self) -> str: ...
    def boot(self, mem, regs: Registers) -> None: ...


@dataclass(frozen=True)
class Trap:
    vector: int
    handler: Handler
    stacked_flags: bool  # True: results go to the FLAGS image an IRET will pop


class Bios:
    """Firmware of one machine.  ``memory`` must offer the Memory protocol plus
    ``load_rom(addr, data)``."""

    def __init__(self, *, memory, bus: IoBus, clock: Clock, vga,
                 drives: Mapping[int, DiskImage | None], layout: MemoryLayout,
                 boot_order: tuple[int, ...], on_reboot: Callable[[], None],
                 on_idle_poll: Callable[[], None] | None = None) -> None:
        self.mem = memory
        self.bus = bus
        self.layout = layout
        self.boot_order = boot_order
        self.keyboard = KeyboardBios(memory, on_reboot, on_idle_poll)
        self.timer = TimerBios(memory, bus)
        self.system = SystemBios(memory, bus, clock, layout,
                                 (rom.BIOS_SEGMENT, rom.CONFIG_TABLE_OFF))
        self.serial = SerialBios(memory, bus)
        self.mouse = MouseBios(memory, bus, clock)
        self.system.add_function(0xC2, self.mouse.handle)
        disks = {n: image for n, image in drives.items() if n != CD_DRIVE}
        self.disk = DiskService(disks, dpt_address=(rom.BIOS_SEGMENT, rom.DISKETTE_TABLE_OFF))
        # a CD drive (E0h in ``drives``, maybe empty) on machines whose profile has one
        self.cdrom = CdromService(self.disk, drives[CD_DRIVE]) if CD_DRIVE in drives else None
        self.video = VideoBios(memory, vga, {
            16: (rom.BIOS_SEGMENT, rom.FONT16_OFF), 14: (rom.BIOS_SEGMENT, rom.FONT14_OFF),
            8: (rom.BIOS_SEGMENT, rom.FONT8_OFF)})
        self.services: dict[int, Handler] = {
            0x10: self.video.handle, 0x11: self.system.equipment, 0x12: self.system.memory_size,
            0x13: self.disk.handle, 0x14: self.serial.handle, 0x15: self.system.handle15,
            0x16: self.keyboard.handle, 0x17: self.system.printer, 0x18: self._no_boot,
            0x19: self._bootstrap, 0x1A: self.timer.handle,
        }
        self.stub_pointers = {v: rom.far_pointer(rom.stub_offset(v)) for v in range(256)}
        self.traps: dict[int, Trap] = {}
        self.post_trap = rom.linear(rom.POST_OFF)
        # a kernel to boot directly (vmgui.bios.linuxboot.LinuxBoot) instead of a disk
        self.direct_boot: DirectBoot | None = None

    # ------------------------------------------------------------------ ROM
    def build_rom(self) -> None:
        load = self.mem.load_rom
        for height, off in ((16, rom.FONT16_OFF), (14, rom.FONT14_OFF), (8, rom.FONT8_OFF)):
            load(rom.linear(off), load_rom_font(height))
        load(rom.linear(rom.FONT8_COMPAT_OFF), load_rom_font(8)[:0x400])
        load(rom.linear(rom.DISKETTE_TABLE_OFF), diskette_parameter_table())
        load(rom.linear(rom.CONFIG_TABLE_OFF), rom.config_table())
        load(rom.linear(HALT_LOOP_OFF), b"\xfb\xf4\xeb\xfd")
        load(rom.linear(rom.POST_OFF), bytes((rom.NOP, rom.IRET)))
        load(rom.linear(rom.RESET_VECTOR_OFF), rom.reset_vector())
        load(rom.linear(rom.DATE_OFF), rom.BIOS_DATE)
        load(rom.linear(rom.MODEL_OFF), bytes((rom.MODEL_AT,)))
        self.traps.clear()
        for vector in range(256):
            irq = rom.irq_of_vector(vector)
            stub = self._stub_for(vector, irq)
            base = rom.linear(rom.stub_offset(vector))
            load(base, stub.code)
            handler = self._trap_handler(vector, irq)
            if handler is not None:
                self.traps[base + stub.trap] = Trap(vector, handler, irq is None)

    @staticmethod
    def _stub_for(vector: int, irq: int | None) -> rom.Stub:
        if irq == 0:
            return rom.timer_stub()
        if irq == 1:
            return rom.keyboard_stub()
        if irq == 12:
            return rom.mouse_stub()
        if irq is not None:
            return rom.irq_stub(irq)
        return rom.generic_stub()

    def _trap_handler(self, vector: int, irq: int | None) -> Handler | None:
        if irq == 0:
            return self.timer.on_tick
        if irq == 1:
            return self.keyboard.on_scancode
        if irq == 6:
            return self._floppy_irq
        if irq == 12:
            return self.mouse.on_irq
        return self.services.get(vector)

    def _floppy_irq(self, call: BiosCall) -> None:
        self.mem.write_u8(Bda.FLOPPY_RECAL, self.mem.read_u8(Bda.FLOPPY_RECAL) | 0x80)

    # ------------------------------------------------------------------ POST
    def post(self) -> None:
        """Power-on self test: everything a guest expects to find when it boots."""
        if self.cdrom is not None:
            self.cdrom.reset()  # no disk emulated until the CD boots again
        self._post_ivt()
        self._post_bda()
        self._post_chips()
        self.timer.post()
        self.keyboard.post()
        self.mouse.post()
        self.disk.post(self.mem)
        self.video.post()

    def _post_ivt(self) -> None:
        ivt = bytearray()
        for vector in range(256):
            ivt += self.stub_pointers[vector].to_bytes(4, "little")
        special = {0x1E: rom.far_pointer(rom.DISKETTE_TABLE_OFF),
                   0x1F: rom.far_pointer(rom.FONT8_OFF + 0x400),
                   0x43: rom.far_pointer(rom.FONT8_OFF), 0x1D: 0, 0x41: 0, 0x46: 0}
        for vector, pointer in special.items():
            ivt[vector * 4 : vector * 4 + 4] = pointer.to_bytes(4, "little")
        self.mem.write(0, bytes(ivt))
        self.mem.write(0x400, bytes(0x100))  # BDA

    def _post_bda(self) -> None:
        m = self.mem
        layout = self.layout
        m.write_u16(Bda.COM_PORTS, COM1_BASE)
        m.write_u16(Bda.EBDA_SEGMENT, layout.ebda_segment)
        m.write_u16(Bda.MEMORY_KB, layout.conventional_kb)
        m.write_u8(layout.ebda_segment << 4, EBDA_KB)
        floppies = self.disk.floppy_count
        equipment = 0x0002 | 0x0004 | (0b10 << 4) | (1 << 9)  # FPU, PS/2 mouse, 80x25, 1 COM
        if floppies:
            equipment |= 0x0001 | ((floppies - 1) << 6)
        m.write_u16(Bda.EQUIPMENT, equipment)
        m.write_u8(Bda.KBD_LEDS, 0)

    def _post_chips(self) -> None:
        out = self.bus.write
        for cmd, data, base, cascade in ((PIC1_CMD, PIC1_DATA, rom.MASTER_IRQ_BASE, 0x04),
                                         (PIC2_CMD, PIC2_DATA, rom.SLAVE_IRQ_BASE, 0x02)):
            out(cmd, 1, ICW1_INIT_ICW4)
            out(data, 1, base)
            out(data, 1, cascade)
            out(data, 1, ICW4_8086)
        out(PIC1_DATA, 1, 0xB8)  # unmask IRQ0 timer, 1 keyboard, 2 cascade, 6 floppy
        out(PIC2_DATA, 1, 0xFF)  # the mouse BIOS's POST unmasks IRQ12
        out(PIT_CMD, 1, 0x36)  # channel 0, lo/hi, mode 3
        out(PIT_CH0, 1, 0)
        out(PIT_CH0, 1, 0)  # reload 0 = 65536: 18.2 Hz
        out(KBC_CMD, 1, KBC_WRITE_CMD_BYTE)
        out(KBC_DATA, 1, KBC_CMD_BYTE)

    # ------------------------------------------------------------------ boot
    def boot(self, regs: Registers) -> None:
        """int 19h: load the first bootable sector by boot order and jump to it (or
        start the kernel given for direct boot)."""
        if self.direct_boot is not None:
            self.print(f"Booting Linux kernel {self.direct_boot.describe()}...\r\n")
            self.direct_boot.boot(self.mem, regs)
            return
        for drive in self.boot_order:
            if drive == CD_DRIVE:
                if self._boot_cd(regs):
                    return
                continue
            image = self.disk.drive(drive)
            if image is None:
                continue
            name = "Floppy" if drive < 0x80 else "Hard Disk"
            self.print(f"Booting from {name}...\r\n")
            sector = image.read_sectors(0, 1)
            if sector[510:512] != BOOT_SIGNATURE:
                self.print("Boot failed: not a bootable disk\r\n\r\n")
                continue
            self.mem.write(BOOT_SEGMENT_ADDR, sector)
            for name_ in ("cs", "ds", "es", "ss", "fs", "gs"):
                setattr(regs, name_, 0)
            regs.sp = BOOT_SEGMENT_ADDR
            regs.eip = BOOT_SEGMENT_ADDR
            regs.edx = drive
            regs.eflags = 0x0202
            log.info("booting drive %02Xh (%s)", drive, image.path)
            return
        self.no_boot(regs)

    def _boot_cd(self, regs: Registers) -> bool:
        """El Torito boot from the CD drive; False (said on screen) when it cannot."""
        if self.cdrom is None or self.cdrom.image is None:
            return False
        self.print("Booting from CD-ROM...\r\n")
        try:
            started = self.cdrom.boot(self.mem)
        except CdBootError as exc:
            self.print(f"Boot failed: {CD_NAME} {exc}\r\n\r\n")
            log.warning("%s (%s) %s", CD_NAME, self.cdrom.image.path, exc)
            return False
        if started is None:
            return False
        segment, drive = started
        for name in ("ds", "es", "ss", "fs", "gs"):
            setattr(regs, name, 0)
        regs.cs, regs.eip = segment & 0xF000, (segment & 0x0FFF) << 4  # 07C0:0 -> 0:7C00
        regs.sp = BOOT_SEGMENT_ADDR
        regs.edx = drive
        regs.eflags = 0x0202
        return True

    def no_boot(self, regs: Registers) -> None:
        self.print("No bootable device.\r\n")
        log.warning("no bootable device in boot order %s",
                    ",".join(f"{d:02X}h" for d in self.boot_order))
        regs.cs = rom.BIOS_SEGMENT
        regs.eip = HALT_LOOP_OFF
        regs.eflags = 0x0202

    def _bootstrap(self, call: BiosCall) -> None:
        self.boot(call.regs)

    def _no_boot(self, call: BiosCall) -> None:
        self.no_boot(call.regs)

    def print(self, text: str) -> None:
        """Teletype text on the screen through int 10h AH=0Eh (POST and boot messages)."""
        regs = Registers(FakeRegisterBackend())
        call = BiosCall(regs, self.mem, 0x10, lambda flag, value: None)
        for ch in text.encode("cp437", "replace"):
            regs.ax = 0x0E00 | ch
            regs.bx = 0x0007
            self.video.handle(call)
