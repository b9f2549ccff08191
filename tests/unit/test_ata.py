"""ATA controller and hard disk (vmgui.devices.ata, ata_disk): registers, resets,
interrupts, every command and its error paths, over real image files."""

from __future__ import annotations

import logging
import os

import pytest

from vmgui.devices.ata import AtaController, Attachment
from vmgui.devices.bus import IoBus, IrqLine
from vmgui.storage.image import DiskImage
from vmgui.storage.overlay import Overlay
from vmgui.storage.overlay_disk import open_disk

BASE, CTL = 0x1F0, 0x3F6
DATA, ERR, COUNT, LBA0, LBA1, LBA2, DEV, CMD = (BASE + i for i in range(8))
FEAT, STATUS = ERR, CMD
SECTORS = 2880  # a 1.44 MB disk: 2 cylinders of 16 heads x 63 sectors (+ 864 sectors)
BSY, DRDY, DSC, DRQ, ERR_BIT = 0x80, 0x40, 0x10, 0x08, 0x01
ABRT, IDNF, UNC = 0x04, 0x10, 0x40
READY = DRDY | DSC


def pattern(lba: int) -> bytes:
    """Sector ``lba``'s contents in the test images: its number, then a fill byte."""
    return lba.to_bytes(4, "little") + bytes([lba & 0xFF]) * 508


def make_image(path, sectors: int = SECTORS, mbr: bytes | None = None) -> DiskImage:
    path.write_bytes(b"".join(pattern(i) for i in range(sectors)))
    if mbr is not None:
        with open(path, "r+b") as f:
            f.write(mbr)
    return DiskImage.open(path, kind="hdd")


