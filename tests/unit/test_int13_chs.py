"""INT 13h CHS addressing of cylinders 256 and up (issue 12, "mutation check").

The cylinder number is 10 bits: CH holds bits 0-7 and CL bits 6-7 hold bits 8-9 (CL
bits 0-5 are the sector).  Every CHS leaf (AH=02h read, 03h write, 04h verify, 05h
format, 0Ch seek) must decode them, and AH=08h must encode the highest usable cylinder
the same way, capped at 1023 for disks with more than 1024 cylinders (the BIOS reserves
the last cylinder of a hard disk, as SeaBIOS does: max = cylinders - 2).

Everything here is computed independently of the code under test: CX is packed by
:func:`chs_cx`, the LBA by :func:`lba` (``(C * heads + H) * spt + S - 1``), and the
expected bytes are stamped into the image file (sparse) and read back from the file
itself.  References: Ralf Brown's interrupt list, INT 13h AH=02h/08h ("bits 7-6 of CL =
high two bits of cylinder"), the IBM PC/AT Technical Reference fixed disk BIOS.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.disk import DiskService
from vmgui.storage.image import DiskImage

SECTOR = 512
BUF_SEG = 0x2000  # ES:BX buffers
BUF = BUF_SEG << 4


def chs_cx(cylinder: int, sector: int) -> int:
    """CX for INT 13h: CH = cylinder bits 0-7, CL = cylinder bits 8-9 << 6 | sector."""
    assert 0 <= cylinder < 1024 and 0 <= sector < 64
    return (cylinder & 0xFF) << 8 | (cylinder >> 8) << 6 | sector


def lba(c: int, h: int, s: int, heads: int, spt: int) -> int:
    return (c * heads + h) * spt + s - 1


def stamp(n: int) -> bytes:
    """The recognisable contents of sector ``n``."""
    return (b"LBA%09d|" % n) * (SECTOR // 13) + b"#" * (SECTOR % 13)


def make_disk(tmp_path: Path, name: str, sectors: int, stamped: list[int],
              mbr: bytes | None = None) -> Path:
    """A sparse hard disk image of ``sectors`` sectors; the ``stamped`` ones hold
    :func:`stamp`, everything else zeros (an ``mbr`` replaces sector 0)."""
    p = tmp_path / name
    with open(p, "wb") as f:
        f.truncate(sectors * SECTOR)
        for n in stamped:
            f.seek(n * SECTOR)
            f.write(stamp(n))
        if mbr is not None:
            f.seek(0)
            f.write(mbr)
    return p


def file_sectors(path: Path, n: int, count: int = 1) -> bytes:
    with open(path, "rb") as f:
        f.seek(n * SECTOR)
        return f.read(count * SECTOR)


def int13(svc: DiskService, cpu: FakeCpu, **regs: int) -> FakeCpu:
    svc.handle(cpu.call(0x13, **regs))
    return cpu


def mbr_16x63(total: int) -> bytes:
    """An MBR with one partition whose end CHS says 16 heads, 63 sectors per track."""
    entry = bytes((0x80, 1, 1, 0, 0x06, 15, 63 | 0xC0, 0xFF))
    entry += (63).to_bytes(4, "little") + (total - 63).to_bytes(4, "little")
    return bytes(446) + entry + bytes(48) + b"\x55\xaa"


# (name, cylinders, heads, sectors per track) of disks whose geometry comes from their
# size (LBA-assist: 16 heads x 63 while that keeps <= 1024 cylinders).
SIZED = [("c300", 300, 16, 63), ("c600", 600, 16, 63), ("c1000", 1000, 16, 63)]
# cylinders (of those disks) probed: each combination of the two high bits
PROBES = [255, 256, 257, 299, 300, 511, 512, 599, 600, 767, 768, 998, 999]


@pytest.fixture(params=SIZED, ids=[s[0] for s in SIZED])
def sized(request, tmp_path):
    name, cyls, heads, spt = request.param
    probes = [(c, h, s) for c in PROBES if c < cyls for h, s in ((0, 1), (heads - 1, spt),
                                                                 (heads // 2, 33))]
    stamped = sorted({lba(c, h, s, heads, spt) + i for c, h, s in probes for i in (0, 1)}
                     - {cyls * heads * spt})
    path = make_disk(tmp_path, f"{name}.img", cyls * heads * spt, stamped)
    with DiskImage.open(path, kind="hdd") as image:
        assert (image.cylinders, image.heads, image.sectors_per_track) == (cyls, heads, spt)
        yield path, image, probes


def test_read_any_cylinder_at_the_right_lba(sized):
    path, image, probes = sized
    svc, cpu = DiskService({0x80: image}), FakeCpu()
    for c, h, s in probes:
        int13(svc, cpu, ax=0x0201, cx=chs_cx(c, s), dx=h << 8 | 0x80, es=BUF_SEG, bx=0)
        assert not cpu.cf and cpu.regs.ax == 0x0001, (c, h, s)
        n = lba(c, h, s, image.heads, image.sectors_per_track)
        assert cpu.mem.read(BUF, SECTOR) == stamp(n) == file_sectors(path, n), (c, h, s)


def test_read_beyond_the_last_cylinder_fails(sized):
    path, image, _ = sized
    svc, cpu = DiskService({0x80: image}), FakeCpu()
    for c in (image.cylinders, image.cylinders + 1, 1023):
        cpu.mem.write(BUF, b"\xaa" * SECTOR)
        int13(svc, cpu, ax=0x0201, cx=chs_cx(c, 1), dx=0x0080, es=BUF_SEG, bx=0)
        assert cpu.cf and cpu.regs.ah == 0x04 and cpu.regs.al == 0, c
        assert cpu.mem.read(BUF, SECTOR) == b"\xaa" * SECTOR


def test_a_read_across_the_cylinder_255_256_boundary(tmp_path):
    heads, spt = 16, 63
    first = lba(255, heads - 1, spt, heads, spt)
    path = make_disk(tmp_path, "x.img", 300 * heads * spt, [first, first + 1])
    with DiskImage.open(path, kind="hdd") as image:
        svc, cpu = DiskService({0x80: image}), FakeCpu()
        int13(svc, cpu, ax=0x0202, cx=chs_cx(255, spt), dx=(heads - 1) << 8 | 0x80,
              es=BUF_SEG, bx=0)
        assert not cpu.cf and cpu.regs.al == 2
        assert cpu.mem.read(BUF, 2 * SECTOR) == stamp(first) + stamp(first + 1)
        assert first + 1 == lba(256, 0, 1, heads, spt)


def test_write_lands_at_the_right_lba_and_nowhere_else(sized):
    path, image, probes = sized
    svc, cpu = DiskService({0x80: image}), FakeCpu()
    heads, spt = image.heads, image.sectors_per_track
    for i, (c, h, s) in enumerate(probes):
        data = bytes([i + 1]) * SECTOR
        n = lba(c, h, s, heads, spt)
        before = file_sectors(path, n - 1), file_sectors(path, n + 1)
        cpu.mem.write(BUF, data)
        int13(svc, cpu, ax=0x0301, cx=chs_cx(c, s), dx=h << 8 | 0x80, es=BUF_SEG, bx=0)
        assert not cpu.cf and cpu.regs.ax == 0x0001, (c, h, s)
        image.flush()
        assert file_sectors(path, n) == data, (c, h, s)
        assert (file_sectors(path, n - 1), file_sectors(path, n + 1)) == before


def test_write_beyond_the_last_cylinder_changes_nothing(sized):
    path, image, _ = sized
    size = path.stat().st_size
    svc, cpu = DiskService({0x80: image}), FakeCpu()
    cpu.mem.write(BUF, b"\x77" * SECTOR)
    c = image.cylinders
    int13(svc, cpu, ax=0x0301, cx=chs_cx(c, 1), dx=0x0080, es=BUF_SEG, bx=0)
    assert cpu.cf and cpu.regs.ah == 0x04
    image.flush()
    assert path.stat().st_size == size
    wrapped = lba(c & 0xFF, 0, 1, image.heads, image.sectors_per_track)  # high bits lost
    assert b"\x77" not in file_sectors(path, wrapped)


@pytest.mark.parametrize(("ah", "what"), [(0x04, "verify"), (0x05, "format"),
                                          (0x0C, "seek")])
def test_verify_format_and_seek_take_the_high_cylinder_bits(sized, ah, what):
    _path, image, _ = sized
    svc, cpu = DiskService({0x80: image}), FakeCpu()
    last = image.cylinders - 1
    for c in (last, 256 if last >= 256 else last):
        int13(svc, cpu, ax=ah << 8 | 1, cx=chs_cx(c, 1), dx=0x0080, es=BUF_SEG, bx=0)
        assert not cpu.cf and cpu.regs.ah == 0, (what, c)
        if ah == 0x04:
            assert cpu.regs.al == 1
    for c in sorted({image.cylinders, 1023, (image.cylinders | 0x300) & 0x3FF}):
        if c < image.cylinders:
            continue
        int13(svc, cpu, ax=ah << 8 | 1, cx=chs_cx(c, 1), dx=0x0080, es=BUF_SEG, bx=0)
        assert cpu.cf and cpu.regs.ah == 0x04, (what, c)


def test_params_encode_the_high_cylinder_bits(sized):
    _path, image, _ = sized
    svc, cpu = DiskService({0x80: image}), FakeCpu()
    int13(svc, cpu, ah=0x08, dl=0x80)
    max_cyl = image.cylinders - 2  # the last cylinder is reserved
    assert not cpu.cf and cpu.regs.ah == 0
    assert cpu.regs.ch == max_cyl & 0xFF
    assert cpu.regs.cl >> 6 == max_cyl >> 8
    assert cpu.regs.cl & 0x3F == 63
    assert cpu.regs.cx == chs_cx(max_cyl, 63)
    assert cpu.regs.dh == 15 and cpu.regs.dl == 1


@pytest.mark.parametrize(("cyls", "ch", "cl"), [
    (300, 0x2A, 0x7F),  # max 298 = 12Ah: CH 2Ah, CL 01b << 6 | 63
    (600, 0x56, 0xBF),  # max 598 = 256h: CH 56h, CL 10b << 6 | 63
    (1000, 0xE6, 0xFF),  # max 998 = 3E6h: CH E6h, CL 11b << 6 | 63
])
def test_params_literal_register_values(tmp_path, cyls, ch, cl):
    path = make_disk(tmp_path, "d.img", cyls * 16 * 63, [])
    with DiskImage.open(path, kind="hdd") as image:
        svc, cpu = DiskService({0x80: image}), FakeCpu()
        int13(svc, cpu, ah=0x08, dl=0x80)
        assert (cpu.regs.ch, cpu.regs.cl, cpu.regs.dh) == (ch, cl, 15)


# ---------------------------------------------------------------------- > 1024 cylinders


def capped_disks(tmp_path: Path) -> list[tuple[Path, int, int, int]]:
    """(path, full cylinders, heads, spt): 2080 cylinders by its MBR (16x63, 1 GiB),
    and 1100 cylinders of 255x63 by its size (LBA-assist gives up at 128 heads)."""
    out = []
    total = 2080 * 16 * 63
    top = lba(1023, 15, 63, 16, 63)
    out.append((make_disk(tmp_path, "mbr.img", total, [top, lba(1022, 3, 7, 16, 63)],
                          mbr=mbr_16x63(total)), 2080, 16, 63))
    total = 1100 * 255 * 63
    top = lba(1023, 254, 63, 255, 63)
    out.append((make_disk(tmp_path, "big.img", total, [top, lba(1022, 3, 7, 255, 63)]),
                1100, 255, 63))
    return out


def test_more_than_1024_cylinders_are_capped_in_params_and_reachable(tmp_path):
    for path, _full, heads, spt in capped_disks(tmp_path):
        with DiskImage.open(path, kind="hdd") as image:
            assert (image.cylinders, image.heads, image.sectors_per_track) == (1024, heads, spt)
            svc, cpu = DiskService({0x80: image}), FakeCpu()
            int13(svc, cpu, ah=0x08, dl=0x80)
            assert not cpu.cf
            assert (cpu.regs.ch, cpu.regs.cl) == (0xFE, 0xFF)  # 1022, sector 63
            assert cpu.regs.dh == heads - 1
            for c, h, s in ((1023, heads - 1, spt), (1022, 3, 7)):
                int13(svc, cpu, ax=0x0201, cx=chs_cx(c, s), dx=h << 8 | 0x80, es=BUF_SEG,
                      bx=0)
                n = lba(c, h, s, heads, spt)
                assert not cpu.cf and cpu.mem.read(BUF, SECTOR) == stamp(n), (path, c)
                int13(svc, cpu, ax=0x0401, cx=chs_cx(c, s), dx=h << 8 | 0x80)
                assert not cpu.cf and cpu.regs.al == 1
            int13(svc, cpu, ax=0x0C00, cx=chs_cx(1023, 1), dx=0x0080)
            assert not cpu.cf


def test_the_partial_cylinder_at_the_end_is_not_addressable_by_chs(tmp_path):
    """A disk of 300 whole cylinders and 500 more sectors: CHS reaches cylinders 0-299
    only (the LBA services reach every sector)."""
    heads, spt = 16, 63
    total = 300 * heads * spt + 500
    extra = 300 * heads * spt
    path = make_disk(tmp_path, "odd.img", total, [extra, extra - 1])
    with DiskImage.open(path, kind="hdd") as image:
        assert image.cylinders == 300 and image.total_sectors == total
        svc, cpu = DiskService({0x80: image}), FakeCpu()
        int13(svc, cpu, ax=0x0201, cx=chs_cx(299, spt), dx=(heads - 1) << 8 | 0x80,
              es=BUF_SEG, bx=0)
        assert not cpu.cf and cpu.mem.read(BUF, SECTOR) == stamp(extra - 1)
        for ah in (0x02, 0x03, 0x04, 0x05, 0x0C):
            int13(svc, cpu, ax=ah << 8 | 1, cx=chs_cx(300, 1), dx=0x0080, es=BUF_SEG, bx=0)
            assert cpu.cf and cpu.regs.ah == 0x04, hex(ah)
        assert file_sectors(path, extra) == stamp(extra)  # the write did not land
        packet = bytes((0x10, 0, 1, 0, 0, 0)) + BUF_SEG.to_bytes(2, "little")
        cpu.mem.write(0x600, packet + extra.to_bytes(8, "little"))
        int13(svc, cpu, ah=0x42, dl=0x80, ds=0, si=0x600)
        assert not cpu.cf and cpu.mem.read(BUF, SECTOR) == stamp(extra)
