"""PS/2 devices behind the 8042: the keyboard and the mouse.

Owns: the device side of the PS/2 protocol (command bytes and their replies, the
keyboard's scan-code queue, the mouse's movement packets) for vmgui.devices.i8042, which
owns the controller.  References: IBM PS/2 Hardware Interface Technical Reference
(keyboard and auxiliary device commands), Adam Chapweske's PS/2 protocol notes.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from typing import Any

log = logging.getLogger(__name__)


class KbdCmd(enum.IntEnum):
    """Commands the PS/2 keyboard accepts (written to the data port)."""

    SET_LEDS = 0xED
    ECHO = 0xEE
    SCANCODE_SET = 0xF0
    IDENTIFY = 0xF2
    TYPEMATIC = 0xF3
    ENABLE = 0xF4
    DISABLE = 0xF5
    DEFAULTS = 0xF6
    RESEND = 0xFE
    RESET = 0xFF


class AuxCmd(enum.IntEnum):
    """Commands the PS/2 mouse accepts (through controller command D4h)."""

    SCALING_1_1 = 0xE6
    SCALING_2_1 = 0xE7
    SET_RESOLUTION = 0xE8
    STATUS = 0xE9
    STREAM_MODE = 0xEA
    READ_DATA = 0xEB
    RESET_WRAP = 0xEC
    WRAP_MODE = 0xEE
    REMOTE_MODE = 0xF0
    IDENTIFY = 0xF2
    SET_RATE = 0xF3
    ENABLE = 0xF4
    DISABLE = 0xF5
    DEFAULTS = 0xF6
    RESEND = 0xFE
    RESET = 0xFF


class Ps2Reply(enum.IntEnum):
    ACK = 0xFA
    BAT_OK = 0xAA
    ECHO = 0xEE
    RESEND = 0xFE
    KBD_ID1 = 0xAB
    KBD_ID2 = 0x83
    KBD_ID2_TRANSLATED = 0x41
    MOUSE_ID = 0x00


# Replies to F0h 00h with translation on: the set number passed through the translator.
TRANSLATED_SET = {1: 0x43, 2: 0x41, 3: 0x3F}
KBD_PARAM_COMMANDS = (KbdCmd.SET_LEDS, KbdCmd.TYPEMATIC, KbdCmd.SCANCODE_SET)
AUX_PARAM_COMMANDS = (AuxCmd.SET_RESOLUTION, AuxCmd.SET_RATE)
MOUSE_SYNC = 0x08  # packet byte 0 bit 3 is always 1
MOUSE_X_SIGN = 0x10
MOUSE_Y_SIGN = 0x20
MOUSE_BUTTONS = 0x07
MOUSE_MAX_DELTA = 255


class _Ps2Device:
    """Reply queue (served first) plus data queue of one PS/2 device."""

    def __init__(self) -> None:
        self.replies: deque[int] = deque()
        self.data: deque[int] = deque()
        self.pending_param: int | None = None
        self.last_sent = Ps2Reply.ACK
        self.reset_device()

    def reset_device(self) -> None:
        self.replies.clear()
        self.data.clear()
        self.pending_param = None
        self.enabled = False

    def has_output(self) -> bool:
        return bool(self.replies or self.data)

    def peek(self) -> int:
        return self.replies[0] if self.replies else self.data[0]

    def pop(self) -> int:
        self.last_sent = self.replies.popleft() if self.replies else self.data.popleft()
        return self.last_sent

    def reply(self, *values: int) -> None:
        self.replies.extend(values)

    def save(self) -> dict[str, Any]:
        state = {k: v if isinstance(v, bool | None) else int(v)
                 for k, v in vars(self).items() if k not in ("replies", "data")}
        state.update(replies=list(self.replies), data=list(self.data))
        return state

    def load(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, deque(value) if key in ("replies", "data") else value)


class Ps2Keyboard(_Ps2Device):
    """An MF2 keyboard; host scancodes are already in set 1 (the translated form)."""

    def reset_device(self) -> None:
        super().reset_device()
        self.enabled = True
        self.leds = 0
        self.typematic = 0x2B
        self.scancode_set = 2

    def queue_scancodes(self, scancodes: bytes) -> None:
        if self.enabled:
            self.data.extend(scancodes)

    def command(self, value: int, translate: bool) -> None:
        param_for, self.pending_param = self.pending_param, None
        if param_for is not None:
            self._parameter(param_for, value, translate)
        elif value in KBD_PARAM_COMMANDS:
            self.pending_param = value
            self.reply(Ps2Reply.ACK)
        elif value == KbdCmd.ECHO:
            self.reply(Ps2Reply.ECHO)
        elif value == KbdCmd.IDENTIFY:
            second = Ps2Reply.KBD_ID2_TRANSLATED if translate else Ps2Reply.KBD_ID2
            self.reply(Ps2Reply.ACK, Ps2Reply.KBD_ID1, second)
        elif value in (KbdCmd.ENABLE, KbdCmd.DISABLE, KbdCmd.DEFAULTS):
            self.data.clear()
            if value != KbdCmd.ENABLE:
                self.typematic, self.scancode_set = 0x2B, 2
            self.enabled = value != KbdCmd.DISABLE
            self.reply(Ps2Reply.ACK)
        elif value == KbdCmd.RESEND:
            self.reply(self.last_sent)
        elif value == KbdCmd.RESET:
            self.reset_device()
            self.reply(Ps2Reply.ACK, Ps2Reply.BAT_OK)
        else:
            log.debug("unknown keyboard command %#04x", value)
            self.reply(Ps2Reply.RESEND)

    def _parameter(self, command: int, value: int, translate: bool) -> None:
        if command == KbdCmd.SET_LEDS:
            self.leds = value & 0x07
        elif command == KbdCmd.TYPEMATIC:
            self.typematic = value & 0x7F
        elif value == 0:
            code = TRANSLATED_SET[self.scancode_set] if translate else self.scancode_set
            self.reply(Ps2Reply.ACK, code)
            return
        elif value in TRANSLATED_SET:
            self.scancode_set = value
            if value != 2:
                log.info("guest selected scancode set %d; host keys stay in set 1", value)
        else:
            self.reply(Ps2Reply.RESEND)
            return
        self.reply(Ps2Reply.ACK)


class Ps2Mouse(_Ps2Device):
    """A standard 3-button PS/2 mouse (device id 00h), stream or remote mode."""

    def reset_device(self) -> None:
        super().reset_device()
        self._defaults()
        self.remote = False
        self.wrap = False
        self.buttons = 0

    def _defaults(self) -> None:
        self.sample_rate = 100
        self.resolution = 2
        self.scaling_2_1 = False
        self.enabled = False

    def movement(self, dx: int, dy: int, buttons: int) -> None:
        self.buttons = buttons & MOUSE_BUTTONS
        if self.enabled and not self.remote:
            self.data.extend(self._packet(dx, -dy))

    def _packet(self, dx: int, dy: int) -> bytes:
        dx = max(-MOUSE_MAX_DELTA, min(MOUSE_MAX_DELTA, dx))
        dy = max(-MOUSE_MAX_DELTA, min(MOUSE_MAX_DELTA, dy))
        head = MOUSE_SYNC | self.buttons
        head |= MOUSE_X_SIGN if dx < 0 else 0
        head |= MOUSE_Y_SIGN if dy < 0 else 0
        return bytes((head, dx & 0xFF, dy & 0xFF))

    def command(self, value: int) -> None:
        param_for, self.pending_param = self.pending_param, None
        if param_for is not None:
            if param_for == AuxCmd.SET_RATE:
                self.sample_rate = value
            else:
                self.resolution = value & 3
            self.reply(Ps2Reply.ACK)
        elif self.wrap and value not in (AuxCmd.RESET_WRAP, AuxCmd.RESET):
            self.reply(value)
        elif value in AUX_PARAM_COMMANDS:
            self.pending_param = value
            self.reply(Ps2Reply.ACK)
        elif not self._simple_command(value):
            log.debug("unknown mouse command %#04x", value)
            self.reply(Ps2Reply.RESEND)

    def _simple_command(self, value: int) -> bool:
        settings = {
            AuxCmd.SCALING_1_1: ("scaling_2_1", False), AuxCmd.SCALING_2_1: ("scaling_2_1", True),
            AuxCmd.STREAM_MODE: ("remote", False), AuxCmd.REMOTE_MODE: ("remote", True),
            AuxCmd.RESET_WRAP: ("wrap", False), AuxCmd.WRAP_MODE: ("wrap", True),
            AuxCmd.ENABLE: ("enabled", True), AuxCmd.DISABLE: ("enabled", False),
        }
        if value in settings:
            name, setting = settings[value]
            setattr(self, name, setting)
            self.data.clear()
            self.reply(Ps2Reply.ACK)
        elif value == AuxCmd.STATUS:
            self.reply(Ps2Reply.ACK, self._status_byte(), self.resolution, self.sample_rate)
        elif value == AuxCmd.READ_DATA:
            self.reply(Ps2Reply.ACK, *self._packet(0, 0))
        elif value == AuxCmd.IDENTIFY:
            self.reply(Ps2Reply.ACK, Ps2Reply.MOUSE_ID)
        elif value == AuxCmd.DEFAULTS:
            self._defaults()
            self.data.clear()
            self.reply(Ps2Reply.ACK)
        elif value == AuxCmd.RESEND:
            self.reply(self.last_sent)
        elif value == AuxCmd.RESET:
            self.reset_device()
            self.reply(Ps2Reply.ACK, Ps2Reply.BAT_OK, Ps2Reply.MOUSE_ID)
        else:
            return False
        return True

    def _status_byte(self) -> int:
        """Bit 6 remote, 5 enabled, 4 scaling 2:1; bits 2-0 = left, middle, right."""
        b = self.buttons
        value = ((b & 1) << 2) | ((b >> 1) & 1) | (((b >> 2) & 1) << 1)
        return value | (self.remote << 6) | (self.enabled << 5) | (self.scaling_2_1 << 4)
