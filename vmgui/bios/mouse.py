"""PS/2 pointing-device BIOS: int 15h AH=C2h and the IRQ12 (int 74h) packet collector.

Owns: the int 15h C2xxh functions (00h enable/disable, 01h reset, 02h sample rate,
03h resolution, 04h device type, 05h initialise, 06h status/scaling, 07h far callback),
each done by talking to the mouse behind the 8042 through the bus ports as a real BIOS
does (command D4h to port 64h, the byte to port 60h, the reply polled from 60h), and the
Python half of the int 74h handler: :meth:`MouseBios.on_irq` appends one aux byte to the
packet buffer and tells the ROM stub (vmgui.bios.rom.mouse_stub) when to far-call the
guest's callback.  All state lives in the EBDA (so snapshots carry it):

- EBDA:0022h dword   far callback (offset, segment)
- EBDA:0026h byte    flags 1: bits 2-0 = index of the next packet byte
- EBDA:0027h byte    flags 2: bit 7 = callback installed, bits 2-0 = packet size - 1
- EBDA:0028h 8 bytes packet buffer

While a command runs, the controller's command byte has IRQ1/IRQ12 off and the keyboard
disabled (as SeaBIOS's ps2_command does), so neither the keyboard nor a stray reply raises
an interrupt; the saved command byte comes back afterwards, with IRQ12 and the aux port
enabled or disabled by C200h.

Pacing: the 8042 model spaces bytes 0.5 ms apart and loads the next one at the run loop's
deadlines or at once after a controller command; a service runs inside one hook, so while
it waits for the rest of a multi-byte reply it re-issues A8h (enable the aux interface:
idempotent, the aux port is already on while a command runs) after each empty poll.  A
missing reply still times out after :data:`REPLY_TIMEOUT_NS` of guest time.

References: Ralf Brown's interrupt list (INT 15 AX=C200h-C207h, INT 74, MEMORY.LST EBDA
22h-2Fh), IBM PS/2 Hardware Interface Technical Reference (auxiliary device commands),
SeaBIOS src/mouse.c and src/hw/ps2port.c.
"""

from __future__ import annotations

import enum
import logging
from typing import Protocol

from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda
from vmgui.devices.bus import IoBus

log = logging.getLogger(__name__)

KBC_DATA, KBC_STATUS, KBC_CMD = 0x60, 0x64, 0x64
PIC2_DATA = 0xA1
PIC2_IRQ12_MASK = 0x10  # IRQ12 is input 4 of the slave 8259
STATUS_OBF, STATUS_AUX = 0x01, 0x20
KBC_READ_CMD_BYTE, KBC_WRITE_CMD_BYTE, KBC_WRITE_AUX = 0x20, 0x60, 0xD4
KBC_ENABLE_AUX = 0xA8
CB_IRQ1, CB_IRQ12, CB_DISABLE_KBD, CB_DISABLE_AUX = 0x01, 0x02, 0x10, 0x20

EBDA_CALLBACK = 0x22
EBDA_FLAGS1 = 0x26
EBDA_FLAGS2 = 0x27
EBDA_PACKET = 0x28
FLAGS2_HANDLER = 0x80
INDEX_MASK = 0x07
PACKET_SYNC = 0x08  # bit 3 of a packet's first byte is always 1
DEFAULT_PACKET_SIZE = 3

REPLY_TIMEOUT_NS = 25_000_000  # the 8042 paces bytes 0.5 ms apart; a real BIOS waits ~25 ms
POLL_COST_NS = 10_000  # guest time one status poll costs (the virtual clock's view)
FLUSH_LIMIT = 16

SAMPLE_RATES = (10, 20, 40, 60, 80, 100, 200)  # C202h BH=0..6


class Status(enum.IntEnum):
    """int 15h AH=C2h return codes (AH, with CF set unless OK)."""

    OK = 0x00
    INVALID_FUNCTION = 0x01
    INVALID_INPUT = 0x02
    INTERFACE_ERROR = 0x03
    RESEND = 0x04
    NO_HANDLER = 0x05


class Aux(enum.IntEnum):
    """Mouse commands used by the BIOS (see vmgui.devices.ps2.AuxCmd)."""

    SCALING_1_1 = 0xE6
    SCALING_2_1 = 0xE7
    SET_RESOLUTION = 0xE8
    STATUS = 0xE9
    IDENTIFY = 0xF2
    SET_RATE = 0xF3
    ENABLE = 0xF4
    DISABLE = 0xF5
    RESET = 0xFF


ACK, RESEND = 0xFA, 0xFE


class ChargingClock(Protocol):
    """The machine's clock: guest time, and ``charge`` for time spent polling (the host
    clock ignores it, real time passes by itself; the virtual clock adds it)."""

    def now_ns(self) -> int: ...
    def charge(self, ns: int) -> None: ...


