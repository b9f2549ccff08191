"""A file that must be an overlay opens as one or not at all (issue 12, item 4).

One damaged byte in an overlay's magic, or a garbage ``*.cow``, used to make the layer
open as a writable raw disk: the guest's next write destroyed it.  Here every such file
is refused with a message naming the layer, never with a traceback, and its bytes are
never changed (checked byte for byte and by modification time).  Damaged headers,
tables, versions and sizes get the same treatment (fuzz-ish cases plus a small
hypothesis run over random header mutations with a recomputed checksum).
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmgui.storage import media
from vmgui.storage.image import DiskImage, DiskImageError
from vmgui.storage.overlay import (
    HEADER_AREA,
    MAGIC,
    Overlay,
    OverlayDamagedError,
    OverlayError,
    discard,
    rebase,
)
from vmgui.storage.overlay_disk import OverlayDiskImage, open_disk
from vmgui.storage.overlay_format import damaged_magic, is_overlay, must_be_overlay

K = 1024
BS = 8192
FLOPPY = 1474560


def make_base(folder: Path, name: str = "fd.img", size: int = FLOPPY, seed: int = 1) -> Path:
    p = folder / name
    p.write_bytes(random.Random(seed).randbytes(size))
    return p


def make_layer(folder: Path, name: str = "top.cow", base: Path | None = None) -> Path:
    """A layer with some data in it (over ``base``, default a new random floppy)."""
    base = base if base is not None else make_base(folder)
    p = folder / name
    with Overlay.create(p, base, block_size=BS) as ov:
        ov.write(0, b"layer data " * 100)
        ov.write(min(40 * BS, ov.size - BS) + 700, b"more")
    return p


class Untouched:
    """Records files' bytes and times; :meth:`check` asserts nothing changed them."""

    def __init__(self, *paths: Path) -> None:
        self.before = {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_size)
                       for p in paths}

    def check(self) -> None:
        for p, (data, mtime, size) in self.before.items():
            st = p.stat()
            assert (st.st_size, st.st_mtime_ns) == (size, mtime), f"{p} was written"
            assert p.read_bytes() == data, f"{p} changed"


def refused(path: Path, match: str, *, kind: str = "floppy") -> str:
    """Open ``path`` as a VM drive (read-write: what ``vmgui run`` does); it must be
    refused with an :class:`OverlayError` matching ``match``; returns the message."""
    with pytest.raises(OverlayError, match=match) as info:
        open_disk(path, kind=kind).close()
    return str(info.value)


def set_header_field(path: Path, fmt: str, offset: int, value: int) -> None:
    """Change a header field and recompute the header checksum (a crafted, not a
    damaged, header: only the consistency checks can refuse it)."""
    raw = bytearray(path.read_bytes())
    size = struct.unpack_from("<I", raw, 12)[0]
    struct.pack_into(fmt, raw, offset, value)
    struct.pack_into("<I", raw, size - 4, zlib.crc32(raw[: size - 4]))
    path.write_bytes(bytes(raw))


# ---------------------------------------------------------------------- the magic


@pytest.mark.parametrize("offset", range(8))
@pytest.mark.parametrize("name", ["top.cow", "top.img"])
def test_one_damaged_magic_byte_is_refused_and_the_layer_untouched(tmp_path, offset, name):
    layer = make_layer(tmp_path, name)
    data = bytearray(layer.read_bytes())
    data[offset] ^= 0x20
    layer.write_bytes(bytes(data))
    guard = Untouched(layer, tmp_path / "fd.img")
    assert must_be_overlay(layer) and not is_overlay(layer)
    message = refused(layer, rf"layer '{layer}' is damaged: bad magic b'")
    assert "neither opened nor changed" in message
    with pytest.raises(OverlayDamagedError, match="bad magic"):
        Overlay.open(layer)
    guard.check()


def test_a_whole_garbage_magic_with_an_intact_header_is_still_a_layer(tmp_path):
    layer = make_layer(tmp_path, "disk-1.img")  # not named .cow: the header tells
    data = bytearray(layer.read_bytes())
    data[:8] = b"\x00" * 8
    layer.write_bytes(bytes(data))
    guard = Untouched(layer)
    assert damaged_magic(data[:HEADER_AREA])
    refused(layer, "bad magic")
    guard.check()


@pytest.mark.parametrize("seed", range(4))
def test_a_garbage_cow_is_refused_not_run_as_a_raw_disk(tmp_path, seed):
    layer = tmp_path / "7d900c0573f31aad-floppy_a.cow"
    layer.write_bytes(random.Random(seed).randbytes([512, 8192, FLOPPY, 100][seed]))
    guard = Untouched(layer)
    message = refused(layer, "is damaged: bad magic")
    assert "a raw disk image must not be named *.cow" in message
    guard.check()


def test_an_empty_cow_is_refused(tmp_path):
    layer = tmp_path / "a.cow"
    layer.write_bytes(b"")
    refused(layer, "layer '.*a.cow' is damaged: the file is empty")
    assert layer.read_bytes() == b""


