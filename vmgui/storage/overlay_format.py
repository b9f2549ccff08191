"""The on-disk layout of vmgui overlays (``docs/overlay-format.md``): header, block table
entries, checks and base identities.

Owns: the format constants, :class:`Header`, :class:`Entry` (one decoded block table
entry), :func:`check32` (the checksum of chunks and entries), :func:`base_identity`, the
overlay error classes, and the rule for which files are overlays: :func:`is_overlay` (has
the magic: ours to delete) and :func:`must_be_overlay` (opens as an overlay or not at
all: the magic, a ``*.cow`` name, or a damaged magic).  :mod:`vmgui.storage.overlay` does
the I/O on top of it.  Nothing here keeps state between calls.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
from xxhash import xxh3_64_intdigest

from vmgui.storage.image import DiskImageError, open_regular

MAGIC = b"VMGUICOW"
VERSION = 2
LAYER_SUFFIX = ".cow"  # vmgui names every overlay it makes so (snapshots, try-out)
DEFAULT_BLOCK_SIZE = 65536
CHUNKS = 16  # a block is 16 chunks; each chunk is present, verified and checked on its own
MIN_BLOCK_SIZE = CHUNKS * 512
MAX_BLOCK_SIZE = 1 << 24
HEADER_AREA = 4096  # the header (with its base path) fits here; the table follows
_FIXED = struct.Struct("<8sIIIIQQQQQ32sB3xH")  # see docs/overlay-format.md, "Header"
_BODY = struct.Struct(f"<QHH{CHUNKS}I")  # word, present mask, unchecked mask, chunk checks
_INDEX = struct.Struct("<Q")
_KEYED = struct.Struct(f"<Q{_BODY.format[1:]}")  # block index + body: what the check covers
ENTRY_SIZE = _BODY.size + 4  # + the entry check
STATE_NORMAL, STATE_MERGING = 0, 1
BASE_RAW, BASE_OVERLAY = 0, 1
SAMPLE_EDGE = 1 << 20  # raw identity: first and last MiB ...
SAMPLE_COUNT, SAMPLE_SIZE = 64, 4096  # ... and 64 evenly spaced 4 KiB blocks
MAX_BLOCKS = 1 << 22  # 256 GiB of 64 KiB blocks: the per-block lists stay ~100 MB
NEAR_MAGIC = 5  # of the magic's 8 bytes in place: an overlay whose magic was damaged
BINARY = getattr(os, "O_BINARY", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class OverlayError(DiskImageError):
    """An overlay cannot be created, opened or used; the message names the files."""


class OverlayDamagedError(OverlayError):
    """A checksum in an overlay does not match: the file was damaged or changed."""


class BaseChangedError(OverlayError):
    """An overlay's base no longer matches the identity recorded when it was made."""


def check32(data: bytes | memoryview) -> int:
    """The format's 32-bit check: the low half of XXH3-64 (seed 0)."""
    return xxh3_64_intdigest(data) & 0xFFFFFFFF


