"""El Torito: which image a bootable CD boots, and the disks it emulates.

Owns: reading the Boot Record Volume Descriptor and the boot catalog of a
:class:`~vmgui.storage.cdimage.CdImage` into a :class:`BootEntry` (:func:`find_boot_entry`,
:func:`parse_catalog`), and :class:`EmulatedDisk`, the floppy or hard disk an emulation
boot image is served as (a read-only :class:`~vmgui.storage.image.DiskImage` over a
stretch of the disc).  Every refusal is a :class:`ElToritoError` that says what is wrong
in words a user can act on.

References: "El Torito" Bootable CD-ROM Format Specification 1.0 (Phoenix/IBM, 1995):
the Boot Record Volume Descriptor is at sector 17 (byte 0 = 0, "CD001", version 1,
"EL TORITO SPECIFICATION" padded with zeros to 32 bytes, the catalog's sector as a
little-endian dword at byte 47h); the catalog is a list of 32-byte entries -- the
validation entry (header 01h, platform ID, ID string, a checksum word that makes the
16-bit sum of the entry zero, key bytes 55h AAh), the initial/default entry (88h
bootable, media type, load segment, system type, sector count in 512-byte virtual
sectors, load RBA), then section headers (90h, the last 91h; platform ID; number of
section entries) each followed by its section entries (as the default entry, plus
selection criteria) and section entry extensions (44h; bit 5 of byte 1 says another
follows).  libisofs's doc/boot_sectors.txt for how tools lay these out; SeaBIOS
``src/cdrom.c`` for what a PC BIOS does with them (floppy geometries, hard-disk geometry
from the image's first partition entry).

Choice of entry: the default entry when the validation entry's platform is 80x86 and it
is bootable; otherwise the first bootable entry of an 80x86 section (multi-platform
catalogs: a BIOS entry next to an EFI one).  Nothing here keeps state between calls.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from vmgui.storage.cdimage import CD_SECTOR_SIZE, STANDARD_ID, CdImage
from vmgui.storage.image import (
    FLOPPY_FORMATS,
    SECTOR_SIZE,
    DiskImage,
    DiskImageError,
    DriveType,
    Geometry,
    ReadOnlyError,
)

log = logging.getLogger(__name__)

BOOT_RECORD_SECTOR = 17
BOOT_SYSTEM_ID = b"EL TORITO SPECIFICATION"
ENTRY_SIZE = 32
HEADER_VALIDATION = 0x01
BOOTABLE, NOT_BOOTABLE = 0x88, 0x00
SECTION_HEADER, FINAL_SECTION_HEADER = 0x90, 0x91
EXTENSION = 0x44
EXTENSION_FOLLOWS = 0x20  # byte 1 of a section entry or extension
PLATFORM_X86 = 0x00
PLATFORM_NAMES = {0x00: "80x86", 0x01: "PowerPC", 0x02: "Mac", 0xEF: "EFI"}
DEFAULT_LOAD_SEGMENT = 0x07C0
KEY = b"\x55\xaa"


class Media(enum.IntEnum):
    """Boot media type (bits 0-3 of byte 1 of a boot entry)."""

    NO_EMULATION = 0
    FLOPPY_1_2M = 1
    FLOPPY_1_44M = 2
    FLOPPY_2_88M = 3
    HARD_DISK = 4


MEDIA_NAMES = {Media.NO_EMULATION: "no emulation", Media.FLOPPY_1_2M: "1.2M floppy",
               Media.FLOPPY_1_44M: "1.44M floppy", Media.FLOPPY_2_88M: "2.88M floppy",
               Media.HARD_DISK: "hard disk"}
_FLOPPY_BYTES = {Media.FLOPPY_1_2M: 1228800, Media.FLOPPY_1_44M: 1474560,
                 Media.FLOPPY_2_88M: 2949120}


class ElToritoError(DiskImageError):
    """A CD cannot be booted.  The message completes the sentence "the CD in drive D:
    ..." ("has no El Torito boot record", "has a bad boot catalog ..."); a BIOS
    prints it and goes on to the next boot device."""


class NoBootRecordError(ElToritoError):
    """The CD has no El Torito boot record (a data CD)."""


@dataclass(frozen=True)
class BootEntry:
    """The boot entry a BIOS uses.  ``sector_count`` is in 512-byte virtual sectors,
    ``load_rba`` in 2048-byte CD sectors; ``load_segment`` is 07C0h where the catalog
    says 0.  ``catalog_lba`` is where the catalog was found (int 13h AH=4Dh returns it)."""

    media: Media
    load_segment: int
    system_type: int
    sector_count: int
    load_rba: int
    catalog_lba: int
    platform: int = PLATFORM_X86

    @property
    def emulation(self) -> bool:
        return self.media != Media.NO_EMULATION


def boot_catalog_lba(sector17: bytes) -> int:
    """The boot catalog's sector from the Boot Record Volume Descriptor (sector 17);
    :class:`NoBootRecordError` when sector 17 is not one."""
    if (len(sector17) < 0x4B or sector17[0] != 0 or sector17[1:6] != STANDARD_ID
            or sector17[7:39].rstrip(b"\0") != BOOT_SYSTEM_ID):
        raise NoBootRecordError("has no El Torito boot record")
    return int.from_bytes(sector17[0x47:0x4B], "little")


def _entry(raw: bytes, catalog_lba: int, platform: int, where: str) -> BootEntry:
    try:
        media = Media(raw[1] & 0x0F)
    except ValueError:
        raise ElToritoError(f"has a {where} of boot media type {raw[1] & 0x0F} (El "
                            "Torito defines 0-4)") from None
    segment = int.from_bytes(raw[2:4], "little") or DEFAULT_LOAD_SEGMENT
    return BootEntry(media, segment, raw[4], int.from_bytes(raw[6:8], "little"),
                     int.from_bytes(raw[8:12], "little"), catalog_lba, platform)


def _check_validation(entry: bytes, lba: int) -> None:
    if entry[0] != HEADER_VALIDATION or entry[30:32] != KEY:
        raise ElToritoError(f"has a bad boot catalog (sector {lba}): it does not start "
                            "with a validation entry (header 01h, key bytes 55h AAh)")
    total = sum(int.from_bytes(entry[i:i + 2], "little") for i in range(0, 32, 2)) & 0xFFFF
    if total:
        raise ElToritoError(f"has a bad boot catalog (sector {lba}): its validation entry "
                            f"checksum is wrong (the words sum to {total:04X}h, not 0)")


def parse_catalog(catalog: bytes, lba: int = 0) -> BootEntry:
    """The 80x86 boot entry of a boot catalog (its first sector, 2048 bytes, read from
    sector ``lba``); :class:`ElToritoError` when there is none or the catalog is bad."""
    if len(catalog) < 2 * ENTRY_SIZE:
        raise ElToritoError(f"has a bad boot catalog (sector {lba}): it is cut short")
    _check_validation(catalog[:ENTRY_SIZE], lba)
    platform = catalog[1]
    default = catalog[ENTRY_SIZE:2 * ENTRY_SIZE]
    if platform == PLATFORM_X86 and default[0] == BOOTABLE:
        return _entry(default, lba, platform, "default boot entry")
    found = _section_entry(catalog, lba)
    if found is not None:
        return found
    if platform != PLATFORM_X86:
        name = PLATFORM_NAMES.get(platform, f"{platform:02X}h")
        raise ElToritoError(f"has a boot catalog (sector {lba}) for {name} computers, "
                            "with no 80x86 (PC BIOS) boot entry")
    raise ElToritoError(f"has no bootable 80x86 entry in its boot catalog (sector {lba}; "
                        f"the default entry is marked {default[0]:02X}h)")


def _section_entry(catalog: bytes, lba: int) -> BootEntry | None:
    """The first bootable entry of an 80x86 section, or None."""
    offset = 2 * ENTRY_SIZE
    while offset + ENTRY_SIZE <= len(catalog):
        header = catalog[offset:offset + ENTRY_SIZE]
        if header[0] not in (SECTION_HEADER, FINAL_SECTION_HEADER):
            return None  # the end of the catalog (00h) or something unknown
        platform, count = header[1], int.from_bytes(header[2:4], "little")
        offset += ENTRY_SIZE
        for _ in range(count):
            if offset + ENTRY_SIZE > len(catalog):
                return None
            raw = catalog[offset:offset + ENTRY_SIZE]
            offset += ENTRY_SIZE
            follows = raw[1] & EXTENSION_FOLLOWS
            while follows and offset + ENTRY_SIZE <= len(catalog) \
                    and catalog[offset] == EXTENSION:
                follows = catalog[offset + 1] & EXTENSION_FOLLOWS
                offset += ENTRY_SIZE
            if platform == PLATFORM_X86 and raw[0] == BOOTABLE:
                return _entry(raw, lba, platform, f"boot entry at catalog byte "
                                                  f"{offset - ENTRY_SIZE}")
        if header[0] == FINAL_SECTION_HEADER:
            return None
    return None


def find_boot_entry(cd: CdImage) -> BootEntry:
    """The boot entry of the disc in ``cd``; :class:`ElToritoError` saying why it cannot
    boot (:class:`NoBootRecordError` for a disc without a boot record)."""
    if cd.total_sectors <= BOOT_RECORD_SECTOR:
        raise NoBootRecordError("has no El Torito boot record")
    lba = boot_catalog_lba(cd.read_sectors(BOOT_RECORD_SECTOR, 1))
    if not BOOT_RECORD_SECTOR < lba < cd.total_sectors:
        raise ElToritoError(f"has a boot record pointing at a boot catalog in sector "
                            f"{lba}, outside the disc ({cd.total_sectors} sectors)")
    return parse_catalog(cd.read_sectors(lba, 1), lba)


# ---------------------------------------------------------------------- emulation

class EmulatedDisk(DiskImage):
    """The floppy or hard disk an El Torito emulation image is served as: 512-byte
    sectors read from the disc starting at the image's first CD sector; read-only
    (writes fail as write-protected, as SeaBIOS answers).  The CD drive owns the
    :class:`CdImage`: closing this closes nothing."""

    def __init__(self, cd: CdImage, entry: BootEntry, kind: str, geometry: Geometry,
                 drive_type: int) -> None:
        total = geometry.cylinders * geometry.heads * geometry.sectors
        no_fd: int = None  # type: ignore[assignment]  # reads go to the CD, not a file
        super().__init__(cd.path, no_fd, kind, geometry, total * SECTOR_SIZE, True,
                         drive_type)
        self.cd = cd
        self.entry = entry
        self._start = entry.load_rba * CD_SECTOR_SIZE

    def read_sectors(self, lba: int, count: int) -> bytes:
        self._check_range(lba, count)
        return self.cd.read_bytes(self._start + lba * SECTOR_SIZE, count * SECTOR_SIZE)

    def write_sectors(self, lba: int, data: bytes) -> None:
        raise ReadOnlyError(f"{self.path}: the CD's emulated "
                            f"{MEDIA_NAMES[self.entry.media]} is read-only")

    def flush(self) -> None:
        """Nothing to flush: never written."""

    def close(self) -> None:
        """The CD drive closes the disc; this disk only borrows it."""

    def __repr__(self) -> str:
        return (f"<EmulatedDisk {MEDIA_NAMES[self.entry.media]} of {self.path} at CD sector "
                f"{self.entry.load_rba}>")


def emulated_disk(cd: CdImage, entry: BootEntry) -> EmulatedDisk:
    """The disk ``entry`` (an emulation entry) boots from; :class:`ElToritoError` when its
    image does not fit on the disc or (hard disk) has no partition table to take the
    geometry from."""
    if entry.media == Media.HARD_DISK:
        first = cd.read_bytes(entry.load_rba * CD_SECTOR_SIZE, SECTOR_SIZE) \
            if entry.load_rba < cd.total_sectors else b""
        geometry = _hard_disk_geometry(first)
        kind, drive_type = "hdd", DriveType.NONE
    elif entry.media in _FLOPPY_BYTES:
        fmt = FLOPPY_FORMATS[_FLOPPY_BYTES[entry.media]]
        geometry = Geometry(fmt.cylinders, fmt.heads, fmt.sectors)
        kind, drive_type = "floppy", fmt.drive_type
    else:
        raise ValueError("a no-emulation boot entry emulates no disk")
    size = geometry.cylinders * geometry.heads * geometry.sectors * SECTOR_SIZE
    end = entry.load_rba * CD_SECTOR_SIZE + size
    if end > cd.size_bytes:
        raise ElToritoError(
            f"has a {MEDIA_NAMES[entry.media]} image ({size} bytes from sector "
            f"{entry.load_rba}) reaching past the end of the disc ({cd.total_sectors} sectors)")
    return EmulatedDisk(cd, entry, kind, geometry, drive_type)


def _hard_disk_geometry(first: bytes) -> Geometry:
    """Cylinders, heads and sectors from the end CHS of the first partition entry (as
    SeaBIOS takes them)."""
    entry = first[446:462] if len(first) >= 512 and first[510:512] == KEY else b""
    if len(entry) < 16 or entry[5] == 0 and entry[6] == 0 and entry[7] == 0:
        raise ElToritoError("has a hard-disk image with no partition table to take the "
                            "disk's geometry from")
    heads, sectors = entry[5] + 1, entry[6] & 0x3F
    cylinders = (((entry[6] & 0xC0) << 2) | entry[7]) + 1
    if sectors == 0:
        raise ElToritoError("has a hard-disk image whose first partition ends at sector 0 "
                            "(a damaged partition table)")
    return Geometry(cylinders, heads, sectors)