@pytest.mark.parametrize("seed", range(6))
def test_raw_images_still_open_raw(tmp_path, seed):
    """No false alarms: random raw images, and one with a real MBR, are not layers."""
    raw = make_base(tmp_path, "disk.img", size=[FLOPPY, 737280, 4 * K * K][seed % 3],
                    seed=seed)
    if seed >= 3:
        data = bytearray(raw.read_bytes())
        data[:3] = b"\xeb\x3c\x90"
        data[3:11] = b"MSWIN4.1"
        data[510:512] = b"\x55\xaa"
        raw.write_bytes(bytes(data))
    assert not must_be_overlay(raw)
    with open_disk(raw) as image:
        assert type(image) is DiskImage


def test_a_healthy_layer_opens_through_open_disk(tmp_path):
    layer = make_layer(tmp_path)
    with open_disk(layer, kind="floppy") as image:
        assert isinstance(image, OverlayDiskImage)
        assert image.read_sectors(0, 1)[:11] == b"layer data "


def test_a_damaged_layer_down_the_chain_is_named(tmp_path):
    middle = make_layer(tmp_path, "disk-1.cow")
    top = tmp_path / "disk-2.cow"
    Overlay.create(top, middle, block_size=BS).close()
    data = bytearray(middle.read_bytes())
    data[2] = ord("X")
    middle.write_bytes(bytes(data))
    guard = Untouched(top, middle, tmp_path / "fd.img")
    refused(top, rf"layer '{middle}' is damaged: bad magic")
    guard.check()


def test_a_damaged_non_cow_layer_down_the_chain_is_named(tmp_path):
    """Whatever its name, a base the header records as an overlay must be one."""
    middle = make_layer(tmp_path, "disk-1.img")
    top = tmp_path / "disk-2.img"
    Overlay.create(top, middle, block_size=BS).close()
    data = bytearray(middle.read_bytes())
    data[0] = 0
    middle.write_bytes(bytes(data))
    guard = Untouched(top, middle)
    refused(top, rf"layer '{middle}' is damaged: bad magic")
    guard.check()


def test_no_new_layer_over_a_damaged_one(tmp_path):
    """Try-out mode and snapshots put a new overlay over the current top: not over a
    damaged one (which would then be read as a raw disk)."""
    layer = make_layer(tmp_path)
    data = bytearray(layer.read_bytes())
    data[5] ^= 1
    layer.write_bytes(bytes(data))
    guard = Untouched(layer)
    with pytest.raises(OverlayDamagedError, match="bad magic"):
        Overlay.create(tmp_path / "tryout-00.cow", layer)
    assert not (tmp_path / "tryout-00.cow").exists()
    assert not (tmp_path / "tryout-00.cow.tmp").exists()
    guard.check()


def test_no_rebase_onto_a_damaged_layer(tmp_path):
    base = make_base(tmp_path)
    below = make_layer(tmp_path, "below.cow", base)
    top = tmp_path / "top.cow"
    Overlay.create(top, below, block_size=BS).close()
    data = bytearray(below.read_bytes())
    data[7] ^= 0xFF
    below.write_bytes(bytes(data))
    guard = Untouched(top, below)
    with pytest.raises(OverlayDamagedError, match=f"layer '{below}' is damaged"):
        rebase(top, below)
    guard.check()


def test_discard_still_deletes_only_real_overlays(tmp_path):
    garbage = tmp_path / "x.cow"
    garbage.write_bytes(b"not an overlay at all")
    with pytest.raises(OverlayError, match="not a vmgui overlay; not deleting it"):
        discard(garbage)
    assert garbage.exists()


def test_list_and_details_name_the_damage(tmp_path):
    layer = make_layer(tmp_path)
    assert media.layer_damage(layer) is None
    assert media.layer_damage(tmp_path / "fd.img") is None
    data = bytearray(layer.read_bytes())
    data[1] ^= 4
    layer.write_bytes(bytes(data))
    assert "is damaged: bad magic" in media.layer_damage(layer)
    assert media.describe(layer) == "damaged snapshot layer (unreadable)"


