"""Copy-on-write disk overlays in vmgui's own format (snapshots and try-out mode).

Owns: :class:`Overlay` (one open overlay file and, below it, the chain of overlays ending
in a raw base image), :func:`merge_into_base`, :func:`discard`, :func:`rebase`, the base
identity rule (:func:`base_identity`) and :class:`OverlayDiskImage`, the
:class:`~vmgui.storage.image.DiskImage` through which the BIOS (int 13h) uses an overlay.
The file format, its crash guarantees and what damage is detected are specified in
``docs/overlay-format.md``; this module follows it.  Ideas from QEMU's qcow2 (a header
naming the backing file, a block table, data appended as written), kept much simpler.

Thread rules: an :class:`Overlay` is used by one thread at a time (the VM's emulation
thread, or the manager's thread while the VM is off); it holds OS file descriptors for
itself and its whole chain until :meth:`Overlay.close`.  Nothing locks the files: the
caller must not write to an overlay that is the base of another one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import zlib
from pathlib import Path, PurePosixPath

from vmgui.storage.image import DiskImage, DiskImageError, Kind, ReadOnlyError

log = logging.getLogger(__name__)

MAGIC = b"VMGUICOW"
VERSION = 1
DEFAULT_BLOCK_SIZE = 65536
HEADER_AREA = 4096  # the header (with its base path) fits here; the table follows
_FIXED = struct.Struct("<8sIIIIQQQQQ32sB3xH")  # see docs/overlay-format.md, "Header"
_ENTRY = struct.Struct("<QII")  # word (offset | flags), data CRC32, entry CRC32
_ENTRY_KEY = struct.Struct("<QQI")  # block index, word, data CRC32: what the entry CRC covers
ENTRY_SIZE = _ENTRY.size
_ZERO_ENTRY = bytes(ENTRY_SIZE)
FLAG_UNCHECKED = 1  # the block was rewritten in place since its CRC was last stored
STATE_NORMAL, STATE_MERGING = 0, 1
BASE_RAW, BASE_OVERLAY = 0, 1
SAMPLE_EDGE = 1 << 20  # raw identity: first and last MiB ...
SAMPLE_COUNT, SAMPLE_SIZE = 64, 4096  # ... and 64 evenly spaced 4 KiB blocks
_BINARY = getattr(os, "O_BINARY", 0)


class OverlayError(DiskImageError):
    """An overlay cannot be created, opened or used; the message names the files."""


class OverlayDamagedError(OverlayError):
    """A checksum in an overlay does not match: the file was damaged or changed."""


class BaseChangedError(OverlayError):
    """An overlay's base no longer matches the identity recorded when it was made."""


