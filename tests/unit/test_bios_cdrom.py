"""vmgui.bios.cdrom: El Torito boot and the int 13h services of the CD drive (FakeCpu)."""

from __future__ import annotations

import logging

import pytest

from tests import isos
from vmgui.bios.api import FakeCpu, FakeMemory
from vmgui.bios.bda import Bda, seg_off
from vmgui.bios.cdrom import CD_DRIVE, CdBootError, CdromService
from vmgui.bios.disk import DiskService
from vmgui.storage.cdimage import CdImage
from vmgui.storage.image import DiskImage

DAP, BUF = 0x0600, 0x10000


def patterned_sectors(count: int, size: int) -> bytes:
    return b"".join(bytes(((n + 1) & 0xFF,)) * size for n in range(count))


@pytest.fixture
def cd(tmp_path):
    path = tmp_path / "disc.iso"
    path.write_bytes(isos.build_iso(image=patterned_sectors(40, 2048)))  # sectors 20-59
    with CdImage.open(path) as image:
        yield image


def service(cd=None, drives=None) -> tuple[CdromService, DiskService, FakeCpu]:
    disk = DiskService(drives or {})
    return CdromService(disk, cd), disk, FakeCpu()


def int13(disk: DiskService, cpu: FakeCpu, **regs: int):
    call = cpu.call(0x13, **regs)
    disk.handle(call)  # through the disk service, as the BIOS dispatches it
    return call


def put_dap(cpu: FakeCpu, lba: int, count: int, buf: int = BUF) -> None:
    cpu.mem.write(DAP, bytes((0x10, 0)) + count.to_bytes(2, "little")
                  + (buf & 0xF).to_bytes(2, "little") + (buf >> 4).to_bytes(2, "little")
                  + lba.to_bytes(8, "little"))


# ---------------------------------------------------------------------- 41h-48h

def test_extensions_present(cd):
    _, disk, cpu = service(cd)
    int13(disk, cpu, ah=0x41, bx=0x55AA, dl=CD_DRIVE)
    assert not cpu.cf and cpu.regs.bx == 0xAA55 and cpu.regs.ah == 0x21
    assert cpu.regs.cx == 0x0005  # extended access + EDD


def test_extended_read_in_2048_byte_sectors(cd):
    _, disk, cpu = service(cd)
    put_dap(cpu, 21, 3)
    int13(disk, cpu, ah=0x42, dl=CD_DRIVE, ds=0, si=DAP)
    assert not cpu.cf and cpu.regs.ah == 0
    assert cpu.mem.read(BUF, 3 * 2048) == cd.read_sectors(21, 3)
    assert cpu.mem.read(BUF, 1) == b"\x02" and cpu.mem.read_u16(DAP + 2) == 3
    assert disk.transfers[str(cd.path)] == 1


def test_long_read_goes_in_chunks(cd):
    _, disk, cpu = service(cd)
    put_dap(cpu, 20, 40)  # more than one 32-sector chunk
    int13(disk, cpu, ah=0x42, dl=CD_DRIVE, ds=0, si=DAP)
    assert not cpu.cf and cpu.mem.read(BUF, 40 * 2048) == patterned_sectors(40, 2048)


def test_read_beyond_the_end_of_the_disc(cd, caplog):
    _, disk, cpu = service(cd)
    put_dap(cpu, 9001, 1)
    with caplog.at_level(logging.INFO):
        int13(disk, cpu, ah=0x42, dl=CD_DRIVE, ds=0, si=DAP)
    assert cpu.cf and cpu.regs.ah == 0x04 and cpu.mem.read_u16(DAP + 2) == 0
    assert "INT 13h AH=42h: CD sector 9001 beyond end of disc (60 sectors)" in caplog.text
    assert cpu.mem.read_u8(Bda.HDD_LAST_STATUS) == 0x04


