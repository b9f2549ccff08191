"""Unit tests for vmgui.bios.disk (INT 13h) with FakeCpu."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.bda import Bda, seg_off
from vmgui.bios.disk import DiskService, diskette_parameter_table
from vmgui.storage.image import DiskImage

K = 1024
GUESTS = Path(__file__).resolve().parents[2].parent / "shared" / "guests"
DPT = (0xF000, 0xEFC7)


def patterned(tmp_path: Path, size: int, name: str) -> Path:
    """An image whose sector n is filled with bytes (n & 0xFF)."""
    p = tmp_path / name
    p.write_bytes(b"".join(bytes((n & 0xFF,)) * 512 for n in range(size // 512)))
    return p


@pytest.fixture
def fd144(tmp_path):
    with DiskImage.open(patterned(tmp_path, 1440 * K, "a.img")) as img:
        yield img


@pytest.fixture
def hdd(tmp_path):
    with DiskImage.open(patterned(tmp_path, 10 * K * K, "c.img"), kind="hdd") as img:
        yield img


def int13(svc: DiskService, cpu: FakeCpu, **regs: int):
    call = cpu.call(0x13, **regs)
    svc.handle(call)
    return call


def test_read_chs_into_es_bx(fd144):
    svc, cpu = DiskService({0: fd144}), FakeCpu()
    # cylinder 1, head 1, sector 3 -> LBA (1*2+1)*18+2 = 56; 3 sectors
    int13(svc, cpu, ax=0x0203, cx=0x0103, dx=0x0100, es=0x1000, bx=0x0010)
    assert not cpu.cf and cpu.regs.ah == 0 and cpu.regs.al == 3
    addr = seg_off(0x1000, 0x0010)
    assert cpu.mem.read(addr, 3 * 512) == fd144.read_sectors(56, 3)
    assert cpu.mem.read(addr, 1) == b"\x38"


def test_read_crossing_head_boundary(fd144):
    svc, cpu = DiskService({0: fd144}), FakeCpu()
    int13(svc, cpu, ax=0x0204, cx=0x0011, dx=0x0000, es=0x2000, bx=0)  # sectors 17..20
    assert not cpu.cf and cpu.regs.al == 4
    assert cpu.mem.read(0x20000, 4 * 512) == fd144.read_sectors(16, 4)


def test_write_then_read_back(fd144):
    svc, cpu = DiskService({0: fd144}), FakeCpu()
    cpu.mem.write(0x30000, b"\x5a" * 1024)
    int13(svc, cpu, ax=0x0302, cx=0x0501, dx=0x0000, es=0x3000, bx=0)
    assert not cpu.cf and cpu.regs.ax == 0x0002
    int13(svc, cpu, ax=0x0202, cx=0x0501, dx=0x0000, es=0x4000, bx=0)
    assert cpu.mem.read(0x40000, 1024) == b"\x5a" * 1024
    assert fd144.read_sectors(5 * 36, 2) == b"\x5a" * 1024


def test_params_720k_and_144m(tmp_path, fd144):
    with DiskImage.open(patterned(tmp_path, 720 * K, "b.img")) as fd720:
        svc, cpu = DiskService({0: fd720, 1: fd144}, dpt_address=DPT), FakeCpu()
        int13(svc, cpu, ah=0x08, dl=0)
        assert not cpu.cf and cpu.regs.ax == 0
        assert cpu.regs.bl == 3
        assert cpu.regs.cx == 0x4F09  # 79 cylinders max, 9 sectors
        assert cpu.regs.dx == 0x0102  # max head 1, 2 drives
        assert (cpu.regs.es, cpu.regs.di) == DPT
        int13(svc, cpu, ah=0x08, dl=1)
        assert cpu.regs.bl == 4 and cpu.regs.cx == 0x4F12 and cpu.regs.dx == 0x0102


def test_params_hdd(tmp_path, hdd):
    svc, cpu = DiskService({0: None, 0x80: hdd}), FakeCpu()
    int13(svc, cpu, ah=0x08, dl=0x80)
    assert not cpu.cf and cpu.regs.ah == 0
    # 10 MiB = 20480 sectors / (16*63) = 20 cylinders; max cylinder 18 (last one reserved)
    assert cpu.regs.cx == (18 << 8) | 63
    assert cpu.regs.dx == (15 << 8) | 1


def test_params_big_hdd_packs_high_cylinder_bits(tmp_path):
    p = tmp_path / "big.img"
    with open(p, "wb") as f:
        f.truncate(400 * K * K)  # 812 cylinders of 16x63
    with DiskImage.open(p) as img:
        svc, cpu = DiskService({0x80: img}), FakeCpu()
        int13(svc, cpu, ah=0x08, dl=0x80)
        max_cyl = 812 - 2
        assert cpu.regs.ch == max_cyl & 0xFF
        assert cpu.regs.cl == ((max_cyl >> 2) & 0xC0) | 63


def test_disk_type(fd144, hdd):
    svc, cpu = DiskService({0: fd144, 0x80: hdd}), FakeCpu()
    int13(svc, cpu, ah=0x15, dl=0)
    assert cpu.regs.ah == 0x02 and not cpu.cf
    int13(svc, cpu, ah=0x15, dl=0x80)
    assert cpu.regs.ah == 0x03 and not cpu.cf
    assert (cpu.regs.cx << 16) | cpu.regs.dx == hdd.total_sectors
    int13(svc, cpu, ah=0x15, dl=0x81)
    assert cpu.regs.ah == 0x00 and not cpu.cf


def test_extensions_check(fd144, hdd):
    svc, cpu = DiskService({0: fd144, 0x80: hdd}), FakeCpu()
    int13(svc, cpu, ah=0x41, bx=0x55AA, dl=0x80)
    assert not cpu.cf and cpu.regs.bx == 0xAA55
    assert cpu.regs.ah in (0x21, 0x30) and cpu.regs.cx & 0x0005 == 0x0005
    int13(svc, cpu, ah=0x41, bx=0x55AA, dl=0x00)  # floppies have no extensions
    assert cpu.cf and cpu.regs.ah == 0x01


def _dap(cpu: FakeCpu, addr: int, lba: int, count: int, seg: int, off: int) -> None:
    cpu.mem.write(addr, bytes((0x10, 0)) + count.to_bytes(2, "little")
                  + off.to_bytes(2, "little") + seg.to_bytes(2, "little")
                  + lba.to_bytes(8, "little"))


def test_extended_read_and_flat_address(hdd):
    svc, cpu = DiskService({0x80: hdd}), FakeCpu()
    _dap(cpu, 0x500, lba=300, count=2, seg=0x5000, off=0x0000)
    int13(svc, cpu, ah=0x42, dl=0x80, ds=0, si=0x500)
    assert not cpu.cf and cpu.regs.ah == 0
    assert cpu.mem.read(0x50000, 1024) == hdd.read_sectors(300, 2)
    # EDD 3.0 packet: buffer FFFF:FFFF and a 64-bit flat address at offset 10h
    pkt = bytes((0x18, 0)) + (1).to_bytes(2, "little") + b"\xff" * 4
    pkt += (7).to_bytes(8, "little") + (0x60000).to_bytes(8, "little")
    cpu.mem.write(0x600, pkt)
    int13(svc, cpu, ah=0x42, dl=0x80, ds=0, si=0x600)
    assert not cpu.cf and cpu.mem.read(0x60000, 512) == b"\x07" * 512


def test_extended_write_and_beyond_end(hdd):
    svc, cpu = DiskService({0x80: hdd}), FakeCpu()
    cpu.mem.write(0x70000, b"\xc3" * 512)
    _dap(cpu, 0x500, lba=1000, count=1, seg=0x7000, off=0)
    int13(svc, cpu, ax=0x4300, dl=0x80, ds=0, si=0x500)
    assert not cpu.cf and hdd.read_sectors(1000, 1) == b"\xc3" * 512
    _dap(cpu, 0x500, lba=hdd.total_sectors - 1, count=2, seg=0x7000, off=0)
    int13(svc, cpu, ah=0x42, dl=0x80, ds=0, si=0x500)
    assert cpu.cf and cpu.regs.ah == 0x04
    assert cpu.mem.read_u16(0x502) == 0  # blocks transferred
    assert cpu.mem.read_u8(Bda.HDD_LAST_STATUS) == 0x04


def test_extended_params(hdd):
    svc, cpu = DiskService({0x80: hdd}), FakeCpu()
    cpu.mem.write_u16(0x800, 0x1E)
    int13(svc, cpu, ah=0x48, dl=0x80, ds=0, si=0x800)
    assert not cpu.cf and cpu.regs.ah == 0
    m = cpu.mem
    assert m.read_u16(0x800) == 0x1E
    assert m.read_u16(0x802) & 0x0002  # CHS valid
    assert (m.read_u32(0x804), m.read_u32(0x808), m.read_u32(0x80C)) == (20, 16, 63)
    assert int.from_bytes(m.read(0x810, 8), "little") == hdd.total_sectors
    assert m.read_u16(0x818) == 512
    assert m.read_u32(0x81A) == 0xFFFFFFFF
    cpu.mem.write_u16(0x900, 0x10)  # too small a buffer
    int13(svc, cpu, ah=0x48, dl=0x80, ds=0, si=0x900)
    assert cpu.cf and cpu.regs.ah == 0x01


def test_beyond_end_sets_cf_and_status_04(tmp_path, caplog):
    with DiskImage.open(patterned(tmp_path, 720 * K, "b.img")) as fd720:
        svc, cpu = DiskService({0: fd720}), FakeCpu()
        with caplog.at_level(logging.INFO, logger="vmgui.bios.disk"):
            int13(svc, cpu, ax=0x0201, cx=0x5001, dx=0x0000, es=0x1000, bx=0)  # cyl 80
        assert cpu.cf and cpu.regs.ah == 0x04 and cpu.regs.al == 0
        assert "AH=02h: cylinder 80 beyond" in caplog.text
        assert cpu.mem.read_u8(Bda.FLOPPY_LAST_STATUS) == 0x04
        # last status
        int13(svc, cpu, ah=0x01, dl=0)
        assert cpu.cf and cpu.regs.ah == 0x04
        # reset, then the last status is 0
        int13(svc, cpu, ah=0x00, dl=0)
        assert not cpu.cf
        int13(svc, cpu, ah=0x01, dl=0)
        assert not cpu.cf and cpu.regs.ah == 0x00


def test_beyond_end_lba_message(tmp_path, caplog):
    p = patterned(tmp_path, 4096, "tiny.img")  # 8 sectors as a hdd: 1 cylinder of 16x63
    with DiskImage.open(p, kind="hdd") as img:
        svc, cpu = DiskService({0x80: img}), FakeCpu()
        with caplog.at_level(logging.INFO, logger="vmgui.bios.disk"):
            int13(svc, cpu, ax=0x0201, cx=0x000A, dx=0x0080, es=0x1000, bx=0)
        assert cpu.cf and cpu.regs.ah == 0x04 and cpu.regs.al == 0
        assert "AH=02h: sector 9 beyond end of disk (8 sectors)" in caplog.text


def test_read_only_write_gives_03(tmp_path):
    with DiskImage.open(patterned(tmp_path, 1440 * K, "ro.img"), read_only=True) as img:
        svc, cpu = DiskService({0: img}), FakeCpu()
        int13(svc, cpu, ax=0x0301, cx=0x0001, dx=0x0000, es=0x1000, bx=0)
        assert cpu.cf and cpu.regs.ah == 0x03 and cpu.regs.al == 0
        int13(svc, cpu, ah=0x01, dl=0)
        assert cpu.regs.ah == 0x03


def test_unknown_function_sets_cf_and_logs_once(fd144, caplog):
    svc, cpu = DiskService({0: fd144}), FakeCpu()
    with caplog.at_level(logging.INFO, logger="vmgui.bios.disk"):
        int13(svc, cpu, ah=0x99, dl=0)
        int13(svc, cpu, ah=0x99, dl=0)
    assert cpu.cf and cpu.regs.ah == 0x01
    assert caplog.text.count("INT 13h AH=99h: unsupported function") == 1


def test_missing_drive_and_empty_slot(fd144):
    svc, cpu = DiskService({0: None}), FakeCpu()
    int13(svc, cpu, ax=0x0201, cx=0x0001, dx=0x0000, es=0x1000, bx=0)
    assert cpu.cf and cpu.regs.ah == 0x80  # no media: timeout
    int13(svc, cpu, ax=0x0201, cx=0x0001, dx=0x0001, es=0x1000, bx=0)
    assert cpu.cf and cpu.regs.ah == 0x01  # no drive B:
    int13(svc, cpu, ax=0x0201, cx=0x0001, dx=0x0080, es=0x1000, bx=0)
    assert cpu.cf and cpu.regs.ah == 0x01  # no hard disk
    # insert a disk: the change line reports it once
    svc.attach(0, fd144)
    int13(svc, cpu, ah=0x16, dl=0)
    assert cpu.cf and cpu.regs.ah == 0x06
    int13(svc, cpu, ah=0x16, dl=0)
    assert not cpu.cf and cpu.regs.ah == 0x00
    int13(svc, cpu, ax=0x0201, cx=0x0001, dx=0x0000, es=0x1000, bx=0)
    assert not cpu.cf
    assert svc.eject(0) is fd144 and svc.floppy_count == 1


def test_format_track_fills_f6(fd144):
    svc, cpu = DiskService({0: fd144}), FakeCpu()
    int13(svc, cpu, ax=0x0512, cx=0x0200, dx=0x0100, es=0x1000, bx=0)
    assert not cpu.cf
    lba = fd144.chs_to_lba(2, 1, 1)
    assert fd144.read_sectors(lba, 18) == b"\xf6" * 18 * 512
    assert fd144.read_sectors(lba + 18, 1) == bytes((lba + 18) & 0xFF for _ in range(512))


def test_verify_seek_and_media(fd144):
    svc, cpu = DiskService({0: fd144}, dpt_address=DPT), FakeCpu()
    int13(svc, cpu, ax=0x0402, cx=0x0001, dx=0x0000)
    assert not cpu.cf and cpu.regs.al == 2
    int13(svc, cpu, ah=0x0C, cx=0x4F00, dx=0x0000)
    assert not cpu.cf
    int13(svc, cpu, ah=0x18, cx=0x4F12, dl=0)
    assert not cpu.cf and (cpu.regs.es, cpu.regs.di) == DPT
    int13(svc, cpu, ah=0x18, cx=0x4F13, dl=0)
    assert cpu.cf and cpu.regs.ah == 0x0C


def test_post_fills_bda(fd144, hdd):
    svc, cpu = DiskService({0: fd144, 1: None, 0x80: hdd}), FakeCpu()
    cpu.mem.write_u8(Bda.HDD_LAST_STATUS, 0x55)
    svc.post(cpu.mem)
    assert cpu.mem.read_u8(Bda.HDD_COUNT) == 1
    assert cpu.mem.read_u8(Bda.HDD_LAST_STATUS) == 0
    assert cpu.mem.read_u8(Bda.FLOPPY_MEDIA_STATE) == 0x17
    assert (svc.floppy_count, svc.hdd_count) == (2, 1)


def test_diskette_parameter_table():
    t = diskette_parameter_table(4)
    assert len(t) == 11
    assert t[3] == 2 and t[4] == 18 and t[8] == 0xF6
    assert diskette_parameter_table(3)[4] == 9
    with pytest.raises(ValueError):
        diskette_parameter_table(5)


def test_freedos_boot_sector_via_int13():
    guest = GUESTS / "freedos722.img"
    if not guest.exists():
        pytest.skip("shared guests not available")
    with DiskImage.open(guest, read_only=True) as img:
        svc, cpu = DiskService({0: img}), FakeCpu()
        int13(svc, cpu, ax=0x0201, cx=0x0001, dx=0x0000, es=0x0000, bx=0x7C00)
        assert not cpu.cf and cpu.regs.ax == 0x0001
        assert cpu.mem.read(0x7C00 + 510, 2) == b"\x55\xaa"
        int13(svc, cpu, ah=0x08, dl=0)
        assert cpu.regs.bl == 3 and cpu.regs.cx == 0x4F09
