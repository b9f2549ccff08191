"""Unit tests for vmgui.storage.overlay: copy-on-write overlays, chains, merge, damage."""

from __future__ import annotations

import hashlib
import os
import random
import struct
import zlib
from pathlib import Path

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.disk import DiskService
from vmgui.storage.image import DiskImage, ReadOnlyError
from vmgui.storage.overlay import (
    ENTRY_SIZE,
    HEADER_AREA,
    STATE_MERGING,
    BaseChangedError,
    Overlay,
    OverlayDamagedError,
    OverlayError,
    discard,
    merge_into_base,
    rebase,
)
from vmgui.storage.overlay_disk import OverlayDiskImage

K = 1024
BS = 8192  # small blocks (16 chunks of 512 bytes) keep the tests quick; default 64 KiB


def make_base(tmp_path: Path, size: int = 256 * K, name: str = "base.img",
              seed: int = 1) -> Path:
    p = tmp_path / name
    p.write_bytes(random.Random(seed).randbytes(size))
    return p


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def crash(ov: Overlay) -> None:
    """Drop an open overlay as a killed process would: no flush, descriptors gone."""
    os.close(ov._fd)
    ov._fd = None
    ov.base.close()


def test_round_trip(tmp_path):
    base = make_base(tmp_path)
    with Overlay.create(tmp_path / "a.cow", base, block_size=BS) as ov:
        assert ov.size == base.stat().st_size
        ov.write(8192, b"hello" * 1000)
    with Overlay.open(tmp_path / "a.cow") as ov:
        assert ov.read(8192, 5000) == b"hello" * 1000
        assert ov.chain() == [tmp_path / "a.cow", base]


def test_reads_fall_through_to_base(tmp_path):
    base = make_base(tmp_path)
    raw = base.read_bytes()
    with Overlay.create(tmp_path / "a.cow", base, block_size=BS) as ov:
        assert ov.read(0, len(raw)) == raw
        ov.write(3 * BS, bytes(BS))
        assert ov.read(0, len(raw)) == raw[: 3 * BS] + bytes(BS) + raw[4 * BS :]
        assert ov.read(2 * BS + 7, 100) == raw[2 * BS + 7 : 2 * BS + 107]
        assert ov.allocated_blocks() == [3]
    assert base.read_bytes() == raw


def test_partial_writes_keep_the_rest_of_the_block(tmp_path):
    base = make_base(tmp_path)
    model = bytearray(base.read_bytes())
    with Overlay.create(tmp_path / "a.cow", base, block_size=BS) as ov:
        for offset, data in ((100, b"x" * 10), (BS - 3, b"spans two blocks"),
                             (5 * BS + 511, b"y" * (3 * BS)), (len(model) - 4, b"end!")):
            ov.write(offset, data)
            model[offset : offset + len(data)] = data
        assert ov.read(0, len(model)) == bytes(model)
    with Overlay.open(tmp_path / "a.cow", read_only=True) as ov:
        assert ov.read(0, len(model)) == bytes(model)


def test_last_block_shorter_than_block_size(tmp_path):
    base = make_base(tmp_path, size=1440 * K)  # 22.5 blocks of 64 KiB
    model = bytearray(base.read_bytes())
    with Overlay.create(tmp_path / "a.cow", base) as ov:
        ov.write(len(model) - 1000, b"z" * 1000)
        model[-1000:] = b"z" * 1000
        with pytest.raises(OverlayError, match="beyond the end"):
            ov.write(len(model) - 10, b"q" * 11)
    with Overlay.open(tmp_path / "a.cow") as ov:
        assert ov.read(0, len(model)) == bytes(model)


def three_layers(tmp_path: Path) -> tuple[list[Path], bytes]:
    """base <- a <- b <- c, each layer writing somewhere; returns paths and the top view."""
    base = make_base(tmp_path)
    model = bytearray(base.read_bytes())
    paths = [base]
    rng = random.Random(7)
    for name in ("a.cow", "b.cow", "c.cow"):
        with Overlay.create(tmp_path / name, paths[-1], block_size=BS) as ov:
            for _ in range(20):
                offset, n = rng.randrange(len(model) - 9000), rng.randrange(1, 9000)
                data = rng.randbytes(n)
                ov.write(offset, data)
                model[offset : offset + n] = data
        paths.append(tmp_path / name)
    return paths, bytes(model)


