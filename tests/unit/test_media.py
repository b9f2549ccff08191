"""Creating blank floppies and hard disks, describing images, sparse copies."""

from __future__ import annotations

import os

import pytest

from vmgui.storage import media
from vmgui.storage.image import DiskImage, DiskImageError
from vmgui.storage.overlay import Overlay


@pytest.mark.parametrize("label, size", [("360K", 368640), ("720K", 737280),
                                         ("1.2M", 1228800), ("1.44M", 1474560),
                                         ("2.88M", 2949120)])
def test_create_floppy(tmp_path, label, size):
    path = media.create_floppy(tmp_path / "f.img", label)
    data = path.read_bytes()
    assert len(data) == size and data == bytes(size)
    assert media.describe(path) == f"raw floppy {label}"
    with DiskImage.open(path) as image:
        assert image.kind == "floppy" and not image.padded


def test_create_floppy_refuses_to_overwrite(tmp_path):
    path = tmp_path / "keep.img"
    path.write_bytes(b"precious")
    with pytest.raises(media.MediaError, match="already exists"):
        media.create_floppy(path, "1.44M")
    assert path.read_bytes() == b"precious"


def test_create_floppy_bad_label(tmp_path):
    with pytest.raises(media.MediaError, match="1.44M"):
        media.create_floppy(tmp_path / "f.img", "1.68M DMF")
    assert not (tmp_path / "f.img").exists()


def test_create_floppy_missing_folder(tmp_path):
    with pytest.raises(media.MediaError, match="cannot create"):
        media.create_floppy(tmp_path / "no" / "f.img", "720K")


def test_create_hard_disk_is_sparse(tmp_path):
    path = media.create_hard_disk(tmp_path / "c.img", 64)
    st = path.stat()
    assert st.st_size == 64 * 1024 * 1024 and st.st_size % 512 == 0
    if hasattr(st, "st_blocks"):
        assert st.st_blocks * 512 < 1024 * 1024  # holes, not 64 MB of zeros
    assert media.describe(path) == "raw disk 64 MB"
    with DiskImage.open(path) as image:
        assert image.kind == "hdd" and image.read_sectors(0, 1) == bytes(512)


@pytest.mark.parametrize("size", [0, -1, 8193, 1.5, "10", True])
def test_create_hard_disk_bad_sizes(tmp_path, size):
    with pytest.raises(media.MediaError):
        media.create_hard_disk(tmp_path / "c.img", size)
    assert not (tmp_path / "c.img").exists()


def test_create_hard_disk_limits_and_overwrite(tmp_path):
    media.create_hard_disk(tmp_path / "small.img", 1)
    assert (tmp_path / "small.img").stat().st_size == 1024 * 1024
    media.create_hard_disk(tmp_path / "big.img", 8192)
    assert (tmp_path / "big.img").stat().st_size == 8 * 1024 ** 3
    with pytest.raises(media.MediaError, match="already exists"):
        media.create_hard_disk(tmp_path / "small.img", 2)


def test_describe(tmp_path, test_guests):
    assert media.describe(test_guests / "echo.img").startswith("raw boot sector (512 bytes")
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(10 * 1024 * 1024 + 512 * 1024))
    assert media.describe(odd) == "raw disk 10.5 MB"
    assert media.describe(test_guests / "echo.img", kind="hdd") == "raw disk 0.5 KB"
    with pytest.raises(DiskImageError, match="no such file"):
        media.describe(tmp_path / "missing.img")
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    with pytest.raises(DiskImageError, match="empty"):
        media.describe(empty)


def test_copy_sparse(tmp_path):
    src = tmp_path / "src.img"
    with open(src, "wb") as fh:
        fh.truncate(5 * media.COPY_CHUNK + 512)
        fh.seek(2 * media.COPY_CHUNK + 7)
        fh.write(b"data in the middle")
        fh.seek(5 * media.COPY_CHUNK)
        fh.write(b"tail")
    dst = tmp_path / "dst.img"
    media.copy_sparse(src, dst)
    assert dst.read_bytes() == src.read_bytes()
    st = os.stat(dst)
    if hasattr(st, "st_blocks"):
        assert st.st_blocks * 512 < 3 * media.COPY_CHUNK
    with pytest.raises(media.MediaError, match="cannot create"):
        media.copy_sparse(src, dst)
    with pytest.raises(media.MediaError, match="cannot read"):
        media.copy_sparse(tmp_path / "nope.img", tmp_path / "x.img")


def test_describe_snapshot_layer_by_what_the_guest_sees(tmp_path, test_guests):
    """A snapshot layer (a copy-on-write overlay) is described by the disk it serves and
    the image it is layered over, never as a raw image of the overlay file's size."""
    floppy = media.create_floppy(tmp_path / "fd.img", "720K")
    top = tmp_path / "ea961e367b75d973-floppy_a.cow"
    Overlay.create(top, floppy).close()
    assert media.describe(top) == "720K floppy, snapshot layer over fd.img"
    assert media.describe(top, kind="floppy") == "720K floppy, snapshot layer over fd.img"
    upper = tmp_path / "second.cow"  # a layer over a layer: still named by the raw base
    Overlay.create(upper, top).close()
    assert media.describe(upper) == "720K floppy, snapshot layer over fd.img"
    assert media.layer_base(upper) == floppy and media.layer_base(floppy) is None

    disk = media.create_hard_disk(tmp_path / "hdd.img", 2)
    Overlay.create(tmp_path / "hdd.cow", disk).close()
    assert media.describe(tmp_path / "hdd.cow") == "2 MB disk, snapshot layer over hdd.img"
    boot = tmp_path / "echo.img"
    boot.write_bytes((test_guests / "echo.img").read_bytes())
    Overlay.create(tmp_path / "boot.cow", boot).close()
    assert media.describe(tmp_path / "boot.cow", kind="floppy") == \
        "512-byte image served as a 1.44M floppy, snapshot layer over echo.img"


def test_describe_broken_snapshot_layers_briefly(tmp_path):
    floppy = media.create_floppy(tmp_path / "fd.img", "720K")
    top = tmp_path / "top.cow"
    Overlay.create(top, floppy).close()
    with open(floppy, "r+b") as fh:  # the base changed under the layer
        fh.write(b"changed")
    assert media.describe(top) == \
        "snapshot layer over fd.img, which has changed since (unusable)"
    floppy.unlink()
    assert media.describe(top) == "snapshot layer over fd.img, which is missing"
    assert media.layer_base(top) == floppy  # named by the header even when gone

    media.create_floppy(floppy, "720K")
    Overlay.create(tmp_path / "damaged.cow", floppy).close()
    with open(tmp_path / "damaged.cow", "r+b") as fh:
        fh.seek(20)
        fh.write(b"\xff\xff\xff\xff")  # inside the checksummed header
    assert media.describe(tmp_path / "damaged.cow") == "damaged snapshot layer (unreadable)"
    assert media.layer_base(tmp_path / "damaged.cow") is None
