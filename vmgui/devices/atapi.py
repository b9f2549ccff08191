"""An ATAPI CD-ROM drive: the PACKET command and the MMC commands an operating system's
CD driver uses, over an ISO image.

Owns: :class:`AtapiCdrom` -- the packet device's ATA side (signature 14h/EBh, IDENTIFY
PACKET DEVICE, PACKET, DEVICE RESET, IDENTIFY DEVICE aborted with the signature), the
PIO data-in protocol of packet commands (interrupt reason in the Sector Count register,
byte count in LBA Mid/High, each DRQ chunk at most the host's byte count limit), sense
data (REQUEST SENSE), media-change reporting (UNIT ATTENTION, "medium may have changed",
once after a new disc goes in; NOT READY, "medium not present", while the drive is
empty) and the packet commands TEST UNIT READY, REQUEST SENSE, INQUIRY, START STOP UNIT,
PREVENT ALLOW MEDIUM REMOVAL, READ CAPACITY, READ(10), READ(12), READ TOC (formats 0 and
1), GET CONFIGURATION (profile list, core, removable medium) and MODE SENSE(10) (pages
01h, 2Ah, 3Fh).  The pages and answers are built in :mod:`vmgui.devices.atapi_data`.

The disc is the image in the machine's CD drive (the same
:class:`~vmgui.storage.cdimage.CdImage` the BIOS reads), looked up on every command: a
different image object than last time is a media change.

References: T13 ATA/ATAPI-6 section 9.8-9.10 (PACKET protocol), SFF-8020i 2.6 (ATAPI
CD-ROM, the READ TOC format field in byte 9), T10 MMC-2/MMC-3 and SPC-2 (commands, sense
codes, unit attention rules: reported once, then the sense data waits for REQUEST
SENSE); QEMU ``hw/ide/atapi.c`` for what Linux's sr and libata drivers expect.

Thread rule: used from the VM's emulation thread only.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from vmgui.devices import atapi_data as data
from vmgui.devices.ata_device import AtaDevice, Phase
from vmgui.devices.ata_regs import (
    ASCQ,
    CD_SECTOR,
    Asc,
    Cmd,
    Error,
    Reason,
    Sense,
    command_name,
)
from vmgui.storage.image import DiskImageError

log = logging.getLogger(__name__)

PACKET_SIZE = 12
FETCH_SECTORS = 16  # CD sectors read from the image at once
MAX_LIMIT = 0xFFFE  # the largest even byte count per DRQ chunk


class Op(enum.IntEnum):
    TEST_UNIT_READY = 0x00
    REQUEST_SENSE = 0x03
    INQUIRY = 0x12
    START_STOP_UNIT = 0x1B
    PREVENT_ALLOW = 0x1E
    READ_CAPACITY = 0x25
    READ_10 = 0x28
    READ_TOC = 0x43
    GET_CONFIGURATION = 0x46
    MODE_SENSE_10 = 0x5A
    READ_12 = 0xA8


def op_name(op: int) -> str:
    try:
        name = Op(op).name.replace("_", " ")
        name = name.replace("READ 10", "READ(10)").replace("READ 12", "READ(12)")
        return name.replace("SENSE 10", "SENSE(10)")
    except ValueError:
        return f"packet command {op:02X}h"


class CheckCondition(Exception):
    """A packet command ends with CHECK CONDITION: the sense key and code to report."""

    def __init__(self, key: Sense, asc: Asc, why: str | None = None) -> None:
        super().__init__(why or asc.name)
        self.key, self.asc, self.why = key, asc, why


class AtapiCdrom(AtaDevice):
    """A CD-ROM drive at one position of a channel; ``serial`` goes into IDENTIFY."""

    PACKET_DEVICE = True
    STATE_FIELDS = AtaDevice.STATE_FIELDS + (
        "sense_key", "asc", "unit_attention", "locked", "limit", "cd_lba", "cd_left",
        "reading")

    def __init__(self, name: str, media: Callable[[], Any],
                 activity: Callable[[str, int], None] | None = None,
                 serial: str = "VMGUI0000", unit: int = 0) -> None:
        self.serial = serial
        self.unit = unit
        self.pending = b""  # reply bytes not yet offered to the host
        super().__init__(name, media, activity)
        self._commands.update({
            Cmd.PACKET: self._packet, Cmd.IDENTIFY_PACKET: self._identify_packet,
            Cmd.IDENTIFY: self._identify_device, Cmd.DEVICE_RESET: self._device_reset,
        })
        self._ops: dict[int, Callable[[bytes], None]] = {
            Op.TEST_UNIT_READY: self._test_unit_ready, Op.REQUEST_SENSE: self._request_sense,
            Op.INQUIRY: self._inquiry, Op.START_STOP_UNIT: self._start_stop,
            Op.PREVENT_ALLOW: self._prevent_allow, Op.READ_CAPACITY: self._read_capacity,
            Op.READ_10: self._read, Op.READ_12: self._read, Op.READ_TOC: self._read_toc,
            Op.GET_CONFIGURATION: self._get_configuration,
            Op.MODE_SENSE_10: self._mode_sense,
        }
        self._unknown_ops: set[int] = set()

    # ------------------------------------------------------------------ resets, media
    def power_on(self) -> None:
        self.known = self.media()  # the disc in the drive at power-on is no change
        self.unit_attention = False
        self.locked = False
        self.sense_key, self.asc = Sense.NO_SENSE, Asc.NONE
        super().power_on()

    def soft_reset(self) -> None:
        self.limit = self.cd_lba = self.cd_left = 0
        self.reading = False  # the reply is CD sectors (sent whole, as drives do)
        self.pending = b""
        super().soft_reset()

    def check_media(self) -> Any:
        """The disc in the drive; a different one than last seen raises UNIT ATTENTION."""
        image = self.media()
        if image is not self.known:
            self.known = image
            self.unit_attention = image is not None
            log.info("%s: %s", self.name, f"disc changed to {image.path}" if image is not None
                     else "disc removed")
        return image

    def _disc(self) -> Any:
        image = self.check_media()
        if image is None:
            raise CheckCondition(Sense.NOT_READY, Asc.MEDIUM_NOT_PRESENT)
        return image

    # ------------------------------------------------------------------ ATA commands
    def _identify_device(self, cmd: int) -> None:
        self.tf.set_signature(True)  # how a host tells a packet device from a disk
        self.abort()

    def _identify_packet(self, cmd: int) -> None:
        self.send_block(data.identify_packet(self.serial, self.unit), Phase.DATA_IN)

    def _device_reset(self, cmd: int) -> None:
        self.soft_reset()  # no interrupt (ATA-6 8.7)

    def _packet(self, cmd: int) -> None:
        feature = self.tf.feature
        if feature & 0x03:
            self.fail(Error.ABRT, f"{command_name(cmd)}: "
                                  f"{'DMA' if feature & 1 else 'overlapped'} transfer is not "
                                  "supported (PIO only)")
            return
        limit = self.tf.byte_count
        if limit in (0, 0xFFFF):
            limit = MAX_LIMIT  # 0 is invalid and FFFFh odd: take the largest even count
        self.limit = limit
        self.tf.count = Reason.COD
        self.receive_block(PACKET_SIZE, Phase.PACKET, interrupt=False)

    # ------------------------------------------------------------------ packets
    def continue_transfer(self) -> None:
        if self.phase == Phase.PACKET:
            self._run_packet(bytes(self.buf))
        else:
            self._next_chunk()

    def _run_packet(self, cdb: bytes) -> None:
        op = cdb[0]
        handler = self._ops.get(op)
        try:
            self.check_media()
            if self.unit_attention and op not in (Op.REQUEST_SENSE, Op.INQUIRY):
                self.unit_attention = False  # reported once; the sense waits for REQUEST SENSE
                raise CheckCondition(Sense.UNIT_ATTENTION, Asc.MEDIUM_MAY_HAVE_CHANGED)
            if op != Op.REQUEST_SENSE:
                self.sense_key, self.asc = Sense.NO_SENSE, Asc.NONE
            if handler is None:
                if op not in self._unknown_ops:
                    self._unknown_ops.add(op)
                    log.info("%s: %s is not supported", self.name, op_name(op))
                raise CheckCondition(Sense.ILLEGAL_REQUEST, Asc.INVALID_OPCODE)
            handler(cdb)
        except CheckCondition as cc:
            self._check_condition(op, cc)

    def _check_condition(self, op: int, cc: CheckCondition) -> None:
        if cc.why is not None:
            log.info("%s: %s: %s", self.name, op_name(op), cc.why)
        self.sense_key, self.asc = cc.key, cc.asc
        self.pending, self.cd_left = b"", 0
        self.tf.count = Reason.IO | Reason.COD
        self.fail(cc.key << 4 | (Error.ABRT if cc.key == Sense.ILLEGAL_REQUEST else 0))

    def _done(self) -> None:
        """The packet command completed: status phase (IO and CoD), interrupt."""
        self.tf.count = Reason.IO | Reason.COD
        self.complete()

    def _reply(self, reply: bytes, allocation: int) -> None:
        """Send ``reply`` cut to the host's ``allocation`` length."""
        self.pending, self.cd_left, self.reading = reply[:allocation], 0, False
        self._next_chunk()

    def _next_chunk(self) -> None:
        """Offer the next DRQ chunk (at most the byte count limit), or complete."""
        left = len(self.pending) + self.cd_left * CD_SECTOR
        if not left:
            self._done()
            return
        size = left if left <= self.limit else self.limit & ~1
        if self.reading and size >= CD_SECTOR:
            size -= size % CD_SECTOR  # whole sectors per chunk, as drives send them
        try:
            while len(self.pending) < size:
                self._fetch()
        except CheckCondition as cc:
            self._check_condition(Op.READ_10, cc)
            return
        chunk, self.pending = self.pending[:size], self.pending[size:]
        self.tf.byte_count = size
        self.tf.count = Reason.IO
        self.send_block(chunk, Phase.ATAPI_IN)

    def _fetch(self) -> None:
        image = self._disc()
        n = min(self.cd_left, FETCH_SECTORS)
        try:
            self.pending += image.read_sectors(self.cd_lba, n)
        except (OSError, DiskImageError) as exc:
            log.warning("%s: reading CD sector %d failed: %s", self.name, self.cd_lba, exc)
            raise CheckCondition(Sense.MEDIUM_ERROR, Asc.UNRECOVERED_READ_ERROR) from None
        self.cd_lba += n
        self.cd_left -= n

    # ------------------------------------------------------------------ packet commands
    def _test_unit_ready(self, cdb: bytes) -> None:
        self._disc()
        self._done()

    def _request_sense(self, cdb: bytes) -> None:
        if self.unit_attention:
            self.unit_attention = False
            self.sense_key, self.asc = Sense.UNIT_ATTENTION, Asc.MEDIUM_MAY_HAVE_CHANGED
        elif self.known is None and self.sense_key == Sense.NO_SENSE:
            self.sense_key, self.asc = Sense.NOT_READY, Asc.MEDIUM_NOT_PRESENT
        sense = data.sense_data(self.sense_key, self.asc, ASCQ.get(self.asc, 0))
        self.sense_key, self.asc = Sense.NO_SENSE, Asc.NONE
        self._reply(sense, cdb[4])

    def _inquiry(self, cdb: bytes) -> None:
        if cdb[1] & 0x01:
            raise CheckCondition(Sense.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB,
                                 "vital product data pages are not supported")
        self._reply(data.inquiry(), int.from_bytes(cdb[3:5], "big"))

    def _start_stop(self, cdb: bytes) -> None:
        start, load_eject = cdb[4] & 0x01, cdb[4] & 0x02
        if load_eject and not start:
            if self.locked:
                raise CheckCondition(Sense.ILLEGAL_REQUEST, Asc.MEDIUM_REMOVAL_PREVENTED,
                                     "eject refused: the guest has locked the tray")
            log.info("%s: the guest ejects the disc (kept: media change belongs to the "
                     "host's Devices menu)", self.name)
        self._done()

    def _prevent_allow(self, cdb: bytes) -> None:
        self.locked = bool(cdb[4] & 0x01)
        self._done()

    def _read_capacity(self, cdb: bytes) -> None:
        image = self._disc()
        self._reply(data.capacity(image.total_sectors), 8)

    def _read(self, cdb: bytes) -> None:
        image = self._disc()
        lba = int.from_bytes(cdb[2:6], "big")
        count = int.from_bytes(cdb[7:9] if cdb[0] == Op.READ_10 else cdb[6:10], "big")
        total = image.total_sectors
        if lba + count > total:
            what = f"LBA {lba}" if lba >= total else f"LBA {lba}+{count} sectors"
            raise CheckCondition(Sense.ILLEGAL_REQUEST, Asc.LBA_OUT_OF_RANGE,
                                 f"{what} beyond end of disc ({total} sectors)")
        self.count_activity(count)
        self.pending, self.cd_lba, self.cd_left, self.reading = b"", lba, count, True
        self._next_chunk()

    def _read_toc(self, cdb: bytes) -> None:
        image = self._disc()
        fmt = cdb[2] & 0x0F or cdb[9] >> 6  # MMC's field, else SFF-8020i's in byte 9
        msf, track = bool(cdb[1] & 0x02), cdb[6]
        if fmt == 0:
            toc = data.toc(image.total_sectors, msf, track)
            if toc is None:
                raise CheckCondition(Sense.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB,
                                     f"READ TOC from track {track} (the disc has track 1)")
        elif fmt == 1:
            toc = data.session_info(msf)
        else:
            raise CheckCondition(Sense.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB,
                                 f"READ TOC format {fmt} is not supported (0 and 1 are)")
        self._reply(toc, int.from_bytes(cdb[7:9], "big"))

    def _get_configuration(self, cdb: bytes) -> None:
        rt, start = cdb[1] & 0x03, int.from_bytes(cdb[2:4], "big")
        reply = data.configuration(self.check_media() is not None, rt, start)
        self._reply(reply, int.from_bytes(cdb[7:9], "big"))

    def _mode_sense(self, cdb: bytes) -> None:
        control, page = cdb[2] >> 6, cdb[2] & 0x3F
        if control == 3:
            raise CheckCondition(Sense.ILLEGAL_REQUEST, Asc.SAVING_PARAMETERS_NOT_SUPPORTED)
        pages = data.mode_pages(page, self.locked, changeable=control == 1)
        if pages is None:
            raise CheckCondition(Sense.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB,
                                 f"mode page {page:02X}h is not supported")
        reply = data.mode_header(len(pages), self.check_media() is not None) + pages
        self._reply(reply, int.from_bytes(cdb[7:9], "big"))

    # ------------------------------------------------------------------ state
    def save_state(self) -> dict[str, Any]:
        state = super().save_state()
        state.update(kind="cdrom", pending=self.pending)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.sense_key, self.asc = Sense(self.sense_key), Asc(self.asc)
        self.unit_attention, self.locked = bool(self.unit_attention), bool(self.locked)
        self.reading = bool(self.reading)
        self.pending = bytes(state["pending"])
        self.known = self.media()