def _align(n: int, to: int) -> int:
    return -(-n // to) * to


def is_overlay(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the overlay magic."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


# ---------------------------------------------------------------------- header


class Header:
    """The decoded header fields (docs/overlay-format.md, "Header")."""

    def __init__(self, *, block_size: int, virtual_size: int, base_path: str,
                 base_kind: int, base_size: int, base_id: bytes,
                 state: int = STATE_NORMAL) -> None:
        self.block_size = block_size
        self.virtual_size = virtual_size
        self.base_path = base_path
        self.base_kind = base_kind
        self.base_size = base_size
        self.base_id = base_id
        self.state = state
        self.block_count = -(-virtual_size // block_size)
        self.table_offset = HEADER_AREA
        self.data_offset = _align(HEADER_AREA + self.block_count * ENTRY_SIZE, 4096)

    def pack(self) -> bytes:
        path = self.base_path.encode("utf-8")
        size = _FIXED.size + len(path) + 4
        if size > HEADER_AREA:
            raise OverlayError(f"base path too long for an overlay header: {self.base_path}")
        fixed = _FIXED.pack(MAGIC, VERSION, size, self.block_size, self.state,
                            self.virtual_size, self.table_offset, self.block_count,
                            self.data_offset, self.base_size, self.base_id, self.base_kind,
                            len(path))
        body = fixed + path
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def unpack(cls, name: str, raw: bytes) -> Header:
        if raw[:8] != MAGIC:
            raise OverlayError(f"{name}: not a vmgui overlay (bad magic)")
        version, size = struct.unpack_from("<II", raw, 8)
        if not _FIXED.size + 4 <= size <= min(len(raw), HEADER_AREA):
            raise OverlayDamagedError(f"{name}: the overlay header is damaged (bad length)")
        (crc,) = struct.unpack_from("<I", raw, size - 4)
        if zlib.crc32(raw[: size - 4]) != crc:
            raise OverlayDamagedError(
                f"{name}: the overlay header is damaged (header checksum mismatch)")
        if version > VERSION:
            raise OverlayError(
                f"{name}: made by a newer vmgui (overlay format version {version}; this "
                f"version reads up to {VERSION}); update vmgui to use it")
        (_, _, _, bs, state, vsize, t_off, count, d_off, bsize, bid, bkind,
         plen) = _FIXED.unpack_from(raw)
        path = raw[_FIXED.size : _FIXED.size + plen].decode("utf-8", "replace")
        h = cls(block_size=bs, virtual_size=vsize, base_path=path, base_kind=bkind,
                base_size=bsize, base_id=bid, state=state)
        if (bs % 512 or not bs or state not in (STATE_NORMAL, STATE_MERGING)
                or bkind not in (BASE_RAW, BASE_OVERLAY)
                or (t_off, count, d_off) != (h.table_offset, h.block_count, h.data_offset)):
            raise OverlayDamagedError(f"{name}: the overlay header is inconsistent")
        return h


def _read_header(name: str, fd: int) -> Header:
    return Header.unpack(name, os.pread(fd, HEADER_AREA, 0))


def _write_header(fd: int, header: Header) -> None:
    os.pwrite(fd, header.pack(), 0)
    os.fsync(fd)


# ---------------------------------------------------------------------- identity


def raw_identity(fd: int, size: int) -> bytes:
    """sha256 over a raw image's size and sparse samples (trade-off: docs, "Base identity")."""
    h = hashlib.sha256(b"raw" + size.to_bytes(8, "little"))
    if size <= 2 * SAMPLE_EDGE + SAMPLE_COUNT * SAMPLE_SIZE:
        spans = [(0, size)]
    else:
        step = (size - SAMPLE_SIZE) // (SAMPLE_COUNT - 1)
        spans = [(0, SAMPLE_EDGE), (size - SAMPLE_EDGE, SAMPLE_EDGE)]
        spans += [(i * step, SAMPLE_SIZE) for i in range(SAMPLE_COUNT)]
    for offset, length in spans:
        h.update(os.pread(fd, length, offset))
    return h.digest()


def base_identity(path: Path) -> tuple[int, int, bytes]:
    """(kind, size, identity) of a would-be base: a raw image or another overlay."""
    try:
        fd = os.open(path, os.O_RDONLY | _BINARY)
    except OSError as exc:
        raise OverlayError(f"{path}: cannot open ({exc.strerror})") from exc
    try:
        if os.pread(fd, len(MAGIC), 0) == MAGIC:
            header = _read_header(str(path), fd)
            table = os.pread(fd, header.block_count * ENTRY_SIZE, header.table_offset)
            return BASE_OVERLAY, header.virtual_size, _overlay_identity(header, table)
        size = os.fstat(fd).st_size
        return BASE_RAW, size, raw_identity(fd, size)
    finally:
        os.close(fd)


def _overlay_identity(header: Header, table: bytes) -> bytes:
    h = hashlib.sha256(b"cow" + struct.pack("<QI", header.virtual_size, header.block_size))
    h.update(header.base_id)
    h.update(table)
    return h.digest()


# ---------------------------------------------------------------------- layers


class _RawBase:
    """The raw image at the bottom of a chain, read-only (or writable for a merge)."""

    def __init__(self, path: Path, size: int, writable: bool = False) -> None:
        flags = (os.O_RDWR if writable else os.O_RDONLY) | _BINARY
        try:
            self.fd: int | None = os.open(path, flags)
        except OSError as exc:
            raise OverlayError(f"{path}: cannot open ({exc.strerror})") from exc
        self.path = path
        self.size = size

    def read(self, offset: int, size: int) -> bytes:
        data = os.pread(self.fd, size, offset)
        return data if len(data) == size else data.ljust(size, b"\0")

    def write(self, offset: int, data: bytes) -> None:
        os.pwrite(self.fd, data, offset)

    def chain(self) -> list[Path]:
        return [self.path]

    def flush(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _resolve_base(path: Path, stored: str) -> Path:
    p = Path(stored)
    return p if p.is_absolute() else path.parent / p


def _stored_base_path(overlay: Path, base: Path) -> str:
    """The base path relative to the overlay's folder when it lives there or below."""
    folder, target = overlay.resolve().parent, base.resolve()
    try:
        return PurePosixPath(*target.relative_to(folder).parts).as_posix()
    except ValueError:
        return str(target)


class Overlay:
    """One open overlay file; reads fall through its chain to the raw base, else zeros."""

    def __init__(self, path: Path, fd: int, header: Header, base: Overlay | _RawBase,
                 read_only: bool) -> None:
        self.path = path
        self.header = header
        self.block_size = header.block_size
        self.size = header.virtual_size
        self.read_only = read_only
        self.base = base
        self._fd: int | None = fd
        self._table: list[int] = [0] * header.block_count  # file offset, 0 = not here
        self._crc: list[int] = [0] * header.block_count
        self._unchecked = bytearray(header.block_count)  # FLAG_UNCHECKED on disk
        self._verified = bytearray(header.block_count)  # CRC checked this session
        self._dirty: set[int] = set()  # rewritten in place since the last flush
        self._end = header.data_offset  # where the next new block goes

    # ------------------------------------------------------------------ open / create

    @classmethod
    def create(cls, path: str | os.PathLike[str], base: str | os.PathLike[str],
               block_size: int = DEFAULT_BLOCK_SIZE) -> Overlay:
        """Make a new, empty overlay over ``base`` (a raw image or an overlay) and open it.

        Written to a temporary file, synced, then renamed: a crash leaves no half file.
        """
        path, base = Path(path), Path(base)
        if not 512 <= block_size <= 1 << 24 or block_size % 512:
            raise OverlayError(f"{path}: block size {block_size} is not a multiple of 512 "
                               "between 512 and 16 MiB")
        if path.exists():
            raise OverlayError(f"{path}: already exists; remove it first")
        if not base.is_file():
            raise OverlayError(f"{path}: its base {base} is missing")
        if base.resolve() == path.resolve():
            raise OverlayError(f"{path}: cannot be its own base")
        if is_overlay(base):
            Overlay.open(base, read_only=True).close()  # a damaged base is refused now
        kind, size, ident = base_identity(base)
        if size == 0:
            raise OverlayError(f"{path}: its base {base} is empty")
        header = Header(block_size=block_size, virtual_size=size, base_kind=kind,
                        base_path=_stored_base_path(path, base), base_size=size,
                        base_id=ident)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | _BINARY, 0o644)
        try:
            os.ftruncate(fd, header.data_offset)  # a zero (empty) table
            _write_header(fd, header)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _sync_dir(path.parent)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str], read_only: bool = False) -> Overlay:
        """Open an overlay and its chain, verifying headers, tables and base identities."""
        return cls._open(Path(path), read_only, merging_ok=False)

    @classmethod
    def _open(cls, path: Path, read_only: bool, merging_ok: bool) -> Overlay:
        name = str(path)
        if not path.is_file():
            raise OverlayError(f"{name}: no such overlay file")
        try:
            fd = os.open(path, (os.O_RDONLY if read_only else os.O_RDWR) | _BINARY)
        except OSError as exc:
            raise OverlayError(f"{name}: cannot open ({exc.strerror})") from exc
        try:
            header = _read_header(name, fd)
            if header.state == STATE_MERGING and not merging_ok:
                raise OverlayError(
                    f"{name}: a merge into its base {header.base_path} was interrupted; "
                    "finish it with merge_into_base (or discard the overlay)")
            table = os.pread(fd, header.block_count * ENTRY_SIZE, header.table_offset)
            base = cls._open_base(path, header, check=header.state != STATE_MERGING)
        except BaseException:
            os.close(fd)
            raise
        ov = cls(path, fd, header, base, read_only)
        try:
            ov._load_table(table, os.fstat(fd).st_size)
        except BaseException:
            ov.close()
            raise
        return ov

    @classmethod
    def _open_base(cls, path: Path, header: Header, check: bool) -> Overlay | _RawBase:
        base_path = _resolve_base(path, header.base_path)
        label = f"{path.name}: its base {header.base_path}"
        if not base_path.is_file():
            raise OverlayError(f"{label} is missing (looked for {base_path})")
        if check:
            kind, size, ident = base_identity(base_path)
            if (kind, size, ident) != (header.base_kind, header.base_size, header.base_id):
                raise BaseChangedError(
                    f"{label} has changed since the overlay was made (identity mismatch)")
        if header.base_kind == BASE_OVERLAY:
            return cls.open(base_path, read_only=True)
        return _RawBase(base_path, header.base_size)

    def _load_table(self, table: bytes, file_size: int) -> None:
        name, seen = str(self.path), set()
        if len(table) != self.header.block_count * ENTRY_SIZE:
            raise OverlayDamagedError(f"{name}: the block table is cut short")
        for b, (word, dcrc, ecrc) in enumerate(_ENTRY.iter_unpack(table)):
            if not word and not dcrc and not ecrc:
                continue
            offset = word & ~0x1FF
            if (zlib.crc32(_ENTRY_KEY.pack(b, word, dcrc)) != ecrc
                    or offset < self.header.data_offset or word & 0x1FE
                    or (offset - self.header.data_offset) % self.block_size or offset in seen):
                raise OverlayDamagedError(
                    f"{name}: the block table is damaged (entry for block {b})")
            seen.add(offset)
            self._table[b], self._crc[b] = offset, dcrc
            self._unchecked[b] = word & FLAG_UNCHECKED
            if self._unchecked[b] and not self.read_only:
                self._dirty.add(b)  # left by a crash: the next flush stores its CRC
            self._end = max(self._end, offset + self.block_size)
        if file_size < self._end:
            log.warning("%s: the file ends before its last block (cut short by a crash?); "
                        "reading that block will report damage", name)

    # ------------------------------------------------------------------ I/O

    def _fd_or_raise(self) -> int:
        if self._fd is None:
            raise OverlayError(f"{self.path}: overlay is closed")
        return self._fd

    def _check_range(self, offset: int, size: int) -> None:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise OverlayError(f"{self.path}: bytes {offset}..{offset + size - 1} beyond the "
                               f"end of the disk ({self.size} bytes)")

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes of the disk as seen through the chain."""
        fd = self._fd
        if fd is None or offset < 0 or size < 0 or offset + size > self.size:
            self._fd_or_raise()
            self._check_range(offset, size)
        bs = self.block_size
        b, off = divmod(offset, bs)
        if off + size <= bs:  # the common case (kept lean): inside one block
            pos = self._table[b]
            if not pos:
                return self.base.read(offset, size)
            if not self._verified[b]:
                self._verify(b)
            return os.pread(fd, size, pos + off)
        parts, end = [], offset + size
        while offset < end:
            b, off = divmod(offset, bs)
            n = min(bs - off, end - offset)
            if self._table[b]:
                parts.append(self.read(offset, n))
            else:  # one base read for the whole run of blocks not in this layer
                while offset + n < end and not self._table[(offset + n) // bs]:
                    n = min(n + bs, end - offset)
                parts.append(self.base.read(offset, n))
            offset += n
        return b"".join(parts)

    def write(self, offset: int, data: bytes) -> None:
        """Write ``data`` into this layer; partial blocks are completed from below."""
        fd = self._fd_or_raise()
        if self.read_only:
            raise ReadOnlyError(f"{self.path}: overlay is read-only")
        self._check_range(offset, len(data))
        bs = self.block_size
        b, off = divmod(offset, bs)
        pos = self._table[b]
        if pos and b in self._dirty and off + len(data) <= bs:  # lean common case
            os.pwrite(fd, data, pos + off)
            return
        view, done = memoryview(data), 0
        while done < len(data):
            b, off = divmod(offset + done, bs)
            n = min(bs - off, len(data) - done)
            piece = view[done : done + n]
            pos = self._table[b]
            if pos:
                if b not in self._dirty:
                    self._mark_dirty(b)
                os.pwrite(fd, piece, pos + off)
            else:
                self._allocate(b, off, piece)
            done += n

    def _allocate(self, b: int, off: int, piece: memoryview) -> None:
        """Append block ``b`` (data first, then its table entry: docs, "Crash safety")."""
        bs = self.block_size
        if off == 0 and len(piece) == bs:
            block = bytes(piece)
        else:
            start = b * bs
            below = bytearray(self.base.read(start, min(bs, self.size - start)).ljust(bs, b"\0"))
            below[off : off + len(piece)] = piece
            block = bytes(below)
        pos, self._end = self._end, self._end + bs
        os.pwrite(self._fd, block, pos)
        self._put_entry(b, pos, zlib.crc32(block), 0)
        self._verified[b] = 1

    def _put_entry(self, b: int, pos: int, dcrc: int, flags: int) -> None:
        word = pos | flags
        entry = _ENTRY.pack(word, dcrc, zlib.crc32(_ENTRY_KEY.pack(b, word, dcrc)))
        os.pwrite(self._fd, entry, self.header.table_offset + b * ENTRY_SIZE)
        self._table[b], self._crc[b], self._unchecked[b] = pos, dcrc, flags

    def _mark_dirty(self, b: int) -> None:
        if not self._verified[b]:
            self._verify(b)  # damage found now is not hidden by the flag
        if not self._unchecked[b]:
            self._put_entry(b, self._table[b], 0, FLAG_UNCHECKED)
        self._dirty.add(b)

    def _verify(self, b: int) -> None:
        data = os.pread(self._fd, self.block_size, self._table[b])
        if len(data) != self.block_size or (
                not self._unchecked[b] and zlib.crc32(data) != self._crc[b]):
            start = b * self.block_size
            raise OverlayDamagedError(
                f"{self.path}: block {b} (disk bytes {start}..{start + self.block_size - 1}) "
                "is damaged (data checksum mismatch)")
        self._verified[b] = 1

    def _block_data(self, b: int) -> bytes:
        """This layer's copy of block ``b``, verified (it must be allocated here)."""
        if not self._verified[b]:
            self._verify(b)
        return os.pread(self._fd, self.block_size, self._table[b])

    # ------------------------------------------------------------------ life cycle

    def allocated_blocks(self) -> list[int]:
        """Indexes of the blocks stored in this layer."""
        return [b for b, pos in enumerate(self._table) if pos]

    def chain(self) -> list[Path]:
        """This overlay, the overlays below it, then the raw base: top first."""
        return [self.path, *self.base.chain()]

    def flush(self) -> None:
        """Store the CRCs of blocks rewritten in place, then fsync: all writes durable."""
        if self._fd is None or self.read_only:
            return
        for b in sorted(self._dirty):
            data = os.pread(self._fd, self.block_size, self._table[b])
            self._put_entry(b, self._table[b], zlib.crc32(data), 0)
        self._dirty.clear()
        os.fsync(self._fd)

    def close(self) -> None:
        """Flush and release this overlay and its chain; idempotent."""
        if self._fd is None:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = None
            self.base.close()

    def __enter__(self) -> Overlay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        ro = " ro" if self.read_only else ""
        return (f"<Overlay {self.path} {self.size} bytes, {len(self.allocated_blocks())} of "
                f"{self.header.block_count} blocks here, base {self.header.base_path}{ro}>")


# ---------------------------------------------------------------------- operations


def _sync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every OS (Windows); the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def merge_into_base(overlay_path: str | os.PathLike[str], *, remove: bool = True) -> Path:
    """Commit an overlay's blocks down into its base; returns the base's path.

    Order (docs, "Merging"): verify every block, mark the header MERGING (synced), copy
    the blocks, sync the base, then (``remove``) delete the overlay.  Re-running after a
    crash finishes the job.  The base must not be the base of any other overlay; after
    merging, overlays that were on top of this one must be :func:`rebase`\\ d onto the base.
    """
    path = Path(overlay_path)
    with Overlay._open(path, read_only=False, merging_ok=True) as ov:
        blocks = ov.allocated_blocks()
        if ov.header.state != STATE_MERGING:
            for b in blocks:
                ov._block_data(b)  # refuse to merge damaged data
            ov.flush()
            ov.header.state = STATE_MERGING
            _write_header(ov._fd, ov.header)
        base_path = ov.base.path
        ov.base.close()
        if ov.header.base_kind == BASE_OVERLAY:
            target: Overlay | _RawBase = Overlay.open(base_path)
        else:
            target = _RawBase(base_path, ov.header.base_size, writable=True)
        try:
            for b in blocks:
                start = b * ov.block_size
                target.write(start, ov._block_data(b)[: ov.size - start])
            target.flush()
        finally:
            target.close()
    if remove:
        discard(path)
    return base_path


def discard(overlay_path: str | os.PathLike[str]) -> None:
    """Delete an overlay (throwing its writes away); refuses files that are not overlays."""
    path = Path(overlay_path)
    if not path.exists():
        return
    if not is_overlay(path):
        raise OverlayError(f"{path}: not a vmgui overlay; not deleting it")
    path.unlink()
    _sync_dir(path.parent)


def rebase(overlay_path: str | os.PathLike[str], new_base: str | os.PathLike[str]) -> None:
    """Point an overlay at ``new_base`` and record its identity (one synced header write).

    Only correct when ``new_base`` reads exactly like the old base, e.g. the old base was
    just merged into ``new_base`` (snapshot deletion).  Sizes must match.
    """
    path, new_base = Path(overlay_path), Path(new_base)
    fd = os.open(path, os.O_RDWR | _BINARY)
    try:
        header = _read_header(str(path), fd)
        kind, size, ident = base_identity(new_base)
        if size != header.virtual_size:
            raise OverlayError(f"{path}: cannot rebase onto {new_base}: it is {size} bytes, "
                               f"the overlay {header.virtual_size}")
        header.base_path = _stored_base_path(path, new_base)
        header.base_kind, header.base_size, header.base_id = kind, size, ident
        _write_header(fd, header)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- BIOS adapter


class OverlayDiskImage(DiskImage):
    """A :class:`DiskImage` whose sectors live in an overlay chain (for int 13h).

    Geometry comes from the virtual size by the raw-image rules; :attr:`overlay` is the
    open :class:`Overlay`.
    """

    overlay: Overlay

    @classmethod
    def open_chain(cls, path: str | os.PathLike[str], *, kind: Kind | None = None,
                   read_only: bool = False) -> OverlayDiskImage:
        from vmgui.storage.image import FLOPPY_FORMATS, _check_whole_sectors, _guess_kind

        ov = Overlay.open(path, read_only=read_only)
        try:
            name, size = str(path), ov.size
            if kind not in (None, "floppy", "hdd"):
                raise OverlayError(f"{name}: kind must be 'floppy', 'hdd' or None, not {kind!r}")
            if kind != "floppy" and size not in FLOPPY_FORMATS:
                _check_whole_sectors(name, size)
            first = ov.read(0, min(512, size))
            img = cls._build(Path(path), name, ov._fd, kind or _guess_kind(size, first),
                             size, first, read_only)
        except BaseException:
            ov.close()
            raise
        img.overlay = ov
        return img

    def _read_at(self, fd: int, size: int, offset: int) -> bytes:
        return self.overlay.read(offset, size)

    def _write_at(self, fd: int, data: bytes, offset: int) -> None:
        self.overlay.write(offset, data)

    def flush(self) -> None:
        if self._fd is not None:
            self.overlay.flush()

    def close(self) -> None:
        if self._fd is not None:
            self._fd = None
            self.overlay.close()