def test_chain_of_three(tmp_path):
    paths, model = three_layers(tmp_path)
    with Overlay.open(paths[-1]) as ov:
        assert ov.chain() == paths[::-1]
        assert ov.read(0, len(model)) == model
        assert ov.read(12345, 6789) == model[12345 : 12345 + 6789]


def test_merge_gives_the_chain_view(tmp_path):
    paths, model = three_layers(tmp_path)
    base, a, b, c = paths
    with Overlay.open(b, read_only=True) as ov:
        b_view = ov.read(0, ov.size)
    # deleting snapshot "b": merge it into a, then point c at a
    assert merge_into_base(b) == a
    assert not b.exists()
    with Overlay.open(a, read_only=True) as ov:
        assert ov.read(0, ov.size) == b_view
    rebase(c, a)
    with Overlay.open(c) as ov:
        assert ov.chain() == [c, a, base]
        assert ov.read(0, ov.size) == model
    # committing everything down to the raw image
    merge_into_base(c)
    merge_into_base(a)
    assert base.read_bytes() == model


def test_interrupted_merge_is_refused_then_finished(tmp_path):
    base = make_base(tmp_path)
    with Overlay.create(tmp_path / "a.cow", base, block_size=BS) as ov:
        ov.write(1000, b"m" * 20000)
        view = ov.read(0, ov.size)
    merge_into_base(tmp_path / "a.cow", remove=False)  # as if we crashed before deleting
    with pytest.raises(OverlayError, match="merge into its base base.img was interrupted"):
        Overlay.open(tmp_path / "a.cow")
    merge_into_base(tmp_path / "a.cow")
    assert base.read_bytes() == view and not (tmp_path / "a.cow").exists()


def test_try_out_leaves_the_base_untouched(tmp_path):
    base = make_base(tmp_path)
    before = sha(base)
    with Overlay.create(tmp_path / "try.cow", base) as ov:
        for i in range(50):
            ov.write(i * 5000, bytes([i]) * 3000)
        assert ov.read(0, 3000) == bytes(3000)
    discard(tmp_path / "try.cow")
    assert not (tmp_path / "try.cow").exists()
    assert sha(base) == before
    with pytest.raises(OverlayError, match="not a vmgui overlay"):
        discard(base)


def test_flipped_header_byte_is_detected(tmp_path):
    base = make_base(tmp_path)
    Overlay.create(tmp_path / "a.cow", base, block_size=BS).close()
    for offset in (8, 16, 30, 70, 110):  # version, block size, sizes, identity, path
        p = tmp_path / f"h{offset}.cow"
        p.write_bytes((tmp_path / "a.cow").read_bytes())
        flip(p, offset)
        with pytest.raises(OverlayDamagedError, match=f"h{offset}.cow: .*header is damaged"):
            Overlay.open(p)


def test_flipped_table_byte_is_detected(tmp_path):
    base = make_base(tmp_path)
    with Overlay.create(tmp_path / "a.cow", base, block_size=BS) as ov:
        ov.write(5 * BS, b"d" * BS)
    for offset in (5 * ENTRY_SIZE + 2, 5 * ENTRY_SIZE + 9, 7 * ENTRY_SIZE):
        p = tmp_path / "t.cow"
        p.write_bytes((tmp_path / "a.cow").read_bytes())
        flip(p, HEADER_AREA + offset)
        with pytest.raises(OverlayDamagedError, match="block table is damaged"):
            Overlay.open(p)


def test_flipped_data_byte_is_detected_on_read(tmp_path):
    base = make_base(tmp_path)
    p = tmp_path / "a.cow"
    with Overlay.create(p, base, block_size=BS) as ov:
        ov.write(5 * BS, b"d" * BS)
    flip(p, p.stat().st_size - 100)  # in the block's last chunk (15)
    cs = BS // 16
    with Overlay.open(p) as ov:
        assert ov.read(0, BS) == base.read_bytes()[:BS]  # other blocks still readable
        assert ov.read(5 * BS, 10) == b"d" * 10  # and the other chunks of that block
        with pytest.raises(OverlayDamagedError,
                           match=rf"a.cow: block 5 chunk 15 \(disk bytes {5 * BS + 15 * cs}\.\."
                                 rf"{6 * BS - 1}\) is damaged \(data check mismatch\)"):
            ov.read(6 * BS - 200, 10)
        with pytest.raises(OverlayDamagedError, match="block 5 chunk 15"):
            ov.write(6 * BS - 200, b"partial rewrite must not hide the damage")
        ov.write(6 * BS - cs, b"w" * cs)  # a whole-chunk rewrite replaces it: readable again
        assert ov.read(6 * BS - 200, 10) == b"w" * 10


