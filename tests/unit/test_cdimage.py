"""vmgui.storage.cdimage: which files are CD images, and what a bad one is told."""

from __future__ import annotations

import os

import pytest

from tests import isos
from vmgui.storage import media
from vmgui.storage.cdimage import CdImage, NotIsoError, TruncatedIsoError, is_iso9660
from vmgui.storage.image import (
    DiskImageError,
    ImageMissingError,
    ReadOnlyError,
    SectorRangeError,
)
from vmgui.storage.overlay_disk import open_disk


@pytest.fixture
def iso(tmp_path):
    path = tmp_path / "test.iso"
    path.write_bytes(isos.build_iso(image=b"\xab" * 2048 + b"\xcd" * 2048, volume_id="MYDISC"))
    return path


def test_open_reads_2048_byte_sectors(iso):
    with CdImage.open(iso) as cd:
        assert cd.total_sectors == 22 and cd.size_bytes == 22 * 2048
        assert cd.volume_id == "MYDISC"
        assert cd.read_only and cd.kind == "cdrom"
        assert cd.read_sectors(20, 2) == b"\xab" * 2048 + b"\xcd" * 2048
        assert cd.read_sectors(16, 1)[1:6] == b"CD001"


def test_read_beyond_the_end_names_the_sector(iso):
    with CdImage.open(iso) as cd, pytest.raises(SectorRangeError) as exc:
        cd.read_sectors(21, 2)
    assert str(exc.value) == f"{iso}: CD sector 22 beyond end of disc (22 sectors)"


def test_a_cd_cannot_be_written(iso):
    with CdImage.open(iso) as cd, pytest.raises(ReadOnlyError, match="a CD is read-only"):
        cd.write_sectors(0, bytes(2048))


def test_last_partial_sector_reads_zero_padded(tmp_path):
    path = tmp_path / "odd.iso"
    path.write_bytes(isos.build_iso(image=b"\x11" * 2048) + b"\x22" * 100)
    with CdImage.open(path) as cd:
        assert cd.total_sectors == 22
        assert cd.read_sectors(21, 1) == b"\x22" * 100 + bytes(1948)


def test_a_floppy_image_is_not_a_cd(tmp_path):
    path = tmp_path / "x.img"
    path.write_bytes(bytes(1474560))
    with pytest.raises(NotIsoError) as exc:
        CdImage.open(path)
    assert str(exc.value) == (f"{path} is not an ISO 9660 CD image (no CD001 volume "
                              "descriptor at sector 16)")
    assert not is_iso9660(path)


def test_a_small_file_is_not_a_cd(tmp_path):
    path = tmp_path / "boot.img"
    path.write_bytes(bytes(512))
    with pytest.raises(NotIsoError, match=r"512 bytes is too small: its volume descriptors "
                                          r"would start at byte 32768, sector 16"):
        CdImage.open(path)


def test_truncated_iso_names_both_sizes(tmp_path):
    whole = isos.build_iso(image=bytes(10 * 2048))  # 30 sectors
    path = tmp_path / "cut.iso"
    path.write_bytes(whole[:25 * 2048 + 7])
    with pytest.raises(TruncatedIsoError) as exc:
        CdImage.open(path)
    assert str(exc.value) == (f"{path}: the ISO image is truncated: the file has 51207 bytes, "
                              "but its primary volume descriptor says the disc holds 30 "
                              "sectors of 2048 bytes (61440 bytes)")
    assert is_iso9660(path)  # still recognised as an ISO: the CLI attaches it as a CD


def test_iso_cut_inside_its_first_descriptor(tmp_path):
    path = tmp_path / "cut.iso"
    path.write_bytes(isos.build_iso()[:16 * 2048 + 1000])
    with pytest.raises(TruncatedIsoError, match=r"truncated: 33768 bytes end inside its "
                                                r"first volume descriptor \(sector 16"):
        CdImage.open(path)


def test_no_primary_volume_descriptor(tmp_path):
    data = bytearray(isos.build_iso())
    data[16 * 2048] = 2  # a supplementary descriptor where the primary should be
    data[17 * 2048] = 2
    path = tmp_path / "odd.iso"
    path.write_bytes(bytes(data))
    with pytest.raises(NotIsoError, match="has no primary volume descriptor"):
        CdImage.open(path)


def test_block_size_other_than_2048_is_refused(tmp_path):
    data = bytearray(isos.build_iso())
    data[16 * 2048: 17 * 2048] = isos.pvd(21, block=512)
    path = tmp_path / "odd.iso"
    path.write_bytes(bytes(data))
    with pytest.raises(DiskImageError, match="logical block size 512 is not supported"):
        CdImage.open(path)


def test_missing_and_special_files(tmp_path):
    with pytest.raises(ImageMissingError, match="no such file"):
        CdImage.open(tmp_path / "nope.iso")
    with pytest.raises(DiskImageError, match="is a directory"):
        CdImage.open(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DiskImageError, match=r"CD '.*fifo' is not a regular file \(FIFO\)"):
        CdImage.open(fifo)
    assert not is_iso9660(fifo) and not is_iso9660(tmp_path / "nope.iso")


def test_open_disk_opens_a_cd_and_describe_names_it(iso):
    with open_disk(iso, kind="cdrom") as cd:
        assert isinstance(cd, CdImage)
    assert media.describe(iso, kind="cdrom") == "ISO 9660 CD image 44 KB, volume 'MYDISC'"


def test_closed_image_says_so(iso):
    cd = CdImage.open(iso)
    cd.close()
    cd.close()  # idempotent
    with pytest.raises(DiskImageError, match="the CD image is closed"):
        cd.read_sectors(16, 1)
