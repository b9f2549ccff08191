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
all zero, then only those pages, compressed the same way.  A booted DOS leaves most of
64 MB untouched, so saving it costs little more than finding the zero pages (measured:
64 MB FreeDOS saves in ~0.04 s, restores in ~0.07 s; tests/perf/bench_snapshot.py).

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
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
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
SAMPLE = 64 << 10  # bytes compressed to judge a chunk
INCOMPRESSIBLE = 0.9  # a sample that keeps more than this share is stored uncompressed


class StateFileError(Exception):
    """The file is not a state file vmgui can restore; the message says why."""


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
                       pool: ThreadPoolExecutor) -> bytes:
    pieces, at = [], 0
    for n in entry["chunks"]:
        pieces.append(payload[at : at + n])
        at += n
    if at != len(payload):
        raise ValueError("chunk lengths do not add up")
    raw = set(entry.get("raw", ()))
    jobs = [(piece, i in raw) for i, piece in enumerate(pieces)]
    return b"".join(pool.map(lambda job: bytes(job[0]) if job[1] else zlib.decompress(job[0]),
                             jobs))


def _encode(data: bytes, pool: ThreadPoolExecutor) -> tuple[dict[str, Any], list[bytes]]:
    view = memoryview(data).cast("B")
    entry: dict[str, Any] = {"size": len(view)}
    if len(view) >= ZPAGES_MIN and len(view) % PAGE == 0:
        pages = np.frombuffer(view, dtype=np.uint64).reshape(-1, PAGE // 8)
        used = pages.any(axis=1)
        kept = np.ascontiguousarray(pages[used]).view(np.uint8).reshape(-1)
        chunks, layout = _compress_chunks(memoryview(kept), pool)
        entry.update(encoding="zpages", page_size=PAGE, **layout)
        return entry, [np.packbits(used).tobytes(), *chunks]
    chunks, layout = _compress_chunks(view, pool)
    entry.update(encoding="zlib", **layout)
    return entry, chunks


def _decode(entry: Mapping[str, Any], payload: memoryview, pool: ThreadPoolExecutor) -> bytes:
    size = entry["size"]
    encoding = entry["encoding"]
    if encoding == "zlib":
        data = _decompress_chunks(payload, entry, pool)
    elif encoding == "zpages":
        page = entry["page_size"]
        npages = size // page
        mask_len = (npages + 7) // 8
        used = np.unpackbits(np.frombuffer(payload[:mask_len], dtype=np.uint8),
                             count=npages).astype(bool)
        kept = _decompress_chunks(payload[mask_len:], entry, pool)
        if len(kept) != int(used.sum()) * page:
            raise ValueError("page data does not match the page map")
        out = np.zeros((npages, page), dtype=np.uint8)
        out[used] = np.frombuffer(kept, dtype=np.uint8).reshape(-1, page)
        data = out.tobytes()
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


def write_state(path: str | os.PathLike[str], parts: Mapping[str, bytes],
                meta: Mapping[str, Any], *, unicorn_version: str | None = None) -> None:
    """Write ``parts`` (name -> bytes, kept in this order) and JSON-able ``meta`` to
    ``path`` atomically.  ``unicorn_version`` overrides the running build's (tests)."""
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
               profile: str = PROFILE) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``(meta, parts)`` from a state file; every part checked against its sha256.
    With ``check_engine`` a file saved by another unicorn build is refused."""
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
    parts: dict[str, bytes] = {}
    with ThreadPoolExecutor(WORKERS) as pool:
        for entry in header["parts"]:
            name, length = entry["name"], entry["length"]
            payload = view[at : at + length]
            at += length
            if hashlib.sha256(payload).hexdigest() != entry["sha256"]:
                raise StateFileError(f"part {name!r} is damaged (checksum mismatch)")
            try:
                parts[name] = _decode(entry, payload, pool)
            except (ValueError, KeyError, TypeError, zlib.error) as exc:
                raise StateFileError(f"part {name!r} is damaged ({exc})") from exc
    return _public_meta(header), parts