def align(n: int, to: int) -> int:
    return -(-n // to) * to


def chunk_runs(mask: int) -> list[tuple[int, int]]:
    """Runs of set bits as (first, last) chunk pairs, lowest first."""
    runs, c = [], 0
    while mask >> c:
        if mask >> c & 1:
            start = c
            while mask >> (c + 1) & 1:
                c += 1
            runs.append((start, c))
        c += 1
    return runs


def _head(path: str | os.PathLike[str], size: int) -> bytes | None:
    """The first ``size`` bytes of a regular file; None for anything else (a FIFO or a
    device is never waited on) or a file that cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | BINARY | NONBLOCK)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.pread(fd, size, 0)
    except OSError:
        return None
    finally:
        os.close(fd)


def open_layer_file(path: Path, flags: int) -> int:
    """A descriptor of the regular file ``path`` (a FIFO or device is never waited on)."""
    name = str(path)
    try:
        fd = os.open(path, flags | BINARY | NONBLOCK)
    except FileNotFoundError:
        raise OverlayError(f"{name}: no such overlay file") from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise OverlayError(f"{name}: cannot open ({why})") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OverlayError(f"{name}: not a regular file, so not an overlay")
        if NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_overlay(path: str | os.PathLike[str]) -> bool:
    """True when the file is a regular file that starts with the overlay magic (the test
    for "ours to delete"; whether to *open* a file as an overlay is
    :func:`must_be_overlay`'s)."""
    return _head(path, len(MAGIC)) == MAGIC


def damaged_magic(head: bytes) -> bool:
    """Does ``head`` (a file's first bytes) look like an overlay header whose magic was
    damaged?  Most of the magic's bytes are in place, or the header checksum matches once
    the magic is put back.  (For a raw image either is a ~2^-32 coincidence.)"""
    if head[:8] == MAGIC:
        return False
    if sum(a == b for a, b in zip(head[:8], MAGIC, strict=False)) >= NEAR_MAGIC:
        return True
    if len(head) < 16:
        return False
    (size,) = struct.unpack_from("<I", head, 12)
    if not _FIXED.size + 4 <= size <= min(len(head), HEADER_AREA):
        return False
    (crc,) = struct.unpack_from("<I", head, size - 4)
    return zlib.crc32(MAGIC + head[8 : size - 4]) == crc


def must_be_overlay(path: str | os.PathLike[str]) -> bool:
    """Must ``path`` be opened as an overlay, and never as a raw image?  True when it
    starts with the magic, is named ``*.cow`` (every layer vmgui makes), or is an overlay
    whose magic was damaged (:func:`damaged_magic`).  Such a file opens as an overlay or
    not at all: a damaged layer run as a raw disk would be destroyed by the guest's first
    write.  False for a file that cannot be read (the raw opener names the problem)."""
    if os.fspath(path).lower().endswith(LAYER_SUFFIX):
        return True
    head = _head(path, HEADER_AREA)
    return head is not None and (head[:8] == MAGIC or damaged_magic(head))


# ---------------------------------------------------------------------- header


class Header:
    """The decoded header fields (docs/overlay-format.md, "Header")."""

    def __init__(self, *, block_size: int, virtual_size: int, base_path: str,
                 base_kind: int, base_size: int, base_id: bytes,
                 state: int = STATE_NORMAL) -> None:
        self.block_size = block_size
        self.chunk_size = block_size // CHUNKS
        self.virtual_size = virtual_size
        self.base_path = base_path
        self.base_kind = base_kind
        self.base_size = base_size
        self.base_id = base_id
        self.state = state
        self.block_count = -(-virtual_size // block_size)
        self.table_offset = HEADER_AREA
        self.data_offset = align(HEADER_AREA + self.block_count * ENTRY_SIZE, 4096)

    def pack(self) -> bytes:
        path = self.base_path.encode("utf-8")
        size = _FIXED.size + len(path) + 4
        if size > HEADER_AREA:
            raise OverlayError(f"base path too long for an overlay header: {self.base_path}")
        if self.block_count > MAX_BLOCKS:
            raise OverlayError(f"a disk of {self.virtual_size} bytes needs {self.block_count} "
                               f"blocks of {self.block_size} bytes; an overlay holds at most "
                               f"{MAX_BLOCKS} (use bigger blocks)")
        fixed = _FIXED.pack(MAGIC, VERSION, size, self.block_size, self.state,
                            self.virtual_size, self.table_offset, self.block_count,
                            self.data_offset, self.base_size, self.base_id, self.base_kind,
                            len(path))
        body = fixed + path
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def unpack(cls, name: str, raw: bytes) -> Header:
        if raw[:8] != MAGIC:
            got = f"bad magic {raw[:8]!r}, not {MAGIC!r}" if raw else "the file is empty"
            if name.lower().endswith(LAYER_SUFFIX) and raw and not damaged_magic(raw):
                got += f" (a raw disk image must not be named *{LAYER_SUFFIX})"
            raise OverlayDamagedError(f"layer '{name}' is damaged: {got}; it was neither "
                                      "opened nor changed")
        if len(raw) < _FIXED.size + 4:
            raise OverlayDamagedError(f"{name}: the overlay header is damaged (cut short: "
                                      f"the file is {len(raw)} bytes)")
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
        if version < VERSION:
            raise OverlayError(
                f"{name}: overlay format version {version} is from a development build of "
                f"vmgui and is no longer read (this version reads {VERSION}); flatten it "
                "with that build, or discard it")
        (_, _, _, bs, state, vsize, t_off, count, d_off, bsize, bid, bkind,
         plen) = _FIXED.unpack_from(raw)
        if bs % MIN_BLOCK_SIZE or not MIN_BLOCK_SIZE <= bs <= MAX_BLOCK_SIZE:
            raise OverlayDamagedError(f"{name}: the overlay header is inconsistent "
                                      f"(block size {bs})")
        if not 0 < vsize == bsize or -(-vsize // bs) > MAX_BLOCKS:
            raise OverlayDamagedError(f"{name}: the overlay header is inconsistent (virtual "
                                      f"size {vsize}, base size {bsize}, block size {bs})")
        path = raw[_FIXED.size : _FIXED.size + plen].decode("utf-8", "replace")
        h = cls(block_size=bs, virtual_size=vsize, base_path=path, base_kind=bkind,
                base_size=bsize, base_id=bid, state=state)
        if (state not in (STATE_NORMAL, STATE_MERGING) or bkind not in (BASE_RAW, BASE_OVERLAY)
                or _FIXED.size + plen + 4 != size or "\0" in path
                or (t_off, count, d_off) != (h.table_offset, h.block_count, h.data_offset)):
            raise OverlayDamagedError(f"{name}: the overlay header is inconsistent")
        return h


def read_header(name: str, fd: int) -> Header:
    """The header of the overlay open as ``fd`` (``name`` is for messages)."""
    return Header.unpack(name, os.pread(fd, HEADER_AREA, 0))


def read_table(name: str, fd: int, header: Header) -> bytes:
    """The raw block table of the overlay open as ``fd``; refused when the file is too
    short to hold it (so a damaged header never makes a huge read)."""
    n = header.block_count * ENTRY_SIZE
    if os.fstat(fd).st_size < header.table_offset + n:
        raise OverlayDamagedError(f"{name}: the block table is cut short (the file ends "
                                  "before it does)")
    return os.pread(fd, n, header.table_offset)


def write_header(fd: int, header: Header) -> None:
    os.pwrite(fd, header.pack(), 0)
    os.fsync(fd)


def check_block_size(path: Path, block_size: int) -> None:
    if (not MIN_BLOCK_SIZE <= block_size <= MAX_BLOCK_SIZE
            or block_size % MIN_BLOCK_SIZE):
        raise OverlayError(
            f"{path}: block size {block_size} is not a multiple of {MIN_BLOCK_SIZE} "
            f"({CHUNKS} chunks of 512 bytes) between {MIN_BLOCK_SIZE} and 16 MiB")


# ---------------------------------------------------------------------- table entries


class Entry:
    """One block's table entry: where its slot is, which chunks are here, their checks."""

    __slots__ = ("pos", "present", "unchecked", "checks")

    def __init__(self, pos: int, present: int, unchecked: int, checks: list[int]) -> None:
        self.pos = pos
        self.present = present
        self.unchecked = unchecked
        self.checks = checks


def pack_entry(b: int, pos: int, present: int, unchecked: int, checks: list[int]) -> bytes:
    """The 80 bytes of block ``b``'s entry (its check covers ``b`` and the body)."""
    keyed = _KEYED.pack(b, pos, present, unchecked, *checks)
    return keyed[8:] + (xxh3_64_intdigest(keyed) & 0xFFFFFFFF).to_bytes(4, "little")


def unpack_table(name: str, table: bytes, header: Header) -> dict[int, Entry]:
    """The used entries of a block table, validated (docs, "Block table")."""
    if len(table) != header.block_count * ENTRY_SIZE:
        raise OverlayDamagedError(f"{name}: the block table is cut short")
    out: dict[int, Entry] = {}
    seen: set[int] = set()
    view = memoryview(table)
    rows = np.frombuffer(table, dtype=np.uint8).reshape(-1, ENTRY_SIZE)
    for b in np.flatnonzero(rows.any(axis=1)).tolist():  # all-zero entries: not here
        at = b * ENTRY_SIZE
        raw = view[at : at + ENTRY_SIZE]
        word, present, unchecked, *checks = _BODY.unpack_from(raw)
        (stored,) = struct.unpack_from("<I", raw, _BODY.size)
        if (check32(_INDEX.pack(b) + raw[: _BODY.size]) != stored
                or word < header.data_offset or word & 0x1FF
                or (word - header.data_offset) % header.block_size or word in seen
                or not present or unchecked & ~present
                or any(checks[c] for c in range(CHUNKS) if not (present >> c) & 1)):
            raise OverlayDamagedError(
                f"{name}: the block table is damaged (entry for block {b})")
        seen.add(word)
        out[b] = Entry(word, present, unchecked, checks)
    return out


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


def overlay_identity(header: Header, table: bytes) -> bytes:
    h = hashlib.sha256(b"cow" + struct.pack("<QI", header.virtual_size, header.block_size))
    h.update(header.base_id)
    h.update(table)
    return h.digest()


def base_identity(path: Path) -> tuple[int, int, bytes]:
    """(kind, size, identity) of a would-be base: a raw image or another overlay.  Only a
    regular file is opened (a FIFO swapped in after the caller's check is never waited
    on): :class:`OverlayError` otherwise."""
    try:
        fd = open_regular(path, os.O_RDONLY | BINARY, what="base")
    except OSError as exc:
        raise OverlayError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    try:
        head = os.pread(fd, HEADER_AREA, 0)
        if (head[:8] == MAGIC or damaged_magic(head)
                or os.fspath(path).lower().endswith(LAYER_SUFFIX)):
            header = Header.unpack(str(path), head)  # a damaged layer is refused here
            table = read_table(str(path), fd, header)
            return BASE_OVERLAY, header.virtual_size, overlay_identity(header, table)
        size = os.fstat(fd).st_size
        return BASE_RAW, size, raw_identity(fd, size)
    finally:
        os.close(fd)
