"""ATA/ATAPI register and command vocabulary, shared by the controller and its drives.

Owns: the register offsets of a channel's command block (1F0h-1F7h) and control block
(3F6h), the Status, Error and Device Control bits, the ATA command codes vmgui's drives
know (with the names error messages use), the ATAPI interrupt-reason bits, SCSI/MMC sense
keys and additional sense codes, the per-device :class:`TaskFile` with its LBA48 "previous
content" (HOB) half, and :func:`ata_string` for IDENTIFY's byte-swapped text fields.

References: T13 ATA/ATAPI-6 (d1410r3b) sections 7 (register contents, HOB, Device Control
bits) and 8 (command codes); SFF-8020i / MMC-2 for sense keys and ASC/ASCQ values; QEMU's
``include/hw/ide/internal.h`` and Bochs's ``harddrv.h`` for the same numbers.
"""

from __future__ import annotations

import enum
from typing import Any

SECTOR = 512
CD_SECTOR = 2048


class CmdReg(enum.IntEnum):
    """Offsets in the command block (base 1F0h / 170h)."""

    DATA = 0
    ERROR_FEATURES = 1  # read: Error, write: Features
    COUNT = 2  # Sector Count (ATAPI: interrupt reason)
    LBA_LOW = 3  # Sector Number
    LBA_MID = 4  # Cylinder Low (ATAPI: byte count low)
    LBA_HIGH = 5  # Cylinder High (ATAPI: byte count high)
    DEVICE = 6  # Device/Head
    STATUS_COMMAND = 7  # read: Status (clears INTRQ), write: Command


COMMAND_BLOCK_PORTS = len(CmdReg)
CONTROL_BLOCK_OFFSET = 0x206  # 1F0h -> 3F6h, 170h -> 376h: the ISA decode


class Status(enum.IntFlag):
    ERR = 0x01
    IDX = 0x02
    CORR = 0x04
    DRQ = 0x08
    DSC = 0x10  # seek complete (ATA); service (ATAPI)
    DF = 0x20
    DRDY = 0x40
    BSY = 0x80


READY = int(Status.DRDY | Status.DSC)


class Error(enum.IntFlag):
    AMNF = 0x01
    TK0NF = 0x02
    ABRT = 0x04
    MCR = 0x08
    IDNF = 0x10
    MC = 0x20
    UNC = 0x40
    ICRC = 0x80


DIAGNOSTIC_PASSED = 0x01  # the Error register after a reset or EXECUTE DEVICE DIAGNOSTIC


class DevCtl(enum.IntFlag):
    """Device Control register (write to 3F6h)."""

    NIEN = 0x02
    SRST = 0x04
    HOB = 0x80


class DeviceBits(enum.IntFlag):
    """Device/Head register."""

    HEAD = 0x0F
    DEV = 0x10
    LBA = 0x40
    OBSOLETE = 0xA0  # bits 7 and 5: always read as one on the drives of this era


class Cmd(enum.IntEnum):
    NOP = 0x00
    DEVICE_RESET = 0x08
    RECALIBRATE = 0x10
    READ_SECTORS = 0x20
    READ_SECTORS_NORETRY = 0x21
    READ_SECTORS_EXT = 0x24
    READ_MULTIPLE_EXT = 0x29
    WRITE_SECTORS = 0x30
    WRITE_SECTORS_NORETRY = 0x31
    WRITE_SECTORS_EXT = 0x34
    WRITE_MULTIPLE_EXT = 0x39
    READ_VERIFY = 0x40
    READ_VERIFY_NORETRY = 0x41
    READ_VERIFY_EXT = 0x42
    SEEK = 0x70
    EXECUTE_DIAGNOSTIC = 0x90
    INITIALIZE_PARAMETERS = 0x91
    STANDBY_IMMEDIATE_OLD = 0x94
    IDLE_IMMEDIATE_OLD = 0x95
    STANDBY_OLD = 0x96
    IDLE_OLD = 0x97
    CHECK_POWER_MODE_OLD = 0x98
    PACKET = 0xA0
    IDENTIFY_PACKET = 0xA1
    READ_MULTIPLE = 0xC4
    WRITE_MULTIPLE = 0xC5
    SET_MULTIPLE = 0xC6
    STANDBY_IMMEDIATE = 0xE0
    IDLE_IMMEDIATE = 0xE1
    STANDBY = 0xE2
    IDLE = 0xE3
    CHECK_POWER_MODE = 0xE5
    FLUSH_CACHE = 0xE7
    FLUSH_CACHE_EXT = 0xEA
    IDENTIFY = 0xEC
    SET_FEATURES = 0xEF


