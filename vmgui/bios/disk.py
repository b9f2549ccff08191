"""INT 13h: the BIOS disk service over raw images.

Owns: :class:`DiskService` (drive table, one leaf method per AH, the last-status bytes
at 40:41h / 40:74h) and :func:`diskette_parameter_table` (the 11-byte table INT 1Eh and
AH=08h point at; the ROM stores it).  POST owns the equipment word and the INT 1Eh/41h/46h
vectors; it calls :meth:`DiskService.post` for the disk bytes of the BDA.

References: Ralf Brown's interrupt list (INT 13h AH=00h-18h, extensions AH=41h-48h, the
status codes #00234, drive parameter buffer #00273, disk address packet #00272), the
Phoenix/T13 "BIOS Enhanced Disk Drive Specification" 1.1 and SeaBIOS ``src/disk.c`` and
``src/floppy.c`` (behaviour on edge cases: parameter checks, reserved last cylinder in
AH=08h for hard disks, one 1.44M diskette table for every drive).

Behaviour notes:
- CHS transfers may cross track and head boundaries (BIOSes differ; DOS never asks).
- Floppy transfers crossing a 64K DMA boundary are allowed: there is no DMA controller
  in the way, and QEMU/SeaBIOS allow them too.  AH=48h says so (flag bit 0).
- A floppy slot with no media answers 80h (timeout) like a drive with no disk; a drive
  number with no slot at all answers 01h.
- Guest-caused errors are logged at INFO with the leaf and the reason.

- El Torito disk emulation (:mod:`vmgui.bios.cdrom`): :meth:`DiskService.emulate` puts a
  CD's emulated floppy or hard disk at 00h or 80h and numbers the drives of its kind one
  up (a second floppy is hidden), as SeaBIOS does; the emulated drive answers only
  AH=00h-16h.  :meth:`attach`/:meth:`eject` keep taking physical drive numbers.
- The CD drive (E0h) and the El Torito functions (AH=4Ah-4Dh) are served by the
  :attr:`DiskService.extension` (:class:`Int13Extension`).

Thread rules: called on the VM's emulation thread; :meth:`attach`/:meth:`eject` must be
called there too (as commands drained by the run loop).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda, read_linear, seg_off
from vmgui.bios.drives import HDD_BASE, MAX_FLOPPIES, DriveTable, check_number
from vmgui.storage.image import (
    FLOPPY_FORMATS,
    SECTOR_SIZE,
    DiskImage,
    DiskImageError,
    DriveType,
    ReadOnlyError,
)

log = logging.getLogger(__name__)

DEFAULT_DPT_ADDRESS = (0xF000, 0xEFC7)  # the IBM PC's diskette parameter table address
EDD_VERSION = 0x21  # EDD 1.1
EDD_SUBSET = 0x0001 | 0x0004  # extended disk access (42h-44h, 47h, 48h) + EDD (48h)
LAST_EMULATED_AH = 0x16  # an El Torito emulated drive answers AH=00h-16h only


class Status(enum.IntEnum):
    """INT 13h status codes (RBIL #00234)."""

    OK = 0x00
    BAD_COMMAND = 0x01
    WRITE_PROTECTED = 0x03
    SECTOR_NOT_FOUND = 0x04
    CHANGE_LINE = 0x06
    BOUNDARY = 0x09  # data boundary error: here, a buffer beyond guest memory
    MEDIA_TYPE_NOT_FOUND = 0x0C
    CONTROLLER_FAILURE = 0x20
    TIMEOUT = 0x80


# Per drive type: sectors per track, gap length, format gap length, specify byte 1.
_DPT_VALUES = {
    DriveType.D360K: (9, 0x2A, 0x50, 0xDF),
    DriveType.D1200K: (15, 0x1B, 0x54, 0xDF),
    DriveType.D720K: (9, 0x2A, 0x50, 0xDF),
    DriveType.D1440K: (18, 0x1B, 0x6C, 0xAF),
    DriveType.D2880K: (36, 0x1B, 0x6C, 0xAF),
}
# 40:90h media state: data rate bits 7-6, established bit 4, "other" media state 111b.
_MEDIA_STATE = {
    DriveType.D360K: 0x93,
    DriveType.D1200K: 0x15,
    DriveType.D720K: 0x97,
    DriveType.D1440K: 0x17,
    DriveType.D2880K: 0xD7,
}


def diskette_parameter_table(drive_type: int = DriveType.D1440K) -> bytes:
    """The 11-byte diskette parameter table (INT 1Eh) for a CMOS drive type."""
    try:
        spt, gap, fmt_gap, specify1 = _DPT_VALUES[drive_type]
    except KeyError:
        raise ValueError(f"no diskette parameter table for drive type {drive_type}") from None
    return bytes((
        specify1,  # step rate / head unload time
        0x02,  # head load time, DMA mode
        0x25,  # motor off delay: 37 ticks (~2 s)
        0x02,  # bytes per sector: 128 << 2 = 512
        spt,  # sectors per track
        gap,  # gap length for read/write
        0xFF,  # data length (unused with 512-byte sectors)
        fmt_gap,  # gap length for format
        0xF6,  # format fill byte
        0x0F,  # head settle time, ms
        0x08,  # motor start time, 1/8 s
    ))


def _leaf_name(ah: int) -> str:
    return f"INT 13h AH={ah:02X}h"


class Int13Extension(Protocol):
    """Serves some int 13h calls instead of :class:`DiskService` (the CD drive)."""

    def claims(self, ah: int, dl: int) -> bool:
        """True when the call (AH, DL) is the extension's to answer."""
        ...

    def handle(self, call: BiosCall) -> None: ...


class DiskService:
    """INT 13h for floppies (drives 00h/01h) and hard disks (80h..).

    ``drives`` maps a BIOS drive number to an image; for floppy numbers the value may be
    None: a drive with no disk in it.  ``dpt_address`` is the (segment, offset) of the
    diskette parameter table in ROM that AH=08h/18h return in ES:DI.
    """

    def __init__(self, drives: Mapping[int, DiskImage | None], *,
                 dpt_address: tuple[int, int] = DEFAULT_DPT_ADDRESS) -> None:
        self.transfers: dict[str, int] = {}
        """Sector transfers per image path (for activity lights; only ever grows)."""
        self.extension: Int13Extension | None = None
        """Serves the calls it claims (the CD drive: :mod:`vmgui.bios.cdrom`)."""
        self._table = DriveTable(drives)
        self._drives = self._table.view  # by BIOS drive number (see DriveTable)
        self.dpt_address = dpt_address
        self._changed: set[int] = set()  # floppy drives whose change line is active
        self._unsupported_seen: set[int] = set()
        self._leaves: dict[int, Callable[[BiosCall, int], None]] = {
            0x00: self._reset, 0x01: self._last_status, 0x02: self._read,
            0x03: self._write, 0x04: self._verify, 0x05: self._format_track,
            0x08: self._params, 0x0C: self._seek, 0x0D: self._reset,
            0x10: self._ready, 0x11: self._ready, 0x15: self._disk_type,
            0x16: self._change_status, 0x17: self._set_type, 0x18: self._set_media,
            0x41: self._ext_check, 0x42: self._ext_read, 0x43: self._ext_write,
            0x44: self._ext_verify, 0x47: self._ext_seek, 0x48: self._ext_params,
        }

    # ------------------------------------------------------------------ drive table

    @property
    def floppy_count(self) -> int:
        """Floppy drive slots (with or without media), for POST's equipment word."""
        return sum(1 for n in self._drives if n < HDD_BASE)

    @property
    def hdd_count(self) -> int:
        return sum(1 for n in self._drives if n >= HDD_BASE)

    def drive(self, number: int) -> DiskImage | None:
        """The image the guest reaches as BIOS drive ``number``."""
        return self._drives.get(number)

    def attach(self, number: int, image: DiskImage) -> DiskImage | None:
        """Insert media (or a hard disk) into physical drive ``number``; returns the image
        it replaced (not closed)."""
        check_number(number, image)
        return self._set(number, image, changed=True)

    def replace(self, number: int, image: DiskImage) -> DiskImage | None:
        """Swap the image behind a drive without the guest noticing (same contents: a
        snapshot moving the drive onto a new copy-on-write layer); no change line."""
        check_number(number, image)
        return self._set(number, image, changed=False)

    def eject(self, number: int) -> DiskImage | None:
        """Remove media from physical drive ``number`` (a floppy slot stays, empty);
        returns the image (not closed)."""
        return self._set(number, None, changed=number in self._table.slots)

    def _set(self, number: int, image: DiskImage | None, changed: bool) -> DiskImage | None:
        old = self._table.set_slot(number, image)
        self._drives = self._table.view
        bios = self._table.bios_number(number)
        if changed and number < HDD_BASE and bios is not None:
            self._changed.add(bios)
        return old

    @property
    def emulated(self) -> tuple[int, DiskImage] | None:
        """(BIOS drive number, image) of the disk a CD emulates (El Torito), or None."""
        return self._table.emulated

    def emulate(self, number: int | None, image: DiskImage | None = None) -> None:
        """El Torito: ``image`` becomes BIOS drive ``number`` (00h or 80h) and the drives
        of its kind are numbered one up (:class:`DriveTable`); None ends the emulation."""
        self._table.emulate(number, image)
        self._drives = self._table.view

    def post(self, mem: Memory) -> None:
        """Fill the disk bytes of the BDA (not the equipment word: POST owns it)."""
        mem.write_u8(Bda.HDD_LAST_STATUS, 0)
        mem.write_u8(Bda.FLOPPY_LAST_STATUS, 0)
        mem.write_u8(Bda.FLOPPY_RECAL, 0)
        mem.write_u8(Bda.FLOPPY_MOTOR, 0)
        for number in range(MAX_FLOPPIES):
            mem.write_u8(Bda.FLOPPY_TRACK + number, 0)
        self.publish(mem)

    def publish(self, mem: Memory) -> None:
        """The BDA's hard disk count and floppy media states, as the drives are numbered
        now (POST; again when El Torito emulation starts or ends)."""
        mem.write_u8(Bda.HDD_COUNT, self.hdd_count)
        for number in range(MAX_FLOPPIES):
            image = self._drives.get(number)
            state = _MEDIA_STATE.get(image.drive_type, 0) if image else 0
            mem.write_u8(Bda.FLOPPY_MEDIA_STATE + number, state)

    # ------------------------------------------------------------------ dispatch

    def handle(self, call: BiosCall) -> None:
        ah, dl = call.regs.ah, call.regs.dl
        if self.extension is not None and self.extension.claims(ah, dl):
            self.extension.handle(call)
            return
        leaf = self._leaves.get(ah)
        if leaf is None:
            self._unsupported(call, ah)
            return
        emulated = self._table.emulated
        if emulated is not None and dl == emulated[0] and ah > LAST_EMULATED_AH:
            self._fail(call, dl, Status.BAD_COMMAND,
                       f"drive {dl:02X}h is a CD's emulated disk (functions 00h-16h only)")
            return
        leaf(call, dl)

    def _unsupported(self, call: BiosCall, ah: int) -> None:
        if ah not in self._unsupported_seen:
            self._unsupported_seen.add(ah)
            log.warning("%s: unsupported function", _leaf_name(ah))
        self._finish(call, call.regs.dl, Status.BAD_COMMAND)

    def _finish(self, call: BiosCall, dl: int, status: int) -> None:
        """Record ``status`` in the BDA, return it in AH, CF set when nonzero."""
        self._store_status(call, dl, status)
        call.regs.ah = status
        call.set_cf(status != Status.OK)

    @staticmethod
    def _store_status(call: BiosCall, dl: int, status: int) -> None:
        addr = Bda.HDD_LAST_STATUS if dl >= HDD_BASE else Bda.FLOPPY_LAST_STATUS
        call.mem.write_u8(addr, status)

    def _fail(self, call: BiosCall, dl: int, status: int, why: str) -> None:
        log.info("%s: %s", _leaf_name(call.regs.ah), why)
        self._finish(call, dl, status)

    def _media(self, call: BiosCall, dl: int) -> DiskImage | None:
        """The drive's image, or None after failing the call (no drive / no media)."""
        image = self._drives.get(dl)
        if image is not None:
            return image
        if dl in self._drives:
            self._fail(call, dl, Status.TIMEOUT, f"drive {dl:02X}h has no media")
        else:
            self._fail(call, dl, Status.BAD_COMMAND, f"no drive {dl:02X}h")
        return None

    def _hdd(self, call: BiosCall, dl: int) -> DiskImage | None:
        """Like :meth:`_media`, for the hard-disk-only extensions."""
        if dl < HDD_BASE:
            self._fail(call, dl, Status.BAD_COMMAND, f"drive {dl:02X}h is not a hard disk")
            return None
        return self._media(call, dl)

    # ------------------------------------------------------------------ 00h-01h, 0Ch-11h

    def _reset(self, call: BiosCall, dl: int) -> None:
        if dl in self._drives:
            self._finish(call, dl, Status.OK)
        else:
            self._fail(call, dl, Status.BAD_COMMAND, f"no drive {dl:02X}h")

    def _last_status(self, call: BiosCall, dl: int) -> None:
        addr = Bda.HDD_LAST_STATUS if dl >= HDD_BASE else Bda.FLOPPY_LAST_STATUS
        status = call.mem.read_u8(addr)
        call.regs.ah = status
        call.set_cf(status != Status.OK)

    def _seek(self, call: BiosCall, dl: int) -> None:
        image = self._media(call, dl)
        if image is None:
            return
        cx = call.regs.cx
        cylinder = (cx >> 8) | ((cx & 0xC0) << 2)
        if cylinder >= image.cylinders:
            self._fail(call, dl, Status.SECTOR_NOT_FOUND,
                       f"cylinder {cylinder} beyond the disk's {image.cylinders}")
        else:
            self._finish(call, dl, Status.OK)

    def _ready(self, call: BiosCall, dl: int) -> None:
        if self._media(call, dl) is not None:
            self._finish(call, dl, Status.OK)

    # ------------------------------------------------------------------ 02h-05h CHS

    def _chs_range(self, call: BiosCall, dl: int, image: DiskImage) -> tuple[int, int] | None:
        """Decode AL/CX/DH into (lba, count), or fail the call and return None."""
        regs = call.regs
        count, cx, head = regs.al, regs.cx, regs.dh
        cylinder, sector = (cx >> 8) | ((cx & 0xC0) << 2), cx & 0x3F
        why, status = None, Status.SECTOR_NOT_FOUND
        if count == 0 or count > 128:
            why, status = f"sector count {count} (must be 1..128)", Status.BAD_COMMAND
        elif head >= image.heads:
            why = f"head {head} beyond the disk's {image.heads} heads"
        elif not 1 <= sector <= image.sectors_per_track:
            why = f"sector {sector} not on a track of {image.sectors_per_track} sectors"
        elif cylinder >= image.cylinders:
            why = f"cylinder {cylinder} beyond the disk's {image.cylinders} cylinders"
        else:
            lba = image.chs_to_lba(cylinder, head, sector)
            if lba + count <= image.total_sectors:
                return lba, count
            why = (f"sector {max(lba, image.total_sectors)} beyond end of disk "
                   f"({image.total_sectors} sectors)")
        self._fail(call, dl, status, why)
        regs.al = 0
        return None

    def _chs_transfer(self, call: BiosCall, dl: int, op: str) -> None:
        image = self._media(call, dl)
        if image is None:
            call.regs.al = 0
            return
        span = self._chs_range(call, dl, image)
        if span is None:
            return
        lba, count = span
        regs = call.regs
        status = self._transfer(call, image, op, lba, count, seg_off(regs.es, regs.bx))
        self._finish(call, dl, status)
        regs.al = count if status == Status.OK else 0

    def _transfer(self, call: BiosCall, image: DiskImage, op: str, lba: int, count: int,
                  addr: int) -> int:
        """Move ``count`` sectors between the image and guest memory; returns a status.
        No 64K DMA-boundary check: see the module header.  A buffer reaching beyond
        guest memory (an EDD packet can name any 64-bit address and 65535 sectors)
        fails with BOUNDARY before anything is transferred."""
        self.transfers[str(image.path)] = self.transfers.get(str(image.path), 0) + 1
        try:
            if op == "read":
                call.mem.write(addr, image.read_sectors(lba, count))
            elif op == "write":
                image.write_sectors(lba, read_linear(call.mem, addr, count * SECTOR_SIZE))
        except IndexError:
            log.info("%s: buffer at %#x for %d sectors is beyond guest memory",
                     _leaf_name(call.regs.ah), addr, count)
            return Status.BOUNDARY
        except ReadOnlyError:
            log.info("%s: %s is write-protected", _leaf_name(call.regs.ah), image.path)
            return Status.WRITE_PROTECTED
        except (OSError, DiskImageError) as exc:
            log.warning("%s: %s failed: %s", _leaf_name(call.regs.ah), op, exc)
            return Status.CONTROLLER_FAILURE
        return Status.OK

    def _read(self, call: BiosCall, dl: int) -> None:
        self._chs_transfer(call, dl, "read")

    def _write(self, call: BiosCall, dl: int) -> None:
        self._chs_transfer(call, dl, "write")

    def _verify(self, call: BiosCall, dl: int) -> None:
        self._chs_transfer(call, dl, "verify")

    def _format_track(self, call: BiosCall, dl: int) -> None:
        """Floppy: fill the track (CH cylinder, DH head) with F6h; hard disk: no-op."""
        image = self._media(call, dl)
        if image is None:
            return
        if image.read_only:
            self._fail(call, dl, Status.WRITE_PROTECTED, f"{image.path} is write-protected")
            return
        cx, head = call.regs.cx, call.regs.dh
        cylinder = (cx >> 8) | ((cx & 0xC0) << 2)
        if head >= image.heads or cylinder >= image.cylinders:
            self._fail(call, dl, Status.SECTOR_NOT_FOUND,
                       f"track {cylinder}/{head} is not on the disk")
            return
        status = Status.OK
        if dl < HDD_BASE:
            spt = image.sectors_per_track
            data = b"\xf6" * (spt * SECTOR_SIZE)
            try:
                image.write_sectors(image.chs_to_lba(cylinder, head, 1), data)
            except (OSError, DiskImageError) as exc:
                log.warning("%s: format failed: %s", _leaf_name(0x05), exc)
                status = Status.CONTROLLER_FAILURE
        self._finish(call, dl, status)

    # ------------------------------------------------------------------ 08h, 15h-18h

    def _params(self, call: BiosCall, dl: int) -> None:
        regs = call.regs
        image = self._drives.get(dl)
        if dl not in self._drives:
            self._fail(call, dl, Status.BAD_COMMAND, f"no drive {dl:02X}h")
            return
        if dl < HDD_BASE:
            if image is None:  # an empty drive reports its own (1.44M) type
                cyls, heads, spt, dtype = 80, 2, 18, DriveType.D1440K
            else:
                cyls, heads, spt = image.cylinders, image.heads, image.sectors_per_track
                dtype = image.drive_type
            max_cyl, count = cyls - 1, self.floppy_count
            regs.bx = dtype  # BH=0
            regs.es, regs.di = self.dpt_address
        else:
            assert image is not None
            heads, spt = image.heads, image.sectors_per_track
            # SeaBIOS reserves the last cylinder (the old diagnostic cylinder).
            max_cyl = max(0, image.cylinders - 1 - (image.cylinders > 1))
            count = self.hdd_count
        regs.cx = ((max_cyl & 0xFF) << 8) | ((max_cyl >> 2) & 0xC0) | (spt & 0x3F)
        regs.dx = ((heads - 1) << 8) | count
        regs.al = 0
        self._finish(call, dl, Status.OK)

    def _disk_type(self, call: BiosCall, dl: int) -> None:
        """AH=15h: AH=00h none, 02h floppy with change line, 03h hard disk (CX:DX size)."""
        regs = call.regs
        if dl not in self._drives:
            kind = 0x00
        elif dl < HDD_BASE:
            kind = 0x02
        else:
            image = self._drives[dl]
            assert image is not None
            total = min(image.total_sectors, 0xFFFFFFFF)
            regs.cx, regs.dx = total >> 16, total & 0xFFFF
            kind = 0x03
        self._store_status(call, dl, Status.OK)
        regs.ah = kind
        call.set_cf(False)

    def _change_status(self, call: BiosCall, dl: int) -> None:
        """AH=16h: 06h once after a media change (and while the drive is empty)."""
        if dl >= HDD_BASE or dl not in self._drives:
            self._fail(call, dl, Status.BAD_COMMAND, f"no floppy drive {dl:02X}h")
            return
        changed = dl in self._changed or self._drives[dl] is None
        self._changed.discard(dl)
        self._finish(call, dl, Status.CHANGE_LINE if changed else Status.OK)

    def _set_type(self, call: BiosCall, dl: int) -> None:
        """AH=17h: set the media type for format; accepted for any present floppy."""
        if dl >= HDD_BASE:
            self._fail(call, dl, Status.BAD_COMMAND, "not a floppy drive")
        elif self._media(call, dl) is not None:
            self._finish(call, dl, Status.OK)

    def _set_media(self, call: BiosCall, dl: int) -> None:
        """AH=18h: CH/CL max track and sectors; ES:DI -> the parameter table."""
        if dl >= HDD_BASE:
            self._fail(call, dl, Status.BAD_COMMAND, "not a floppy drive")
            return
        if self._media(call, dl) is None:
            return
        regs = call.regs
        cx = regs.cx
        tracks, spt = ((cx >> 8) | ((cx & 0xC0) << 2)) + 1, cx & 0x3F
        if not any(f.cylinders == tracks and f.sectors == spt for f in FLOPPY_FORMATS.values()):
            self._fail(call, dl, Status.MEDIA_TYPE_NOT_FOUND,
                       f"no media type with {tracks} tracks of {spt} sectors")
            return
        regs.es, regs.di = self.dpt_address
        self._finish(call, dl, Status.OK)

    # ------------------------------------------------------------------ 41h-48h extensions

    def _ext_check(self, call: BiosCall, dl: int) -> None:
        regs = call.regs
        if regs.bx != 0x55AA:
            self._fail(call, dl, Status.BAD_COMMAND, f"BX={regs.bx:04X}h, not 55AAh")
            return
        if self._hdd(call, dl) is None:
            return
        self._store_status(call, dl, Status.OK)
        regs.bx = 0xAA55
        regs.cx = EDD_SUBSET
        regs.ah = EDD_VERSION
        call.set_cf(False)

    def _dap(self, call: BiosCall, dl: int, image: DiskImage,
             op: str) -> tuple[int, int, int] | None:
        """Read the disk address packet at DS:SI -> (lba, count, buffer address)."""
        mem, regs = call.mem, call.regs
        addr = seg_off(regs.ds, regs.si)
        size = mem.read_u8(addr)
        if size < 0x10:
            self._fail(call, dl, Status.BAD_COMMAND, f"disk address packet size {size:#x}")
            return None
        count = mem.read_u16(addr + 2)
        buf = mem.read_u32(addr + 4)
        lba = int.from_bytes(mem.read(addr + 8, 8), "little")
        if buf == 0xFFFFFFFF and size >= 0x18:  # EDD 3.0: 64-bit flat buffer address
            linear = int.from_bytes(mem.read(addr + 0x10, 8), "little")
        else:
            linear = seg_off(buf >> 16, buf & 0xFFFF)
        if op == "seek":  # only the LBA matters
            count = 0
        if lba + max(count, 1 if op == "seek" else 0) > image.total_sectors:
            mem.write_u16(addr + 2, 0)
            self._fail(call, dl, Status.SECTOR_NOT_FOUND,
                       f"sector {max(lba, image.total_sectors)} beyond end of disk "
                       f"({image.total_sectors} sectors)")
            return None
        return lba, count, linear

    def _ext_transfer(self, call: BiosCall, dl: int, op: str) -> None:
        image = self._hdd(call, dl)
        if image is None:
            return
        dap = self._dap(call, dl, image, op)
        if dap is None:
            return
        lba, count, addr = dap
        status = self._transfer(call, image, op, lba, count, addr) if count else Status.OK
        if status != Status.OK:
            call.mem.write_u16(seg_off(call.regs.ds, call.regs.si) + 2, 0)
        self._finish(call, dl, status)

    def _ext_read(self, call: BiosCall, dl: int) -> None:
        self._ext_transfer(call, dl, "read")

    def _ext_write(self, call: BiosCall, dl: int) -> None:
        if call.regs.al > 2:
            self._fail(call, dl, Status.BAD_COMMAND, f"write flags AL={call.regs.al:02X}h")
            return
        self._ext_transfer(call, dl, "write")

    def _ext_verify(self, call: BiosCall, dl: int) -> None:
        self._ext_transfer(call, dl, "verify")

    def _ext_seek(self, call: BiosCall, dl: int) -> None:
        self._ext_transfer(call, dl, "seek")

    def _ext_params(self, call: BiosCall, dl: int) -> None:
        """AH=48h: the EDD drive parameter buffer at DS:SI (1Ah bytes, 1Eh if room)."""
        image = self._hdd(call, dl)
        if image is None:
            return
        mem, regs = call.mem, call.regs
        addr = seg_off(regs.ds, regs.si)
        size = mem.read_u16(addr)
        if size < 0x1A:
            self._fail(call, dl, Status.BAD_COMMAND, f"parameter buffer size {size:#x}")
            return
        fits_chs = image.full_cylinders <= image.cylinders
        flags = 0x0001 | (0x0002 if fits_chs else 0)  # DMA boundaries handled; CHS valid
        out = bytearray()
        out += (0x1E if size >= 0x1E else 0x1A).to_bytes(2, "little")
        out += flags.to_bytes(2, "little")
        out += image.full_cylinders.to_bytes(4, "little")
        out += image.heads.to_bytes(4, "little")
        out += image.sectors_per_track.to_bytes(4, "little")
        out += image.total_sectors.to_bytes(8, "little")
        out += SECTOR_SIZE.to_bytes(2, "little")
        if size >= 0x1E:
            out += b"\xff\xff\xff\xff"  # no EDD configuration parameters (DPTE)
        mem.write(addr, bytes(out))
        self._finish(call, dl, Status.OK)
