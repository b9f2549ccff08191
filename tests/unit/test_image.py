"""Unit tests for vmgui.storage.image: geometry, padding, errors, read/write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vmgui.storage.image import (
    DiskImage,
    DiskImageError,
    DriveType,
    ReadOnlyError,
    SectorRangeError,
)

K = 1024


def make(tmp_path: Path, size: int, name: str = "disk.img", fill: bytes = b"") -> Path:
    p = tmp_path / name
    data = bytearray(size)
    data[: len(fill)] = fill
    p.write_bytes(bytes(data))
    return p


@pytest.mark.parametrize(
    ("size", "chs", "dtype"),
    [
        (160 * K, (40, 1, 8), DriveType.D360K),
        (180 * K, (40, 1, 9), DriveType.D360K),
        (320 * K, (40, 2, 8), DriveType.D360K),
        (360 * K, (40, 2, 9), DriveType.D360K),
        (720 * K, (80, 2, 9), DriveType.D720K),
        (1200 * K, (80, 2, 15), DriveType.D1200K),
        (1440 * K, (80, 2, 18), DriveType.D1440K),
        (1680 * K, (80, 2, 21), DriveType.D1440K),
        (2880 * K, (80, 2, 36), DriveType.D2880K),
    ],
)
def test_floppy_geometry_by_size(tmp_path, size, chs, dtype):
    with DiskImage.open(make(tmp_path, size)) as img:
        assert img.kind == "floppy"
        assert (img.cylinders, img.heads, img.sectors_per_track) == chs
        assert img.drive_type == dtype
        assert img.total_sectors == size // 512
        assert img.size_bytes == size
        assert not img.padded


@pytest.mark.parametrize(
    ("mib", "heads"),
    [(10, 16), (504, 16), (600, 32), (1000, 32), (2000, 64), (4000, 128), (8000, 255)],
)
def test_hdd_geometry_from_size(tmp_path, mib, heads):
    p = tmp_path / "hd.img"
    with open(p, "wb") as f:
        f.truncate(mib * K * K)  # sparse
    with DiskImage.open(p) as img:
        total = mib * K * K // 512
        assert img.kind == "hdd"
        assert img.drive_type == DriveType.NONE
        assert (img.heads, img.sectors_per_track) == (heads, 63)
        assert img.full_cylinders == total // (heads * 63)
        assert img.cylinders == min(1024, img.full_cylinders)
        assert img.total_sectors == total


def _mbr(heads: int, spt: int, total: int) -> bytes:
    mbr = bytearray(512)
    entry = bytearray(16)
    entry[0] = 0x80
    entry[1:4] = bytes((1, 1, 0))  # start CHS 0/1/1
    entry[4] = 0x06  # FAT16
    entry[5] = heads - 1  # end head
    entry[6] = spt  # end sector (cylinder bits 8-9 zero)
    entry[7] = 10
    entry[8:12] = (spt).to_bytes(4, "little")
    entry[12:16] = (total - spt).to_bytes(4, "little")
    mbr[446:462] = entry
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def test_hdd_geometry_from_mbr(tmp_path):
    total = 20 * 4 * 17  # 20 cylinders of 4 heads x 17 sectors (an old MFM disk)
    p = make(tmp_path, total * 512, "mfm.img", _mbr(4, 17, total))
    with DiskImage.open(p, kind="hdd") as img:
        assert (img.cylinders, img.heads, img.sectors_per_track) == (20, 4, 17)


def test_mbr_with_bad_status_byte_falls_back_to_size(tmp_path):
    total = 20 * 4 * 17
    mbr = bytearray(_mbr(4, 17, total))
    mbr[446] = 0x33  # not 00h/80h: not a partition table
    p = make(tmp_path, total * 512, "x.img", bytes(mbr))
    with DiskImage.open(p, kind="hdd") as img:
        assert (img.heads, img.sectors_per_track) == (16, 63)


def test_kind_none_guesses_small_boot_sector_as_padded_floppy(tmp_path):
    boot = bytearray(512)
    boot[0] = 0xEB
    boot[510:512] = b"\x55\xaa"
    p = make(tmp_path, 512, "boot.img", bytes(boot))
    with DiskImage.open(p) as img:
        assert img.kind == "floppy"
        assert img.padded
        assert img.total_sectors == 2880
        assert (img.cylinders, img.heads, img.sectors_per_track) == (80, 2, 18)
        assert img.read_sectors(0, 1) == bytes(boot)
        assert img.read_sectors(1, 2) == bytes(1024)
        assert img.read_sectors(2879, 1) == bytes(512)
        # writes past the file's end stay in memory; the file never grows
        img.write_sectors(0, b"\x11" * 512 + b"\x22" * 512)
        assert img.read_sectors(1, 1) == b"\x22" * 512
        img.flush()
    assert p.stat().st_size == 512
    assert p.read_bytes() == b"\x11" * 512


def test_small_image_without_signature_is_a_hdd(tmp_path):
    with DiskImage.open(make(tmp_path, 4096)) as img:
        assert img.kind == "hdd"
        assert img.total_sectors == 8


def test_explicit_floppy_kind_pads_odd_sized_image(tmp_path):
    with DiskImage.open(make(tmp_path, 1536 * K), kind="floppy") as img:
        assert img.padded
        assert img.total_sectors == 5760  # 2.88M


def test_bootos_guest_is_padded(tmp_path):
    guest = Path(__file__).resolve().parents[2].parent / "shared" / "guests" / "bootos.img"
    if not guest.exists():
        pytest.skip("shared guests not available")
    with DiskImage.open(guest, read_only=True) as img:
        assert img.kind == "floppy" and img.padded and img.read_only


def test_error_missing_file(tmp_path):
    with pytest.raises(DiskImageError, match=r"nope\.img: no such file"):
        DiskImage.open(tmp_path / "nope.img")


def test_error_directory(tmp_path):
    with pytest.raises(DiskImageError, match="is a directory"):
        DiskImage.open(tmp_path)


def test_error_empty(tmp_path):
    with pytest.raises(DiskImageError, match=r"disk\.img: the file is empty"):
        DiskImage.open(make(tmp_path, 0))


@pytest.mark.parametrize("kind", [None, "hdd", "floppy"])
def test_error_odd_size(tmp_path, kind):
    msg = (r"disk\.img: 1000 bytes is not a floppy size \(160K\.\.2\.88M\) nor a whole "
           r"number of 512-byte sectors")
    with pytest.raises(DiskImageError, match=msg):
        DiskImage.open(make(tmp_path, 1000), kind=kind)


def test_error_too_big_for_floppy(tmp_path):
    with pytest.raises(DiskImageError, match="too big for a floppy"):
        DiskImage.open(make(tmp_path, 4 * K * K), kind="floppy")


def test_error_bad_kind(tmp_path):
    with pytest.raises(DiskImageError, match="kind must be"):
        DiskImage.open(make(tmp_path, 1440 * K), kind="cdrom")  # type: ignore[arg-type]


def test_error_not_writable_and_fallback(tmp_path, monkeypatch):
    p = make(tmp_path, 1440 * K)
    real_open = os.open

    def refuse_rw(path, flags, *args):
        if flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse_rw)
    with pytest.raises(DiskImageError, match=r"disk\.img: cannot open for writing"):
        DiskImage.open(p)
    with DiskImage.open(p, read_only_fallback=True) as img:
        assert img.read_only


def test_read_only_refuses_writes(tmp_path):
    p = make(tmp_path, 1440 * K)
    with DiskImage.open(p, read_only=True) as img:
        with pytest.raises(ReadOnlyError, match="read-only"):
            img.write_sectors(0, bytes(512))
    assert p.read_bytes() == bytes(1440 * K)


def test_writes_land_in_file(tmp_path):
    p = make(tmp_path, 720 * K)
    img = DiskImage.open(p)
    img.write_sectors(img.chs_to_lba(1, 1, 3), b"\xab" * 1024)
    img.flush()
    lba = (1 * 2 + 1) * 9 + 2
    assert p.read_bytes()[lba * 512 : lba * 512 + 1024] == b"\xab" * 1024
    assert img.read_sectors(lba + 1, 1) == b"\xab" * 512
    img.close()
    img.close()  # idempotent
    with pytest.raises(DiskImageError, match="closed"):
        img.read_sectors(0, 1)


def test_range_and_geometry_errors(tmp_path):
    with DiskImage.open(make(tmp_path, 1440 * K)) as img:
        with pytest.raises(SectorRangeError, match=r"beyond end of disk \(2880 sectors\)"):
            img.read_sectors(2879, 2)
        with pytest.raises(DiskImageError, match="does not fit the geometry"):
            img.chs_to_lba(0, 0, 19)
        with pytest.raises(DiskImageError, match="whole sectors"):
            img.write_sectors(0, b"x" * 100)
        assert img.chs_to_lba(0, 0, 1) == 0
        assert img.chs_to_lba(79, 1, 18) == 2879
