"""An ATA hard disk: the command set a PC hard disk of the ATA-6 era answers, over a
disk image.

Owns: :class:`AtaDisk` -- IDENTIFY DEVICE (default and current CHS geometry, LBA28 and
LBA48 capacities, model/serial/firmware text), CHS/LBA28/LBA48 addressing, READ/WRITE
SECTORS (with and without retry), READ/WRITE MULTIPLE and SET MULTIPLE MODE, READ/WRITE
SECTORS EXT and MULTIPLE EXT, READ VERIFY (and EXT), SEEK, RECALIBRATE, INITIALIZE
DEVICE PARAMETERS, SET FEATURES, FLUSH CACHE (and EXT); and :func:`default_geometry`,
the CHS an ATA disk reports for an image.

The image is the very object the BIOS's int 13h service uses (a raw
:class:`~vmgui.storage.image.DiskImage` or a copy-on-write layer over one), looked up on
every command, so the guest's writes land in the same layer whichever way it writes.

Geometry: the BIOS's geometry for the image (:mod:`vmgui.storage.image`: the MBR's, or
16 heads x 63 sectors) when it has at most 16 heads, as ATA's CHS registers allow; else
(an LBA-assist translation: 32-255 heads) 16 heads x 63 sectors, as QEMU's hd-geometry
does.  Cylinders are capped at 16383 (ATA-6 6.2.1: disks above 8.4 GB).

References: T13 ATA/ATAPI-6 sections 6.2 (IDENTIFY words), 8 (commands), 9.5-9.7
(protocols); QEMU ``hw/ide/core.c`` for details guests rely on (count 0 = 256/65536
sectors, SET MULTIPLE 0 disables multiple mode, 16 sectors per block after power-on).

Thread rule: used from the VM's emulation thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from vmgui.devices.ata_device import AtaDevice, Phase
from vmgui.devices.ata_regs import (
    SECTOR,
    Cmd,
    DeviceBits,
    Error,
    ata_string,
    command_name,
    identify_block,
)
from vmgui.storage.image import DiskImageError, ReadOnlyError

log = logging.getLogger(__name__)

MAX_MULTIPLE = 16  # sectors per DRQ block READ/WRITE MULTIPLE may be set to
DEFAULT_MULTIPLE = 16  # after power-on (vendor specific; QEMU's value)
MAX_CYLINDERS = 16383
LBA28_MAX = 0x0FFFFFFF
READ_AHEAD = 64  # sectors fetched from the image at once during a read command
MODEL = "VMGUI HARDDISK"
FIRMWARE = "1.0"

READS = {Cmd.READ_SECTORS, Cmd.READ_SECTORS_NORETRY, Cmd.READ_SECTORS_EXT,
         Cmd.READ_MULTIPLE, Cmd.READ_MULTIPLE_EXT}
WRITES = {Cmd.WRITE_SECTORS, Cmd.WRITE_SECTORS_NORETRY, Cmd.WRITE_SECTORS_EXT,
          Cmd.WRITE_MULTIPLE, Cmd.WRITE_MULTIPLE_EXT}
EXT = {Cmd.READ_SECTORS_EXT, Cmd.READ_MULTIPLE_EXT, Cmd.WRITE_SECTORS_EXT,
       Cmd.WRITE_MULTIPLE_EXT, Cmd.READ_VERIFY_EXT}
MULTIPLE = {Cmd.READ_MULTIPLE, Cmd.READ_MULTIPLE_EXT, Cmd.WRITE_MULTIPLE,
            Cmd.WRITE_MULTIPLE_EXT}


def default_geometry(image: Any) -> tuple[int, int, int]:
    """(cylinders, heads, sectors per track) an ATA disk reports for ``image``."""
    total = image.total_sectors
    heads, spt = image.heads, image.sectors_per_track
    if not (1 <= heads <= 16 and 1 <= spt <= 63):
        heads, spt = 16, 63
    return max(1, min(total // (heads * spt), MAX_CYLINDERS)), heads, spt


class AtaDisk(AtaDevice):
    """A hard disk at one position of a channel; ``serial`` goes into IDENTIFY."""

    STATE_FIELDS = AtaDevice.STATE_FIELDS + (
        "multiple", "cur_heads", "cur_spt", "xfer_cmd", "xfer_lba", "xfer_left", "xfer_block")

    def __init__(self, name: str, media: Callable[[], Any],
                 activity: Callable[[str, int], None] | None = None,
                 serial: str = "VMGUI0000", unit: int = 0) -> None:
        self.serial = serial
        self.unit = unit
        self._ahead = b""
        self._ahead_lba = 0
        super().__init__(name, media, activity)
        for cmd in READS:
            self._commands[cmd] = self._read
        for cmd in WRITES:
            self._commands[cmd] = self._write
        for cmd in range(Cmd.RECALIBRATE, Cmd.RECALIBRATE + 0x10):
            self._commands[cmd] = self._recalibrate
        self._commands.update({
            Cmd.READ_VERIFY: self._verify, Cmd.READ_VERIFY_NORETRY: self._verify,
            Cmd.READ_VERIFY_EXT: self._verify, Cmd.SEEK: self._seek,
            Cmd.SET_MULTIPLE: self._set_multiple, Cmd.IDENTIFY: self._identify,
            Cmd.INITIALIZE_PARAMETERS: self._initialize_parameters,
            Cmd.FLUSH_CACHE: self._flush,
            Cmd.FLUSH_CACHE_EXT: self._flush,
        })

    # ------------------------------------------------------------------ resets
    def power_on(self) -> None:
        self._defaults()
        super().power_on()

    def soft_reset(self) -> None:
        if self.reverting:
            self._defaults()
        self.xfer_cmd = self.xfer_lba = self.xfer_left = self.xfer_block = 0
        self._ahead = b""
        super().soft_reset()

    def _defaults(self) -> None:
        self.multiple = DEFAULT_MULTIPLE
        self.cur_heads = self.cur_spt = 0  # 0: the default geometry

    # ------------------------------------------------------------------ geometry
    def current_geometry(self, image: Any) -> tuple[int, int, int]:
        """(cylinders, heads, sectors) that CHS addresses are decoded with now."""
        if not self.cur_spt:
            return default_geometry(image)
        heads, spt = self.cur_heads, self.cur_spt
        return min(image.total_sectors // (heads * spt), 0xFFFF), heads, spt

    def _image(self, cmd: int) -> Any:
        image = self.media()
        if image is None:
            self.fail(Error.ABRT, f"{command_name(cmd)}: no disk image attached")
        return image

    def _address(self, cmd: int, image: Any) -> int | None:
        """The command's first sector, or None after failing it (a CHS address off
        the current geometry)."""
        tf = self.tf
        if cmd in EXT:
            return tf.lba48()
        if tf.lba_mode:
            return tf.lba28()
        cyls, heads, spt = self.current_geometry(image)
        cyl, head, sector = tf.lba_high << 8 | tf.lba_mid, tf.device & DeviceBits.HEAD, tf.lba_low
        if head >= heads or not 1 <= sector <= spt:
            self.fail(Error.IDNF,
                      f"{command_name(cmd)}: C/H/S {cyl}/{head}/{sector} does not fit the "
                      f"geometry {cyls}/{heads}/{spt}")
            return None
        return (cyl * heads + head) * spt + sector - 1

    def _set_address(self, lba: int, ext: bool, image: Any) -> None:
        """Leave ``lba`` in the task file in the command's addressing mode."""
        tf = self.tf
        if ext:
            tf.set_lba48(lba)
        elif tf.lba_mode:
            tf.set_lba28(lba)
        else:
            _, heads, spt = self.current_geometry(image)
            cyl, rest = divmod(lba, heads * spt)
            head, sector = divmod(rest, spt)
            tf.lba_high, tf.lba_mid, tf.lba_low = cyl >> 8 & 0xFF, cyl & 0xFF, sector + 1
            tf.device = (tf.device & ~DeviceBits.HEAD & 0xFF) | head

    def _span(self, cmd: int) -> tuple[Any, int, int] | None:
        """(image, first sector, count) of a transfer command, or None after failing it
        (no image, bad CHS, beyond the end of the disk: IDNF, named and logged)."""
        image = self._image(cmd)
        if image is None:
            return None
        lba = self._address(cmd, image)
        if lba is None:
            return None
        count = self.tf.sector_count(cmd in EXT)
        total = image.total_sectors
        if lba + count > total:
            self._set_address(max(lba, total), cmd in EXT, image)
            what = f"LBA {lba}" if lba >= total else f"LBA {lba}+{count} sectors"
            self.fail(Error.IDNF, f"{command_name(cmd)} {what} beyond end of disk "
                                  f"({total} sectors)")
            return None
        return image, lba, count

    # ------------------------------------------------------------------ reads
    def _read(self, cmd: int) -> None:
        if cmd in MULTIPLE and not self.multiple:
            self.fail(Error.ABRT, f"{command_name(cmd)} while multiple mode is disabled "
                                  "(SET MULTIPLE MODE first)")
            return
        span = self._span(cmd)
        if span is None:
            return
        _, lba, count = span
        self.xfer_cmd, self.xfer_lba, self.xfer_left = cmd, lba, count
        self.xfer_block = self.multiple if cmd in MULTIPLE else 1
        self._ahead = b""
        self.count_activity(count)
        self._next_read_block()

    def _fetch(self, image: Any, lba: int, n: int) -> bytes:
        """``n`` sectors from ``lba``, through a read-ahead buffer."""
        start = (lba - self._ahead_lba) * SECTOR
        if start < 0 or start + n * SECTOR > len(self._ahead):
            count = max(n, min(self.xfer_left, READ_AHEAD))
            self._ahead, self._ahead_lba, start = image.read_sectors(lba, count), lba, 0
        return self._ahead[start : start + n * SECTOR]

    def _next_read_block(self) -> None:
        cmd = self.xfer_cmd
        image = self._image(cmd)
        if image is None:
            return
        n = min(self.xfer_left, self.xfer_block)
        try:
            data = self._fetch(image, self.xfer_lba, n)
        except (OSError, DiskImageError) as exc:
            self._set_address(self.xfer_lba, cmd in EXT, image)
            self.fail(Error.UNC, f"{command_name(cmd)} LBA {self.xfer_lba}: reading the "
                                 f"image failed: {exc}", logging.WARNING)
            return
        self._set_address(self.xfer_lba + n - 1, cmd in EXT, image)
        self.xfer_lba += n
        self.xfer_left -= n
        self._set_count(self.xfer_left)
        self.send_block(data, Phase.READ)

    def _set_count(self, left: int) -> None:
        self.tf.count, self.tf.hob_count = left & 0xFF, left >> 8 & 0xFF

    # ------------------------------------------------------------------ writes
    def _write(self, cmd: int) -> None:
        if cmd in MULTIPLE and not self.multiple:
            self.fail(Error.ABRT, f"{command_name(cmd)} while multiple mode is disabled "
                                  "(SET MULTIPLE MODE first)")
            return
        span = self._span(cmd)
        if span is None:
            return
        image, lba, count = span
        if image.read_only:
            self.fail(Error.ABRT, f"{command_name(cmd)} LBA {lba}: {image.path} is "
                                  "read-only")
            return
        self.xfer_cmd, self.xfer_lba, self.xfer_left = cmd, lba, count
        self.xfer_block = self.multiple if cmd in MULTIPLE else 1
        self._ahead = b""
        self.count_activity(count)
        self.receive_block(min(count, self.xfer_block) * SECTOR, Phase.WRITE, interrupt=False)

    def _write_block(self) -> None:
        cmd = self.xfer_cmd
        image = self._image(cmd)
        if image is None:
            return
        n = len(self.buf) // SECTOR
        try:
            image.write_sectors(self.xfer_lba, bytes(self.buf))
        except (OSError, DiskImageError) as exc:
            self._set_address(self.xfer_lba, cmd in EXT, image)
            level = logging.INFO if isinstance(exc, ReadOnlyError) else logging.WARNING
            self.fail(Error.ABRT, f"{command_name(cmd)} LBA {self.xfer_lba}: writing the "
                                  f"image failed: {exc}", level)
            return
        self._set_address(self.xfer_lba + n - 1, cmd in EXT, image)
        self.xfer_lba += n
        self.xfer_left -= n
        self._set_count(self.xfer_left)
        if self.xfer_left:
            self.receive_block(min(self.xfer_left, self.xfer_block) * SECTOR, Phase.WRITE,
                               interrupt=True)
        else:
            self.complete()

    def continue_transfer(self) -> None:
        if self.phase == Phase.WRITE:
            self._write_block()
        elif self.xfer_left:
            self._next_read_block()
        else:
            self.end_data_in()

    # ------------------------------------------------------------------ non-data
    def _verify(self, cmd: int) -> None:
        span = self._span(cmd)
        if span is None:
            return
        image, lba, count = span
        self._set_address(lba + count - 1, cmd in EXT, image)
        self._set_count(0)
        self.complete()

    def _seek(self, cmd: int) -> None:
        image = self._image(cmd)
        if image is None:
            return
        lba = self._address(cmd, image)
        if lba is None:
            return
        if lba >= image.total_sectors:
            self.fail(Error.IDNF, f"{command_name(cmd)} LBA {lba} beyond end of disk "
                                  f"({image.total_sectors} sectors)")
            return
        self.complete()

    def _recalibrate(self, cmd: int) -> None:
        self.complete()

    def _set_multiple(self, cmd: int) -> None:
        count = self.tf.count
        if count and (count > MAX_MULTIPLE or count & (count - 1)):
            self.multiple = 0  # ATA-6 8.39: READ/WRITE MULTIPLE are then disabled
            self.fail(Error.ABRT, f"{command_name(cmd)}: {count} sectors per block is not "
                                  f"supported (1, 2, 4, 8 or {MAX_MULTIPLE})")
            return
        self.multiple = count
        self.complete()

    def _initialize_parameters(self, cmd: int) -> None:
        spt, heads = self.tf.count, (self.tf.device & DeviceBits.HEAD) + 1
        if not spt:
            self.fail(Error.ABRT, f"{command_name(cmd)}: 0 sectors per track")
            return
        self.cur_heads, self.cur_spt = heads, spt
        self.complete()

    def _flush(self, cmd: int) -> None:
        image = self._image(cmd)
        if image is None:
            return
        try:
            image.flush()
        except (OSError, DiskImageError) as exc:
            self.fail(Error.ABRT, f"{command_name(cmd)}: {exc}", logging.WARNING)
            return
        self.complete()

    def _identify(self, cmd: int) -> None:
        image = self._image(cmd)
        if image is not None:
            self.send_block(self.identify_data(image), Phase.DATA_IN)

    # ------------------------------------------------------------------ IDENTIFY
    def identify_data(self, image: Any) -> bytes:
        total = image.total_sectors
        cyls, heads, spt = default_geometry(image)
        ccyls, cheads, cspt = self.current_geometry(image)
        current = min(ccyls * cheads * cspt, 0xFFFFFFFF)
        lba28 = min(total, LBA28_MAX)
        words = {
            0: 0x0040,  # fixed device
            1: cyls, 3: heads, 6: spt,
            20: 3, 21: 512, 22: 4,  # obsolete buffer fields, as drives of the era had
            47: 0x8000 | MAX_MULTIPLE,
            48: 1,  # 32-bit PIO transfers are accepted
            49: 1 << 9 | 1 << 11,  # LBA, IORDY; no DMA
            50: 0x4000,
            51: 0x0200,  # PIO timing mode 2 (obsolete field)
            53: 0x0003,  # words 54-58 and 64-70 valid
            54: ccyls, 55: cheads, 56: cspt, 57: current & 0xFFFF, 58: current >> 16,
            59: (0x100 | self.multiple) if self.multiple else 0,
            60: lba28 & 0xFFFF, 61: lba28 >> 16,
            64: 0x0003,  # PIO modes 3 and 4
            65: 120, 66: 120, 67: 120, 68: 120,
            80: 0x007E,  # ATA-1 .. ATA-6
            82: 1 << 14 | 1 << 5,  # NOP, write cache
            83: 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10,  # FLUSH CACHE (EXT), 48-bit
            84: 1 << 14,
            85: 1 << 14 | (1 << 5 if self.write_cache else 0),
            86: 1 << 13 | 1 << 12 | 1 << 10,
            87: 1 << 14,
            93: 0x4B00 if self.unit else 0x400B,  # reset results: jumpered, passed
            100: total & 0xFFFF, 101: total >> 16 & 0xFFFF, 102: total >> 32 & 0xFFFF,
            103: total >> 48 & 0xFFFF,
        }
        strings = {10: ata_string(self.serial, 20), 23: ata_string(FIRMWARE, 8),
                   27: ata_string(MODEL, 40)}
        return identify_block(words, strings)

    # ------------------------------------------------------------------ state
    def save_state(self) -> dict[str, Any]:
        state = super().save_state()
        state["kind"] = "disk"
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._ahead = b""
