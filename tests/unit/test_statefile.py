"""The saved-state file format: round trips, every refusal, atomic replacement."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib

import numpy as np
import pytest

from vmgui.core import statefile
from vmgui.core.statefile import StateFileError, read_meta, read_state, write_state


def _ram(size: int = 4 << 20) -> bytes:
    ram = bytearray(size)
    ram[0x400:0x500] = bytes(range(256))
    ram[0x7C00:0x7E00] = os.urandom(512)
    ram[size - 4096 : size - 4000] = b"\xff" * 96  # a used page at the very end
    return bytes(ram)


PARTS = {"cpu": os.urandom(5608), "ram": _ram(), "vram": bytes(0x20000),
         "devices": json.dumps({"pic": {"version": 1}}).encode(), "bios": b"{}",
         "odd": b"x" * ((1 << 20) + 3)}  # big but not page-sized: plain zlib


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "vm.vmstate"
    write_state(path, PARTS, {"memory_mb": 4, "note": "hello"})
    return path


def test_round_trip(saved):
    meta, parts = read_state(saved)
    assert parts == PARTS
    assert list(parts) == list(PARTS)
    assert meta["note"] == "hello" and meta["memory_mb"] == 4
    assert meta["format"] == statefile.FORMAT_VERSION
    assert meta["unicorn"] == statefile.engine_version()
    assert meta["profile"] == "pc-at" and meta["created"]
    assert meta["parts"]["ram"] == len(PARTS["ram"])


def test_ram_is_stored_sparsely(saved):
    assert saved.stat().st_size < 64 << 10
    header, _, _ = statefile._parse_header(saved.read_bytes(), saved.name)
    encodings = {p["name"]: p["encoding"] for p in header["parts"]}
    assert encodings["ram"] == "zpages" and encodings["odd"] == "zlib"


def test_all_zero_and_empty_parts(tmp_path):
    path = tmp_path / "z.vmstate"
    parts = {"zero": bytes(2 << 20), "empty": b""}
    write_state(path, parts, {})
    assert read_state(path)[1] == parts


def test_read_meta_reads_only_the_header(saved):
    meta = read_meta(saved)
    assert meta["note"] == "hello" and meta["file_bytes"] == saved.stat().st_size


def test_not_a_state_file(tmp_path):
    path = tmp_path / "x.vmstate"
    path.write_bytes(b"PK\x03\x04 a zip file, say")
    with pytest.raises(StateFileError, match="x.vmstate is not a vmgui state file"):
        read_state(path)
    path.write_bytes(b"")
    with pytest.raises(StateFileError, match="not a vmgui state file"):
        read_state(path)


def test_missing_file(tmp_path):
    with pytest.raises(StateFileError, match="cannot read"):
        read_state(tmp_path / "nowhere.vmstate")


def test_newer_format_is_refused(saved):
    data = bytearray(saved.read_bytes())
    struct.pack_into("<H", data, len(statefile.MAGIC), 3)
    saved.write_bytes(data)
    with pytest.raises(StateFileError,
                       match=r"state file format 3 is newer than this vmgui reads \(1\)"):
        read_state(saved)


def test_other_engine_build_is_refused(tmp_path):
    path = tmp_path / "old.vmstate"
    write_state(path, PARTS, {}, unicorn_version="2.1.3")
    current = statefile.engine_version()
    with pytest.raises(StateFileError, match=f"saved with unicorn 2.1.3, this is {current}"):
        read_state(path)
    meta, parts = read_state(path, check_engine=False)
    assert meta["unicorn"] == "2.1.3" and parts == PARTS


def test_other_profile_is_refused(tmp_path):
    path = tmp_path / "xt.vmstate"
    write_state(path, {"cpu": b"1"}, {"profile": "pc-xt"})
    with pytest.raises(StateFileError, match="profile 'pc-xt'"):
        read_state(path)


@pytest.mark.parametrize("keep", [5, statefile._PREFIX.size - 1, statefile._PREFIX.size + 10,
                                  -1, -1000])
def test_truncated_is_refused(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[:keep])
    with pytest.raises(StateFileError, match="truncated"):
        read_state(saved)


def test_trailing_garbage_is_refused(saved):
    with open(saved, "ab") as f:
        f.write(b"junk")
    with pytest.raises(StateFileError, match="4 unexpected bytes"):
        read_state(saved)


def _offset_of(path, name: str) -> int:
    header, at, _ = statefile._parse_header(path.read_bytes(), path.name)
    for entry in header["parts"]:
        if entry["name"] == name:
            return at + entry["length"] // 2
        at += entry["length"]
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["cpu", "ram", "bios"])
def test_damaged_part_is_named(saved, name):
    data = bytearray(saved.read_bytes())
    data[_offset_of(saved, name)] ^= 0x01
    saved.write_bytes(data)
    with pytest.raises(StateFileError, match=rf"part '{name}' is damaged \(checksum mismatch\)"):
        read_state(saved)


def test_damaged_header_is_refused(saved):
    data = bytearray(saved.read_bytes())
    data[statefile._PREFIX.size] = ord("]")  # the JSON's opening brace
    saved.write_bytes(data)
    with pytest.raises(StateFileError, match="damaged header"):
        read_state(saved)


def test_failure_mid_write_leaves_the_previous_file(saved, monkeypatch):
    before = saved.read_bytes()
    calls = []

    def failing(f, data):
        calls.append(len(data))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        f.write(data)

    monkeypatch.setattr(statefile, "_write_chunk", failing)
    with pytest.raises(OSError, match="No space left"):
        write_state(saved, {"cpu": b"new", "ram": bytes(2 << 20)}, {"note": "new"})
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name]  # no temp left
    assert read_state(saved)[0]["note"] == "hello"


def test_failure_at_fsync_leaves_the_previous_file(saved, monkeypatch):
    before = saved.read_bytes()

    def no_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(statefile.os, "fsync", no_fsync)
    with pytest.raises(OSError):
        write_state(saved, {"cpu": b"new"}, {})
    assert saved.read_bytes() == before
    assert len(list(saved.parent.iterdir())) == 1


def test_write_replaces_and_keeps_private_mode(saved):
    write_state(saved, {"cpu": b"second"}, {"note": "second"})
    meta, parts = read_state(saved)
    assert meta["note"] == "second" and parts == {"cpu": b"second"}
    assert saved.stat().st_mode & 0o077 == 0  # guest RAM may hold secrets


def test_incompressible_chunks_are_stored_as_they_are(tmp_path):
    path = tmp_path / "r.vmstate"
    noisy = bytearray(os.urandom(statefile.CHUNK + (2 << 20)))
    noisy[statefile.CHUNK :] = bytes(2 << 20)  # second chunk compresses, first does not
    write_state(path, {"ram": bytes(noisy)}, {})
    header, _, _ = statefile._parse_header(path.read_bytes(), path.name)
    assert header["parts"][0]["raw"] == [0]
    assert read_state(path)[1]["ram"] == noisy


# ---------------------------------------------------------------------- big RAM (issue 10)
PAGE = statefile.PAGE


def _pages(npages: int, used: dict[int, bytes]) -> bytearray:
    data = bytearray(npages * PAGE)
    for number, fill in used.items():
        data[number * PAGE : (number + 1) * PAGE] = fill * (PAGE // len(fill))
    return data


def test_page_source_skips_pages_known_untouched_and_reads_back_as_pages(tmp_path):
    data = _pages(1024, {0: b"a", 5: b"b", 700: b"c", 1023: b"d"})
    maybe = np.ones(1024, dtype=bool)
    maybe[700] = False  # "never touched": not looked at, so not saved (contract of False)
    path = tmp_path / "p.vmstate"
    write_state(path, {"ram": statefile.PageSource(memoryview(data), maybe), "cpu": b"c"}, {})
    meta, parts = read_state(path, as_pages=("ram",))
    image = parts["ram"]
    assert isinstance(image, statefile.PageImage) and parts["cpu"] == b"c"
    assert len(image) == len(data) and list(np.flatnonzero(image.used)) == [0, 5, 1023]
    expected = _pages(1024, {0: b"a", 5: b"b", 1023: b"d"})
    assert image.to_bytes() == expected
    with pytest.raises(ValueError, match="already taken"):
        image.to_bytes()
    assert read_state(path)[1]["ram"] == expected  # as bytes when not asked for pages


def test_page_image_hands_over_many_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(statefile, "CHUNK", 4 * PAGE)
    used = {n: bytes([n % 250 + 1]) for n in range(3, 300, 7)}  # 43 pages: 11 chunks
    data = _pages(512, used)
    path = tmp_path / "m.vmstate"
    write_state(path, {"ram": statefile.PageSource(data)}, {})
    image = read_state(path, as_pages=("ram",))[1]["ram"]
    target = bytearray(len(data))
    view = np.frombuffer(target, dtype=np.uint8).reshape(-1, PAGE)
    chunks = 0
    for numbers, chunk in image.take_chunks():
        assert len(chunk) == len(numbers) * PAGE <= 4 * PAGE
        view[numbers] = np.frombuffer(chunk, dtype=np.uint8).reshape(-1, PAGE)
        chunks += 1
    assert chunks == 11 and target == data


def test_all_zero_page_part_as_pages(tmp_path):
    path = tmp_path / "z.vmstate"
    write_state(path, {"ram": statefile.PageSource(bytearray(1 << 20))}, {})
    image = read_state(path, as_pages=("ram",))[1]["ram"]
    assert not image.used.any() and list(image.take_chunks()) == []


def test_a_page_source_must_be_whole_pages():
    with pytest.raises(ValueError, match="whole pages"):
        statefile._encode(statefile.PageSource(bytearray(PAGE * 3)), None)


@pytest.mark.parametrize(("page_size", "used", "chunks", "message"), [
    (0, [1, 0], [b""], "page size 0 does not divide"),
    (PAGE, [1, 1], [b"x" * PAGE], "page data does not match the page map"),
    (PAGE, [1, 1], [b"x" * (PAGE + 100), b"y" * (PAGE - 100)],
     "a chunk of page data holds a partial page"),
])
def test_damaged_page_parts_are_named(tmp_path, page_size, used, chunks, message):
    """A crafted file (valid checksums) whose page map and page data disagree."""
    stored = [zlib.compress(c) for c in chunks]
    payload = np.packbits(np.array(used, dtype=bool)).tobytes() + b"".join(stored)
    entry = {"name": "ram", "size": 2 * PAGE, "encoding": "zpages", "page_size": page_size,
             "chunks": [len(c) for c in stored], "raw": [], "length": len(payload),
             "sha256": hashlib.sha256(payload).hexdigest()}
    header = json.dumps({"unicorn": statefile.engine_version(), "profile": "pc-at",
                         "created": "2026-01-01", "meta": {}, "parts": [entry]}).encode()
    path = tmp_path / "crafted.vmstate"
    path.write_bytes(statefile._PREFIX.pack(statefile.MAGIC, statefile.FORMAT_VERSION,
                                            len(header)) + header + payload)
    for as_pages in ((), ("ram",)):
        with pytest.raises(StateFileError, match=f"part 'ram' is damaged \\({message}"):
            read_state(path, as_pages=as_pages)