def test_rewrite_in_place_survives_a_crash_before_flush(tmp_path):
    base = make_base(tmp_path)
    p = tmp_path / "a.cow"
    with Overlay.create(p, base, block_size=BS) as ov:
        ov.write(0, b"1" * BS)
    ov = Overlay.open(p)
    ov.write(100, b"2" * 50)
    crash(ov)  # no flush: the stored check is stale
    with Overlay.open(p) as ov:
        assert ov.read(0, 200) == b"1" * 100 + b"2" * 50 + b"1" * 50
    with Overlay.open(p) as ov:  # the flush at close stored the CRC again
        assert not ov._unchecked[0]


def test_changed_base_is_refused(tmp_path):
    base = make_base(tmp_path, name="disk-0.img")
    Overlay.create(tmp_path / "disk-1.cow", base, block_size=BS).close()
    Overlay.create(tmp_path / "disk-2.cow", tmp_path / "disk-1.cow", block_size=BS).close()
    with Overlay.open(tmp_path / "disk-1.cow") as ov:
        ov.write(0, b"changed after disk-2 was made")
    with pytest.raises(BaseChangedError, match=r"disk-2.cow: its base disk-1.cow has changed "
                       r"since the overlay was made \(identity mismatch\)"):
        Overlay.open(tmp_path / "disk-2.cow")
    with open(base, "r+b") as f:  # a changed raw base: the first MiB is sampled
        f.write(b"new boot sector")
    with pytest.raises(BaseChangedError, match="its base disk-0.img has changed"):
        Overlay.open(tmp_path / "disk-1.cow")


def test_missing_base_is_named(tmp_path):
    base = make_base(tmp_path)
    Overlay.create(tmp_path / "a.cow", base, block_size=BS).close()
    base.unlink()
    with pytest.raises(OverlayError, match="a.cow: its base base.img is missing"):
        Overlay.open(tmp_path / "a.cow")


def test_newer_version_is_refused(tmp_path):
    base = make_base(tmp_path)
    p = tmp_path / "a.cow"
    Overlay.create(p, base, block_size=BS).close()
    raw = bytearray(p.read_bytes())
    size = struct.unpack_from("<I", raw, 12)[0]
    for version, message in ((3, "newer vmgui .*version 3; this version reads up to 2"),
                             (1, "format version 1 is from a development build")):
        struct.pack_into("<I", raw, 8, version)
        struct.pack_into("<I", raw, size - 4, zlib.crc32(raw[: size - 4]))
        p.write_bytes(bytes(raw))
        with pytest.raises(OverlayError, match=message):
            Overlay.open(p)


def test_create_refuses_existing_file_and_bad_block_size(tmp_path):
    base = make_base(tmp_path)
    with pytest.raises(OverlayError, match="already exists"):
        Overlay.create(base, base)
    with pytest.raises(OverlayError, match="block size 1000 is not a multiple of 8192"):
        Overlay.create(tmp_path / "a.cow", base, block_size=1000)


def test_base_path_is_stored_relative_so_the_folder_can_move(tmp_path):
    vm = tmp_path / "vm"
    vm.mkdir()
    base = make_base(vm)
    raw = base.read_bytes()
    with Overlay.create(vm / "a.cow", base, block_size=BS) as ov:
        ov.write(0, b"moved")
        assert ov.header.base_path == "base.img"
    vm.rename(tmp_path / "moved")
    with Overlay.open(tmp_path / "moved" / "a.cow") as ov:
        assert ov.read(0, BS) == b"moved" + raw[5:BS]


