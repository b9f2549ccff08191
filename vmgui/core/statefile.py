"""The saved-state file: a machine's complete state in one checked, atomically written file.

Owns: the on-disk format and nothing about machines (vmgui.core.snapshot decides what the
parts hold).  Layout, all integers little-endian::

    b"VMGUISTATE"  u16 format version  u32 header length  header (UTF-8 JSON)  payloads

The fixed prefix comes first so that a file from a newer vmgui is recognised and refused
by its version before its header is parsed.  The header holds the unicorn version that
saved the CPU state (context blobs are raw copies of QEMU's CPUX86State and differ between
builds), the machine profile, the creation time, free-form ``meta`` and one entry per
named part, in file order: ``name``, ``encoding``, ``size`` (decoded bytes), ``length``
(stored bytes) and ``sha256`` of the stored bytes (checked before decoding).

Encodings: ``zlib`` (level 1, in chunks of :data:`CHUNK` compressed on a thread pool:
zlib releases the GIL; a chunk whose sample does not compress is stored as is) and, for
page-sized parts such as guest RAM, ``zpages``: a bitmap of the 4 KiB pages that are not
all zero, then only those pages, compressed the same way (each chunk whole pages).  A
booted DOS leaves most of 64 MB untouched, so saving it costs little more than finding the
zero pages (measured: 64 MB FreeDOS saves in ~0.04 s, restores in ~0.07 s;
tests/perf/bench_snapshot.py).

Big RAM (2 GB) is neither copied nor read whole: the writer takes a :class:`PageSource`
(a view of live RAM plus the pages known to be untouched, which it never reads: reading
them would map the zero page into each), works a chunk of pages at a time, and the reader
can hand a part back as a :class:`PageImage` (its used pages, chunk by chunk) instead of
building all 2 GB (tests/perf/bench_big_memory.py).

Writes go to a temporary file in the target's folder, are fsynced, then renamed over the
target (os.replace), so a crash or a full disk mid-write leaves any previous file intact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

MAGIC = b"VMGUISTATE"
FORMAT_VERSION = 1
PROFILE = "pc-at"
_PREFIX = struct.Struct("<10sHI")  # magic, format version, header length
MAX_HEADER = 1 << 20
CHUNK = 8 << 20  # bytes of input per zlib stream (the unit of parallel work)
PAGE = 4096
ZPAGES_MIN = 1 << 20  # parts at least this big (and page-sized) use the zero-page bitmap
LEVEL = 1  # zlib level 1: measured as fast as 3 and well ahead of 6 on guest RAM
WORKERS = min(4, os.cpu_count() or 1)
SCAN_PAGES = 2048  # pages looked at for zeros at a time (8 MiB)
SAMPLE = 64 << 10  # bytes compressed to judge a chunk
INCOMPRESSIBLE = 0.9  # a sample that keeps more than this share is stored uncompressed


class StateFileError(Exception):
    """The file is not a state file vmgui can restore; the message says why."""


@dataclass(frozen=True)
class PageSource:
    """A page-sized part to write without copying it: ``data`` is a buffer of whole pages
    (a view of live guest RAM: write the file before the guest runs again), and
    ``maybe_used`` has one bool a page, False where the page is known to hold zeros
    without reading it (never touched); None: every page is looked at."""

    data: Any
    maybe_used: np.ndarray | None = None

    def __len__(self) -> int:
        return memoryview(self.data).nbytes


class PageImage:
    """A ``zpages`` part read back as its used pages rather than as all its bytes: a 2 GB
    RAM part of an idle DOS is a few hundred KiB here.  ``used``: one bool a page;
    :meth:`take_chunks` hands the pages over a chunk at a time."""

    def __init__(self, size: int, page_size: int, used: np.ndarray, chunks: list[bytes]):
        self.size = size
        self.page_size = page_size
        self.used = used
        self._chunks: list[bytes | None] = list(chunks)

    def __len__(self) -> int:
        return self.size

    def take_chunks(self) -> Iterator[tuple[np.ndarray, bytes]]:
        """(page numbers, the bytes of those pages) for every chunk, each handed over
        once: the image lets go of it, so a big part is not held twice."""
        numbers = np.flatnonzero(self.used)
        at = 0
        for i, chunk in enumerate(self._chunks):
            if chunk is None:
                raise ValueError("the pages of this image were already taken")
            self._chunks[i] = None
            count = len(chunk) // self.page_size
            yield numbers[at : at + count], chunk
            at += count

    def to_bytes(self) -> bytes:
        """The whole part (zeros where no page was stored)."""
        out = np.zeros((self.size // self.page_size, self.page_size), dtype=np.uint8)
        for numbers, chunk in self.take_chunks():
            out[numbers] = np.frombuffer(chunk, dtype=np.uint8).reshape(-1, self.page_size)
        return out.tobytes()


def engine_version() -> str:
    """The unicorn build whose CPU context blobs this process writes and reads."""
    import unicorn  # the version string only; vmgui.core.engine owns the engine

    return unicorn.__version__


# ---------------------------------------------------------------------- encoding
def _compress_piece(piece: memoryview) -> tuple[bytes, bool]:
    """(stored bytes, compressed?).  A piece whose sample does not compress (random or
    already compressed guest data) is stored as it is: zlib would spend ~20 ms per MiB
    on it for nothing."""
    if len(piece) > 4 * SAMPLE:
        mid = len(piece) // 2
        sample = piece[mid : mid + SAMPLE]
        if len(zlib.compress(sample, LEVEL)) > INCOMPRESSIBLE * SAMPLE:
            return bytes(piece), False
    return zlib.compress(piece, LEVEL), True


def _compress_chunks(data: memoryview, pool: ThreadPoolExecutor
                     ) -> tuple[list[bytes], dict[str, Any]]:
    """Stored chunks and their description (``chunks``: stored lengths, ``raw``: the
    indices of chunks stored uncompressed)."""
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [data]
    results = list(pool.map(_compress_piece, pieces))
    stored = [r[0] for r in results]
    raw = [i for i, r in enumerate(results) if not r[1]]
    return stored, {"chunks": [len(c) for c in stored], "raw": raw}


def _decompress_chunks(payload: memoryview, entry: Mapping[str, Any],
                       pool: ThreadPoolExecutor) -> list[bytes]:
    pieces, at = [], 0
    for n in entry["chunks"]:
        pieces.append(payload[at : at + n])
        at += n
    if at != len(payload):
        raise ValueError("chunk lengths do not add up")
    raw = set(entry.get("raw", ()))
    jobs = [(piece, i in raw) for i, piece in enumerate(pieces)]
    return list(pool.map(lambda job: bytes(job[0]) if job[1] else zlib.decompress(job[0]),
                         jobs))


def _used_pages(pages: np.ndarray, maybe_used: np.ndarray | None) -> np.ndarray:
    """One bool a page: not all zero.  Only pages ``maybe_used`` marks are read, a block
    at a time (no copy of the whole part)."""
    used = np.zeros(len(pages), dtype=bool)
    if maybe_used is None:
        for at in range(0, len(pages), SCAN_PAGES):
            used[at : at + SCAN_PAGES] = pages[at : at + SCAN_PAGES].any(axis=1)
        return used
    if len(maybe_used) != len(pages):
        raise ValueError(f"page map of {len(maybe_used)} pages for a part of {len(pages)}")
    candidates = np.flatnonzero(maybe_used)
    for at in range(0, len(candidates), SCAN_PAGES):
        numbers = candidates[at : at + SCAN_PAGES]
        used[numbers] = pages[numbers].any(axis=1)
    return used


def _compress_pages(pages: np.ndarray, numbers: np.ndarray) -> tuple[bytes, bool]:
    return _compress_piece(memoryview(pages[numbers].reshape(-1)))


def _encode_pages(view: memoryview, maybe_used: np.ndarray | None,
                  pool: ThreadPoolExecutor) -> tuple[dict[str, Any], list[bytes]]:
    pages = np.frombuffer(view, dtype=np.uint8).reshape(-1, PAGE)
    used = _used_pages(pages.view(np.uint64), maybe_used)
    numbers = np.flatnonzero(used)
    per_chunk = CHUNK // PAGE
    groups = [numbers[i : i + per_chunk] for i in range(0, len(numbers), per_chunk)]
    results = list(pool.map(lambda group: _compress_pages(pages, group), groups))
    stored = [r[0] for r in results] or [zlib.compress(b"", LEVEL)]
    raw = [i for i, r in enumerate(results) if not r[1]]
    entry = {"size": len(view), "encoding": "zpages", "page_size": PAGE,
             "chunks": [len(c) for c in stored], "raw": raw}
    return entry, [np.packbits(used).tobytes(), *stored]


def _encode(data: bytes | PageSource, pool: ThreadPoolExecutor
            ) -> tuple[dict[str, Any], list[bytes]]:
    maybe_used = data.maybe_used if isinstance(data, PageSource) else None
    view = memoryview(data.data if isinstance(data, PageSource) else data).cast("B")
    if len(view) >= ZPAGES_MIN and len(view) % PAGE == 0:
        return _encode_pages(view, maybe_used, pool)
    if isinstance(data, PageSource):
        raise ValueError(f"a page part must be whole pages of at least {ZPAGES_MIN} bytes")
    chunks, layout = _compress_chunks(view, pool)
    return {"size": len(view), "encoding": "zlib", **layout}, chunks


def _decode_pages(entry: Mapping[str, Any], payload: memoryview,
                  pool: ThreadPoolExecutor) -> PageImage:
    size, page = entry["size"], entry["page_size"]
    if not isinstance(page, int) or page <= 0 or size % page:
        raise ValueError(f"page size {page!r} does not divide the part's {size} bytes")
    npages = size // page
    mask_len = (npages + 7) // 8
    if len(payload) < mask_len:
        raise ValueError("page map is cut short")
    used = np.unpackbits(np.frombuffer(payload[:mask_len], dtype=np.uint8),
                         count=npages).astype(bool)
    chunks = [c for c in _decompress_chunks(payload[mask_len:], entry, pool) if c]
    if sum(len(c) for c in chunks) != int(used.sum()) * page:
        raise ValueError("page data does not match the page map")
    if any(len(c) % page for c in chunks):
        raise ValueError("a chunk of page data holds a partial page")
    return PageImage(size, page, used, chunks)


def _decode(entry: Mapping[str, Any], payload: memoryview, pool: ThreadPoolExecutor,
            as_pages: bool = False) -> bytes | PageImage:
    size = entry["size"]
    encoding = entry["encoding"]
    if encoding == "zlib":
        data = b"".join(_decompress_chunks(payload, entry, pool))
    elif encoding == "zpages":
        image = _decode_pages(entry, payload, pool)
        if as_pages:
            return image
        data = image.to_bytes()
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    if len(data) != size:
        raise ValueError(f"decodes to {len(data)} bytes, expected {size}")
    return data


# ---------------------------------------------------------------------- writing
def _write_chunk(f: BinaryIO, data: bytes) -> None:
    """One write of the file body (a seam for tests that inject a failure mid-write)."""
    f.write(data)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/filesystem allows it
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_state(path: str | os.PathLike[str], parts: Mapping[str, bytes | PageSource],
                meta: Mapping[str, Any], *, unicorn_version: str | None = None) -> None:
    """Write ``parts`` (name -> bytes or :class:`PageSource`, kept in this order) and
    JSON-able ``meta`` to ``path`` atomically.  ``unicorn_version`` overrides the running
    build's (tests)."""
    path = Path(path)
    entries, payloads = [], []
    with ThreadPoolExecutor(WORKERS) as pool:
        for name, data in parts.items():
            entry, stored = _encode(data, pool)
            digest = hashlib.sha256()
            for piece in stored:
                digest.update(piece)
            entry = {"name": name, **entry, "length": sum(len(p) for p in stored),
                     "sha256": digest.hexdigest()}
            entries.append(entry)
            payloads.extend(stored)
    header = json.dumps({
        "unicorn": unicorn_version or engine_version(),
        "profile": meta.get("profile", PROFILE),
        "created": meta.get("created") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "meta": {k: v for k, v in meta.items() if k not in ("profile", "created")},
        "parts": entries,
    }).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in (_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)), header, *payloads):
                _write_chunk(f, chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


# ---------------------------------------------------------------------- reading
def _parse_header(blob: bytes, name: str) -> tuple[dict[str, Any], int, int]:
    """(header, offset of the first payload, expected file size) from the start of a
    file; checks the magic, the format version and that the header is complete."""
    if not blob:
        raise StateFileError(f"{name} is empty, not a vmgui state file")
    if 0 < len(blob) < len(MAGIC) and MAGIC.startswith(blob):
        raise StateFileError(f"{name} is truncated ({len(blob)} bytes)")
    if blob[: len(MAGIC)] != MAGIC:
        raise StateFileError(f"{name} is not a vmgui state file")
    if len(blob) < _PREFIX.size:
        raise StateFileError(f"{name} is truncated ({len(blob)} bytes)")
    _, version, header_len = _PREFIX.unpack_from(blob)
    if version > FORMAT_VERSION:
        raise StateFileError(f"state file format {version} is newer than this vmgui "
                             f"reads ({FORMAT_VERSION})")
    if version < 1 or header_len > MAX_HEADER:
        raise StateFileError(f"{name} is not a vmgui state file (bad header)")
    start = _PREFIX.size + header_len
    if len(blob) < start:
        raise StateFileError(f"{name} is truncated ({len(blob)} bytes, its header alone "
                             f"needs {start})")
    try:
        header = json.loads(blob[_PREFIX.size : start])
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise StateFileError(f"{name} has a damaged header ({reason})") from exc
    problem = _header_problem(header)
    if problem:
        raise StateFileError(f"{name} has a damaged header ({problem})")
    expected = start + sum(part["length"] for part in header["parts"])
    return header, start, expected


def _header_problem(header: object) -> str | None:
    """What is wrong with a decoded header's shape, or None: every later reader may then
    index it without guarding (a crafted file cannot raise KeyError/TypeError there)."""
    if not isinstance(header, dict):
        return "not a JSON object"
    if not isinstance(header.get("meta", {}), dict | None):
        return "'meta' is not a table"
    parts = header.get("parts")
    if not isinstance(parts, list):
        return "'parts' is not a list"
    for number, part in enumerate(parts):
        if not isinstance(part, dict):
            return f"part {number} is not an object"
        if not isinstance(part.get("name"), str):
            return f"part {number} has no name"
        for field in ("size", "length"):
            value = part.get(field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                return f"part {part['name']!r}: {field} is not a byte count"
        digest = part.get("sha256")
        if not isinstance(digest, str) or len(digest) != 64:
            return f"part {part['name']!r} has no sha256 checksum"
    return None


def _public_meta(header: Mapping[str, Any]) -> dict[str, Any]:
    meta = dict(header.get("meta") or {})
    meta.update(format=FORMAT_VERSION, unicorn=header.get("unicorn"),
                profile=header.get("profile"), created=header.get("created"),
                parts={p["name"]: p["size"] for p in header["parts"]})
    return meta


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header's facts only (for lists of saved states): no part is read or checked,
    no engine check.  Raises StateFileError like :func:`read_state`."""
    path = Path(path)
    with open(path, "rb") as f:
        prefix = f.read(_PREFIX.size)
        if len(prefix) == _PREFIX.size and prefix.startswith(MAGIC):
            header_len = _PREFIX.unpack(prefix)[2]
            prefix += f.read(min(header_len, MAX_HEADER))
        size = os.fstat(f.fileno()).st_size
    header, _, expected = _parse_header(prefix, path.name)
    if size < expected:
        raise StateFileError(f"{path.name} is truncated ({size} bytes, expected {expected})")
    meta = _public_meta(header)
    meta["file_bytes"] = size
    return meta


def read_state(path: str | os.PathLike[str], *, check_engine: bool = True,
               profile: str = PROFILE, as_pages: tuple[str, ...] = (),
               ) -> tuple[dict[str, Any], dict[str, bytes | PageImage]]:
    """``(meta, parts)`` from a state file; every part checked against its sha256 and
    decoded (a damaged one is refused here, not later).  With ``check_engine`` a file
    saved by another unicorn build is refused.  Parts named in ``as_pages`` that were
    stored as pages come back as :class:`PageImage`, the others as bytes."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    header, at, expected = _parse_header(blob, path.name)
    if len(blob) < expected:
        raise StateFileError(f"{path.name} is truncated ({len(blob)} bytes, "
                             f"expected {expected})")
    if len(blob) > expected:
        raise StateFileError(f"{path.name} is damaged ({len(blob) - expected} unexpected "
                             "bytes at its end)")
    if header.get("profile") != profile:
        raise StateFileError(f"state file is for machine profile {header.get('profile')!r}, "
                             f"this VM is a {profile!r}")
    current = engine_version()
    if check_engine and header.get("unicorn") != current:
        raise StateFileError(f"saved with unicorn {header.get('unicorn')}, this is {current}: "
                             "the CPU state of one engine build cannot be loaded into another")
    view = memoryview(blob)
    parts: dict[str, bytes | PageImage] = {}
    with ThreadPoolExecutor(WORKERS) as pool:
        for entry in header["parts"]:
            name, length = entry["name"], entry["length"]
            payload = view[at : at + length]
            at += length
            if hashlib.sha256(payload).hexdigest() != entry["sha256"]:
                raise StateFileError(f"part {name!r} is damaged (checksum mismatch)")
            try:
                parts[name] = _decode(entry, payload, pool, name in as_pages)
            except (ValueError, KeyError, TypeError, zlib.error) as exc:
                raise StateFileError(f"part {name!r} is damaged ({exc})") from exc
    return _public_meta(header), parts
