"""CD-ROM images: ISO 9660 files served as a read-only disc of 2048-byte sectors.

Owns: :class:`CdImage` (one open ISO file), the rule for which files are CD images
(:func:`is_iso9660`: what ``vmgui run IMAGE`` uses to attach a bare ISO as a CD) and the
checks :meth:`CdImage.open` makes, each failing with a message that names the file and
what is wrong with it.  References: ECMA-119 (ISO 9660) sections 6.7 and 8 -- the
volume descriptor set starts at logical sector 16 (byte 32768), each descriptor is one
2048-byte sector with its type in byte 0 and the standard identifier "CD001" in bytes
1-5; the primary volume descriptor (type 1) holds the volume identifier (bytes 40-71),
the volume space size (bytes 80-83, little-endian) and the logical block size (bytes
128-129).

Rules:

- Only ISO 9660 images are CDs: "CD001" at byte 32769 (sector 16).  A floppy or disk
  image given as a CD is refused ("x.img is not an ISO 9660 CD image (no CD001 volume
  descriptor at sector 16)").
- A file shorter than its primary volume descriptor says (an interrupted download) is
  refused as truncated, naming both sizes; a longer one (an isohybrid image with
  partitions appended) is served whole.  A last partial sector reads as zero-padded.
- Only 2048-byte logical blocks (every CD and every image tool uses them).

Thread rules: as :class:`vmgui.storage.image.DiskImage` -- one thread at a time (the
VM's emulation thread); it holds an OS file descriptor until :meth:`CdImage.close`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from vmgui.storage.image import (
    DiskImageError,
    ReadOnlyError,
    SectorRangeError,
    check_regular,
    open_regular,
)

log = logging.getLogger(__name__)

CD_SECTOR_SIZE = 2048
FIRST_DESCRIPTOR = 16  # sector of the first volume descriptor
STANDARD_ID = b"CD001"
DESCRIPTOR_PVD = 1
DESCRIPTOR_TERMINATOR = 255
MAX_DESCRIPTORS = 64  # a volume descriptor set longer than this is garbage
MIN_ISO_BYTES = (FIRST_DESCRIPTOR + 1) * CD_SECTOR_SIZE


class CdImageError(DiskImageError):
    """A file cannot be used as a CD image; the message names it and says why."""


class NotIsoError(CdImageError):
    """The file is not an ISO 9660 image."""


class TruncatedIsoError(CdImageError):
    """The file is shorter than its volume descriptors say the disc is."""


def is_iso9660(path: str | os.PathLike[str]) -> bool:
    """Does ``path`` hold an ISO 9660 image ("CD001" at sector 16)?  False for anything
    that cannot be read, and never blocks (a FIFO or device is not opened)."""
    try:
        check_regular(path)
        fd = open_regular(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except (OSError, DiskImageError):
        return False
    try:
        return os.pread(fd, 6, FIRST_DESCRIPTOR * CD_SECTOR_SIZE)[1:6] == STANDARD_ID
    except OSError:
        return False
    finally:
        os.close(fd)


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "replace").rstrip(" \0")


class CdImage:
    """One ISO 9660 file served as a read-only disc of :attr:`total_sectors` 2048-byte
    sectors.  Attributes shared with :class:`~vmgui.storage.image.DiskImage` (``path``,
    ``kind``, ``read_only``, ``size_bytes``, ``file_bytes``, :meth:`close`) let the
    machine keep it in its drive table with the disks."""

    kind = "cdrom"
    read_only = True
    sector_size = CD_SECTOR_SIZE

    def __init__(self, path: Path, fd: int, file_bytes: int, volume_id: str) -> None:
        self.path = path
        self.file_bytes = file_bytes
        self.total_sectors = -(-file_bytes // CD_SECTOR_SIZE)
        self.size_bytes = self.total_sectors * CD_SECTOR_SIZE
        self.volume_id = volume_id
        self._fd: int | None = fd

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> CdImage:
        """Open and check an ISO image; :class:`CdImageError` (or another
        :class:`DiskImageError`: missing, not a regular file) naming the problem."""
        p, name = Path(path), str(path)
        check_regular(p, "CD")  # before opening: a FIFO or device is never opened
        try:
            fd = open_regular(p, os.O_RDONLY | getattr(os, "O_BINARY", 0), "CD")
        except OSError as exc:
            raise CdImageError(f"{name}: cannot open ({exc.strerror})") from exc
        try:
            size = os.fstat(fd).st_size
            volume_id = _check_descriptors(name, fd, size)
            return cls(p, fd, size, volume_id)
        except BaseException:
            os.close(fd)
            raise

    # ------------------------------------------------------------------ I/O

    def _fd_or_raise(self) -> int:
        if self._fd is None:
            raise CdImageError(f"{self.path}: the CD image is closed")
        return self._fd

    def read_bytes(self, offset: int, size: int) -> bytes:
        """``size`` bytes of the disc from byte ``offset``; past the file's end (a last
        partial sector) zeros.  :class:`SectorRangeError` beyond the disc's end."""
        fd = self._fd_or_raise()
        if offset < 0 or size < 0 or offset + size > self.size_bytes:
            raise SectorRangeError(
                f"{self.path}: bytes {offset}..{offset + size - 1} beyond end of disc "
                f"({self.total_sectors} sectors of {CD_SECTOR_SIZE} bytes)")
        data = os.pread(fd, size, offset)
        return data.ljust(size, b"\0")

    def read_sectors(self, lba: int, count: int) -> bytes:
        """``count`` 2048-byte sectors from ``lba``."""
        if lba < 0 or count < 0 or lba + count > self.total_sectors:
            raise SectorRangeError(
                f"{self.path}: CD sector {max(lba, self.total_sectors)} beyond end of disc "
                f"({self.total_sectors} sectors)")
        return self.read_bytes(lba * CD_SECTOR_SIZE, count * CD_SECTOR_SIZE)

    def write_sectors(self, lba: int, data: bytes) -> None:
        raise ReadOnlyError(f"{self.path}: a CD is read-only")

    def flush(self) -> None:
        """Nothing to flush: a CD is never written."""

    def close(self) -> None:
        """Release the file; idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> CdImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CdImage {self.path} {self.total_sectors} sectors {self.volume_id!r}>"


def _check_descriptors(name: str, fd: int, size: int) -> str:
    """Check the volume descriptor set; returns the volume identifier."""
    if size < MIN_ISO_BYTES:
        first = os.pread(fd, 6, FIRST_DESCRIPTOR * CD_SECTOR_SIZE)
        if first[1:6] == STANDARD_ID:
            raise TruncatedIsoError(
                f"{name}: the ISO image is truncated: {size} bytes end inside its first "
                f"volume descriptor (sector {FIRST_DESCRIPTOR}, bytes "
                f"{FIRST_DESCRIPTOR * CD_SECTOR_SIZE}-{MIN_ISO_BYTES - 1})")
        raise NotIsoError(f"{name} is not an ISO 9660 CD image ({size} bytes is too small: "
                          f"its volume descriptors would start at byte "
                          f"{FIRST_DESCRIPTOR * CD_SECTOR_SIZE}, sector {FIRST_DESCRIPTOR})")
    if os.pread(fd, 6, FIRST_DESCRIPTOR * CD_SECTOR_SIZE)[1:6] != STANDARD_ID:
        raise NotIsoError(f"{name} is not an ISO 9660 CD image (no {STANDARD_ID.decode()} "
                          f"volume descriptor at sector {FIRST_DESCRIPTOR})")
    pvd = _primary_descriptor(name, fd, size)
    block = int.from_bytes(pvd[128:130], "little")
    blocks = int.from_bytes(pvd[80:84], "little")
    if block != CD_SECTOR_SIZE:
        raise CdImageError(f"{name}: logical block size {block} is not supported (CD images "
                           f"use {CD_SECTOR_SIZE}-byte blocks)")
    if blocks * block > size:
        raise TruncatedIsoError(
            f"{name}: the ISO image is truncated: the file has {size} bytes, but its primary "
            f"volume descriptor says the disc holds {blocks} sectors of {block} bytes "
            f"({blocks * block} bytes)")
    return _text(pvd[40:72])


def _primary_descriptor(name: str, fd: int, size: int) -> bytes:
    """The primary volume descriptor: the first of type 1 in the set from sector 16."""
    for n in range(FIRST_DESCRIPTOR, FIRST_DESCRIPTOR + MAX_DESCRIPTORS):
        sector = os.pread(fd, CD_SECTOR_SIZE, n * CD_SECTOR_SIZE)
        if len(sector) < CD_SECTOR_SIZE:
            raise TruncatedIsoError(
                f"{name}: the ISO image is truncated: {size} bytes end inside its volume "
                f"descriptor set (sector {n})")
        if sector[1:6] != STANDARD_ID:
            break
        if sector[0] == DESCRIPTOR_PVD:
            return sector
        if sector[0] == DESCRIPTOR_TERMINATOR:
            break
    raise NotIsoError(f"{name} is not an ISO 9660 CD image (its volume descriptor set from "
                      f"sector {FIRST_DESCRIPTOR} has no primary volume descriptor)")