class SizedMemory(FakeMemory):
    """Raises IndexError beyond its end, as guest memory does (FakeMemory would grow)."""

    def write(self, addr: int, data: bytes) -> None:
        if addr + len(data) > len(self.data):
            raise IndexError(f"write beyond {len(self.data):#x}")
        super().write(addr, data)


def test_read_into_a_buffer_beyond_memory(cd):
    _, disk, cpu = service(cd)
    cpu.mem = SizedMemory()
    put_dap(cpu, 20, 40, buf=0x100000 - 0x10000)  # 80 KB from FFFF:... of 1 MB + 64 KB
    cpu.mem.write(DAP + 4, (0xF000FFF0).to_bytes(4, "little"))  # F000:FFF0 = 0xFFFF0
    int13(disk, cpu, ah=0x42, dl=CD_DRIVE, ds=0, si=DAP)
    assert cpu.cf and cpu.regs.ah == 0x09
    assert cpu.mem.read_u16(DAP + 2) == 32  # the first 64 KB chunk fitted, the next not


def test_write_is_write_protected(cd):
    _, disk, cpu = service(cd)
    put_dap(cpu, 20, 1)
    int13(disk, cpu, ah=0x43, dl=CD_DRIVE, ds=0, si=DAP)
    assert cpu.cf and cpu.regs.ah == 0x03 and cpu.mem.read_u16(DAP + 2) == 0


@pytest.mark.parametrize("ah", [0x44, 0x47])
def test_verify_and_seek_check_the_range(cd, ah):
    _, disk, cpu = service(cd)
    put_dap(cpu, 59, 1)
    int13(disk, cpu, ah=ah, dl=CD_DRIVE, ds=0, si=DAP)
    assert not cpu.cf
    put_dap(cpu, 60, 1)
    int13(disk, cpu, ah=ah, dl=CD_DRIVE, ds=0, si=DAP)
    assert cpu.cf and cpu.regs.ah == 0x04


def test_drive_parameters(cd):
    _, disk, cpu = service(cd)
    cpu.mem.write_u16(0x700, 0x1E)
    int13(disk, cpu, ah=0x48, dl=CD_DRIVE, ds=0, si=0x700)
    m = cpu.mem
    assert not cpu.cf
    assert m.read_u16(0x700) == 0x1E and m.read_u16(0x702) == 0x75  # removable, lockable...
    assert m.read(0x704, 12) == b"\xff" * 12  # no CHS geometry: maximum values
    assert int.from_bytes(m.read(0x710, 8), "little") == 60
    assert m.read_u16(0x718) == 2048 and m.read_u32(0x71A) == 0xFFFFFFFF


def test_drive_parameters_buffer_too_small(cd):
    _, disk, cpu = service(cd)
    cpu.mem.write_u16(0x700, 0x10)
    int13(disk, cpu, ah=0x48, dl=CD_DRIVE, ds=0, si=0x700)
    assert cpu.cf and cpu.regs.ah == 0x01


def test_empty_drive_says_no_media():
    _, disk, cpu = service(None)
    put_dap(cpu, 16, 1)
    int13(disk, cpu, ah=0x42, dl=CD_DRIVE, ds=0, si=DAP)
    assert cpu.cf and cpu.regs.ah == 0x31
    int13(disk, cpu, ah=0x00, dl=CD_DRIVE)  # a reset works without a disc
    assert not cpu.cf


# ---------------------------------------------------------------------- old functions

@pytest.mark.parametrize("ah", [0x02, 0x03, 0x04, 0x05, 0x08, 0x16])
def test_chs_functions_fail_as_seabios_answers(cd, ah):
    _, disk, cpu = service(cd)
    int13(disk, cpu, ah=ah, al=1, cx=1, dl=CD_DRIVE, es=0x1000, bx=0)
    assert cpu.cf and cpu.regs.ah == 0x01