COMMAND_NAMES = {
    Cmd.READ_SECTORS: "READ SECTORS", Cmd.READ_SECTORS_NORETRY: "READ SECTORS",
    Cmd.READ_SECTORS_EXT: "READ SECTORS EXT", Cmd.READ_MULTIPLE: "READ MULTIPLE",
    Cmd.READ_MULTIPLE_EXT: "READ MULTIPLE EXT", Cmd.WRITE_SECTORS: "WRITE SECTORS",
    Cmd.WRITE_SECTORS_NORETRY: "WRITE SECTORS", Cmd.WRITE_SECTORS_EXT: "WRITE SECTORS EXT",
    Cmd.WRITE_MULTIPLE: "WRITE MULTIPLE", Cmd.WRITE_MULTIPLE_EXT: "WRITE MULTIPLE EXT",
    Cmd.READ_VERIFY: "READ VERIFY SECTORS", Cmd.READ_VERIFY_NORETRY: "READ VERIFY SECTORS",
    Cmd.READ_VERIFY_EXT: "READ VERIFY SECTORS EXT", Cmd.SET_MULTIPLE: "SET MULTIPLE MODE",
    Cmd.INITIALIZE_PARAMETERS: "INITIALIZE DEVICE PARAMETERS", Cmd.SEEK: "SEEK",
    Cmd.SET_FEATURES: "SET FEATURES", Cmd.IDENTIFY: "IDENTIFY DEVICE",
    Cmd.IDENTIFY_PACKET: "IDENTIFY PACKET DEVICE", Cmd.PACKET: "PACKET",
}


def command_name(cmd: int) -> str:
    name = COMMAND_NAMES.get(cmd)  # type: ignore[call-overload]
    if name is None:
        try:
            name = Cmd(cmd).name.replace("_", " ")
        except ValueError:
            name = "command"
    return f"{name} ({cmd:02X}h)"


class Feature(enum.IntEnum):
    """SET FEATURES subcommands (Features register)."""

    ENABLE_8BIT = 0x01
    ENABLE_WRITE_CACHE = 0x02
    SET_TRANSFER_MODE = 0x03
    ENABLE_APM = 0x05
    DISABLE_REVERTING = 0x66
    DISABLE_READ_LOOKAHEAD = 0x55
    DISABLE_8BIT = 0x81
    DISABLE_WRITE_CACHE = 0x82
    DISABLE_APM = 0x85
    ENABLE_READ_LOOKAHEAD = 0xAA
    ENABLE_REVERTING = 0xCC


class Reason(enum.IntFlag):
    """ATAPI interrupt reason (Sector Count register)."""

    COD = 0x01  # command (packet) or status, not data
    IO = 0x02  # towards the host
    REL = 0x04


class Sense(enum.IntEnum):
    NO_SENSE = 0x0
    NOT_READY = 0x2
    MEDIUM_ERROR = 0x3
    ILLEGAL_REQUEST = 0x5
    UNIT_ATTENTION = 0x6


class Asc(enum.IntEnum):
    """Additional sense codes (the qualifier is 0 for all of these but where noted)."""

    NONE = 0x00
    UNRECOVERED_READ_ERROR = 0x11
    INVALID_OPCODE = 0x20
    LBA_OUT_OF_RANGE = 0x21
    INVALID_FIELD_IN_CDB = 0x24
    MEDIUM_MAY_HAVE_CHANGED = 0x28
    SAVING_PARAMETERS_NOT_SUPPORTED = 0x39
    MEDIUM_NOT_PRESENT = 0x3A
    MEDIUM_REMOVAL_PREVENTED = 0x53  # ASCQ 02h


ASCQ = {Asc.MEDIUM_REMOVAL_PREVENTED: 0x02}


TASKFILE_FIELDS = ("feature", "count", "lba_low", "lba_mid", "lba_high",
                   "hob_feature", "hob_count", "hob_lba_low", "hob_lba_mid", "hob_lba_high",
                   "device")


