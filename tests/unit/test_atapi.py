"""ATAPI CD-ROM drive (vmgui.devices.atapi): signature, PACKET protocol, every packet
command, sense data, media change, byte count limits, over real ISO images."""

from __future__ import annotations

import logging

import pytest

from tests import isos
from vmgui.devices.ata import AtaController, Attachment
from vmgui.devices.bus import IoBus, IrqLine
from vmgui.storage.cdimage import CdImage

BASE, CTL = 0x170, 0x376
DATA, ERR, COUNT, LBA0, LBA1, LBA2, DEV, CMD = (BASE + i for i in range(8))
FEAT, STATUS = ERR, CMD
BSY, DRDY, DSC, DRQ, ERR_BIT = 0x80, 0x40, 0x10, 0x08, 0x01
READY = DRDY | DSC
COD, IO = 1, 2
NOT_READY, ILLEGAL, UNIT_ATTENTION = 2, 5, 6


def body(sectors: int) -> bytes:
    """Sectors 20.. of the test ISO: each starts with its number and the text SECTOR."""
    return b"".join((20 + i).to_bytes(4, "big") + b"SECTOR" + bytes(2038)
                    for i in range(sectors))


@pytest.fixture(autouse=True)
def info_logs(caplog):
    caplog.set_level(logging.INFO, "vmgui.devices")


@pytest.fixture
def iso(tmp_path):
    path = tmp_path / "disc.iso"
    path.write_bytes(isos.build_iso(image=body(10), boot=False, volume_id="ATAPI TEST"))
    cd = CdImage.open(path)
    yield cd
    cd.close()