def test_disk_type_and_status(cd):
    _, disk, cpu = service(cd)
    int13(disk, cpu, ah=0x15, dl=CD_DRIVE)
    assert not cpu.cf and cpu.regs.ah == 0x01  # SeaBIOS: no change-line support
    int13(disk, cpu, ah=0x08, dl=CD_DRIVE)
    int13(disk, cpu, ah=0x01, dl=CD_DRIVE)
    assert cpu.cf and cpu.regs.ah == 0x01  # the last status: 08h failed with 01h


def test_unknown_function_is_named_once(cd, caplog):
    _, disk, cpu = service(cd)
    with caplog.at_level(logging.WARNING):
        int13(disk, cpu, ah=0x49, dl=CD_DRIVE)
        int13(disk, cpu, ah=0x49, dl=CD_DRIVE)
    assert cpu.cf and cpu.regs.ah == 0x01
    assert caplog.text.count("INT 13h AH=49h: not supported for the CD drive") == 1


def test_hard_disks_still_reach_the_disk_service(cd, tmp_path):
    hdd_path = tmp_path / "c.img"
    hdd_path.write_bytes(bytes(1 << 20))
    with DiskImage.open(hdd_path, kind="hdd") as hdd:
        _, disk, cpu = service(cd, {0x80: hdd})
        int13(disk, cpu, ah=0x08, dl=0x80)
        assert not cpu.cf and cpu.regs.dl == 1


# ---------------------------------------------------------------------- boot

def test_no_emulation_boot(cd):
    svc, disk, cpu = service(cd)
    assert svc.boot(cpu.mem) == (0x07C0, CD_DRIVE)
    assert cpu.mem.read(0x7C00, 2048) == b"\x01" * 2048  # four 512-byte sectors of sector 20
    assert cpu.mem.read_u8(0x7C00 + 2048) == 0
    assert disk.emulated is None


def test_emulation_status_packet_after_a_no_emulation_boot(cd):
    svc, disk, cpu = service(cd)
    svc.boot(cpu.mem)
    int13(disk, cpu, ax=0x4B01, dl=CD_DRIVE, ds=0, si=0x800)
    assert not cpu.cf
    assert cpu.mem.read(0x800, 0x13) == bytes((0x13, 0, 0xE0, 0, 20, 0, 0, 0, 0, 0, 0, 0,
                                               0xC0, 0x07, 4, 0, 0, 0, 0))


def test_emulation_status_without_a_cd_boot(cd, caplog):
    _, disk, cpu = service(cd)
    with caplog.at_level(logging.INFO):
        int13(disk, cpu, ax=0x4B01, dl=0x80, ds=0, si=0x800)
    assert cpu.cf and cpu.regs.ah == 0x01
    assert "INT 13h AH=4Bh: the machine did not boot from a CD" in caplog.text


def floppy_iso(tmp_path, media: int = 2, sectors: int = 2880) -> CdImage:
    path = tmp_path / "fd.iso"
    image = patterned_sectors(sectors, 512)
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(media, count=1))
    path.write_bytes(isos.build_iso(image=image, catalog_sector=cat))
    return CdImage.open(path)