class TaskFile:
    """One device's copy of the command block registers.  Registers 1-5 are two deep
    (ATA-6 7.x): a write pushes the old value into the ``hob_`` half, which the host
    reads back with Device Control's HOB bit and LBA48 commands use as the high bytes."""

    def __init__(self) -> None:
        self.feature = self.count = self.lba_low = self.lba_mid = self.lba_high = 0
        self.hob_feature = self.hob_count = self.hob_lba_low = 0
        self.hob_lba_mid = self.hob_lba_high = 0
        self.device = int(DeviceBits.OBSOLETE)

    def write(self, reg: int, value: int) -> None:
        """A host write of ``value`` to command block register ``reg`` (1-6)."""
        if reg == CmdReg.DEVICE:
            self.device = value | DeviceBits.OBSOLETE
        elif reg == CmdReg.ERROR_FEATURES:
            self.hob_feature, self.feature = self.feature, value
        elif reg == CmdReg.COUNT:
            self.hob_count, self.count = self.count, value
        elif reg == CmdReg.LBA_LOW:
            self.hob_lba_low, self.lba_low = self.lba_low, value
        elif reg == CmdReg.LBA_MID:
            self.hob_lba_mid, self.lba_mid = self.lba_mid, value
        elif reg == CmdReg.LBA_HIGH:
            self.hob_lba_high, self.lba_high = self.lba_high, value

    def read(self, reg: int, hob: bool) -> int:
        """What the host reads from register ``reg`` (2-6)."""
        if reg == CmdReg.COUNT:
            return self.hob_count if hob else self.count
        if reg == CmdReg.LBA_LOW:
            return self.hob_lba_low if hob else self.lba_low
        if reg == CmdReg.LBA_MID:
            return self.hob_lba_mid if hob else self.lba_mid
        if reg == CmdReg.LBA_HIGH:
            return self.hob_lba_high if hob else self.lba_high
        return self.device

    # -- addresses ----------------------------------------------------------------------
    @property
    def lba_mode(self) -> bool:
        return bool(self.device & DeviceBits.LBA)

    def lba28(self) -> int:
        return ((self.device & DeviceBits.HEAD) << 24 | self.lba_high << 16
                | self.lba_mid << 8 | self.lba_low)

    def lba48(self) -> int:
        return (self.hob_lba_high << 40 | self.hob_lba_mid << 32 | self.hob_lba_low << 24
                | self.lba_high << 16 | self.lba_mid << 8 | self.lba_low)

    def set_lba28(self, lba: int) -> None:
        self.device = (self.device & ~DeviceBits.HEAD) | (lba >> 24 & 0x0F)
        self.lba_high, self.lba_mid, self.lba_low = lba >> 16 & 0xFF, lba >> 8 & 0xFF, lba & 0xFF

    def set_lba48(self, lba: int) -> None:
        self.lba_high, self.lba_mid, self.lba_low = lba >> 16 & 0xFF, lba >> 8 & 0xFF, lba & 0xFF
        self.hob_lba_high, self.hob_lba_mid = lba >> 40 & 0xFF, lba >> 32 & 0xFF
        self.hob_lba_low = lba >> 24 & 0xFF

    def sector_count(self, ext: bool) -> int:
        """The command's sector count: 0 means 256 (65536 for an EXT command)."""
        if ext:
            return (self.hob_count << 8 | self.count) or 65536
        return self.count or 256

    @property
    def byte_count(self) -> int:
        """ATAPI: the byte count limit (LBA Mid/High)."""
        return self.lba_high << 8 | self.lba_mid

    @byte_count.setter
    def byte_count(self, value: int) -> None:
        self.lba_mid, self.lba_high = value & 0xFF, value >> 8 & 0xFF

    def set_signature(self, packet: bool | None) -> None:
        """The signature a device leaves after a reset or EXECUTE DEVICE DIAGNOSTIC:
        count 1, LBA low 1, LBA mid/high 0/0 (ATA) or 14h/EBh (ATAPI); ``packet`` None:
        what an absent device position reads then (FFh/FFh, as QEMU has it)."""
        self.count = self.lba_low = 1
        signatures = {False: (0, 0), True: (0x14, 0xEB), None: (0xFF, 0xFF)}
        self.lba_mid, self.lba_high = signatures[packet]
        self.device &= ~DeviceBits.HEAD & 0xFF

    def save(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TASKFILE_FIELDS}

    def load(self, state: dict[str, Any]) -> None:
        for name in TASKFILE_FIELDS:
            setattr(self, name, int(state[name]) & 0xFF)


def ata_string(text: str, length: int) -> bytes:
    """An IDENTIFY text field: ASCII, space-padded to ``length`` bytes, each pair of
    characters swapped (the first character in the high byte of its word)."""
    raw = text.encode("ascii", "replace")[:length].ljust(length, b" ")
    swapped = bytearray(length)
    swapped[0::2], swapped[1::2] = raw[1::2], raw[0::2]
    return bytes(swapped)


def identify_block(words: dict[int, int], strings: dict[int, bytes]) -> bytes:
    """The 512-byte IDENTIFY data from ``words`` (index -> value) and ``strings`` (first
    word -> :func:`ata_string` bytes), with the integrity word 255 (A5h and a checksum
    that makes the 512 bytes sum to zero)."""
    data = bytearray(SECTOR)
    for index, value in words.items():
        data[index * 2 : index * 2 + 2] = (value & 0xFFFF).to_bytes(2, "little")
    for index, raw in strings.items():
        data[index * 2 : index * 2 + len(raw)] = raw
    data[510] = 0xA5
    data[511] = -sum(data[:511]) & 0xFF
    return bytes(data)
