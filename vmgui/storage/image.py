"""Raw disk and floppy images: validation, geometry and sector I/O.

Owns: :class:`DiskImage` (one open raw image file), the table of standard PC floppy
formats and the geometry rules for hard disks; which files may be images at all
(:func:`check_regular`, :func:`open_regular`: regular files only -- a FIFO blocks
whoever opens it, ``/dev/zero`` never ends).  References: the IBM PC/AT technical
reference (diskette formats, CMOS drive types), Ralf Brown's interrupt list (INT 13h
AH=08h drive types), SeaBIOS ``block.c`` / QEMU ``hw/block/hd-geometry.c`` (guessing a
hard disk's logical geometry from its MBR partition table, LBA-assist translation).

Geometry rules:

- Floppies are recognised by size (:data:`FLOPPY_FORMATS`).  A smaller or odd-sized
  image (a 512-byte boot sector, say) is served as a padded 1.44M floppy (2.88M if it is
  bigger than 1.44M): sectors past the file's end read as zeros, and writes there are
  kept in memory and never grow the file.
- Hard disks take heads and sectors per track from the end CHS of the MBR's partitions,
  else from their size (16 heads x 63 sectors, more heads -- 32, 64, 128, 255 -- when
  that would need more than 1024 cylinders: the usual LBA-assist translation).
  :attr:`DiskImage.cylinders` is capped at 1024 for the CHS services; LBA services see
  :attr:`DiskImage.total_sectors`.

Thread rules: a :class:`DiskImage` is used by one thread at a time (the VM's emulation
thread); it holds an OS file descriptor until :meth:`DiskImage.close`.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

SECTOR_SIZE = 512
MAX_CHS_CYLINDERS = 1024
BOOT_SIGNATURE = b"\x55\xaa"

Kind = Literal["floppy", "hdd"]


class DiskImageError(ValueError):
    """An image cannot be opened or used; the message names the file and the problem."""


class ImageMissingError(DiskImageError):
    """The image file does not exist."""


class ReadOnlyError(DiskImageError):
    """A write to an image opened read-only (or write-protected)."""


class SectorRangeError(DiskImageError):
    """A transfer that reaches past the last sector of the disk."""


class DriveType:
    """CMOS / INT 13h AH=08h floppy drive types."""

    NONE = 0
    D360K = 1
    D1200K = 2
    D720K = 3
    D1440K = 4
    D2880K = 6


@dataclass(frozen=True)
class FloppyFormat:
    label: str
    cylinders: int
    heads: int
    sectors: int
    drive_type: int

    @property
    def size_bytes(self) -> int:
        return self.cylinders * self.heads * self.sectors * SECTOR_SIZE


_FORMATS = (
    FloppyFormat("160K", 40, 1, 8, DriveType.D360K),
    FloppyFormat("180K", 40, 1, 9, DriveType.D360K),
    FloppyFormat("320K", 40, 2, 8, DriveType.D360K),
    FloppyFormat("360K", 40, 2, 9, DriveType.D360K),
    FloppyFormat("720K", 80, 2, 9, DriveType.D720K),
    FloppyFormat("1.2M", 80, 2, 15, DriveType.D1200K),
    FloppyFormat("1.44M", 80, 2, 18, DriveType.D1440K),
    FloppyFormat("1.68M DMF", 80, 2, 21, DriveType.D1440K),
    FloppyFormat("2.88M", 80, 2, 36, DriveType.D2880K),
)
#: Standard floppy formats by image size in bytes.
FLOPPY_FORMATS = types.MappingProxyType({f.size_bytes: f for f in _FORMATS})
_F1440 = FLOPPY_FORMATS[1474560]
_F2880 = FLOPPY_FORMATS[2949120]
MAX_FLOPPY_BYTES = _F2880.size_bytes


@dataclass(frozen=True)
class Geometry:
    cylinders: int  # full count (not capped)
    heads: int
    sectors: int


def _mbr_geometry(first: bytes, total: int) -> Geometry | None:
    """Heads and sectors per track from the end CHS of the MBR's partition entries."""
    if len(first) < SECTOR_SIZE or first[510:512] != BOOT_SIGNATURE:
        return None
    found = None
    for i in range(4):
        e = first[446 + 16 * i : 462 + 16 * i]
        if e[0] not in (0x00, 0x80):
            return None  # not a partition table (a FAT boot sector, say)
        nr_sects = int.from_bytes(e[12:16], "little")
        if e[4] == 0 or nr_sects == 0 or found:
            continue
        heads, sectors = e[5] + 1, e[6] & 0x3F
        if sectors and total // (heads * sectors) >= 1:
            found = Geometry(total // (heads * sectors), heads, sectors)
    return found


def _size_geometry(total: int) -> Geometry:
    """LBA-assist translation: 63 sectors, the fewest heads that keep <= 1024 cylinders."""
    for heads in (16, 32, 64, 128):
        if total // (heads * 63) <= MAX_CHS_CYLINDERS:
            return Geometry(max(1, total // (heads * 63)), heads, 63)
    return Geometry(total // (255 * 63), 255, 63)


def _floppy_for_size(name: str, size: int) -> tuple[FloppyFormat, bool]:
    """The format serving a floppy image of ``size`` bytes and whether it is padded."""
    fmt = FLOPPY_FORMATS.get(size)
    if fmt is not None:
        return fmt, False
    if size > MAX_FLOPPY_BYTES:
        raise DiskImageError(
            f"{name}: {size} bytes is too big for a floppy (largest: 2.88M = "
            f"{MAX_FLOPPY_BYTES} bytes)"
        )
    _check_whole_sectors(name, size)
    return (_F1440 if size <= _F1440.size_bytes else _F2880), True


def _check_whole_sectors(name: str, size: int) -> None:
    if size % SECTOR_SIZE:
        raise DiskImageError(
            f"{name}: {size} bytes is not a floppy size (160K..2.88M) nor a whole number "
            f"of {SECTOR_SIZE}-byte sectors"
        )


def _guess_kind(size: int, first: bytes) -> Kind:
    if size in FLOPPY_FORMATS:
        return "floppy"
    if size <= MAX_FLOPPY_BYTES and first[510:512] == BOOT_SIGNATURE:
        return "floppy"
    return "hdd"


_KINDS = ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"),
          (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
          (stat.S_ISSOCK, "socket"), (stat.S_ISLNK, "symbolic link"))


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, for messages: "regular file", "FIFO",
    "character device", "block device", "socket", "directory", "symbolic link"."""
    if stat.S_ISREG(mode):
        return "regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "special file")


def not_regular(what: str, path: object, mode: int) -> str:
    """The message for a file that must be a regular one and is not."""
    return f"{what} '{path}' is not a regular file ({file_kind(mode)})"


def check_regular(path: str | os.PathLike[str], what: str = "disk") -> os.stat_result:
    """``os.stat`` of an image that must be a regular file (a FIFO would block the
    opener, a device never ends): :class:`DiskImageError` naming the path otherwise
    ("disk '/dev/zero' is not a regular file (character device)"), or when it is missing
    or its name is unusable (too long, a NUL byte)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ImageMissingError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DiskImageError(f"{what} '{str(path)[:200]}': cannot use the path ({why})"
                             ) from None
    if stat.S_ISDIR(st.st_mode):
        raise DiskImageError(f"{path}: is a directory, not a {what} image")
    if not stat.S_ISREG(st.st_mode):
        raise DiskImageError(not_regular(what, path, st.st_mode))
    return st


def open_regular(path: str | os.PathLike[str], flags: int, what: str = "disk",
                 mode: int = 0o666) -> int:
    """``os.open`` that never blocks on a FIFO or device and returns only a regular file:
    opened with ``O_NONBLOCK``, checked with ``fstat`` (no race with a swapped file),
    then ``O_NONBLOCK`` cleared.  OSError otherwise; for a file that is not regular its
    ``strerror`` is :func:`not_regular`'s message."""
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), mode)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, not_regular(what, path, st.st_mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_fd(name: str, path: Path, read_only: bool, fallback: bool) -> tuple[int, bool]:
    binary = getattr(os, "O_BINARY", 0)
    if not read_only:
        try:
            return open_regular(path, os.O_RDWR | binary), False
        except OSError as exc:
            if not fallback:
                raise DiskImageError(
                    f"{name}: cannot open for writing ({exc.strerror}); "
                    "attach it read-only instead"
                ) from exc
            log.warning("%s: cannot open for writing (%s); using it read-only", name,
                        exc.strerror)
    try:
        return open_regular(path, os.O_RDONLY | binary), True
    except OSError as exc:
        raise DiskImageError(f"{name}: cannot open ({exc.strerror})") from exc


class DiskImage:
    """One raw image file served as a disk of :attr:`total_sectors` 512-byte sectors."""

    def __init__(self, path: Path, fd: int, kind: Kind, geometry: Geometry,
                 file_bytes: int, read_only: bool, drive_type: int) -> None:
        self.path = path
        self.kind: Kind = kind
        self.heads = geometry.heads
        self.sectors_per_track = geometry.sectors
        self.full_cylinders = geometry.cylinders
        self.cylinders = min(geometry.cylinders, MAX_CHS_CYLINDERS)
        self.file_bytes = file_bytes
        if kind == "floppy":
            self.total_sectors = geometry.cylinders * geometry.heads * geometry.sectors
        else:
            self.total_sectors = file_bytes // SECTOR_SIZE
        self.size_bytes = self.total_sectors * SECTOR_SIZE
        self.read_only = read_only
        self.drive_type = drive_type
        self._fd: int | None = fd
        self._file_sectors = file_bytes // SECTOR_SIZE
        self._overlay: dict[int, bytes] = {}  # padded floppies: sectors past the file's end

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, kind: Kind | None = None,
             read_only: bool = False, read_only_fallback: bool = False) -> DiskImage:
        """Open and validate a raw image; raises :class:`DiskImageError` naming the problem.

        ``kind`` None guesses from the size (and a boot signature for small odd sizes).
        ``read_only_fallback`` opens read-only (with a warning) when writing is refused.
        """
        if kind not in (None, "floppy", "hdd"):
            raise DiskImageError(f"{path}: kind must be 'floppy', 'hdd' or None, not {kind!r}")
        p = Path(path)
        name = str(path)
        check_regular(p)  # before opening: a FIFO or device is never opened
        fd, ro = _open_fd(name, p, read_only, read_only_fallback)
        try:
            size = os.fstat(fd).st_size  # of the file opened, not of the name
            if size == 0:
                raise DiskImageError(f"{name}: the file is empty (0 bytes)")
            if kind != "floppy" and size not in FLOPPY_FORMATS:
                _check_whole_sectors(name, size)
            first = os.pread(fd, SECTOR_SIZE, 0)
            return cls._build(p, name, fd, kind or _guess_kind(size, first), size, first, ro)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def open_overlay(cls, path: str | os.PathLike[str], *, kind: Kind | None = None,
                     read_only: bool = False) -> DiskImage:
        """Open a copy-on-write overlay (``docs/overlay-format.md``) and its chain as a disk.

        Geometry follows from the overlay's virtual size by the same rules as a raw image
        of that size; sector I/O goes through the chain.  Raises :class:`DiskImageError`
        (:class:`vmgui.storage.overlay.OverlayError` is one) naming the problem.
        """
        from vmgui.storage.overlay_disk import OverlayDiskImage  # it imports this module

        return OverlayDiskImage.open_chain(path, kind=kind, read_only=read_only)

    @classmethod
    def _build(cls, p: Path, name: str, fd: int, kind: Kind, size: int, first: bytes,
               ro: bool) -> DiskImage:
        if kind == "floppy":
            fmt, padded = _floppy_for_size(name, size)
            geo = Geometry(fmt.cylinders, fmt.heads, fmt.sectors)
            if padded:
                log.info(
                    "%s: %d-byte image served as a padded %s floppy: sectors past the "
                    "file's end read as zeros, writes there stay in memory (the file "
                    "never grows)", name, size, fmt.label)
            return cls(p, fd, "floppy", geo, size, ro, fmt.drive_type)
        total = size // SECTOR_SIZE
        geo = _mbr_geometry(first, total) or _size_geometry(total)
        return cls(p, fd, "hdd", geo, size, ro, DriveType.NONE)

    # ------------------------------------------------------------------ geometry

    @property
    def padded(self) -> bool:
        """True when the disk is bigger than its file (a padded floppy)."""
        return self.total_sectors > self._file_sectors

    def chs_to_lba(self, cylinder: int, head: int, sector: int) -> int:
        """LBA of a 1-based ``sector`` on ``cylinder``/``head`` (not range-checked
        against the disk's end; head and sector must fit the geometry)."""
        if not 1 <= sector <= self.sectors_per_track or not 0 <= head < self.heads:
            raise DiskImageError(
                f"{self.path}: C/H/S {cylinder}/{head}/{sector} does not fit the geometry "
                f"{self.cylinders}/{self.heads}/{self.sectors_per_track}"
            )
        return (cylinder * self.heads + head) * self.sectors_per_track + sector - 1

    # ------------------------------------------------------------------ I/O

    def _fd_or_raise(self) -> int:
        if self._fd is None:
            raise DiskImageError(f"{self.path}: image is closed")
        return self._fd

    def _check_range(self, lba: int, count: int) -> None:
        if lba < 0 or count < 0 or lba + count > self.total_sectors:
            raise SectorRangeError(
                f"{self.path}: sectors {lba}..{lba + count - 1} beyond end of disk "
                f"({self.total_sectors} sectors)"
            )

    def _read_at(self, fd: int, size: int, offset: int) -> bytes:
        """``size`` bytes of the disk's backing store at ``offset`` (a subclass may serve
        another store, e.g. :class:`vmgui.storage.overlay_disk.OverlayDiskImage`)."""
        return os.pread(fd, size, offset)

    def _write_at(self, fd: int, data: bytes, offset: int) -> None:
        os.pwrite(fd, data, offset)

    def read_sectors(self, lba: int, count: int) -> bytes:
        fd = self._fd_or_raise()
        self._check_range(lba, count)
        in_file = max(0, min(lba + count, self._file_sectors) - lba)
        data = self._read_at(fd, in_file * SECTOR_SIZE, lba * SECTOR_SIZE) if in_file else b""
        if len(data) < in_file * SECTOR_SIZE:  # file shrank under us: read as zeros
            data = data.ljust(in_file * SECTOR_SIZE, b"\0")
        if in_file == count:
            return data
        zero = bytes(SECTOR_SIZE)
        tail = (self._overlay.get(s, zero) for s in range(lba + in_file, lba + count))
        return data + b"".join(tail)

    def write_sectors(self, lba: int, data: bytes) -> None:
        fd = self._fd_or_raise()
        if self.read_only:
            raise ReadOnlyError(f"{self.path}: image is read-only")
        if len(data) % SECTOR_SIZE:
            raise DiskImageError(
                f"{self.path}: write of {len(data)} bytes is not whole sectors")
        count = len(data) // SECTOR_SIZE
        self._check_range(lba, count)
        in_file = max(0, min(lba + count, self._file_sectors) - lba)
        if in_file:
            self._write_at(fd, data[: in_file * SECTOR_SIZE], lba * SECTOR_SIZE)
        if in_file < count and not self._overlay:
            log.info("%s: writes past the file's end are kept in memory only", self.path)
        for i in range(in_file, count):
            self._overlay[lba + i] = bytes(data[i * SECTOR_SIZE : (i + 1) * SECTOR_SIZE])

    def flush(self) -> None:
        """Make written sectors durable (writes reach the OS at once; this syncs them)."""
        if self._fd is not None and not self.read_only:
            os.fsync(self._fd)

    def close(self) -> None:
        """Flush and release the file; idempotent."""
        if self._fd is None:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DiskImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        ro = " ro" if self.read_only else ""
        return (f"<DiskImage {self.path} {self.kind} {self.cylinders}/{self.heads}/"
                f"{self.sectors_per_track} {self.total_sectors} sectors{ro}>")
