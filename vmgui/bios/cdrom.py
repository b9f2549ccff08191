"""The BIOS's CD drive: El Torito boot and the int 13h services of drive E0h.

Owns: :class:`CdromService` -- the disc in the CD drive (insert/eject), booting it
(:meth:`CdromService.boot`: the boot image loaded at its segment, a floppy or hard disk
emulated when the catalog asks for it), the int 13h functions of the CD drive
(:data:`CD_DRIVE`, E0h: 2048-byte sectors through the EDD functions 41h-48h) and the El
Torito functions 4Ah-4Dh for every drive number.  The disk service
(:mod:`vmgui.bios.disk`) hands it the calls it :meth:`~CdromService.claims`.

References: "El Torito" Bootable CD-ROM Format Specification 1.0 (int 13h 4Ah-4Dh, the
13h-byte specification packet; Ralf Brown's tables #00281-#00285), Phoenix/T13 EDD 1.1
(41h-48h; the parameter buffer of 48h with flags 74h for removable media: removable,
change line, lockable, CHS fields at their maximum) and SeaBIOS ``src/cdrom.c``,
``src/disk.c``, ``src/boot.c`` for what a PC BIOS answers: the CD is drive E0h in
no-emulation mode; its CHS functions (02h-05h, 08h) fail with 01h as it has no geometry;
AH=15h says 01h (no change line); AH=16h fails with 01h; a boot image's segment:offset is
canonicalised (07C0h:0000h starts at 0000:7C00h) and DL holds the boot drive.

Differences from SeaBIOS, on purpose: the validation entry's checksum is checked and a
bad one refuses the boot; multi-platform catalogs are searched for the 80x86 entry;
AH=4B01h without a CD boot fails (CF set) as the specification says; int 13h 4Dh returns
the boot catalog.  4Ah and 4Ch (start an emulation, boot another image) are not
supported and say so in the log.

Thread rules: the VM's emulation thread only (insert/eject come as drained commands).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda, seg_off
from vmgui.bios.disk import EDD_VERSION, DiskService, Status
from vmgui.storage.cdimage import CD_SECTOR_SIZE, CdImage
from vmgui.storage.eltorito import (
    BootEntry,
    ElToritoError,
    Media,
    emulated_disk,
    find_boot_entry,
)
from vmgui.storage.image import SECTOR_SIZE, DiskImageError

log = logging.getLogger(__name__)

CD_DRIVE = 0xE0  # SeaBIOS's EXTSTART_CD: the first CD drive's int 13h number
CD_NAME = "the CD in drive D:"
NO_MEDIA = 0x31  # EDD: no media in drive
EDD_CD_SUBSET = 0x0001 | 0x0004  # extended access (42h-44h, 47h, 48h) and EDD (48h)
EDD_REMOVABLE_FLAGS = 0x0001 | 0x0004 | 0x0010 | 0x0020 | 0x0040  # see the module header
SPEC_PACKET_SIZE = 0x13
CATALOG_PACKET_SIZE = 0x08
CHUNK_SECTORS = 32  # AH=42h reads this many CD sectors at a time (64 KB)
CONVENTIONAL_END = 0xA0000
STATE_VERSION = 1


class CdBootError(Exception):
    """The CD cannot be booted: the message completes "the CD in drive D: ..."."""


@dataclass(frozen=True)
class CdBoot:
    """A CD boot that happened: what AH=4B01h reports.  ``drive`` is the boot drive (E0h,
    or 00h/80h for an emulated disk); ``chs`` the emulated disk's int 13h AH=08h CH, CL,
    DH (zeros without emulation); ``emulating`` until AH=4B00h ends the emulation."""

    entry: BootEntry
    drive: int
    chs: tuple[int, int, int] = (0, 0, 0)
    emulating: bool = False

    def packet(self) -> bytes:
        """The 13h-byte El Torito specification packet."""
        e = self.entry
        media = e.media if self.emulating else Media.NO_EMULATION
        out = bytes((SPEC_PACKET_SIZE, media, self.drive, 0))
        out += e.load_rba.to_bytes(4, "little") + bytes(4)  # device spec, buffer segment
        out += e.load_segment.to_bytes(2, "little") + e.sector_count.to_bytes(2, "little")
        return out + bytes(self.chs if self.emulating else (0, 0, 0))


def _name(ah: int, al: int | None = None) -> str:
    return f"INT 13h AH={ah:02X}h" if al is None else f"INT 13h AX={ah:02X}{al:02X}h"


class CdromService:
    """The CD drive of a machine whose profile has one; ``image`` is the disc in it."""

    def __init__(self, disk: DiskService, image: CdImage | None = None) -> None:
        self.disk = disk
        self.image = image
        self.booted: CdBoot | None = None
        self._unsupported_seen: set[int] = set()
        self._leaves = {
            0x00: self._ok, 0x01: self._last_status, 0x15: self._disk_type,
            0x41: self._ext_check, 0x42: self._ext_read, 0x43: self._ext_write,
            0x44: self._ext_verify, 0x47: self._ext_seek, 0x48: self._ext_params,
            0x4A: self._not_supported, 0x4B: self._emulation_status,
            0x4C: self._not_supported, 0x4D: self._boot_catalog,
        }
        for ah in (0x02, 0x03, 0x04, 0x05, 0x08, 0x16):  # a CD has no CHS geometry
            self._leaves[ah] = self._no_chs
        for ah in (0x0C, 0x0D, 0x11, 0x14):  # seek, reset, recalibrate, diagnostics
            self._leaves[ah] = self._ok
        self._leaves[0x10] = self._ready
        disk.extension = self

    # ------------------------------------------------------------------ media

    def insert(self, image: CdImage | None) -> CdImage | None:
        """Put ``image`` in the drive (None: eject); returns the disc taken out (not
        closed).  An emulation started from the old disc keeps its drive number; its
        reads fail once that disc is closed, as a real drive's would."""
        old, self.image = self.image, image
        return old

    # ------------------------------------------------------------------ int 13h

    def claims(self, ah: int, dl: int) -> bool:
        return dl == CD_DRIVE or 0x4A <= ah <= 0x4D

    def handle(self, call: BiosCall) -> None:
        ah = call.regs.ah
        leaf = self._leaves.get(ah)
        if leaf is None:
            if ah not in self._unsupported_seen:
                self._unsupported_seen.add(ah)
                log.warning("%s: not supported for the CD drive", _name(ah))
            self._finish(call, Status.BAD_COMMAND)
            return
        leaf(call)

    def _finish(self, call: BiosCall, status: int) -> None:
        addr = Bda.HDD_LAST_STATUS if call.regs.dl >= 0x80 else Bda.FLOPPY_LAST_STATUS
        call.mem.write_u8(addr, status)
        call.regs.ah = status
        call.set_cf(status != Status.OK)

    def _fail(self, call: BiosCall, status: int, why: str) -> None:
        log.info("%s: %s", _name(call.regs.ah), why)
        self._finish(call, status)

    def _disc(self, call: BiosCall) -> CdImage | None:
        if self.image is None:
            self._fail(call, NO_MEDIA, "no disc in the CD drive")
        return self.image

    def _ok(self, call: BiosCall) -> None:
        self._finish(call, Status.OK)

    def _ready(self, call: BiosCall) -> None:
        if self._disc(call) is not None:
            self._finish(call, Status.OK)

    def _last_status(self, call: BiosCall) -> None:
        status = call.mem.read_u8(Bda.HDD_LAST_STATUS)
        call.regs.ah = status
        call.set_cf(status != Status.OK)

    def _disk_type(self, call: BiosCall) -> None:
        """AH=15h: 01h (SeaBIOS's answer for a CD: a drive without change line)."""
        self._finish(call, Status.OK)
        call.regs.ah = 0x01

    def _no_chs(self, call: BiosCall) -> None:
        if call.regs.ah in (0x02, 0x03, 0x04):
            call.regs.al = 0
        self._fail(call, Status.BAD_COMMAND, "the CD drive has no CHS geometry (use the "
                                             "extended functions 42h-48h)")

    def _not_supported(self, call: BiosCall) -> None:
        what = {0x4A: "initiate disk emulation", 0x4C: "initiate disk emulation and boot"}
        self._fail(call, Status.BAD_COMMAND,
                   f"({what[call.regs.ah]}) is not supported; only the boot catalog's own "
                   "emulation at boot time is")

    # ------------------------------------------------------------------ 41h-48h

    def _ext_check(self, call: BiosCall) -> None:
        regs = call.regs
        if regs.bx != 0x55AA:
            self._fail(call, Status.BAD_COMMAND, f"BX={regs.bx:04X}h, not 55AAh")
            return
        self._finish(call, Status.OK)
        regs.bx, regs.cx, regs.ah = 0xAA55, EDD_CD_SUBSET, EDD_VERSION

    def _dap(self, call: BiosCall, disc: CdImage) -> tuple[int, int, int, int] | None:
        """Read the disk address packet at DS:SI -> (address, lba, count, buffer)."""
        mem, regs = call.mem, call.regs
        addr = seg_off(regs.ds, regs.si)
        size = mem.read_u8(addr)
        if size < 0x10:
            self._fail(call, Status.BAD_COMMAND, f"disk address packet size {size:#x}")
            return None
        count, buf = mem.read_u16(addr + 2), mem.read_u32(addr + 4)
        lba = int.from_bytes(mem.read(addr + 8, 8), "little")
        if buf == 0xFFFFFFFF and size >= 0x18:  # EDD 3.0: a 64-bit flat buffer address
            linear = int.from_bytes(mem.read(addr + 0x10, 8), "little")
        else:
            linear = seg_off(buf >> 16, buf & 0xFFFF)
        total = disc.total_sectors
        if lba + max(count, 1) > total:
            mem.write_u16(addr + 2, 0)
            self._fail(call, Status.SECTOR_NOT_FOUND, f"CD sector {max(lba, total)} beyond end "
                                                      f"of disc ({total} sectors)")
            return None
        return addr, lba, count, linear

    def _ext_read(self, call: BiosCall) -> None:
        disc = self._disc(call)
        dap = self._dap(call, disc) if disc is not None else None
        if dap is None:
            return
        addr, lba, count, linear = dap
        done, status = 0, Status.OK
        while done < count and status == Status.OK:
            n = min(CHUNK_SECTORS, count - done)
            try:
                data = disc.read_sectors(lba + done, n)
                call.mem.write(linear + done * CD_SECTOR_SIZE, data)
                done += n
            except IndexError:
                status = self._boundary(linear, count)
            except (OSError, DiskImageError) as exc:
                log.warning("%s: reading CD sectors %d..%d failed: %s", _name(0x42),
                            lba + done, lba + done + n - 1, exc)
                status = Status.CONTROLLER_FAILURE
        key = str(disc.path)  # the activity light counts transfers, as for the disks
        self.disk.transfers[key] = self.disk.transfers.get(key, 0) + 1
        call.mem.write_u16(addr + 2, done)
        self._finish(call, status)

    @staticmethod
    def _boundary(linear: int, count: int) -> int:
        log.info("%s: buffer at %#x for %d CD sectors reaches beyond guest memory",
                 _name(0x42), linear, count)
        return Status.BOUNDARY

    def _ext_write(self, call: BiosCall) -> None:
        if self._disc(call) is not None:
            call.mem.write_u16(seg_off(call.regs.ds, call.regs.si) + 2, 0)
            self._fail(call, Status.WRITE_PROTECTED, "a CD is write-protected")

    def _ext_verify(self, call: BiosCall) -> None:
        disc = self._disc(call)
        if disc is not None and self._dap(call, disc) is not None:
            self._finish(call, Status.OK)

    def _ext_seek(self, call: BiosCall) -> None:
        self._ext_verify(call)  # only the range matters

    def _ext_params(self, call: BiosCall) -> None:
        """AH=48h: the EDD parameter buffer (1Ah bytes, 1Eh if room) at DS:SI."""
        disc = self._disc(call)
        if disc is None:
            return
        mem, regs = call.mem, call.regs
        addr = seg_off(regs.ds, regs.si)
        size = mem.read_u16(addr)
        if size < 0x1A:
            self._fail(call, Status.BAD_COMMAND, f"parameter buffer size {size:#x}")
            return
        out = (0x1E if size >= 0x1E else 0x1A).to_bytes(2, "little")
        out += EDD_REMOVABLE_FLAGS.to_bytes(2, "little") + b"\xff" * 12
        out += disc.total_sectors.to_bytes(8, "little") + CD_SECTOR_SIZE.to_bytes(2, "little")
        if size >= 0x1E:
            out += b"\xff\xff\xff\xff"  # no EDD configuration parameters (DPTE)
        mem.write(addr, out)
        self._finish(call, Status.OK)

    # ------------------------------------------------------------------ 4Bh, 4Dh

    def _emulation_status(self, call: BiosCall) -> None:
        """AX=4B00h (terminate emulation) / 4B01h (status): the specification packet at
        DS:SI as it was before the call."""
        regs = call.regs
        al, booted = regs.al, self.booted
        if al > 0x01:
            self._fail(call, Status.BAD_COMMAND, f"AL={al:02X}h (4B00h terminates, 4B01h "
                                                 "reports)")
            return
        if booted is None:
            self._fail(call, Status.BAD_COMMAND, "the machine did not boot from a CD")
            return
        call.mem.write(seg_off(regs.ds, regs.si), booted.packet())
        if al == 0x00 and booted.emulating:
            self.end_emulation(call.mem)
        self._finish(call, Status.OK)

    def _boot_catalog(self, call: BiosCall) -> None:
        """AX=4D00h: copy sectors of the boot catalog (command packet at DS:SI)."""
        mem, regs = call.mem, call.regs
        addr = seg_off(regs.ds, regs.si)
        if self.booted is None or self.image is None:
            self._fail(call, Status.BAD_COMMAND, "the machine did not boot from a CD")
            return
        count, buf = mem.read_u8(addr + 1), mem.read_u32(addr + 2)
        first = self.booted.entry.catalog_lba + mem.read_u16(addr + 6)
        try:
            data = self.image.read_sectors(first, count)
            if data:  # (no sectors asked for: nothing to write)
                mem.write(seg_off(buf >> 16, buf & 0xFFFF), data)
        except (IndexError, OSError, DiskImageError) as exc:
            self._fail(call, Status.SECTOR_NOT_FOUND, f"boot catalog sectors: {exc}")
            return
        self._finish(call, Status.OK)

    # ------------------------------------------------------------------ boot

    def boot(self, mem: Memory) -> tuple[int, int] | None:
        """Load the disc's boot image as El Torito says; returns (load segment, boot
        drive), None when the drive is empty.  :class:`CdBootError` when it cannot boot
        (the message completes "the CD in drive D: ...")."""
        disc = self.image
        if disc is None:
            return None
        try:
            entry = find_boot_entry(disc)
            count = entry.sector_count or 1  # 0: most BIOSes load one sector
            if count != entry.sector_count:
                log.info("%s: boot entry loads 0 sectors; loading one", CD_NAME)
            end = entry.load_segment * 16 + count * SECTOR_SIZE
            if end > CONVENTIONAL_END:
                raise CdBootError(f"has a boot image ({count} sectors of 512 bytes at segment "
                                  f"{entry.load_segment:04X}h) that does not fit below 640 KB")
            booted = self._load(disc, entry, count, mem)
        except ElToritoError as exc:
            raise CdBootError(str(exc)) from None
        except (OSError, DiskImageError) as exc:
            raise CdBootError(f"cannot be read ({exc})") from None
        self.booted = booted
        log.info("booting %s (%s): %s, %d sectors at %04X:0000, drive %02Xh", CD_NAME,
                 disc.path, entry.media.name.lower(), count, entry.load_segment, booted.drive)
        return entry.load_segment, booted.drive

    def _load(self, disc: CdImage, entry: BootEntry, count: int, mem: Memory) -> CdBoot:
        if not entry.emulation:
            start = entry.load_rba * CD_SECTOR_SIZE
            if start + count * SECTOR_SIZE > disc.size_bytes:
                raise CdBootError(f"has a boot image ({count} sectors of 512 bytes from sector "
                                  f"{entry.load_rba}) reaching past the end of the disc "
                                  f"({disc.total_sectors} sectors)")
            mem.write(entry.load_segment * 16, disc.read_bytes(start, count * SECTOR_SIZE))
            return CdBoot(entry, CD_DRIVE)
        image = emulated_disk(disc, entry)
        count = min(count, image.total_sectors)
        mem.write(entry.load_segment * 16, image.read_sectors(0, count))
        number = 0x80 if entry.media == Media.HARD_DISK else 0x00
        max_cyl = image.cylinders - 1
        chs = (max_cyl & 0xFF, ((max_cyl >> 2) & 0xC0) | image.sectors_per_track,
               image.heads - 1)
        self.disk.emulate(number, image)
        self._publish(mem)
        return CdBoot(entry, number, chs, emulating=True)

    def end_emulation(self, mem: Memory) -> None:
        """AH=4B00h: the emulated disk goes, the other drives get their numbers back."""
        if self.booted is None or not self.booted.emulating:
            return
        self.disk.emulate(None)
        self._publish(mem)
        self.booted = replace(self.booted, drive=CD_DRIVE, emulating=False)
        log.info("El Torito emulation terminated; the CD is drive %02Xh again", CD_DRIVE)

    def _publish(self, mem: Memory) -> None:
        """The BDA's drive counts as drives are numbered now (equipment bits 0, 6-7)."""
        self.disk.publish(mem)
        equipment = mem.read_u16(Bda.EQUIPMENT) & ~0x00C1
        floppies = self.disk.floppy_count
        if floppies:
            equipment |= 0x0001 | ((floppies - 1) << 6)
        mem.write_u16(Bda.EQUIPMENT, equipment)

    def reset(self) -> None:
        """At power-on: no boot has happened, no disk is emulated."""
        self.booted = None
        self.disk.emulate(None)

    # ------------------------------------------------------------------ saved state

    def save_state(self) -> dict[str, Any] | None:
        """The CD boot (for saved states): None when the machine did not boot a CD."""
        b = self.booted
        if b is None:
            return None
        e = b.entry
        return {"version": STATE_VERSION, "media": int(e.media), "load_segment": e.load_segment,
                "system_type": e.system_type, "sector_count": e.sector_count,
                "load_rba": e.load_rba, "catalog_lba": e.catalog_lba, "drive": b.drive,
                "chs": list(b.chs), "emulating": b.emulating}

    @staticmethod
    def parse_state(state: dict[str, Any] | None) -> CdBoot | None:
        """The CD boot :meth:`save_state` wrote; ValueError for one this build cannot
        read (a newer version, a damaged part)."""
        if state is None:
            return None
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"CD boot state version {state.get('version')!r} is not "
                             f"{STATE_VERSION}" if isinstance(state, dict) else
                             "CD boot state is not a table")
        try:
            entry = BootEntry(Media(state["media"]), state["load_segment"],
                              state["system_type"], state["sector_count"], state["load_rba"],
                              state["catalog_lba"])
            chs = tuple(state["chs"])
            return CdBoot(entry, state["drive"], (chs[0], chs[1], chs[2]),
                          bool(state["emulating"]))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"CD boot state is damaged ({exc!r})") from None

    def load_state(self, state: dict[str, Any] | None) -> None:
        """Put back :meth:`save_state`: the emulated disk is made again from the disc in
        the drive (ValueError when there is none to emulate from)."""
        booted = self.parse_state(state)
        self.reset()
        if booted is None:
            return
        entry = booted.entry
        if booted.emulating:
            if self.image is None:
                raise ValueError("the saved machine was running from a CD's emulated disk, "
                                 "and the CD drive is empty")
            self.disk.emulate(booted.drive, emulated_disk(self.image, entry))
        self.booted = booted