def test_a_fifo_named_cow_is_refused_without_waiting(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this OS")
    fifo = tmp_path / "a.cow"
    os.mkfifo(fifo)
    refused(fifo, "not a regular file")
    assert "not a regular file" in media.layer_damage(fifo)
    other = tmp_path / "b.img"
    os.mkfifo(other)
    assert not must_be_overlay(other) and not is_overlay(other)


# ---------------------------------------------------------------------- header, table, sizes


@pytest.mark.parametrize("cut", [8, 12, 16, 50, 101, 150, HEADER_AREA - 1, HEADER_AREA + 40])
def test_truncated_file_is_refused(tmp_path, cut):
    layer = make_layer(tmp_path)
    layer.write_bytes(layer.read_bytes()[:cut])
    guard = Untouched(layer)
    refused(layer, r"(header is damaged|block table is cut short)")
    guard.check()


def test_garbage_table_is_refused(tmp_path):
    layer = make_layer(tmp_path)
    data = bytearray(layer.read_bytes())
    data[HEADER_AREA : HEADER_AREA + 4 * K] = random.Random(3).randbytes(4 * K)
    layer.write_bytes(bytes(data))
    guard = Untouched(layer)
    refused(layer, "block table is damaged")
    guard.check()


@pytest.mark.parametrize(("version", "match"), [
    (0, "version 0 is from a development build"),
    (1, "version 1 is from a development build"),
    (3, "made by a newer vmgui"),
    (0xFFFFFFFF, "made by a newer vmgui"),
])
def test_wrong_version_is_refused(tmp_path, version, match):
    layer = make_layer(tmp_path)
    set_header_field(layer, "<I", 8, version)
    guard = Untouched(layer)
    refused(layer, match)
    guard.check()


@pytest.mark.parametrize(("fmt", "offset", "value", "match"), [
    ("<Q", 24, FLOPPY + 512, "inconsistent .virtual size"),  # virtual != base size
    ("<Q", 56, FLOPPY * 2, "inconsistent .virtual size"),  # base size
    ("<Q", 24, 0, "inconsistent"),  # an empty disk
    ("<Q", 40, 10**6, "inconsistent"),  # block count
    ("<Q", 48, 1 << 40, "inconsistent"),  # data offset
    ("<I", 16, 4096, "block size 4096"),
    ("<H", 100, 4000, "inconsistent"),  # base path length past the header
])
def test_size_mismatches_are_refused(tmp_path, fmt, offset, value, match):
    layer = make_layer(tmp_path)
    set_header_field(layer, fmt, offset, value)
    guard = Untouched(layer)
    refused(layer, match)
    guard.check()


def test_a_huge_crafted_disk_size_is_refused_without_a_huge_read(tmp_path):
    """virtual and base size both 2^62, table fields to match: the header is consistent
    but the file cannot hold the table; refused before any big allocation."""
    layer = make_layer(tmp_path)
    raw = bytearray(layer.read_bytes())
    size = struct.unpack_from("<I", raw, 12)[0]
    for vsize, match in ((1 << 62, "inconsistent"), (1 << 34, "block table is cut short")):
        count = -(-vsize // BS)
        struct.pack_into("<QQQQ", raw, 24, vsize, 4096, count, 0)
        data_offset = -(-(4096 + count * 80) // 4096) * 4096
        struct.pack_into("<QQ", raw, 48, data_offset, vsize)
        struct.pack_into("<I", raw, size - 4, zlib.crc32(raw[: size - 4]))
        layer.write_bytes(bytes(raw))
        guard = Untouched(layer)
        refused(layer, match)
        guard.check()


def test_a_base_path_with_a_nul_byte_is_refused(tmp_path):
    layer = make_layer(tmp_path)
    raw = bytearray(layer.read_bytes())
    raw[102] = 0  # first byte of the base path
    size = struct.unpack_from("<I", raw, 12)[0]
    struct.pack_into("<I", raw, size - 4, zlib.crc32(raw[: size - 4]))
    layer.write_bytes(bytes(raw))
    refused(layer, "inconsistent")


FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, HEADER_AREA + 3 * 80 - 1),
                                st.integers(0, 255)), min_size=1, max_size=6),
       fix_crc=st.booleans(), cut=st.one_of(st.none(), st.integers(0, 8 * K)))
def test_random_damage_is_refused_with_a_message_never_a_traceback(tmp_path_factory, edits,
                                                                   fix_crc, cut):
    folder = tmp_path_factory.mktemp("fuzz")
    layer = make_layer(folder, base=make_base(folder, size=64 * K))
    raw = bytearray(layer.read_bytes())
    for offset, value in edits:
        raw[offset] = value
    size = struct.unpack_from("<I", raw, 12)[0]
    if fix_crc and raw[:8] == MAGIC and 110 <= size <= HEADER_AREA:
        struct.pack_into("<I", raw, size - 4, zlib.crc32(raw[: size - 4]))
    layer.write_bytes(bytes(raw[:cut] if cut is not None else raw))
    guard = Untouched(layer, folder / "fd.img")
    try:
        with open_disk(layer, kind="floppy") as image:
            image.read_sectors(0, 8)  # an intact-enough layer: it reads
    except DiskImageError as exc:
        assert str(exc)
    guard.check()


def test_a_machine_given_paths_opens_layers_as_layers(tmp_path):
    """``Machine(MachineConfig(floppies=(path,)))`` (in-process console, embedding)
    opens the drives itself: a layer through its chain, a damaged one not at all."""
    from vmgui.core.machine import Machine, MachineConfig

    layer = make_layer(tmp_path)
    machine = Machine(MachineConfig(floppies=(layer,)))
    try:
        assert isinstance(machine.drives[0], OverlayDiskImage)
        assert machine.drives[0].read_sectors(0, 1)[:11] == b"layer data "
    finally:
        machine.close()
    data = bytearray(layer.read_bytes())
    data[4] ^= 0x10
    layer.write_bytes(bytes(data))
    guard = Untouched(layer)
    with pytest.raises(OverlayDamagedError, match="bad magic"):
        Machine(MachineConfig(floppies=(layer,)))
    guard.check()