class MouseError(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status.name)
        self.status = status


class MouseBios:
    """int 15h AH=C2h and the int 74h trap, talking to the 8042 at ports 60h/64h."""

    def __init__(self, mem: Memory, bus: IoBus, clock: ChargingClock) -> None:
        self.mem = mem
        self.bus = bus
        self.clock = clock
        self._leaves = {
            0x00: self._enable, 0x01: self._reset, 0x02: self._sample_rate,
            0x03: self._resolution, 0x04: self._device_type, 0x05: self._initialise,
            0x06: self._status_scaling, 0x07: self._set_callback,
        }

    def _ebda(self, offset: int) -> int:
        return (self.mem.read_u16(Bda.EBDA_SEGMENT) << 4) + offset

    def post(self) -> None:
        """No callback, packet size 3, IRQ12 unmasked at the slave PIC (as SeaBIOS)."""
        self.mem.write_u32(self._ebda(EBDA_CALLBACK), 0)
        self.mem.write_u8(self._ebda(EBDA_FLAGS1), 0)
        self.mem.write_u8(self._ebda(EBDA_FLAGS2), DEFAULT_PACKET_SIZE - 1)
        self.mem.write(self._ebda(EBDA_PACKET), bytes(8))
        self._unmask_irq12()

    def _unmask_irq12(self) -> None:
        mask = self.bus.read(PIC2_DATA, 1)
        if mask & PIC2_IRQ12_MASK:
            self.bus.write(PIC2_DATA, 1, mask & ~PIC2_IRQ12_MASK)

    # ------------------------------------------------------------------ int 74h
    def on_irq(self, call: BiosCall) -> None:
        """Trap in the int 74h stub.  Clears ZF (and loads AX=status, BX=X, CX=Y, DX=Z,
        ES:DI -> callback pointer) when the stub must far-call the guest's callback."""
        call.set_zf(True)
        status = self.bus.read(KBC_STATUS, 1)
        if status & (STATUS_OBF | STATUS_AUX) != STATUS_OBF | STATUS_AUX:
            return  # no mouse byte waiting (spurious or already read)
        byte = self.bus.read(KBC_DATA, 1)
        flags1 = self.mem.read_u8(self._ebda(EBDA_FLAGS1))
        flags2 = self.mem.read_u8(self._ebda(EBDA_FLAGS2))
        index = flags1 & INDEX_MASK
        if index == 0 and not byte & PACKET_SYNC:
            log.debug("mouse byte %02Xh out of sync, dropped", byte)
            return
        self.mem.write_u8(self._ebda(EBDA_PACKET + index), byte)
        size = (flags2 & INDEX_MASK) + 1
        if index + 1 < size:
            self.mem.write_u8(self._ebda(EBDA_FLAGS1), (flags1 & ~INDEX_MASK) | (index + 1))
            return
        self.mem.write_u8(self._ebda(EBDA_FLAGS1), flags1 & ~INDEX_MASK)
        if not flags2 & FLAGS2_HANDLER:
            return
        packet = self.mem.read(self._ebda(EBDA_PACKET), 4)
        regs = call.regs
        regs.ax, regs.bx, regs.cx = packet[0], packet[1], packet[2]
        regs.dx = packet[3] if size >= 4 else 0
        regs.es = self.mem.read_u16(Bda.EBDA_SEGMENT)
        regs.di = EBDA_CALLBACK
        call.set_zf(False)

    # ------------------------------------------------------------------ int 15h C2h
    def handle(self, call: BiosCall) -> None:
        """int 15h AH=C2h; AL selects the function."""
        al = call.regs.al
        leaf = self._leaves.get(al)
        if leaf is None:
            log.info("INT 15h AX=C2%02Xh: unsupported function", al)
            call.fail(Status.INVALID_FUNCTION)
            return
        try:
            leaf(call)
        except MouseError as exc:
            log.debug("INT 15h AX=C2%02Xh failed: %s", al, exc.status.name)
            call.fail(exc.status)
            return
        call.ok()

    def _enable(self, call: BiosCall) -> None:
        bh = call.regs.bh
        if bh > 1:
            raise MouseError(Status.INVALID_INPUT)
        if bh and not self.mem.read_u8(self._ebda(EBDA_FLAGS2)) & FLAGS2_HANDLER:
            raise MouseError(Status.NO_HANDLER)
        self.command(Aux.ENABLE if bh else Aux.DISABLE, enable_aux=bool(bh))
        if bh:
            self._unmask_irq12()

    def _reset(self, call: BiosCall) -> None:
        bat, device_id = self.command(Aux.RESET, replies=2)
        self.mem.write_u8(self._ebda(EBDA_FLAGS1), 0)
        call.regs.bl, call.regs.bh = bat, device_id

    def _sample_rate(self, call: BiosCall) -> None:
        if call.regs.bh >= len(SAMPLE_RATES):
            raise MouseError(Status.INVALID_INPUT)
        self.command(Aux.SET_RATE, param=SAMPLE_RATES[call.regs.bh])

    def _resolution(self, call: BiosCall) -> None:
        if call.regs.bh > 3:
            raise MouseError(Status.INVALID_INPUT)
        self.command(Aux.SET_RESOLUTION, param=call.regs.bh)

    def _device_type(self, call: BiosCall) -> None:
        (call.regs.bh,) = self.command(Aux.IDENTIFY, replies=1)

    def _initialise(self, call: BiosCall) -> None:
        size = call.regs.bh
        if not 1 <= size <= 8:
            raise MouseError(Status.INVALID_INPUT)
        flags2 = self._ebda(EBDA_FLAGS2)
        self.mem.write_u8(flags2, (self.mem.read_u8(flags2) & ~INDEX_MASK) | (size - 1))
        self._reset(call)

    def _status_scaling(self, call: BiosCall) -> None:
        bh = call.regs.bh
        if bh == 0:
            status, resolution, rate = self.command(Aux.STATUS, replies=3)
            call.regs.bl, call.regs.cl, call.regs.dl = status, resolution, rate
        elif bh in (1, 2):
            self.command(Aux.SCALING_1_1 if bh == 1 else Aux.SCALING_2_1)
        else:
            raise MouseError(Status.INVALID_FUNCTION)

    def _set_callback(self, call: BiosCall) -> None:
        pointer = (call.regs.es << 16) | call.regs.bx
        self.mem.write_u32(self._ebda(EBDA_CALLBACK), pointer)
        flags2 = self._ebda(EBDA_FLAGS2)
        value = self.mem.read_u8(flags2)
        self.mem.write_u8(flags2, (value | FLAGS2_HANDLER) if pointer
                          else (value & ~FLAGS2_HANDLER))

    # ------------------------------------------------------------------ 8042 talk
    def command(self, cmd: int, *, param: int | None = None, replies: int = 0,
                enable_aux: bool | None = None) -> tuple[int, ...]:
        """Send ``cmd`` (and ``param``) to the mouse, return the ``replies`` bytes after
        the ACK.  ``enable_aux`` True/False turns IRQ12 and the aux port on/off in the
        restored command byte.  Raises :class:`MouseError`."""
        self._flush()
        saved = self._read_command_byte()
        quiet = (saved | CB_DISABLE_KBD) & ~(CB_IRQ1 | CB_IRQ12 | CB_DISABLE_AUX)
        self._write_command_byte(quiet)
        try:
            self._send(cmd)
            if param is not None:
                self._send(param)
            result = tuple(self._read_reply() for _ in range(replies))
        finally:
            if enable_aux is True:
                saved = (saved | CB_IRQ12) & ~CB_DISABLE_AUX
            elif enable_aux is False:
                saved = (saved | CB_DISABLE_AUX) & ~CB_IRQ12
            self._write_command_byte(saved)
        return result

    def _send(self, byte: int) -> None:
        self.bus.write(KBC_CMD, 1, KBC_WRITE_AUX)
        self.bus.write(KBC_DATA, 1, byte)
        reply = self._read_reply(want_ack=True)
        if reply == RESEND:
            raise MouseError(Status.RESEND)

    def _read_reply(self, want_ack: bool = False) -> int:
        """The next byte from the output buffer, polling up to the time-out; with
        ``want_ack``, movement bytes still queued ahead of the ACK are discarded (as
        SeaBIOS's ps2_recvbyte does)."""
        deadline = self.clock.now_ns() + REPLY_TIMEOUT_NS
        while True:
            if self.bus.read(KBC_STATUS, 1) & STATUS_OBF:
                byte = self.bus.read(KBC_DATA, 1)
                if not want_ack or byte in (ACK, RESEND):
                    return byte
                log.debug("discarding mouse byte %02Xh while waiting for an ACK", byte)
            if self.clock.now_ns() >= deadline:
                raise MouseError(Status.INTERFACE_ERROR)
            self.clock.charge(POLL_COST_NS)
            self.bus.write(KBC_CMD, 1, KBC_ENABLE_AUX)  # see "Pacing" in the module notes

    def _flush(self) -> None:
        for _ in range(FLUSH_LIMIT):
            if not self.bus.read(KBC_STATUS, 1) & STATUS_OBF:
                return
            self.bus.read(KBC_DATA, 1)

    def _read_command_byte(self) -> int:
        self.bus.write(KBC_CMD, 1, KBC_READ_CMD_BYTE)
        return self._read_reply()

    def _write_command_byte(self, value: int) -> None:
        self.bus.write(KBC_CMD, 1, KBC_WRITE_CMD_BYTE)
        self.bus.write(KBC_DATA, 1, value)
