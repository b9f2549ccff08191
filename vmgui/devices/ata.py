"""The PC/AT's ATA (IDE) controller: two channels on the legacy ports.

Owns: :class:`AtaController` (the device the machine builds: channels, attachments, state)
and :class:`AtaChannel` -- one channel's command block (eight ports at 1F0h or 170h) and
control block (3F6h or 376h: Alternate Status / Device Control), which device (master or
slave) is selected, the Device Control bits (nIEN masks the interrupt, SRST resets both
devices, HOB reads back the LBA48 high bytes), register writes reaching both devices, the
16- and 32-bit data port, EXECUTE DEVICE DIAGNOSTIC (run by both devices), and the
channel's INTRQ: set when a device asks for an interrupt, cleared when the host reads the
Status register (not the Alternate Status) or writes a command, driving the IRQ line
(14 or 15) unless nIEN is set.  The devices: :mod:`vmgui.devices.ata_disk` (hard disks)
and :mod:`vmgui.devices.atapi` (CD-ROM drives), on :mod:`vmgui.devices.ata_device`.

A selected position without a device reads 0 from Status, Alternate Status and Error (and
ignores commands), so a host sees "no device 1"; its other registers echo what was written
and take the signature 01h/01h/FFh/FFh at a reset (so a driver waiting for count and LBA
low to read 1 after SRST goes on); a channel with no device at all reads 0 from every
register.  That is what QEMU's ISA IDE does and what Linux's drivers are tested against.

References: T13 ATA/ATAPI-6 sections 5.2 (device selection, device 1 absent), 7 (the
registers; HOB cleared by any command block write; INTRQ), 9.2 (software reset: BSY while
SRST is set, the signature afterwards, device 0 selected); QEMU ``hw/ide/core.c`` (absent
devices, the echoing registers); Bochs ``iodev/harddrv.cc`` (the data port reads 0 without
DRQ; its "bulk I/O quantum" is how a ``rep insw`` could move a whole DRQ block at once).

Thread rule: used from the VM's emulation thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from vmgui.devices.ata_device import AtaDevice
from vmgui.devices.ata_disk import AtaDisk
from vmgui.devices.ata_regs import (
    COMMAND_BLOCK_PORTS,
    CONTROL_BLOCK_OFFSET,
    Cmd,
    CmdReg,
    DevCtl,
    DeviceBits,
    Status,
    TaskFile,
)
from vmgui.devices.atapi import AtapiCdrom
from vmgui.devices.base import Device, StateVersionError
from vmgui.devices.bus import IoBus, IrqLine, Registration

log = logging.getLogger(__name__)

LEGACY_BASES = (0x1F0, 0x170)  # primary, secondary (IRQ 14, 15)
CHANNEL_NAMES = ("primary", "secondary")
UNIT_NAMES = ("master", "slave")
DATA_WIDTHS = frozenset({1, 2, 4})


@dataclass(frozen=True)
class Attachment:
    """A drive at one position: ``kind`` "disk" (an ATA hard disk) or "cdrom" (an ATAPI
    CD-ROM drive); ``media`` returns the image in it now (None: a CD drive is empty)."""

    kind: Literal["disk", "cdrom"]
    media: Callable[[], Any]


class AtaChannel:
    """One channel: command block at ``base``, control block at ``base + 206h``, INTRQ
    on ``irq``; ``devices`` are its master and slave (None: no device there)."""

    def __init__(self, bus: IoBus, irq: IrqLine, base: int, name: str,
                 devices: Sequence[AtaDevice | None]) -> None:
        self.name = name
        self.irq = irq
        self.devices = list(devices)
        self._spare = TaskFile()  # the registers an absent device position echoes
        self._spare.set_signature(None)
        for dev in self.devices:
            if dev is not None:
                dev.interrupt = self._assert_intrq
        self.selected = 0
        self.devctl = 0
        self.intrq = False
        self.registrations: list[Registration] = [
            bus.register(base, COMMAND_BLOCK_PORTS, f"ata-{name}", self._read, self._write,
                         widths=DATA_WIDTHS, string=self),
            bus.register(base + CONTROL_BLOCK_OFFSET, 1, f"ata-{name}-control",
                         self._read_control, self._write_control),
        ]

    @property
    def empty(self) -> bool:
        return all(dev is None for dev in self.devices)

    def reset(self) -> None:
        """Power-on: both devices reset, device 0 selected, interrupts enabled."""
        for dev in self.devices:
            if dev is not None:
                dev.power_on()
        self._spare = TaskFile()
        self._spare.set_signature(None)
        self.selected, self.devctl, self.intrq = 0, 0, False
        self._update_irq()

    # ------------------------------------------------------------------ INTRQ
    def _assert_intrq(self) -> None:
        self.intrq = True
        self._update_irq()

    def _update_irq(self) -> None:
        level = self.intrq and not self.devctl & DevCtl.NIEN
        if level != self.irq.level:
            self.irq.set(level)

    # ------------------------------------------------------------------ reads
    def _read(self, offset: int, size: int) -> int:
        dev = self.devices[self.selected]
        if offset == CmdReg.DATA:
            return dev.data_read(size) if dev is not None else 0
        value = 0
        for i in range(size):  # a wide access to the 8-bit registers: byte by byte
            value |= self._read_register(offset + i, dev) << (8 * i)
        return value

    def _read_register(self, offset: int, dev: AtaDevice | None) -> int:
        if offset == CmdReg.STATUS_COMMAND:
            self.intrq = False  # reading Status acknowledges the interrupt
            self._update_irq()
            return dev.status if dev is not None else 0
        if self.empty or offset == CmdReg.DATA:
            return 0
        if offset == CmdReg.ERROR_FEATURES:
            return dev.error if dev is not None else 0
        tf = dev.tf if dev is not None else self._spare
        return tf.read(offset, bool(self.devctl & DevCtl.HOB))

    def _read_control(self, offset: int, size: int) -> int:
        dev = self.devices[self.selected]
        return dev.status if dev is not None else 0  # Alternate Status: INTRQ untouched

    # ------------------------------------------------------------------ string I/O
    # (vmgui.devices.bus.StringIoPort: a rep insw/insd/outsw/outsd on the data port
    # moves the rest of the DRQ block in one go)
    def string_in_ready(self, offset: int, width: int) -> int:
        dev = self.devices[self.selected]
        return dev.pio_in_ready(width) if offset == CmdReg.DATA and dev is not None else 0

    def string_in(self, offset: int, width: int, count: int) -> bytes:
        dev = self.devices[self.selected]
        assert dev is not None and offset == CmdReg.DATA
        return dev.pio_read(width, count)

    def string_out_room(self, offset: int, width: int) -> int:
        dev = self.devices[self.selected]
        return dev.pio_out_room(width) if offset == CmdReg.DATA and dev is not None else 0

    def string_out(self, offset: int, width: int, data: bytes) -> None:
        dev = self.devices[self.selected]
        assert dev is not None and offset == CmdReg.DATA
        dev.pio_write(data)

    # ------------------------------------------------------------------ writes
    def _write(self, offset: int, size: int, value: int) -> None:
        if offset == CmdReg.DATA:
            dev = self.devices[self.selected]
            if dev is not None:
                dev.data_write(size, value)
            return
        for i in range(size):
            self._write_register(offset + i, value >> (8 * i) & 0xFF)

    def _write_register(self, offset: int, value: int) -> None:
        if offset == CmdReg.DATA:
            return
        if offset == CmdReg.STATUS_COMMAND:
            self._command(value)
            return
        dev = self.devices[self.selected]
        if dev is not None and dev.status & (Status.BSY | Status.DRQ):  # registers locked
            log.debug("ATA %s: register %d write %02Xh ignored while busy", self.name,
                      offset, value)
            return
        self.devctl &= ~DevCtl.HOB  # any command block write clears HOB
        if offset == CmdReg.DEVICE:
            self.selected = value >> 4 & 1
        for tf in self._taskfiles():
            tf.write(offset, value)

    def _taskfiles(self) -> list[TaskFile]:
        return [dev.tf if dev is not None else self._spare for dev in self.devices]

    def _command(self, cmd: int) -> None:
        dev = self.devices[self.selected]
        if dev is None:
            log.debug("ATA %s %s: command %02Xh to an absent device ignored", self.name,
                      UNIT_NAMES[self.selected], cmd)
            return
        self.intrq = False  # writing the Command register clears a pending interrupt
        self._update_irq()
        if cmd == Cmd.EXECUTE_DIAGNOSTIC:
            self._diagnose()
        else:
            dev.command(cmd)

    def _diagnose(self) -> None:
        """EXECUTE DEVICE DIAGNOSTIC: both devices run it; device 0 ends up selected."""
        for dev in self.devices:
            if dev is not None:
                dev.diagnose()
        self._spare.set_signature(None)
        self.selected = 0
        for tf in self._taskfiles():
            tf.device &= ~DeviceBits.DEV & 0xFF
        self._assert_intrq()

    def _write_control(self, offset: int, size: int, value: int) -> None:
        old, self.devctl = self.devctl, value & (DevCtl.NIEN | DevCtl.SRST | DevCtl.HOB)
        if value & DevCtl.SRST and not old & DevCtl.SRST:
            for dev in self.devices:
                if dev is not None:
                    dev.begin_reset()
            self.intrq = False
        elif old & DevCtl.SRST and not value & DevCtl.SRST:
            for dev in self.devices:
                if dev is not None:
                    dev.soft_reset()
            self._spare.set_signature(None)
            self.selected = 0
            for tf in self._taskfiles():
                tf.device &= ~DeviceBits.DEV & 0xFF
        self._update_irq()

    # ------------------------------------------------------------------ state
    def save_state(self) -> dict[str, Any]:
        return {"selected": self.selected, "devctl": self.devctl, "intrq": self.intrq,
                "spare": self._spare.save(),
                "devices": [None if d is None else d.save_state() for d in self.devices]}

    def check_state(self, state: dict[str, Any]) -> None:
        saved = [None if d is None else d["kind"] for d in state["devices"]]
        have = [None if d is None else ("cdrom" if d.PACKET_DEVICE else "disk")
                for d in self.devices]
        if saved != have:
            raise StateVersionError(f"ATA {self.name} channel: saved with devices {saved}, "
                                    f"this machine has {have}")

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state(state)
        self.selected, self.devctl = int(state["selected"]) & 1, int(state["devctl"])
        self.intrq = bool(state["intrq"])
        self._spare.load(state["spare"])
        for dev, saved in zip(self.devices, state["devices"], strict=True):
            if dev is not None:
                dev.load_state(saved)
        self._update_irq()


class AtaController(Device):
    """Both channels of a PC's ATA controller.

    ``irqs`` are the channels' interrupt lines (IRQ 14, 15), ``bases`` their command
    block ports; ``attachments`` maps (channel, unit) -- unit 0 master, 1 slave -- to the
    drive there; ``activity(path, sectors)`` hears of every transfer."""

    NAME = "ata"
    STATE_VERSION = 1

    def __init__(self, bus: IoBus, irqs: Sequence[IrqLine],
                 attachments: Mapping[tuple[int, int], Attachment],
                 bases: Sequence[int] = LEGACY_BASES,
                 activity: Callable[[str, int], None] | None = None) -> None:
        if len(irqs) != len(bases):
            raise ValueError(f"ATA controller: {len(bases)} channels need {len(bases)} IRQ "
                             f"lines, not {len(irqs)}")
        unknown = [pos for pos in attachments
                   if not (0 <= pos[0] < len(bases) and pos[1] in (0, 1))]
        if unknown:
            raise ValueError(f"ATA controller: no drive position {unknown[0]} (channel "
                             f"0-{len(bases) - 1}, unit 0 or 1)")
        self.channels: list[AtaChannel] = []
        for ch, (irq, base) in enumerate(zip(irqs, bases, strict=True)):
            devices = [self._make(ch, unit, attachments.get((ch, unit)), activity)
                       for unit in (0, 1)]
            self.channels.append(AtaChannel(bus, irq, base, CHANNEL_NAMES[ch], devices))

    @staticmethod
    def _make(ch: int, unit: int, att: Attachment | None,
              activity: Callable[[str, int], None] | None) -> AtaDevice | None:
        if att is None:
            return None
        name = f"ATA {CHANNEL_NAMES[ch]} {UNIT_NAMES[unit]}"
        serial = f"VMGUI-{ch}{unit}"
        if att.kind == "disk":
            return AtaDisk(name, att.media, activity, serial=serial, unit=unit)
        if att.kind == "cdrom":
            return AtapiCdrom(name, att.media, activity, serial=serial, unit=unit)
        raise ValueError(f"{name}: unknown drive kind {att.kind!r} (disk or cdrom)")

    def device(self, channel: int, unit: int) -> AtaDevice | None:
        return self.channels[channel].devices[unit]

    def reset(self) -> None:
        for channel in self.channels:
            channel.reset()

    def save_state(self) -> dict[str, Any]:
        return {"version": self.STATE_VERSION,
                "channels": [channel.save_state() for channel in self.channels]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        saved = state["channels"]
        if len(saved) != len(self.channels):
            raise StateVersionError(f"ATA controller: saved with {len(saved)} channels, "
                                    f"this machine has {len(self.channels)}")
        for channel, channel_state in zip(self.channels, saved, strict=True):
            channel.check_state(channel_state)
        for channel, channel_state in zip(self.channels, saved, strict=True):
            channel.load_state(channel_state)
