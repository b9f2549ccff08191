"""The Bochs/QEMU debug console: one write-only byte port that prints what it receives.

Owns: port E9h (or wherever the profile puts it).  Every byte written goes to
``on_output``; a read returns E9h, which is how guests detect the port (the convention of
Bochs' "port E9 hack" and QEMU's isa-debugcon device).

Thread rule: used from the VM's emulation thread; ``on_output`` runs on that thread.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus, Registration

log = logging.getLogger(__name__)


class DebugConPort(enum.IntEnum):
    DATA = 0


DETECT_VALUE = 0xE9
"""What a read returns: the Bochs/QEMU presence signature."""


class DebugConsole(Device):
    NAME = "debugcon"
    STATE_VERSION = 1

    def __init__(
        self, bus: IoBus, on_output: Callable[[bytes], None], port: int = 0xE9
    ) -> None:
        self._on_output = on_output
        self.registration: Registration = bus.register(
            port, len(DebugConPort), "debugcon", self._read, self._write)

    def _read(self, offset: int, size: int) -> int:
        return DETECT_VALUE

    def _write(self, offset: int, size: int, value: int) -> None:
        self._on_output(bytes((value & 0xFF,)))