def test_floppy_emulation_moves_a_to_b(tmp_path):
    real_a = tmp_path / "a.img"
    real_a.write_bytes(b"\xaa" * 737280)
    with floppy_iso(tmp_path) as cd, DiskImage.open(real_a) as a, \
            DiskImage.open(tmp_path / "a.img") as b:
        svc, disk, cpu = service(cd, {0: a, 1: b})
        assert svc.boot(cpu.mem) == (0x07C0, 0x00)
        assert cpu.mem.read(0x7C00, 512) == b"\x01" * 512
        int13(disk, cpu, ax=0x0201, cx=0x0002, dx=0x0000, es=0x2000, bx=0)  # 00h: the CD
        assert not cpu.cf and cpu.mem.read(0x20000, 512) == b"\x02" * 512
        int13(disk, cpu, ax=0x0201, cx=0x0001, dx=0x0001, es=0x2000, bx=0)  # 01h: real A:
        assert not cpu.cf and cpu.mem.read(0x20000, 512) == b"\xaa" * 512
        int13(disk, cpu, ah=0x08, dl=0x00)
        assert (cpu.regs.bl, cpu.regs.cx, cpu.regs.dh, cpu.regs.dl) == (4, 0x4F12, 1, 2)
        assert cpu.mem.read_u16(Bda.EQUIPMENT) & 0x00C1 == 0x0041  # two floppy drives
        int13(disk, cpu, ax=0x0301, cx=0x0001, dx=0x0000, es=0x2000, bx=0)
        assert cpu.cf and cpu.regs.ah == 0x03  # the emulated floppy is write-protected
        int13(disk, cpu, ah=0x41, bx=0x55AA, dl=0x00)
        assert cpu.cf and cpu.regs.ah == 0x01  # only 00h-16h on an emulated drive


def test_terminate_emulation_gives_the_numbers_back(tmp_path):
    real_a = tmp_path / "a.img"
    real_a.write_bytes(b"\xaa" * 737280)
    with floppy_iso(tmp_path) as cd, DiskImage.open(real_a) as a:
        svc, disk, cpu = service(cd, {0: a})
        svc.boot(cpu.mem)
        int13(disk, cpu, ax=0x4B01, dl=0x00, ds=0, si=0x800)
        assert cpu.mem.read(0x800, 4) == bytes((0x13, 2, 0x00, 0))
        assert cpu.mem.read(0x810, 3) == bytes((79, 18, 1))  # CH, CL, DH of AH=08h
        int13(disk, cpu, ax=0x4B00, dl=0x00, ds=0, si=0x900)
        assert not cpu.cf and cpu.mem.read(0x900, 0x13) == cpu.mem.read(0x800, 0x13)
        assert disk.emulated is None and disk.drive(0) is a
        assert cpu.mem.read_u16(Bda.EQUIPMENT) & 0x00C1 == 0x0001
        int13(disk, cpu, ax=0x4B01, dl=0x00, ds=0, si=0x800)
        assert cpu.mem.read(0x800, 3) == bytes((0x13, 0, CD_DRIVE))


def test_hard_disk_emulation_moves_c_to_d(tmp_path):
    mbr = bytearray(512)
    mbr[446:462] = bytes((0x80, 0, 1, 0, 6, 1, 17, 9)) + bytes(8)  # 10 cyl, 2 heads, 17 spt
    mbr[510:512] = b"\x55\xaa"
    image = bytes(mbr) + patterned_sectors(339, 512)
    path = tmp_path / "hd.iso"
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(4, count=1))
    path.write_bytes(isos.build_iso(image=image, catalog_sector=cat))
    hdd_path = tmp_path / "c.img"
    hdd_path.write_bytes(b"\xcc" * (1 << 20))
    with CdImage.open(path) as cd, DiskImage.open(hdd_path, kind="hdd") as c:
        svc, disk, cpu = service(cd, {0x80: c})
        assert svc.boot(cpu.mem) == (0x07C0, 0x80)
        assert disk.hdd_count == 2 and cpu.mem.read_u8(Bda.HDD_COUNT) == 2
        int13(disk, cpu, ah=0x08, dl=0x80)
        assert (cpu.regs.cx, cpu.regs.dh, cpu.regs.dl) == (0x0811, 1, 2)
        int13(disk, cpu, ax=0x0201, cx=0x0001, dx=0x0081, es=0x2000, bx=0)
        assert not cpu.cf and cpu.mem.read(0x20000, 512) == b"\xcc" * 512


def test_boot_catalog_is_returned(cd):
    svc, disk, cpu = service(cd)
    svc.boot(cpu.mem)
    cpu.mem.write(0x800, bytes((8, 1)) + (0x3000 << 16).to_bytes(4, "little") + bytes(2))
    int13(disk, cpu, ax=0x4D00, dl=CD_DRIVE, ds=0, si=0x800)
    assert not cpu.cf and cpu.mem.read(0x30000, 2048) == cd.read_sectors(19, 1)