class Rig:
    """A controller on a bus with C: (primary master) and, optionally, D: (slave)."""

    def __init__(self, master, slave=None) -> None:
        self.bus = IoBus()
        self.irq14, self.irq15 = IrqLine(), IrqLine()
        self.edges = 0
        self.irq14.connect(self._edge)
        self.drives = {0x80: master, 0x81: slave}
        atts = {(0, 0): Attachment("disk", lambda: self.drives[0x80])}
        if slave is not None:
            atts[(0, 1)] = Attachment("disk", lambda: self.drives[0x81])
        self.activity: list[tuple[str, int]] = []
        self.ata = AtaController(self.bus, [self.irq14, self.irq15], atts,
                                 activity=lambda path, n: self.activity.append((path, n)))

    def _edge(self, level: bool) -> None:
        self.edges += level

    def w(self, port: int, value: int) -> None:
        self.bus.write(port, 1, value)

    def r(self, port: int) -> int:
        return self.bus.read(port, 1)

    def taskfile(self, lba: int, count: int, dev: int = 0xE0) -> None:
        self.w(DEV, dev | (lba >> 24 & 0x0F))
        self.w(COUNT, count & 0xFF)
        self.w(LBA0, lba & 0xFF)
        self.w(LBA1, lba >> 8 & 0xFF)
        self.w(LBA2, lba >> 16 & 0xFF)

    def taskfile48(self, lba: int, count: int) -> None:
        self.w(DEV, 0x40)
        for port, shift in ((COUNT, 8), (LBA0, 24), (LBA1, 32), (LBA2, 40)):
            self.w(port, (count if port == COUNT else lba) >> shift & 0xFF)
        for port, shift in ((COUNT, 0), (LBA0, 0), (LBA1, 8), (LBA2, 16)):
            self.w(port, (count if port == COUNT else lba) >> shift & 0xFF)

    def read_block(self, size: int = 512, width: int = 2) -> bytes:
        return b"".join(self.bus.read(DATA, width).to_bytes(width, "little")
                        for _ in range(size // width))

    def write_block(self, data: bytes, width: int = 2) -> None:
        for i in range(0, len(data), width):
            self.bus.write(DATA, width, int.from_bytes(data[i:i + width], "little"))

    def identify(self) -> list[int]:
        self.w(CMD, 0xEC)
        assert self.r(STATUS) == READY | DRQ
        raw = self.read_block()
        return [int.from_bytes(raw[i:i + 2], "little") for i in range(0, 512, 2)]


def text(words: list[int], first: int, count: int) -> str:
    return b"".join(w.to_bytes(2, "big") for w in words[first:first + count]).decode().rstrip()


@pytest.fixture(autouse=True)
def info_logs(caplog):
    caplog.set_level(logging.INFO, "vmgui.devices")


@pytest.fixture
def image(tmp_path):
    img = make_image(tmp_path / "c.img")
    yield img
    img.close()


@pytest.fixture
def rig(image):
    return Rig(image)


# ---------------------------------------------------------------------- registers, resets
def test_power_on_leaves_the_ata_signature_and_ready(rig):
    assert [rig.r(p) for p in (ERR, COUNT, LBA0, LBA1, LBA2)] == [1, 1, 1, 0, 0]
    assert rig.r(STATUS) == READY
    assert rig.r(DEV) & 0x10 == 0


def test_absent_slave_reads_zero_status_and_ignores_commands(rig):
    rig.w(DEV, 0xB0)
    assert [rig.r(p) for p in (COUNT, LBA0, LBA1, LBA2)] == [1, 1, 0xFF, 0xFF]
    rig.w(LBA0, 0x55)
    assert rig.r(STATUS) == 0 and rig.bus.read(CTL) == 0 and rig.r(ERR) == 0
    assert rig.r(LBA0) == 0x55  # the registers echo, as on QEMU's ISA IDE
    rig.w(CMD, 0xEC)
    assert rig.edges == 0 and rig.r(STATUS) == 0
    rig.w(DEV, 0xA0)
    assert rig.r(STATUS) == READY and rig.r(LBA0) == 0x55  # writes reach both devices


def test_after_soft_reset_an_absent_slave_reads_count_and_lba_low_1(rig):
    rig.w(DEV, 0xB0)
    rig.w(COUNT, 0x55)
    rig.w(LBA0, 0xAA)  # Linux's device check: the values echo
    assert (rig.r(COUNT), rig.r(LBA0)) == (0x55, 0xAA)
    rig.bus.write(CTL, 1, 0x04)
    rig.bus.write(CTL, 1, 0x00)
    rig.w(DEV, 0xB0)
    assert [rig.r(p) for p in (COUNT, LBA0, LBA1, LBA2)] == [1, 1, 0xFF, 0xFF]
    assert rig.r(ERR) == 0 and rig.r(STATUS) == 0  # and the error says: no device 1


def test_a_channel_without_devices_reads_zero(rig):
    assert [rig.bus.read(0x170 + i) for i in range(1, 8)] == [0] * 7
    assert rig.bus.read(0x376) == 0
    rig.bus.write(0x177, 1, 0xEC)
    assert rig.irq15.level is False


def test_wide_access_to_byte_registers_is_split(rig):
    rig.bus.write(COUNT, 2, 0x3412)  # count 12h, LBA low 34h
    assert rig.r(COUNT) == 0x12 and rig.r(LBA0) == 0x34
    assert rig.bus.read(COUNT, 2) == 0x3412


def test_soft_reset_is_busy_then_leaves_signatures_and_selects_device_0(tmp_path, image):
    rig = Rig(image, make_image(tmp_path / "d.img", 100))
    rig.w(DEV, 0xB0)
    rig.w(LBA1, 0x77)
    rig.bus.write(CTL, 1, 0x04 | 0x02)
    assert rig.r(STATUS) == BSY
    rig.bus.write(CTL, 1, 0x02)
    assert rig.r(STATUS) == READY and rig.r(DEV) & 0x10 == 0
    assert [rig.r(p) for p in (ERR, COUNT, LBA0, LBA1, LBA2)] == [1, 1, 1, 0, 0]
    rig.w(DEV, 0xB0)
    assert rig.r(STATUS) == READY and rig.r(LBA1) == 0
    assert rig.edges == 0  # a soft reset does not interrupt


def test_soft_reset_abandons_a_transfer(rig):
    rig.taskfile(0, 4)
    rig.w(CMD, 0x20)
    rig.read_block(100)
    rig.bus.write(CTL, 1, 0x04)
    rig.bus.write(CTL, 1, 0x00)
    assert rig.r(STATUS) == READY
    assert rig.bus.read(DATA, 2) == 0


def test_execute_device_diagnostic_runs_on_both_devices(tmp_path, image):
    rig = Rig(image, make_image(tmp_path / "d.img", 100))
    rig.w(DEV, 0xB0)
    rig.w(LBA2, 0x99)
    rig.w(CMD, 0x90)
    assert rig.irq14.level
    assert rig.r(DEV) & 0x10 == 0  # device 0 selected afterwards
    assert [rig.r(p) for p in (ERR, COUNT, LBA0, LBA1, LBA2)] == [1, 1, 1, 0, 0]
    assert rig.r(STATUS) == READY
    rig.w(DEV, 0xB0)
    assert rig.r(ERR) == 1 and rig.r(LBA2) == 0


# ---------------------------------------------------------------------- interrupts
def test_status_read_acknowledges_the_interrupt_alternate_status_does_not(rig):
    rig.w(CMD, 0xE5)  # CHECK POWER MODE
    assert rig.irq14.level and rig.edges == 1
    assert rig.bus.read(CTL) == READY and rig.irq14.level
    assert rig.r(STATUS) == READY and not rig.irq14.level
    assert rig.r(COUNT) == 0xFF


def test_nien_keeps_the_line_low_and_releases_a_pending_interrupt(rig):
    rig.bus.write(CTL, 1, 0x02)
    rig.w(CMD, 0xE1)  # IDLE IMMEDIATE
    assert not rig.irq14.level and rig.edges == 0
    rig.bus.write(CTL, 1, 0x00)  # still pending: the line rises now
    assert rig.irq14.level and rig.edges == 1
    rig.r(STATUS)
    assert not rig.irq14.level


def test_a_new_command_clears_a_pending_interrupt(rig):
    rig.w(CMD, 0xE0)  # STANDBY IMMEDIATE: a no-op that interrupts
    rig.bus.write(CTL, 1, 0x02)
    rig.w(CMD, 0xE3)  # IDLE: clears INTRQ, then sets it again (masked by nIEN)
    rig.bus.write(CTL, 1, 0x00)
    assert rig.edges == 2


# ---------------------------------------------------------------------- IDENTIFY
def test_identify_reports_geometry_capacities_and_swapped_strings(rig):
    words = rig.identify()
    assert rig.edges == 1
    assert rig.r(STATUS) == READY  # no interrupt after the last block
    assert (words[1], words[3], words[6]) == (2, 16, 63)  # the BIOS's 16 x 63 geometry
    assert (words[54], words[55], words[56]) == (2, 16, 63)
    assert words[57] | words[58] << 16 == 2 * 16 * 63
    assert words[60] | words[61] << 16 == SECTORS
    assert sum(w << (16 * i) for i, w in enumerate(words[100:104])) == SECTORS
    assert text(words, 27, 20) == "VMGUI HARDDISK"
    assert text(words, 10, 10) == "VMGUI-00"
    assert text(words, 23, 4) == "1.0"
    assert words[47] == 0x8010 and words[59] == 0x0110  # 16 sectors, multiple mode on
    assert words[49] & 0x0200 and not words[49] & 0x0100  # LBA, no DMA
    assert words[83] & 0x0400 and words[86] & 0x0400  # LBA48
    assert words[255] & 0xFF == 0xA5
    raw = b"".join(w.to_bytes(2, "little") for w in words)
    assert sum(raw) & 0xFF == 0


def test_identify_of_a_disk_whose_mbr_says_255_heads_reports_16_heads(tmp_path):
    total = 2 * 255 * 63
    mbr = bytearray(512)
    mbr[446:462] = bytes((0x80, 1, 1, 0, 0x83, 254, 0xFF, 0xFF)) + (63).to_bytes(4, "little") \
        + (total - 63).to_bytes(4, "little")
    mbr[510:512] = b"\x55\xaa"
    img = make_image(tmp_path / "mbr.img", total, mbr=bytes(mbr))
    assert img.heads == 255  # the BIOS translates
    words = Rig(img).identify()
    assert (words[1], words[3], words[6]) == (total // (16 * 63), 16, 63)
    img.close()


def test_identify_of_a_disk_beyond_lba28(tmp_path):
    path = tmp_path / "big.img"
    total = 0x0FFFFFFF + 16
    with open(path, "wb") as f:
        f.truncate(total * 512)
    img = DiskImage.open(path, kind="hdd")
    rig = Rig(img)
    words = rig.identify()
    assert words[60] | words[61] << 16 == 0x0FFFFFFF
    assert sum(w << (16 * i) for i, w in enumerate(words[100:104])) == total
    assert (words[1], words[3], words[6]) == (16383, 16, 63)
    rig.taskfile48(0x0FFFFFFF + 10, 1)
    rig.w(CMD, 0x24)
    assert rig.r(STATUS) == READY | DRQ and rig.read_block() == bytes(512)
    img.close()


def test_identify_of_the_slave_says_device_1_in_word_93(tmp_path, image):
    rig = Rig(image, make_image(tmp_path / "d.img", 100))
    rig.w(DEV, 0xB0)
    words = rig.identify()
    assert words[93] & 0x0100 and words[60] == 100


# ---------------------------------------------------------------------- reads
def test_read_sectors_lba28_interrupts_before_each_sector(rig):
    rig.taskfile(5, 3)
    rig.w(CMD, 0x20)
    assert rig.activity == [(str(rig.drives[0x80].path), 3)]
    got = []
    for i in range(3):
        assert rig.irq14.level and rig.edges == i + 1
        assert rig.r(STATUS) == READY | DRQ
        got.append(rig.read_block())
    assert got == [pattern(5), pattern(6), pattern(7)]
    assert rig.r(STATUS) == READY and rig.edges == 3
    assert (rig.r(COUNT), rig.r(LBA0), rig.r(LBA1)) == (0, 7, 0)  # the last sector read


def test_read_sectors_without_retry_and_32_bit_transfers(rig):
    rig.taskfile(300, 1)
    rig.w(CMD, 0x21)
    assert rig.read_block(width=4) == pattern(300)


def test_a_byte_read_of_the_data_port_takes_a_whole_word(rig):
    rig.taskfile(1, 1)
    rig.w(CMD, 0x20)
    assert rig.bus.read(DATA, 1) == 1 and rig.bus.read(DATA, 2) == 0
    assert rig.bus.read(DATA, 2) == 0x0101


def test_read_sectors_count_zero_means_256(rig):
    rig.taskfile(0, 0)
    rig.w(CMD, 0x20)
    blocks = 0
    while rig.r(STATUS) & DRQ:
        assert rig.read_block() == pattern(blocks)
        blocks += 1
    assert blocks == 256


def test_read_sectors_chs(rig):
    rig.w(DEV, 0xA0 | 1)  # head 1
    rig.w(COUNT, 1)
    rig.w(LBA0, 3)  # sector 3
    rig.w(LBA1, 1)  # cylinder 1
    rig.w(LBA2, 0)
    rig.w(CMD, 0x20)
    assert rig.read_block() == pattern((1 * 16 + 1) * 63 + 2)


def test_chs_off_the_geometry_is_idnf(rig, caplog):
    rig.w(DEV, 0xA0)
    rig.w(COUNT, 1)
    rig.w(LBA0, 64)
    rig.w(CMD, 0x20)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == IDNF
    assert "READ SECTORS (20h): C/H/S 0/0/64 does not fit the geometry 2/16/63" in caplog.text


def test_read_beyond_end_of_disk_is_idnf_and_named(rig, caplog):
    rig.taskfile(9001, 1)
    rig.w(CMD, 0x20)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == IDNF
    assert rig.edges == 1
    assert ("ATA primary master: READ SECTORS (20h) LBA 9001 beyond end of disk "
            "(2880 sectors)") in caplog.text
    rig.taskfile(SECTORS - 2, 4)
    rig.w(CMD, 0x20)
    assert rig.r(ERR) == IDNF
    assert "LBA 2878+4 sectors beyond end of disk (2880 sectors)" in caplog.text
    assert rig.r(LBA0) | rig.r(LBA1) << 8 == SECTORS  # the first sector not there


def test_read_multiple_needs_multiple_mode_and_transfers_blocks(rig):
    rig.w(COUNT, 0)
    rig.w(CMD, 0xC6)  # SET MULTIPLE MODE 0: disabled
    assert rig.r(STATUS) == READY
    rig.taskfile(0, 10)
    rig.w(CMD, 0xC4)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == ABRT
    rig.w(COUNT, 4)
    rig.w(CMD, 0xC6)
    assert rig.identify()[59] == 0x0104
    rig.taskfile(20, 10)
    rig.w(CMD, 0xC4)
    sizes = []
    while rig.r(STATUS) & DRQ:
        edges = rig.edges
        data = rig.read_block(4 * 512 if len(sizes) < 2 else 2 * 512)
        sizes.append(len(data) // 512)
        if rig.r(STATUS) & DRQ:
            assert rig.edges == edges + 1
    assert sizes == [4, 4, 2] and rig.r(STATUS) == READY


@pytest.mark.parametrize("count", [3, 32, 255])
def test_set_multiple_with_an_unsupported_count_aborts_and_disables(rig, count):
    rig.w(COUNT, count)
    rig.w(CMD, 0xC6)
    assert rig.r(ERR) == ABRT
    rig.taskfile(0, 1)
    rig.w(CMD, 0xC4)
    assert rig.r(ERR) == ABRT


def test_read_sectors_ext_uses_the_high_order_bytes(rig):
    rig.taskfile48(0x0A0B, 2)
    rig.w(CMD, 0x24)
    assert rig.read_block() == pattern(0x0A0B)
    assert rig.read_block() == pattern(0x0A0C)
    assert rig.r(STATUS) == READY
    rig.bus.write(CTL, 1, 0x80)  # HOB: the high order bytes read back
    assert (rig.r(COUNT), rig.r(LBA0), rig.r(LBA1), rig.r(LBA2)) == (0, 0, 0, 0)
    rig.bus.write(CTL, 1, 0x00)
    assert (rig.r(LBA0), rig.r(LBA1)) == (0x0C, 0x0A)


def test_hob_reads_the_previous_writes_and_any_write_clears_it(rig):
    rig.w(LBA2, 0x11)
    rig.w(LBA2, 0x22)
    rig.bus.write(CTL, 1, 0x80)
    assert rig.r(LBA2) == 0x11
    rig.w(LBA0, 0)  # clears HOB
    assert rig.r(LBA2) == 0x22


def test_read_multiple_ext_and_count_zero_means_65536(rig, caplog):
    rig.w(COUNT, 8)
    rig.w(CMD, 0xC6)
    rig.taskfile48(16, 9)
    rig.w(CMD, 0x29)
    assert rig.read_block(8 * 512) == b"".join(pattern(i) for i in range(16, 24))
    assert rig.read_block() == pattern(24)
    rig.taskfile48(0, 0)
    rig.w(CMD, 0x24)
    assert rig.r(ERR) == IDNF
    assert "READ SECTORS EXT (24h) LBA 0+65536 sectors beyond end of disk" in caplog.text


def test_read_verify(rig):
    for cmd in (0x40, 0x41):
        rig.taskfile(10, 5)
        rig.w(CMD, cmd)
        assert rig.r(STATUS) == READY and rig.r(LBA0) == 14 and rig.r(COUNT) == 0
    rig.taskfile48(SECTORS - 1, 2)
    rig.w(CMD, 0x42)
    assert rig.r(ERR) == IDNF
    assert rig.edges == 3


def test_a_failed_image_read_is_unc(rig, caplog):
    rig.drives[0x80].close()
    rig.taskfile(0, 1)
    rig.w(CMD, 0x20)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == UNC
    assert "READ SECTORS (20h) LBA 0: reading the image failed" in caplog.text
    assert "image is closed" in caplog.text


# ---------------------------------------------------------------------- writes
def test_write_sectors_interrupts_after_each_sector_and_lands_in_the_image(rig):
    rig.taskfile(40, 2)
    rig.w(CMD, 0x30)
    assert rig.r(STATUS) == READY | DRQ and rig.edges == 0  # first block: no interrupt
    rig.write_block(b"\x11" * 512)
    assert rig.edges == 1 and rig.r(STATUS) == READY | DRQ
    rig.write_block(b"\x22" * 256, width=4)
    rig.write_block(b"\x22" * 256, width=2)
    assert rig.edges == 2 and rig.r(STATUS) == READY
    assert rig.drives[0x80].read_sectors(40, 3) == b"\x11" * 512 + b"\x22" * 512 + pattern(42)
    assert (rig.r(LBA0), rig.r(COUNT)) == (41, 0)


def test_write_multiple_and_write_sectors_ext(rig):
    rig.w(COUNT, 2)
    rig.w(CMD, 0xC6)
    assert rig.edges == 1
    rig.taskfile(100, 3)
    rig.w(CMD, 0xC5)
    rig.write_block(b"\x33" * 1024)
    assert rig.edges == 2 and rig.r(STATUS) == READY | DRQ
    rig.write_block(b"\x44" * 512)
    assert rig.edges == 3 and rig.r(STATUS) == READY
    rig.taskfile48(103, 1)
    rig.w(CMD, 0x34)
    rig.write_block(b"\x55" * 512)
    rig.taskfile48(104, 1)
    rig.w(CMD, 0x39)
    rig.write_block(b"\x66" * 512)
    img = rig.drives[0x80]
    assert img.read_sectors(100, 5) == (b"\x33" * 1024 + b"\x44" * 512 + b"\x55" * 512
                                        + b"\x66" * 512)
    rig.taskfile(0, 1)
    rig.w(CMD, 0x31)  # WRITE SECTORS without retry
    rig.write_block(b"\x77" * 512)
    assert img.read_sectors(0, 1) == b"\x77" * 512


def test_write_to_a_read_only_image_aborts_and_changes_nothing(tmp_path, caplog):
    make_image(tmp_path / "ro.img").close()
    img = DiskImage.open(tmp_path / "ro.img", kind="hdd", read_only=True)
    rig = Rig(img)
    rig.taskfile(3, 1)
    rig.w(CMD, 0x30)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == ABRT
    assert f"WRITE SECTORS (30h) LBA 3: {img.path} is read-only" in caplog.text
    assert img.read_sectors(3, 1) == pattern(3)
    img.close()


def test_write_beyond_end_of_disk_is_idnf_without_a_data_phase(rig):
    rig.taskfile(SECTORS, 1)
    rig.w(CMD, 0x30)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == IDNF


def test_writes_go_to_the_try_out_layer_and_the_base_stays(tmp_path):
    base = tmp_path / "base.img"
    make_image(base).close()
    before = base.read_bytes()
    layer = tmp_path / "tryout-80.cow"
    Overlay.create(layer, base).close()
    img = open_disk(layer, kind="hdd")
    rig = Rig(img)
    rig.taskfile(7, 1)
    rig.w(CMD, 0x30)
    rig.write_block(b"\xee" * 512)
    assert rig.r(STATUS) == READY
    rig.taskfile(6, 2)
    rig.w(CMD, 0x20)
    assert rig.read_block() == pattern(6) and rig.read_block() == b"\xee" * 512
    assert img.read_sectors(7, 1) == b"\xee" * 512  # what int 13h reads: the same layer
    img.close()
    assert base.read_bytes() == before
    with open_disk(layer, kind="hdd") as again:
        assert again.read_sectors(7, 1) == b"\xee" * 512


def test_registers_are_locked_while_data_is_pending(rig):
    rig.taskfile(9, 1)
    rig.w(CMD, 0x20)
    rig.w(LBA0, 0x42)
    rig.w(CMD, 0xEC)  # ignored too: only DEVICE RESET is taken while DRQ is set
    assert rig.read_block() == pattern(9)
    assert rig.r(LBA0) == 9


# ---------------------------------------------------------------------- settings
def test_initialize_device_parameters_changes_the_chs_translation(rig):
    rig.w(COUNT, 17)
    rig.w(DEV, 0xA0 | 3)  # 4 heads
    rig.w(CMD, 0x91)
    assert rig.r(STATUS) == READY
    words = rig.identify()
    assert (words[54], words[55], words[56]) == (SECTORS // (4 * 17), 4, 17)
    assert (words[1], words[3], words[6]) == (2, 16, 63)  # the default stays
    rig.w(DEV, 0xA0 | 2)
    rig.w(COUNT, 1)
    rig.w(LBA0, 5)
    rig.w(LBA1, 1)
    rig.w(LBA2, 0)
    rig.w(CMD, 0x20)
    assert rig.read_block() == pattern((1 * 4 + 2) * 17 + 4)
    rig.w(COUNT, 0)
    rig.w(CMD, 0x91)
    assert rig.r(ERR) == ABRT


def test_soft_reset_restores_defaults_unless_reverting_is_disabled(rig):
    rig.w(COUNT, 2)
    rig.w(CMD, 0xC6)
    rig.bus.write(CTL, 1, 0x04)
    rig.bus.write(CTL, 1, 0x00)
    assert rig.identify()[59] == 0x0110
    rig.w(FEAT, 0x66)
    rig.w(CMD, 0xEF)
    rig.w(COUNT, 2)
    rig.w(CMD, 0xC6)
    rig.bus.write(CTL, 1, 0x04)
    rig.bus.write(CTL, 1, 0x00)
    assert rig.identify()[59] == 0x0102


@pytest.mark.parametrize("feature,count", [(0x02, 0), (0x82, 0), (0xAA, 0), (0x55, 0),
                                           (0x03, 0x00), (0x03, 0x0C), (0x05, 0x80),
                                           (0x85, 0), (0xCC, 0)])
def test_set_features_accepted(rig, feature, count):
    rig.w(FEAT, feature)
    rig.w(COUNT, count)
    rig.w(CMD, 0xEF)
    assert rig.r(STATUS) == READY and rig.edges == 1


@pytest.mark.parametrize("feature,count", [(0x03, 0x22), (0x03, 0x45), (0x03, 0x0D),
                                           (0x01, 0), (0x7F, 0)])
def test_set_features_refused(rig, feature, count, caplog):
    rig.w(FEAT, feature)
    rig.w(COUNT, count)
    rig.w(CMD, 0xEF)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == ABRT
    assert "SET FEATURES (EFh)" in caplog.text


def test_write_cache_setting_shows_in_identify(rig):
    assert rig.identify()[85] & 0x20
    rig.w(FEAT, 0x82)
    rig.w(CMD, 0xEF)
    assert not rig.identify()[85] & 0x20


@pytest.mark.parametrize("cmd", [0xE7, 0xEA, 0xE0, 0xE1, 0xE2, 0xE3, 0x94, 0x95, 0x96,
                                 0x97, 0x10, 0x1F, 0x70])
def test_no_data_commands_complete_with_an_interrupt(rig, cmd):
    rig.taskfile(0, 1)
    rig.w(CMD, cmd)
    assert rig.edges == 1 and rig.r(STATUS) == READY


def test_seek_beyond_the_end_is_idnf(rig):
    rig.taskfile(SECTORS, 0)
    rig.w(CMD, 0x70)
    assert rig.r(ERR) == IDNF


@pytest.mark.parametrize("cmd", [0x00, 0x08, 0xA0, 0xA1, 0x5A, 0xC8, 0xF8])
def test_unknown_commands_and_nop_abort(rig, cmd, caplog):
    rig.w(CMD, cmd)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == ABRT and rig.edges == 1
    rig.w(CMD, cmd)
    assert caplog.text.count(f"{cmd:02X}h) is not supported: aborted") == (cmd != 0x00)


def test_flush_cache_reaches_the_image(rig, monkeypatch):
    flushed = []
    monkeypatch.setattr(rig.drives[0x80], "flush", lambda: flushed.append(1))
    rig.w(CMD, 0xE7)
    assert flushed == [1]


# ---------------------------------------------------------------------- state
def test_a_transfer_in_progress_survives_save_and_load(tmp_path, image):
    rig = Rig(image)
    rig.taskfile(50, 3)
    rig.w(CMD, 0x20)
    first = rig.read_block(300)
    state = rig.ata.save_state()
    other = Rig(image)
    other.ata.load_state(state)
    assert other.irq14.level  # the interrupt of the first block is still pending
    rest = other.read_block(212)
    assert first + rest == pattern(50)
    assert other.read_block() == pattern(51) and other.read_block() == pattern(52)
    assert other.r(STATUS) == READY


def test_a_state_of_other_drives_is_refused(tmp_path, image):
    state = Rig(image, make_image(tmp_path / "d.img", 100)).ata.save_state()
    with pytest.raises(ValueError, match="saved with devices"):
        Rig(image).ata.load_state(state)
    with pytest.raises(ValueError, match="version 2"):
        Rig(image).ata.load_state({**state, "version": 2})


def test_the_disk_is_looked_up_on_every_command(tmp_path, rig):
    new = make_image(tmp_path / "layer.img", 100)
    os.truncate(new.path, 100 * 512)
    rig.drives[0x80] = new  # a snapshot moved drive C: onto a new layer
    rig.taskfile(99, 1)
    rig.w(CMD, 0x20)
    assert rig.read_block() == pattern(99)
    new.close()