def boot_floppy(tmp_path: Path) -> Path:
    sector = bytearray(512)
    sector[:3] = b"\xeb\xfe\x90"
    sector[510:] = b"\x55\xaa"
    p = tmp_path / "boot.img"
    p.write_bytes(bytes(sector) + bytes(1440 * K - 512))
    return p


def test_disk_image_adapter_serves_int13(tmp_path):
    base = boot_floppy(tmp_path)
    before = sha(base)
    Overlay.create(tmp_path / "a.cow", base).close()
    with DiskImage.open_overlay(tmp_path / "a.cow") as img:
        assert isinstance(img, OverlayDiskImage)
        assert (img.kind, img.cylinders, img.heads, img.sectors_per_track) == ("floppy", 80, 2,
                                                                               18)
        svc, cpu = DiskService({0: img}), FakeCpu()
        call = cpu.call(0x13, ax=0x0201, cx=0x0001, dx=0x0000, es=0x0000, bx=0x7C00)
        svc.handle(call)  # the boot-sector read the BIOS does at power-on
        assert not cpu.cf and cpu.regs.al == 1
        assert cpu.mem.read(0x7C00, 512) == base.read_bytes()[:512]
        cpu.mem.write(0x20000, b"\xa5" * 1024)
        svc.handle(cpu.call(0x13, ax=0x0302, cx=0x0101, dx=0x0100, es=0x2000, bx=0))
        assert not cpu.cf
        lba = (1 * 2 + 1) * 18
        assert img.read_sectors(lba, 2) == b"\xa5" * 1024
    assert sha(base) == before
    with DiskImage.open_overlay(tmp_path / "a.cow", read_only=True) as img:
        assert img.read_sectors(lba, 2) == b"\xa5" * 1024
        with pytest.raises(ReadOnlyError):
            img.write_sectors(0, bytes(512))


def test_disk_image_adapter_hdd_geometry_matches_raw(tmp_path):
    base = make_base(tmp_path, size=10 * K * K)
    Overlay.create(tmp_path / "c.cow", base).close()
    with DiskImage.open(base, kind="hdd") as raw, \
            DiskImage.open_overlay(tmp_path / "c.cow", kind="hdd") as img:
        assert (img.cylinders, img.heads, img.sectors_per_track, img.total_sectors) == (
            raw.cylinders, raw.heads, raw.sectors_per_track, raw.total_sectors)
        assert img.read_sectors(100, 40) == raw.read_sectors(100, 40)


def test_merging_state_constant_is_in_header(tmp_path):
    base = make_base(tmp_path)
    p = tmp_path / "a.cow"
    Overlay.create(p, base, block_size=BS).close()
    merge_into_base(p, remove=False)
    assert struct.unpack_from("<I", p.read_bytes(), 20)[0] == STATE_MERGING