@pytest.mark.parametrize("ah", [0x4A, 0x4C])
def test_initiate_emulation_is_not_supported(cd, ah, caplog):
    _, disk, cpu = service(cd)
    with caplog.at_level(logging.INFO):
        int13(disk, cpu, ah=ah, dl=CD_DRIVE, ds=0, si=0x800)
    assert cpu.cf and cpu.regs.ah == 0x01
    assert f"INT 13h AH={ah:02X}h: (initiate disk emulation" in caplog.text


def test_cd_without_boot_record(tmp_path):
    path = tmp_path / "data.iso"
    path.write_bytes(isos.build_iso(boot=False, image=bytes(2048)))
    with CdImage.open(path) as cd:
        svc, _, cpu = service(cd)
        with pytest.raises(CdBootError, match="^has no El Torito boot record$"):
            svc.boot(cpu.mem)
    assert svc.booted is None


def test_boot_image_that_does_not_fit_below_640k(tmp_path):
    path = tmp_path / "big.iso"
    cat = isos.catalog(isos.validation_entry(),
                       isos.default_entry(load_segment=0x9000, count=200))
    path.write_bytes(isos.build_iso(image=bytes(2048), catalog_sector=cat))
    with CdImage.open(path) as cd, pytest.raises(CdBootError, match="does not fit below 640"):
        service(cd)[0].boot(FakeCpu().mem)


def test_boot_image_past_the_end_of_the_disc(tmp_path):
    path = tmp_path / "short.iso"
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(count=8, rba=20))
    path.write_bytes(isos.build_iso(image=bytes(2048), catalog_sector=cat))
    with CdImage.open(path) as cd, pytest.raises(CdBootError) as exc:
        service(cd)[0].boot(FakeCpu().mem)
    assert str(exc.value) == ("has a boot image (8 sectors of 512 bytes from sector 20) "
                              "reaching past the end of the disc (21 sectors)")


def test_empty_drive_does_not_boot():
    svc, _, cpu = service(None)
    assert svc.boot(cpu.mem) is None


def test_saved_state_puts_the_emulation_back(tmp_path):
    with floppy_iso(tmp_path) as cd:
        svc, disk, cpu = service(cd)
        svc.boot(cpu.mem)
        state = svc.save_state()
        svc.reset()
        assert disk.emulated is None and svc.booted is None
        svc.load_state(state)
        assert disk.emulated is not None and disk.emulated[0] == 0
        assert svc.booted is not None and svc.booted.emulating
        int13(disk, cpu, ax=0x0201, cx=0x0003, dx=0x0000, es=0x2000, bx=0)
        assert cpu.mem.read(0x20000, 512) == b"\x03" * 512
        svc.insert(None)
        with pytest.raises(ValueError, match="the CD drive is empty"):
            svc.load_state(state)


def test_dap_address_of_the_cd_is_read_from_ds_si(cd):
    _, disk, cpu = service(cd)
    cpu.mem.write(seg_off(0x1234, 0x10), bytes((0x10, 0, 1, 0, 0, 0, 0x00, 0x20))
                  + (17).to_bytes(8, "little"))
    int13(disk, cpu, ah=0x42, dl=CD_DRIVE, ds=0x1234, si=0x10)
    assert not cpu.cf and cpu.mem.read(0x20000, 6) == b"\x00CD001"


@pytest.mark.parametrize("state,why", [
    ({"version": 2}, "version 2 is not 1"),
    ({"version": 1, "media": 9}, "damaged"),
    ("garbage", "not a table"),
])
def test_a_saved_cd_boot_this_build_cannot_read_is_refused(state, why):
    with pytest.raises(ValueError, match=why):
        CdromService.parse_state(state)
