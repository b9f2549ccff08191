"""Copy-on-write disk overlays in vmgui's own format (snapshots and try-out mode).

Owns: :class:`Overlay` (one open overlay file and, below it, the chain of overlays ending
in a raw base image), :func:`merge_into_base`, :func:`discard`, :func:`rebase` (the
:class:`~vmgui.storage.image.DiskImage` through which the BIOS uses an overlay is
:class:`vmgui.storage.overlay_disk.OverlayDiskImage`).  The file format, its crash
guarantees and what damage is detected are specified in ``docs/overlay-format.md``; the
layout code is in :mod:`vmgui.storage.overlay_format`.  Ideas from QEMU's qcow2 (a header
naming the backing file, a block table, data appended as written, sub-cluster
allocation), kept much simpler.

Each block of the virtual disk is 16 chunks (4 KiB with the default 64 KiB blocks).  A
chunk is the unit of copy-on-write and of checking: a first write fills only the chunks
it touches (no 64 KiB read-modify-write), and a first read checks only the chunks it
reads.  The checks are XXH3 (tens of GB/s), so checking costs a few percent of a read.

Thread rules: an :class:`Overlay` is used by one thread at a time (the VM's emulation
thread, or the manager's thread while the VM is off); it holds OS file descriptors for
itself and its whole chain until :meth:`Overlay.close`.  Nothing locks the files: the
caller must not write to an overlay that is the base of another one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath

from xxhash import xxh3_64_intdigest

from vmgui.storage.image import ReadOnlyError
from vmgui.storage.overlay_format import (  # noqa: F401  (re-exported for callers)
    BASE_OVERLAY,
    BASE_RAW,
    BINARY,
    CHUNKS,
    DEFAULT_BLOCK_SIZE,
    ENTRY_SIZE,
    HEADER_AREA,
    MAGIC,
    STATE_MERGING,
    STATE_NORMAL,
    VERSION,
    BaseChangedError,
    Entry,
    Header,
    OverlayDamagedError,
    OverlayError,
    base_identity,
    check32,
    check_block_size,
    chunk_runs,
    is_overlay,
    must_be_overlay,
    open_layer_file,
    pack_entry,
    read_header,
    read_table,
    unpack_table,
    write_header,
)

log = logging.getLogger(__name__)

RESERVE_STEP = 4 << 20  # file space allocated ahead of new slots


class _RawBase:
    """The raw image at the bottom of a chain, read-only (or writable for a merge)."""

    def __init__(self, path: Path, size: int, writable: bool = False) -> None:
        flags = (os.O_RDWR if writable else os.O_RDONLY) | BINARY
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


def _bits(mask: int) -> list[int]:
    return [c for c in range(CHUNKS) if mask >> c & 1]


class Overlay:
    """One open overlay file; reads fall through its chain to the raw base, else zeros.

    Per block ``b`` (lists indexed by block): ``_pos`` the slot's file offset (0: no slot
    here), ``_present`` / ``_unchecked`` the chunk masks as on disk, ``_verified`` the
    chunks whose data was checked (or written) this session; ``_checks[b]`` the 16 chunk
    checks, kept current in memory for rewritten chunks whose new check is known;
    ``_stale[b]`` rewritten chunks whose check must be recomputed from the file at the
    next flush (partial rewrites, a crash's leftovers); ``_dirty`` the blocks with
    UNCHECKED chunks, whose entries the next flush rewrites.
    """

    def __init__(self, path: Path, fd: int, header: Header, base: Overlay | _RawBase,
                 read_only: bool) -> None:
        count = header.block_count
        self.path = path
        self.header = header
        self.block_size = header.block_size
        self.chunk_size = header.chunk_size
        self.size = header.virtual_size
        self.read_only = read_only
        self.base = base
        self._base_read = base.read
        self._fd: int | None = fd
        self._pos: list[int] = [0] * count
        self._present: list[int] = [0] * count
        self._unchecked: list[int] = [0] * count
        self._verified: list[int] = [0] * count
        self._checks: dict[int, list[int]] = {}
        self._stale: dict[int, int] = {}
        self._dirty: set[int] = set()
        self._end = header.data_offset  # where the next new slot goes
        self._reserved = 0  # file space allocated ahead up to here (see _reserve)

    # ------------------------------------------------------------------ open / create

    @classmethod
    def create(cls, path: str | os.PathLike[str], base: str | os.PathLike[str],
               block_size: int = DEFAULT_BLOCK_SIZE) -> Overlay:
        """Make a new, empty overlay over ``base`` (a raw image or an overlay) and open it.

        Written to a temporary file, synced, then renamed: a crash leaves no half file.
        """
        path, base = Path(path), Path(base)
        check_block_size(path, block_size)
        if path.exists():
            raise OverlayError(f"{path}: already exists; remove it first")
        if not base.is_file():
            raise OverlayError(f"{path}: its base {base} is missing")
        if base.resolve() == path.resolve():
            raise OverlayError(f"{path}: cannot be its own base")
        if must_be_overlay(base):
            Overlay.open(base, read_only=True).close()  # a damaged base is refused now
        kind, size, ident = base_identity(base)
        if size == 0:
            raise OverlayError(f"{path}: its base {base} is empty")
        header = Header(block_size=block_size, virtual_size=size, base_kind=kind,
                        base_path=_stored_base_path(path, base), base_size=size,
                        base_id=ident)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | BINARY, 0o644)
        try:
            os.ftruncate(fd, header.data_offset)  # a zero (empty) table
            write_header(fd, header)
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
        fd = open_layer_file(path, os.O_RDONLY if read_only else os.O_RDWR)
        try:
            header = read_header(name, fd)
            if header.state == STATE_MERGING and not merging_ok:
                raise OverlayError(
                    f"{name}: a merge into its base {header.base_path} was interrupted; "
                    "finish it with merge_into_base (or discard the overlay)")
            entries = unpack_table(name, read_table(name, fd, header), header)
            base = cls._open_base(path, header, check=header.state != STATE_MERGING)
        except BaseException:
            os.close(fd)
            raise
        ov = cls(path, fd, header, base, read_only)
        ov._load(entries, os.fstat(fd).st_size)
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

    def _load(self, entries: dict[int, Entry], file_size: int) -> None:
        for b, e in entries.items():
            self._pos[b], self._present[b], self._unchecked[b] = e.pos, e.present, e.unchecked
            self._checks[b] = e.checks
            self._verified[b] = e.unchecked  # left by a crash: read as they are (no check)
            if e.unchecked and not self.read_only:
                self._dirty.add(b)  # ... and the next flush stores their checks
                self._stale[b] = e.unchecked
            self._end = max(self._end, e.pos + self.block_size)
        if file_size < self._end:
            log.warning("%s: the file ends before its last block (cut short by a crash?); "
                        "reading the missing chunks will report damage", self.path)

    # ------------------------------------------------------------------ reading

    def _closed(self) -> OverlayError:
        return OverlayError(f"{self.path}: overlay is closed")

    def _range_error(self, offset: int, size: int) -> OverlayError:
        return OverlayError(f"{self.path}: bytes {offset}..{offset + size - 1} beyond the "
                            f"end of the disk ({self.size} bytes)")

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes of the disk as seen through the chain."""
        fd = self._fd
        if fd is None:
            raise self._closed()
        if offset < 0 or size < 0 or offset + size > self.size:
            raise self._range_error(offset, size)
        bs = self.block_size
        b, off = divmod(offset, bs)
        if off + size <= bs and size:  # the common case (kept lean): inside one block
            pos = self._pos[b]
            if not pos:
                return self._base_read(offset, size)
            cs = self.chunk_size
            mask = ((2 << (off + size - 1) // cs) - 1) ^ ((1 << off // cs) - 1)
            if self._present[b] & mask == mask:
                if self._verified[b] & mask == mask:
                    data = os.pread(fd, size, pos + off)
                    if len(data) == size:
                        return data
                elif size == cs and not off % cs:  # one whole chunk read the first time
                    data = os.pread(fd, cs, pos + off)
                    if (len(data) == cs and xxh3_64_intdigest(data) & 0xFFFFFFFF
                            == self._checks[b][off // cs]):  # check32, inlined
                        self._verified[b] |= mask
                        return data
            return self._read_in(b, off, size)  # the general case, and damage reports
        parts, end = [], offset + size
        while offset < end:
            b, off = divmod(offset, bs)
            n = min(bs - off, end - offset)
            if self._pos[b]:
                parts.append(self._read_in(b, off, n))
            else:  # one base read for the whole run of blocks not in this layer
                while offset + n < end and not self._pos[(offset + n) // bs]:
                    n = min(n + bs, end - offset)
                parts.append(self._base_read(offset, n))
            offset += n
        return b"".join(parts)

    def _read_in(self, b: int, off: int, size: int) -> bytes:
        """Bytes ``off`` .. ``off+size`` of block ``b``, which has a slot here."""
        cs = self.chunk_size
        c0, c1 = off // cs, (off + size - 1) // cs
        mask = ((2 << c1) - 1) ^ ((1 << c0) - 1)
        present = self._present[b]
        here = present & mask
        if here == mask:
            return self._read_chunks(b, c0, c1, off, size)
        start = b * self.block_size
        if not here:
            return self._base_read(start + off, size)
        parts, o, stop = [], off, off + size
        while o < stop:  # runs of chunks here / not here
            c = o // cs
            status = present >> c & 1
            e = (c + 1) * cs
            while e < stop and (present >> (e // cs) & 1) == status:
                e += cs
            e = min(e, stop)
            parts.append(self._read_chunks(b, c, (e - 1) // cs, o, e - o) if status
                         else self._base_read(start + o, e - o))
            o = e
        return b"".join(parts)

    def _read_chunks(self, b: int, c0: int, c1: int, off: int, size: int) -> bytes:
        """Bytes of chunks ``c0`` .. ``c1`` of block ``b`` (all here), checked first."""
        cs = self.chunk_size
        mask = ((2 << c1) - 1) ^ ((1 << c0) - 1)
        todo = mask & ~self._verified[b]
        first = c0 * cs
        n = (c1 + 1) * cs - first
        data = os.pread(self._fd, n, self._pos[b] + first)
        if len(data) < n:
            raise self._damaged(b, c0 + len(data) // cs, "the file ends inside it")
        if todo:
            checks = self._checks[b]
            if c0 == c1:
                if check32(data) != checks[c0]:
                    raise self._damaged(b, c0, "data check mismatch")
            else:
                view = memoryview(data)
                for c in range(c0, c1 + 1):
                    at = (c - c0) * cs
                    if todo >> c & 1 and check32(view[at : at + cs]) != checks[c]:
                        raise self._damaged(b, c, "data check mismatch")
            self._verified[b] |= mask
        if off == first and size == n:
            return data
        return data[off - first : off - first + size]

    def _damaged(self, b: int, c: int, why: str) -> OverlayDamagedError:
        start = b * self.block_size + c * self.chunk_size
        return OverlayDamagedError(
            f"{self.path}: block {b} chunk {c} (disk bytes {start}..{start + self.chunk_size - 1}"
            f") is damaged ({why})")

    def _below(self, offset: int, size: int) -> bytes:
        """``size`` bytes of the layer below; zeros past the virtual disk's end."""
        n = max(0, min(size, self.size - offset))
        data = self._base_read(offset, n) if n else b""
        return data if n == size else data.ljust(size, b"\0")

    # ------------------------------------------------------------------ writing

    def write(self, offset: int, data: bytes | memoryview) -> None:
        """Write ``data`` into this layer; partial chunks are completed from below."""
        if self._fd is None:
            raise self._closed()
        if self.read_only:
            raise ReadOnlyError(f"{self.path}: overlay is read-only")
        size = len(data)
        if offset < 0 or offset + size > self.size:
            raise self._range_error(offset, size)
        bs = self.block_size
        b, off = divmod(offset, bs)
        if off + size <= bs:
            if size:
                self._write_in(b, off, data)
            return
        view, done = memoryview(data), 0
        while done < size:
            b, off = divmod(offset + done, bs)
            n = min(bs - off, size - done)
            self._write_in(b, off, view[done : done + n])
            done += n

    def _write_in(self, b: int, off: int, data: bytes | memoryview) -> None:
        """Write inside block ``b`` (docs, "Writing" and "Crash safety" give the order)."""
        fd, cs, size = self._fd, self.chunk_size, len(data)
        c0, c1 = off // cs, (off + size - 1) // cs
        mask = ((2 << c1) - 1) ^ ((1 << c0) - 1)
        pos = self._pos[b]
        if pos and self._unchecked[b] & mask == mask:  # lean common case: rewriting again
            if (off % cs or (off + size) % cs) and self._verified[b] & mask != mask:
                self._check_edges(b, c0, c1, off, off + size)
            os.pwrite(fd, data, pos + off)
            self._note_checks(b, c0, c1, off, data)
            self._verified[b] |= mask
            return
        present = self._present[b] if pos else 0
        new, old = mask & ~present, mask & present
        start, end, payload = off, off + size, data
        if new >> c0 & 1 and start % cs:  # a new chunk written in part: fill from below
            head = self._below(b * self.block_size + c0 * cs, start - c0 * cs)
            start, payload = c0 * cs, head + bytes(payload)
        if new >> c1 & 1 and end % cs:
            tail = self._below(b * self.block_size + end, (c1 + 1) * cs - end)
            end, payload = (c1 + 1) * cs, bytes(payload) + tail
        if old:
            self._check_edges(b, c0, c1, start, end)
            if old & ~self._unchecked[b]:
                # flagged before the data is written; the whole block at once, so the
                # rewrites that follow until the next flush cost no table write
                self._unchecked[b] = present
                self._put(b)
            self._dirty.add(b)
        if not pos:
            pos, self._end = self._end, self._end + self.block_size
            self._pos[b], self._checks[b] = pos, [0] * CHUNKS
            if self._end > self._reserved:
                self._reserve()
        os.pwrite(fd, payload, pos + start)
        self._note_checks(b, c0, c1, start, payload)
        self._verified[b] |= mask
        if new:
            self._present[b] |= new
            self._put(b)  # the entry after the data

    def _reserve(self) -> None:
        """Allocate file space for the next slots in one go (``fallocate``): growing the
        file by one 4 KiB chunk at a time costs the filesystem far more."""
        want = max(self._end, self._reserved) + RESERVE_STEP
        try:
            os.posix_fallocate(self._fd, self._reserved, want - self._reserved)
        except (AttributeError, OSError):  # not on every OS and filesystem: no matter
            pass
        self._reserved = want

    def _check_edges(self, b: int, c0: int, c1: int, start: int, end: int) -> None:
        """Check chunks here that a write from ``start`` to ``end`` covers in part (their
        new check will be computed over old bytes too: damage is found, not hidden)."""
        cs = self.chunk_size
        edges = (1 << c0 if start % cs else 0) | (1 << c1 if end % cs else 0)
        for c in _bits(edges & self._present[b] & ~self._verified[b]):
            self._read_chunks(b, c, c, c * cs, cs)

    def _note_checks(self, b: int, c0: int, c1: int, start: int,
                     payload: bytes | memoryview) -> None:
        """Record the checks of chunks ``payload`` (at ``start`` in the block) covers whole;
        chunks it covers in part are stale: the next flush reads them back."""
        cs, n = self.chunk_size, len(payload)
        checks = self._checks[b]
        if c0 == c1 and start == c0 * cs and n == cs:
            checks[c0] = check32(payload)
            stale = 0
        else:
            view, stale = memoryview(payload), 0
            for c in range(c0, c1 + 1):
                at = c * cs - start
                if at >= 0 and at + cs <= n:
                    checks[c] = check32(view[at : at + cs])
                else:
                    stale |= 1 << c
        old = self._stale.get(b)
        if old is not None or stale:
            whole = (((2 << c1) - 1) ^ ((1 << c0) - 1)) & ~stale
            self._stale[b] = ((old or 0) & ~whole) | stale

    def _put(self, b: int) -> None:
        """Write block ``b``'s table entry (checks of UNCHECKED chunks are stored as 0)."""
        unchecked = self._unchecked[b]
        checks = self._checks[b]
        if unchecked:
            checks = [0 if unchecked >> c & 1 else v for c, v in enumerate(checks)]
        entry = pack_entry(b, self._pos[b], self._present[b], unchecked, checks)
        os.pwrite(self._fd, entry, self.header.table_offset + b * ENTRY_SIZE)

    # ------------------------------------------------------------------ life cycle

    def allocated_blocks(self) -> list[int]:
        """Indexes of the blocks with chunks in this layer."""
        return [b for b, pos in enumerate(self._pos) if pos]

    def block_chunks(self, b: int) -> int:
        """The mask of block ``b``'s chunks stored in this layer."""
        return self._present[b] if self._pos[b] else 0

    def chain(self) -> list[Path]:
        """This overlay, the overlays below it, then the raw base: top first."""
        return [self.path, *self.base.chain()]

    def flush(self) -> None:
        """Make every write durable, then store the checks of rewritten chunks.

        Data is synced before the entries that describe it (two fsyncs when chunks were
        rewritten in place), so a crash never leaves a new check over old data."""
        fd = self._fd
        if fd is None or self.read_only:
            return
        if self._dirty:
            os.fsync(fd)
            cs = self.chunk_size
            for b in sorted(self._dirty):
                stale, checks, pos = self._stale.pop(b, 0), self._checks[b], self._pos[b]
                for c in _bits(stale):
                    checks[c] = check32(os.pread(fd, cs, pos + c * cs))
                self._verified[b] |= stale
                self._unchecked[b] = 0
                self._put(b)
            self._dirty.clear()
        os.fsync(fd)

    def close(self) -> None:
        """Flush and release this overlay and its chain; idempotent."""
        if self._fd is None:
            return
        try:
            self.flush()
            if self._reserved > self._end:  # give back the space reserved and not used
                os.ftruncate(self._fd, self._end)
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


def _runs(ov: Overlay) -> list[tuple[int, int]]:
    """(disk offset, length) of every run of chunks stored in ``ov``, clipped to its size."""
    out = []
    bs, cs = ov.block_size, ov.chunk_size
    for b in ov.allocated_blocks():
        for c0, c1 in chunk_runs(ov.block_chunks(b)):
            start = b * bs + c0 * cs
            if start < ov.size:
                out.append((start, min((c1 - c0 + 1) * cs, ov.size - start)))
    return out


def merge_into_base(overlay_path: str | os.PathLike[str], *, remove: bool = True) -> Path:
    """Commit an overlay's chunks down into its base; returns the base's path.

    Order (docs, "Merging"): verify every chunk, mark the header MERGING (synced), copy
    the chunks, sync the base, then (``remove``) delete the overlay.  Re-running after a
    crash finishes the job.  The base must not be the base of any other overlay; after
    merging, overlays that were on top of this one must be :func:`rebase`\\ d onto the base.
    """
    path = Path(overlay_path)
    with Overlay._open(path, read_only=False, merging_ok=True) as ov:
        runs = _runs(ov)
        if ov.header.state != STATE_MERGING:
            for start, n in runs:
                ov.read(start, n)  # refuse to merge damaged data
            ov.flush()
            ov.header.state = STATE_MERGING
            write_header(ov._fd, ov.header)
        base_path = ov.base.path
        ov.base.close()
        if ov.header.base_kind == BASE_OVERLAY:
            target: Overlay | _RawBase = Overlay.open(base_path)
        else:
            target = _RawBase(base_path, ov.header.base_size, writable=True)
        try:
            for start, n in runs:
                b, off = divmod(start, ov.block_size)
                target.write(start, ov._read_in(b, off, n))
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
    fd = os.open(path, os.O_RDWR | BINARY)
    try:
        header = read_header(str(path), fd)
        kind, size, ident = base_identity(new_base)
        if size != header.virtual_size:
            raise OverlayError(f"{path}: cannot rebase onto {new_base}: it is {size} bytes, "
                               f"the overlay {header.virtual_size}")
        header.base_path = _stored_base_path(path, new_base)
        header.base_kind, header.base_size, header.base_id = kind, size, ident
        write_header(fd, header)
    finally:
        os.close(fd)