@pytest.mark.parametrize(("seed", "block_size"), [(1, BS), (2, BS), (3, 65536)])
def test_random_writes_reads_reopens_and_crashes_match_a_model(tmp_path, seed, block_size):
    # the last block is partial; with 64 KiB blocks (4 KiB chunks) so is the last chunk
    base = make_base(tmp_path, size=200 * K + 512, seed=seed)
    model = bytearray(base.read_bytes())
    p = tmp_path / "a.cow"
    rng = random.Random(seed)
    ov = Overlay.create(p, base, block_size=block_size)
    for step in range(400):
        action = rng.random()
        offset = rng.randrange(len(model))
        n = min(rng.choice((1, 100, 512, 1024, BS // 16, BS, 3 * BS + 5)), len(model) - offset)
        if action < 0.5:
            data = rng.randbytes(n)
            ov.write(offset, data)
            model[offset : offset + n] = data
        elif action < 0.9:
            assert ov.read(offset, n) == model[offset : offset + n], step
        elif action < 0.95:
            ov.close()
            ov = Overlay.open(p)
        else:
            crash(ov)  # every write reached the OS: nothing is lost, nothing reads as damage
            ov = Overlay.open(p)
    assert ov.read(0, len(model)) == model
    ov.close()
    with Overlay.open(p, read_only=True) as ov:
        assert not any(ov._unchecked)  # the last close stored every check
        assert ov.read(0, len(model)) == model
    assert base.read_bytes() != model
    merge_into_base(p)
    assert base.read_bytes() == model


def test_a_first_write_copies_only_the_chunks_it_touches(tmp_path):
    base = make_base(tmp_path, size=1 << 20)
    raw = base.read_bytes()
    p = tmp_path / "a.cow"
    with Overlay.create(p, base) as ov:  # 64 KiB blocks of 4 KiB chunks
        assert ov.chunk_size == 4096
        ov.write(65536 + 8192, b"c" * 4096)  # one whole chunk: nothing read from below
        ov.write(65536 + 5 * 4096 + 100, b"p" * 10)  # part of one: that chunk is completed
        assert ov.block_chunks(1) == 0b100100
        assert ov.read(65536, 65536) == (raw[65536 : 65536 + 8192] + b"c" * 4096
                                         + raw[65536 + 12288 : 65536 + 5 * 4096 + 100]
                                         + b"p" * 10 + raw[65536 + 5 * 4096 + 110 : 131072])
    with open(p, "rb") as f:  # the slot holds the two chunks; the rest is a hole (zeros)
        f.seek(ov.header.data_offset)
        slot = f.read(65536)
    assert slot[8192:12288] == b"c" * 4096
    assert slot[5 * 4096 : 6 * 4096] == raw[65536 + 5 * 4096 : 65536 + 5 * 4096 + 100] + \
        b"p" * 10 + raw[65536 + 5 * 4096 + 110 : 65536 + 6 * 4096]
    assert slot[:8192] == bytes(8192)


def test_reading_a_chunk_checks_only_that_chunk(tmp_path):
    base = make_base(tmp_path)
    p = tmp_path / "a.cow"
    with Overlay.create(p, base, block_size=BS) as ov:
        ov.write(0, b"a" * BS)
        data_offset = ov.header.data_offset
    flip(p, data_offset + 3 * (BS // 16) + 7)  # chunk 3 of block 0
    with Overlay.open(p) as ov:
        assert ov.read(0, 3 * (BS // 16)) == b"a" * (3 * (BS // 16))
        assert ov.read(4 * (BS // 16), 100) == b"a" * 100
        with pytest.raises(OverlayDamagedError, match="block 0 chunk 3"):
            ov.read(0, BS)
        with pytest.raises(OverlayDamagedError, match="block 0 chunk 3"):
            merge_into_base(p)  # a damaged overlay is never merged
    assert base.read_bytes()[:BS] != b"a" * BS


def test_a_crash_between_rewrite_and_flush_keeps_the_new_data(tmp_path):
    base = make_base(tmp_path)
    p = tmp_path / "a.cow"
    with Overlay.create(p, base, block_size=BS) as ov:
        ov.write(0, b"1" * BS)
    ov = Overlay.open(p)
    ov.write(0, b"2" * (BS // 16))  # a whole chunk: its check is known in memory
    ov.write(BS // 2 + 3, b"3" * 5)  # part of a chunk: its check is read back at flush
    assert ov._unchecked[0] == 0xFFFF  # the block was flagged once, before the data
    crash(ov)
    expected = b"2" * (BS // 16) + b"1" * (BS // 2 + 3 - BS // 16) + b"3" * 5
    expected += b"1" * (BS - len(expected))
    with Overlay.open(p) as ov:  # UNCHECKED chunks are read as they are ...
        assert ov.read(0, BS) == expected
    with Overlay.open(p) as ov:  # ... and the close stored their checks
        assert not ov._unchecked[0]
        assert ov.read(0, BS) == expected
    flip(p, p.stat().st_size - 1)  # and they are checked again from now on
    with Overlay.open(p) as ov, pytest.raises(OverlayDamagedError, match="chunk 15"):
        ov.read(0, BS)


def test_a_cut_short_file_reports_the_missing_chunks(tmp_path):
    base = make_base(tmp_path)
    p = tmp_path / "a.cow"
    with Overlay.create(p, base, block_size=BS) as ov:
        ov.write(2 * BS, b"x" * BS)
        end = ov.header.data_offset + BS
    with open(p, "r+b") as f:
        f.truncate(end - 100)
    with Overlay.open(p) as ov:
        assert ov.read(2 * BS, 100) == b"x" * 100
        with pytest.raises(OverlayDamagedError, match=r"chunk 15 .*\(the file ends inside it\)"):
            ov.read(3 * BS - 10, 10)