class Rig:
    """A controller whose secondary master is a CD-ROM drive holding ``disc``."""

    def __init__(self, disc) -> None:
        self.bus = IoBus()
        self.irq15 = IrqLine()
        self.edges = 0
        self.irq15.connect(lambda level: setattr(self, "edges", self.edges + level))
        self.disc = disc
        self.ata = AtaController(self.bus, [IrqLine(), self.irq15],
                                 {(1, 0): Attachment("cdrom", lambda: self.disc)})

    def w(self, port: int, value: int) -> None:
        self.bus.write(port, 1, value)

    def r(self, port: int) -> int:
        return self.bus.read(port, 1)

    def packet(self, cdb: bytes, limit: int = 0xFFFE) -> None:
        """Issue PACKET and send ``cdb`` (padded to 12 bytes)."""
        self.w(DEV, 0xA0)
        self.w(FEAT, 0)
        self.w(LBA1, limit & 0xFF)
        self.w(LBA2, limit >> 8)
        self.w(CMD, 0xA0)
        assert self.bus.read(CTL) == READY | DRQ and self.r(COUNT) == COD
        cdb = cdb.ljust(12, b"\0")
        for i in range(0, 12, 2):
            self.bus.write(DATA, 2, int.from_bytes(cdb[i:i + 2], "little"))

    def chunk(self) -> bytes:
        """One DRQ chunk: as many bytes as the byte count registers say."""
        assert self.r(STATUS) & DRQ and self.r(COUNT) == IO
        size = self.r(LBA1) | self.r(LBA2) << 8
        raw = b"".join(self.bus.read(DATA, 2).to_bytes(2, "little")
                       for _ in range((size + 1) // 2))
        return raw[:size]

    def reply(self, cdb: bytes, limit: int = 0xFFFE) -> bytes:
        self.packet(cdb, limit)
        out = b""
        while self.r(STATUS) & DRQ:
            out += self.chunk()
        self.assert_good()
        return out

    def assert_good(self) -> None:
        assert self.r(STATUS) == READY and self.r(COUNT) == IO | COD

    def check_condition(self, cdb: bytes) -> tuple[int, int, int]:
        """(sense key, ASC, ASCQ) after ``cdb`` ended in CHECK CONDITION."""
        self.packet(cdb)
        assert self.r(STATUS) == DRDY | ERR_BIT and self.r(COUNT) == IO | COD
        key = self.r(ERR) >> 4
        sense = self.reply(bytes((0x03, 0, 0, 0, 18)))
        assert sense[2] == key
        return sense[2], sense[12], sense[13]


def read10(lba: int, count: int) -> bytes:
    return bytes((0x28, 0)) + lba.to_bytes(4, "big") + bytes((0,)) + count.to_bytes(2, "big")


@pytest.fixture
def rig(iso):
    return Rig(iso)


# ---------------------------------------------------------------------- ATA side
def test_signature_and_not_ready_status_after_power_on(rig):
    assert [rig.r(p) for p in (ERR, COUNT, LBA0, LBA1, LBA2)] == [1, 1, 1, 0x14, 0xEB]
    assert rig.r(STATUS) == 0


def test_identify_device_aborts_with_the_signature(rig):
    rig.w(LBA1, 0)
    rig.w(LBA2, 0)
    rig.w(CMD, 0xEC)
    assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == 0x04
    assert (rig.r(LBA1), rig.r(LBA2)) == (0x14, 0xEB)


def test_identify_packet_device(rig):
    rig.w(CMD, 0xA1)
    assert rig.edges == 1 and rig.r(STATUS) == READY | DRQ
    raw = b"".join(rig.bus.read(DATA, 2).to_bytes(2, "little") for _ in range(256))
    words = [int.from_bytes(raw[i:i + 2], "little") for i in range(0, 512, 2)]
    assert words[0] == 0x85C0  # ATAPI CD-ROM, removable, 12-byte packets
    model = b"".join(w.to_bytes(2, "big") for w in words[27:47]).decode().rstrip()
    assert model == "VMGUI CD-ROM"
    assert words[49] & 0x0200 and words[82] & 0x0010
    assert sum(raw) & 0xFF == 0 and raw[510] == 0xA5
    assert rig.r(STATUS) == READY


def test_device_reset_and_soft_reset_leave_the_signature(rig):
    rig.w(CMD, 0x08)
    assert rig.r(STATUS) == 0 and (rig.r(LBA1), rig.r(LBA2)) == (0x14, 0xEB)
    assert rig.edges == 0
    rig.packet(read10(16, 1))
    rig.w(CMD, 0x08)  # DEVICE RESET is taken while data is pending
    assert rig.r(STATUS) == 0 and rig.bus.read(DATA, 2) == 0
    rig.bus.write(CTL, 1, 0x04)
    assert rig.r(STATUS) == BSY
    rig.bus.write(CTL, 1, 0x00)
    assert rig.r(STATUS) == 0 and rig.r(ERR) == 1 and rig.r(LBA2) == 0xEB


def test_execute_device_diagnostic_clears_status_of_a_packet_device(rig):
    rig.w(CMD, 0x90)
    assert rig.edges == 1 and rig.r(STATUS) == 0 and rig.r(ERR) == 1
    assert (rig.r(LBA1), rig.r(LBA2)) == (0x14, 0xEB)


def test_packet_with_dma_or_overlap_is_aborted(rig, caplog):
    for feature in (0x01, 0x02):
        rig.w(FEAT, feature)
        rig.w(CMD, 0xA0)
        assert rig.r(STATUS) == DRDY | ERR_BIT and rig.r(ERR) == 0x04
    assert "PACKET (A0h): DMA transfer is not supported (PIO only)" in caplog.text


@pytest.mark.parametrize("cmd", [0x20, 0x30, 0xC4, 0x91])
def test_disk_commands_are_aborted(rig, cmd):
    rig.w(CMD, cmd)
    assert rig.r(ERR) == 0x04


def test_set_features_and_power_commands(rig):
    rig.w(FEAT, 0x03)
    rig.w(COUNT, 0x0C)
    rig.w(CMD, 0xEF)
    assert rig.r(STATUS) == READY
    rig.w(CMD, 0xE5)
    assert rig.r(COUNT) == 0xFF


# ---------------------------------------------------------------------- protocol
def test_packet_phases_interrupt_reason_and_interrupts(rig):
    rig.packet(bytes((0x12, 0, 0, 0, 36)))
    assert rig.edges == 1 and rig.r(COUNT) == IO and (rig.r(LBA1), rig.r(LBA2)) == (36, 0)
    data = rig.chunk()
    assert rig.edges == 2  # the status phase interrupts too
    rig.assert_good()
    assert data[0] == 0x05 and data[1] == 0x80 and data[8:16] == b"VMGUI   "
    assert data[16:32] == b"VMGUI CD-ROM    "


def test_inquiry_allocation_length_cuts_the_reply(rig):
    assert len(rig.reply(bytes((0x12, 0, 0, 0, 5)))) == 5


def test_test_unit_ready_with_a_disc(rig):
    assert rig.reply(bytes(12)) == b"" and rig.edges == 1


def test_read_capacity(rig):
    assert rig.reply(bytes((0x25,))) == (29).to_bytes(4, "big") + (2048).to_bytes(4, "big")


def test_read10_of_sector_16_is_the_volume_descriptor(rig):
    data = rig.reply(read10(16, 1))
    assert data[1:6] == b"CD001" and data[40:50] == b"ATAPI TEST"


def test_read10_and_read12_of_several_sectors(rig):
    assert rig.reply(read10(20, 3)) == body(3)
    cdb = bytes((0xA8, 0)) + (22).to_bytes(4, "big") + (2).to_bytes(4, "big")
    assert rig.reply(cdb) == body(4)[2 * 2048:]
    assert rig.reply(read10(20, 0)) == b""


@pytest.mark.parametrize("limit,sizes", [
    (0xFFFE, [3 * 2048]),  # whole sectors, as many as fit
    (0x1000, [4096, 2048]),
    (3000, [2048, 2048, 2048]),  # at least a sector: whole sectors only
    (1000, [1000] * 6 + [144]),  # less than a sector
    (1001, [1000] * 6 + [144]),  # odd limits are rounded down to even
    (0, [3 * 2048]),  # 0 (invalid) is taken as the largest even count
])
def test_byte_count_limit_per_drq_chunk(rig, limit, sizes):
    rig.packet(read10(20, 3), limit)
    got, data = [], b""
    while rig.r(STATUS) & DRQ:
        chunk = rig.chunk()
        got.append(len(chunk))
        data += chunk
    rig.assert_good()
    assert got == sizes and data == body(3)


def test_reply_shorter_than_the_limit_is_one_chunk_even_if_odd(rig):
    rig.packet(bytes((0x12, 0, 0, 0, 35)), 0x10)
    sizes = []
    while rig.r(STATUS) & DRQ:
        sizes.append(len(rig.chunk()))
    assert sizes == [16, 16, 3]


# ---------------------------------------------------------------------- errors, sense
def test_read_beyond_the_disc_is_illegal_request_and_named(rig, caplog):
    assert rig.check_condition(read10(9001, 1)) == (ILLEGAL, 0x21, 0)
    assert ("ATA secondary master: READ(10): LBA 9001 beyond end of disc (30 sectors)"
            in caplog.text)
    assert rig.check_condition(read10(28, 4)) == (ILLEGAL, 0x21, 0)
    assert "LBA 28+4 sectors beyond end of disc" in caplog.text


def test_unknown_packet_command_is_an_invalid_opcode(rig, caplog):
    assert rig.check_condition(bytes((0xFF,))) == (ILLEGAL, 0x20, 0)
    assert "packet command FFh is not supported" in caplog.text


def test_request_sense_after_success_says_no_sense(rig):
    rig.reply(bytes(12))
    assert rig.reply(bytes((0x03, 0, 0, 0, 18)))[2] == 0


def test_sense_is_kept_only_until_the_next_command(rig):
    rig.check_condition(bytes((0xFF,)))
    rig.packet(bytes((0xFF,)))
    rig.reply(bytes(12))  # TEST UNIT READY succeeds: the old sense is gone
    assert rig.reply(bytes((0x03, 0, 0, 0, 18)))[2] == 0


def test_no_disc_is_not_ready_medium_not_present(iso):
    rig = Rig(None)
    for cdb in (bytes(12), read10(16, 1), bytes((0x25,)), bytes((0x43, 0, 0, 0, 0, 0, 0, 0, 12))):
        assert rig.check_condition(cdb) == (NOT_READY, 0x3A, 0)
    assert rig.reply(bytes((0x12, 0, 0, 0, 36)))[0] == 0x05  # INQUIRY works without a disc
    assert rig.reply(bytes((0x03, 0, 0, 0, 18)))[2] == NOT_READY  # and says why


def test_a_new_disc_raises_unit_attention_once(rig, tmp_path, caplog):
    assert rig.reply(bytes(12)) == b""
    other = tmp_path / "other.iso"
    other.write_bytes(isos.build_iso(image=body(2), boot=False, volume_id="SECOND"))
    second = CdImage.open(other)
    rig.disc = second
    assert rig.reply(bytes((0x12, 0, 0, 0, 36)))[0] == 0x05  # INQUIRY is not held up
    assert rig.check_condition(bytes(12)) == (UNIT_ATTENTION, 0x28, 0)
    assert rig.reply(bytes(12)) == b""  # reported once
    assert rig.reply(read10(16, 1))[40:46] == b"SECOND"
    assert f"disc changed to {other}" in caplog.text
    second.close()


def test_unit_attention_is_also_cleared_by_request_sense(rig, tmp_path):
    other = tmp_path / "other.iso"
    other.write_bytes(isos.build_iso(image=body(2), boot=False))
    rig.disc = CdImage.open(other)
    sense = rig.reply(bytes((0x03, 0, 0, 0, 18)))
    assert (sense[2], sense[12]) == (UNIT_ATTENTION, 0x28)
    assert rig.reply(bytes(12)) == b""
    rig.disc.close()


def test_removing_the_disc_makes_the_drive_not_ready(rig):
    rig.disc = None
    assert rig.check_condition(bytes(12)) == (NOT_READY, 0x3A, 0)


def test_a_failing_image_read_is_a_medium_error(rig, caplog):
    rig.disc.close()
    assert rig.check_condition(read10(16, 1)) == (3, 0x11, 0)
    assert "reading CD sector 16 failed" in caplog.text


# ---------------------------------------------------------------------- tray
def test_prevent_allow_and_start_stop_unit(rig):
    assert rig.reply(bytes((0x1B, 0, 0, 0, 0x01))) == b""  # start
    assert rig.reply(bytes((0x1E, 0, 0, 0, 0x01))) == b""  # prevent removal
    assert rig.check_condition(bytes((0x1B, 0, 0, 0, 0x02))) == (ILLEGAL, 0x53, 0x02)
    pages = rig.reply(bytes((0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64)))
    assert pages[8 + 6] & 0x02  # the capabilities page shows the lock
    assert rig.reply(bytes((0x1E, 0, 0, 0, 0x00))) == b""
    assert rig.reply(bytes((0x1B, 0, 0, 0, 0x02))) == b""  # eject: allowed, disc kept
    assert rig.reply(bytes(12)) == b""


# ---------------------------------------------------------------------- TOC, modes, config
def test_read_toc_format_0_lba_and_msf(rig):
    toc = rig.reply(bytes((0x43, 0, 0, 0, 0, 0, 0, 0, 100)))
    assert toc == (bytes((0, 18, 1, 1)) + bytes((0, 0x14, 1, 0)) + bytes(4)
                   + bytes((0, 0x14, 0xAA, 0)) + (30).to_bytes(4, "big"))
    msf = rig.reply(bytes((0x43, 0x02, 0, 0, 0, 0, 0, 0, 100)))
    assert msf[8:12] == bytes((0, 0, 2, 0)) and msf[16:20] == bytes((0, 0, 2, 30))
    lead_out = rig.reply(bytes((0x43, 0, 0, 0, 0, 0, 0xAA, 0, 100)))
    assert lead_out[:4] == bytes((0, 10, 1, 1)) and lead_out[6] == 0xAA
    assert rig.check_condition(bytes((0x43, 0, 0, 0, 0, 0, 2, 0, 100)))[:2] == (ILLEGAL, 0x24)


def test_read_toc_format_1_and_old_format_field(rig):
    session = rig.reply(bytes((0x43, 0, 0x01, 0, 0, 0, 0, 0, 12)))
    assert session == bytes((0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0))
    assert rig.reply(bytes((0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40))) == session
    assert rig.check_condition(bytes((0x43, 0, 0x02, 0, 0, 0, 0, 0, 12)))[:2] == (ILLEGAL, 0x24)


def test_read_toc_allocation_length(rig):
    assert rig.reply(bytes((0x43, 0, 0, 0, 0, 0, 0, 0, 4))) == bytes((0, 18, 1, 1))


def test_mode_sense_capabilities_error_recovery_and_all(rig):
    caps = rig.reply(bytes((0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 255)))
    assert len(caps) == 28 and int.from_bytes(caps[:2], "big") == 26
    assert caps[8:10] == bytes((0x2A, 18)) and caps[8 + 6] & 0x08  # can eject
    every = rig.reply(bytes((0x5A, 0, 0x3F, 0, 0, 0, 0, 0, 255)))
    assert every[8] == 0x01 and every[16] == 0x2A and len(every) == 36
    masks = rig.reply(bytes((0x5A, 0, 0x40 | 0x2A, 0, 0, 0, 0, 0, 255)))
    assert masks[8:10] == bytes((0x2A, 18)) and masks[10:] == bytes(18)
    assert rig.check_condition(bytes((0x5A, 0, 0xC0 | 0x2A, 0, 0, 0, 0, 0, 255)))[:2] == \
        (ILLEGAL, 0x39)
    assert rig.check_condition(bytes((0x5A, 0, 0x0E, 0, 0, 0, 0, 0, 255)))[:2] == (ILLEGAL, 0x24)


def test_get_configuration(rig):
    conf = rig.reply(bytes((0x46, 0, 0, 0, 0, 0, 0, 0, 255)))
    assert int.from_bytes(conf[:4], "big") == len(conf) - 4
    assert conf[6:8] == bytes((0, 8))  # current profile: CD-ROM
    assert conf[8:16] == bytes((0, 0, 3, 4, 0, 8, 1, 0))  # profile list: CD-ROM, current
    assert [int.from_bytes(conf[i:i + 2], "big") for i in (8, 16, 24)] == [0, 1, 3]
    only = rig.reply(bytes((0x46, 2, 0, 1, 0, 0, 0, 0, 255)))
    assert len(only) == 8 + 8 and only[8:10] == bytes((0, 1))
    assert rig.reply(bytes((0x46, 0, 0, 0, 0, 0, 0, 0, 8)))[:4] == conf[:4]


def test_get_configuration_without_a_disc(iso):
    rig = Rig(None)
    conf = rig.reply(bytes((0x46, 0, 0, 0, 0, 0, 0, 0, 255)))
    assert conf[6:8] == bytes(2) and conf[14] == 0


def test_inquiry_vital_product_data_is_refused(rig):
    assert rig.check_condition(bytes((0x12, 1, 0, 0, 36)))[:2] == (ILLEGAL, 0x24)


# ---------------------------------------------------------------------- state
def test_a_reply_in_progress_survives_save_and_load(rig, iso):
    rig.packet(read10(20, 3), 0x1000)
    first = rig.chunk()
    state = rig.ata.save_state()
    other = Rig(iso)
    other.ata.load_state(state)
    rest = b""
    while other.r(STATUS) & DRQ:
        rest += other.chunk()
    other.assert_good()
    assert first + rest == body(3)
