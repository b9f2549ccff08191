"""One device on an ATA channel: what hard disks and CD-ROM drives have in common.

Owns: :class:`AtaDevice` -- the device's own copy of the task file, its Status and Error
registers, the PIO data engine (one DRQ block at a time: the host reads or writes the
block through the data port, then the device moves on), the commands every device
answers (CHECK POWER MODE, the IDLE/STANDBY family as no-ops, NOP and unknown commands
aborted), resets (power-on, soft reset / DEVICE RESET, with the signature), failing a
command with a named, logged reason, and the device's saved state.  The command sets
live in :mod:`vmgui.devices.ata_disk` and :mod:`vmgui.devices.atapi`; the channel that
selects devices and drives the IRQ line in :mod:`vmgui.devices.ata`.

Protocols follow T13 ATA/ATAPI-6 section 9 (PIO data-in: an interrupt before each DRQ
block, none after the last; PIO data-out: the first block without an interrupt, one after
each block written; non-data: one interrupt at completion).  Every command completes at
once (no BSY period), as in QEMU's PIO path.

Thread rule: used from the VM's emulation thread only.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from vmgui.devices.ata_regs import (
    READY,
    Cmd,
    Error,
    Feature,
    Status,
    TaskFile,
    command_name,
)

log = logging.getLogger(__name__)

# SET FEATURES subcommands accepted without effect: APM, read look-ahead, acoustic
# management (42h/C2h)
NO_OP_FEATURES = {Feature.ENABLE_APM, Feature.DISABLE_APM, Feature.ENABLE_READ_LOOKAHEAD,
                  Feature.DISABLE_READ_LOOKAHEAD, 0x42, 0xC2}


class Phase(enum.IntEnum):
    """What the current DRQ block is for (what happens once the host has moved it)."""

    IDLE = 0
    DATA_IN = 1  # one block for the host and nothing after it (IDENTIFY)
    READ = 2  # disk sectors for the host, block by block
    WRITE = 3  # disk sectors from the host, block by block
    PACKET = 4  # the 12-byte ATAPI command packet from the host
    ATAPI_IN = 5  # an ATAPI reply or CD data for the host, chunk by chunk


class AtaDevice:
    """Base of :class:`~vmgui.devices.ata_disk.AtaDisk` and
    :class:`~vmgui.devices.atapi.AtapiCdrom`.

    ``name`` ("ATA primary master") starts every message; ``media`` returns the image in
    the drive now (None: none) -- looked up on every use, so that a snapshot moving a disk
    onto a new layer, or a CD change, is seen at once; ``activity`` is told the image
    path and sector count of each transfer (activity lights).  The channel sets
    :attr:`interrupt` to the function that asserts its INTRQ."""

    PACKET_DEVICE = False
    STATE_FIELDS = ("status", "error", "phase", "pos", "reverting", "write_cache")

    def __init__(self, name: str, media: Callable[[], Any],
                 activity: Callable[[str, int], None] | None = None) -> None:
        self.name = name
        self.media = media
        self._activity = activity
        self.interrupt: Callable[[], None] = lambda: None
        self.tf = TaskFile()
        self.status = READY
        self.error = 0
        self.phase = Phase.IDLE
        self.buf: bytes | bytearray = b""
        self.pos = 0
        self._unknown_seen: set[int] = set()
        self._commands: dict[int, Callable[[int], None]] = {
            Cmd.NOP: self._abort_nop,
            Cmd.CHECK_POWER_MODE: self._check_power_mode,
            Cmd.CHECK_POWER_MODE_OLD: self._check_power_mode,
            Cmd.SET_FEATURES: self._set_features,
        }
        for cmd in (Cmd.IDLE, Cmd.IDLE_IMMEDIATE, Cmd.STANDBY, Cmd.STANDBY_IMMEDIATE,
                    Cmd.IDLE_OLD, Cmd.IDLE_IMMEDIATE_OLD, Cmd.STANDBY_OLD,
                    Cmd.STANDBY_IMMEDIATE_OLD):
            self._commands[cmd] = self._power_no_op
        self.power_on()

    # ------------------------------------------------------------------ resets
    def power_on(self) -> None:
        """Hardware reset: every setting back to its default, then :meth:`soft_reset`."""
        self.tf = TaskFile()
        self.reverting = True  # a soft reset restores the power-on settings
        self.write_cache = True
        self.soft_reset()

    def soft_reset(self) -> None:
        """SRST (or DEVICE RESET): abandon any transfer, leave the signature."""
        self.phase = Phase.IDLE
        self.buf, self.pos = b"", 0
        self.tf.set_signature(self.PACKET_DEVICE)
        self.error = 0x01  # diagnostic code: passed
        self.status = 0 if self.PACKET_DEVICE else READY

    def begin_reset(self) -> None:
        """SRST went high: the device is busy until it goes low again."""
        self.phase = Phase.IDLE
        self.buf, self.pos = b"", 0
        self.status = Status.BSY

    def diagnose(self) -> None:
        """EXECUTE DEVICE DIAGNOSTIC's effect on this device (the channel runs it on
        both devices and raises the interrupt)."""
        self.soft_reset()
        self.error = 0x01  # device 0 passed, device 1 passed or not present

    # ------------------------------------------------------------------ commands
    def command(self, cmd: int) -> None:
        """The host wrote ``cmd`` to the Command register (INTRQ already cleared)."""
        if self.status & (Status.BSY | Status.DRQ) and cmd != Cmd.DEVICE_RESET:
            log.info("%s: %s ignored: the device is busy with a transfer (status %02Xh)",
                     self.name, command_name(cmd), self.status)
            return
        handler = self._commands.get(cmd)
        if handler is None:
            self._unknown(cmd)
            return
        self.error = 0
        handler(cmd)

    def _unknown(self, cmd: int) -> None:
        if cmd not in self._unknown_seen:
            self._unknown_seen.add(cmd)
            log.info("%s: %s is not supported: aborted", self.name, command_name(cmd))
        self.abort()

    def _abort_nop(self, cmd: int) -> None:
        self.abort()  # NOP always aborts (ATA-6 8.22)

    def _check_power_mode(self, cmd: int) -> None:
        self.tf.count = 0xFF  # active or idle
        self.complete()

    def _power_no_op(self, cmd: int) -> None:
        self.complete()  # no spindle to stop: the drive is always ready

    def _set_features(self, cmd: int) -> None:
        feature = self.tf.feature
        if feature in NO_OP_FEATURES:
            pass
        elif feature in (Feature.ENABLE_WRITE_CACHE, Feature.DISABLE_WRITE_CACHE):
            self.write_cache = feature == Feature.ENABLE_WRITE_CACHE  # always written through
        elif feature in (Feature.ENABLE_REVERTING, Feature.DISABLE_REVERTING):
            self.reverting = feature == Feature.ENABLE_REVERTING
        elif feature == Feature.SET_TRANSFER_MODE:
            mode = self.tf.count
            if mode >> 3 > 1 or (mode >> 3 == 1 and mode & 7 > 4):
                self.fail(Error.ABRT, f"{command_name(cmd)}: transfer mode {mode:02X}h is "
                                      "not supported (PIO modes 0-4 only, no DMA)")
                return
        else:
            self.fail(Error.ABRT, f"{command_name(cmd)}: subcommand {feature:02X}h is not "
                                  "supported")
            return
        self.complete()

    # ------------------------------------------------------------------ completion
    def complete(self) -> None:
        """A command ends without error: ready, no data, interrupt."""
        self.phase = Phase.IDLE
        self.buf, self.pos = b"", 0
        self.status = READY
        self.interrupt()

    def abort(self) -> None:
        """ERR with ABRT (unknown command, bad parameter)."""
        self.fail(Error.ABRT)

    def fail(self, error: int, why: str | None = None, level: int = logging.INFO) -> None:
        """End the command with ERR and ``error`` in the Error register; ``why`` (logged
        after the device's name) says what went wrong."""
        if why is not None:
            log.log(level, "%s: %s", self.name, why)
        self.phase = Phase.IDLE
        self.buf, self.pos = b"", 0
        self.error = int(error)
        self.status = Status.DRDY | Status.ERR
        self.interrupt()

    def count_activity(self, sectors: int) -> None:
        image = self.media()
        if self._activity is not None and image is not None:
            self._activity(str(image.path), sectors)

    # ------------------------------------------------------------------ PIO engine
    def send_block(self, data: bytes, phase: Phase, interrupt: bool = True) -> None:
        """Offer ``data`` to the host through the data port (DRQ set)."""
        self.buf, self.pos, self.phase = data, 0, phase
        self.status = READY | Status.DRQ
        if interrupt:
            self.interrupt()

    def receive_block(self, size: int, phase: Phase, interrupt: bool) -> None:
        """Ask the host for ``size`` bytes through the data port (DRQ set)."""
        self.buf, self.pos, self.phase = bytearray(size), 0, phase
        self.status = READY | Status.DRQ
        if interrupt:
            self.interrupt()

    def data_read(self, size: int) -> int:
        """The host reads ``size`` bytes (2 or 4; 1 takes a whole word) from the data
        port.  Without DRQ, or while the device expects data, it reads zeros."""
        if self.phase in (Phase.IDLE, Phase.WRITE, Phase.PACKET):
            return 0
        pos = self.pos
        end = pos + (2 if size == 1 else size)
        value = int.from_bytes(self.buf[pos:end], "little")
        self.pos = end
        if end >= len(self.buf):
            self.block_done()
        return value & 0xFF if size == 1 else value

    def data_write(self, size: int, value: int) -> None:
        """The host writes ``size`` bytes to the data port (ignored without DRQ)."""
        if self.phase not in (Phase.WRITE, Phase.PACKET):
            return
        pos = self.pos
        n = 2 if size == 1 else size
        end = min(pos + n, len(self.buf))
        self.buf[pos:end] = value.to_bytes(n, "little")[: end - pos]  # type: ignore[index]
        self.pos = end
        if end >= len(self.buf):
            self.block_done()

    def pio_in_ready(self, width: int) -> int:
        """How many ``width``-byte reads (2 or 4) the current DRQ block still holds in
        whole: the most :meth:`pio_read` may take (0 without DRQ for the host)."""
        if width not in (2, 4) or self.phase in (Phase.IDLE, Phase.WRITE, Phase.PACKET):
            return 0
        return (len(self.buf) - self.pos) // width

    def pio_read(self, width: int, count: int) -> bytes:
        """``count`` reads of the data port at once (at most :meth:`pio_in_ready`):
        the bytes they return, with the same effect (the block may end here)."""
        pos = self.pos
        end = pos + width * count
        data = bytes(self.buf[pos:end])
        self.pos = end
        if end >= len(self.buf):
            self.block_done()
        return data

    def pio_out_room(self, width: int) -> int:
        """How many ``width``-byte writes (2 or 4) the current DRQ block takes in whole."""
        if width not in (2, 4) or self.phase not in (Phase.WRITE, Phase.PACKET):
            return 0
        return (len(self.buf) - self.pos) // width

    def pio_write(self, data: bytes) -> None:
        """Writes of the data port at once (at most :meth:`pio_out_room` elements)."""
        pos = self.pos
        end = pos + len(data)
        self.buf[pos:end] = data  # type: ignore[index]
        self.pos = end
        if end >= len(self.buf):
            self.block_done()

    def block_done(self) -> None:
        """The host has moved the whole DRQ block: go on according to :attr:`phase`."""
        if self.phase == Phase.DATA_IN:
            self.end_data_in()
        else:
            self.continue_transfer()

    def end_data_in(self) -> None:
        """The host has read the last block: ready, DRQ off, no interrupt after it."""
        self.phase = Phase.IDLE
        self.buf, self.pos = b"", 0
        self.status = READY

    def continue_transfer(self) -> None:
        """Subclasses: the next block of a READ/WRITE/PACKET/ATAPI_IN phase."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def save_state(self) -> dict[str, Any]:
        state = {name: int(getattr(self, name)) for name in self.STATE_FIELDS}
        state.update(tf=self.tf.save(), buf=bytes(self.buf),
                     writable=isinstance(self.buf, bytearray))
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        for name in self.STATE_FIELDS:
            setattr(self, name, int(state[name]))
        self.phase = Phase(self.phase)
        self.tf.load(state["tf"])
        self.buf = bytearray(state["buf"]) if state["writable"] else bytes(state["buf"])
