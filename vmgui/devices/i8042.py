"""The keyboard controller (Intel 8042 as on a PC/AT with PS/2 aux port) and port 92h.

Owns: the controller's command byte, status register, input/output ports (A20 gate and
CPU reset lines), the single-byte output buffer and its pacing, the controller command set
(20h-FFh written to the command port), and the two devices behind it: a PS/2 keyboard
(host input arrives already in scancode set 1, i.e. what the controller's translation
delivers on a PC/AT) and a PS/2 mouse.  :class:`Port92` is the "system control port A"
fast A20 / fast reset register.

Follows the IBM PS/2 and PC/AT keyboard controller documentation as summarised in Ralf
Brown's port list (PORTS.A "0060", "0064", "0092") and Adam Chapweske's PS/2 keyboard and
mouse protocol notes; reply sequences (FF -> FA AA, F2 -> FA AB 41 translated, mouse FF ->
FA AA 00) match what QEMU's hw/input/pckbd.c and ps2.c return.

Pacing: only one byte is in the output buffer at a time.  After the guest reads a byte,
the next one is loaded no earlier than :data:`BYTE_GAP_NS` of guest time later (by
:meth:`I8042.advance`, scheduled through :meth:`I8042.next_deadline_ns`); writing a command
clears the gap so its reply is available at once.  IRQ 1 (keyboard bytes) or IRQ 12 (aux
bytes) follows "output buffer full" when enabled in the command byte, so every load is a
rising edge for the PIC and the guest's read lowers the line.

Thread rule: used from the VM's emulation thread only; host input (:meth:`key_input`,
:meth:`mouse_input`) is handed over by the run loop on that thread.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus, IrqLine, Registration
from vmgui.devices.clock import Clock
from vmgui.devices.ps2 import Ps2Keyboard, Ps2Mouse

log = logging.getLogger(__name__)

BYTE_GAP_NS = 500_000
RAM_SIZE = 32
AUX_QUEUE_LIMIT = 256


class Status(enum.IntFlag):
    OBF = 0x01
    IBF = 0x02
    SYS = 0x04
    A2_COMMAND = 0x08  # last write went to the command port
    UNLOCKED = 0x10  # keyboard inhibit switch off
    AUX_OBF = 0x20
    TIMEOUT = 0x40
    PARITY = 0x80


class CommandByte(enum.IntFlag):
    IRQ1 = 0x01
    IRQ12 = 0x02
    SYS = 0x04
    OVERRIDE = 0x08
    DISABLE_KBD = 0x10
    DISABLE_AUX = 0x20
    TRANSLATE = 0x40


COMMAND_BYTE_DEFAULT = CommandByte.IRQ1 | CommandByte.SYS | CommandByte.TRANSLATE
# plain ints for the run loop's every turn (IntFlag arithmetic builds enum objects)
_DISABLE_KBD, _DISABLE_AUX = int(CommandByte.DISABLE_KBD), int(CommandByte.DISABLE_AUX)


class OutputPort(enum.IntFlag):
    RESET_RELEASED = 0x01  # 0 = assert CPU reset
    A20 = 0x02
    AUX_CLOCK = 0x04
    AUX_DATA = 0x08
    KBD_OBF = 0x10
    AUX_OBF = 0x20
    KBD_CLOCK = 0x40
    KBD_DATA = 0x80


OUTPUT_PORT_DEFAULT = (OutputPort.RESET_RELEASED | OutputPort.A20 | OutputPort.AUX_CLOCK
                       | OutputPort.AUX_DATA | OutputPort.KBD_CLOCK | OutputPort.KBD_DATA)
INPUT_PORT_VALUE = 0xA0  # keyboard not inhibited (bit 7), no manufacturing jumper (bit 5)


class Ctrl(enum.IntEnum):
    """Controller commands written to the command port."""

    READ_RAM_FIRST = 0x20
    READ_RAM_LAST = 0x3F
    WRITE_RAM_FIRST = 0x60
    WRITE_RAM_LAST = 0x7F
    PASSWORD_INSTALLED = 0xA4
    DISABLE_AUX = 0xA7
    ENABLE_AUX = 0xA8
    TEST_AUX = 0xA9
    SELF_TEST = 0xAA
    TEST_KBD = 0xAB
    DISABLE_KBD = 0xAD
    ENABLE_KBD = 0xAE
    READ_INPUT_PORT = 0xC0
    READ_OUTPUT_PORT = 0xD0
    WRITE_OUTPUT_PORT = 0xD1
    WRITE_KBD_OBUF = 0xD2
    WRITE_AUX_OBUF = 0xD3
    WRITE_AUX = 0xD4
    A20_OFF = 0xDD
    A20_ON = 0xDF
    READ_TEST_INPUTS = 0xE0
    PULSE_FIRST = 0xF0


class Reply(enum.IntEnum):
    SELF_TEST_OK = 0x55
    INTERFACE_OK = 0x00
    NO_PASSWORD = 0xF1


class Source(enum.IntEnum):
    KBD = 0
    AUX = 1


DATA_COMMANDS = (Ctrl.WRITE_OUTPUT_PORT, Ctrl.WRITE_KBD_OBUF, Ctrl.WRITE_AUX_OBUF,
                 Ctrl.WRITE_AUX)


class I8042(Device):
    """8042 keyboard controller with a PS/2 keyboard and mouse attached."""

    NAME = "i8042"
    STATE_VERSION = 1

    def __init__(
        self,
        bus: IoBus,
        clock: Clock,
        irq1: IrqLine,
        irq12: IrqLine,
        on_reset: Callable[[], None],
        on_a20: Callable[[bool], None],
        data_port: int = 0x60,
        command_port: int = 0x64,
    ) -> None:
        self._clock = clock
        self._irq = {Source.KBD: irq1, Source.AUX: irq12}
        self._on_reset = on_reset
        self._on_a20 = on_a20
        self.keyboard = Ps2Keyboard()
        self.mouse = Ps2Mouse()
        self._init_state()
        self.registrations: list[Registration] = [
            bus.register(data_port, 1, "i8042-data", self._read_data, self._write_data),
            bus.register(command_port, 1, "i8042-command", self._read_status,
                         self._write_command),
        ]

    def _init_state(self) -> None:
        self.ram = bytearray(RAM_SIZE)
        self.ram[0] = COMMAND_BYTE_DEFAULT
        self.output_port = int(OUTPUT_PORT_DEFAULT)
        self._ctrl_queue: deque[tuple[int, Source]] = deque()
        self._obuf = 0
        self._obuf_full = False
        self._obuf_source = Source.KBD
        self._last_write_command = False
        self._pending_command: int | None = None
        self._load_after_ns = 0

    # -- properties the BIOS uses -------------------------------------------------------------
    @property
    def command_byte(self) -> int:
        return self.ram[0]

    @property
    def a20_enabled(self) -> bool:
        return bool(self.output_port & OutputPort.A20)

    @property
    def output_buffer_full(self) -> bool:
        return self._obuf_full

    @property
    def status(self) -> int:
        value = Status.UNLOCKED
        if self._obuf_full:
            value |= Status.OBF
            if self._obuf_source == Source.AUX:
                value |= Status.AUX_OBF
        if self.ram[0] & CommandByte.SYS:
            value |= Status.SYS
        if self._last_write_command:
            value |= Status.A2_COMMAND
        return int(value)

    # -- host side -----------------------------------------------------------------------------
    def key_input(self, scancodes: bytes) -> None:
        """Queue scancode-set-1 bytes from the host keyboard."""
        self.keyboard.queue_scancodes(scancodes)
        self._try_load()

    def mouse_input(self, dx: int, dy: int, buttons: int) -> None:
        """Queue a mouse movement: ``dy`` > 0 is downwards (screen convention);
        ``buttons`` bit 0 = left, 1 = right, 2 = middle."""
        if len(self.mouse.data) < AUX_QUEUE_LIMIT:
            self.mouse.movement(dx, dy, buttons)
        self._try_load()

    # -- ports ---------------------------------------------------------------------------------
    def _read_status(self, offset: int, size: int) -> int:
        return self.status

    def _read_data(self, offset: int, size: int) -> int:
        if self._obuf_full:
            self._obuf_full = False
            self._load_after_ns = self._clock.now_ns() + BYTE_GAP_NS
            self._update_irqs()
        return self._obuf

    def _write_command(self, offset: int, size: int, value: int) -> None:
        self._last_write_command = True
        self._pending_command = None
        self._load_after_ns = 0
        self._controller_command(value)
        self._try_load()

    def _write_data(self, offset: int, size: int, value: int) -> None:
        self._last_write_command = False
        self._load_after_ns = 0
        command, self._pending_command = self._pending_command, None
        if command is None:
            self.ram[0] &= ~CommandByte.DISABLE_KBD  # talking to the keyboard enables it
            self.keyboard.command(value, self._translate)
        elif Ctrl.WRITE_RAM_FIRST <= command <= Ctrl.WRITE_RAM_LAST:
            self._write_ram(command - Ctrl.WRITE_RAM_FIRST, value)
        elif command == Ctrl.WRITE_OUTPUT_PORT:
            self._write_output_port(value)
        elif command == Ctrl.WRITE_KBD_OBUF:
            self._ctrl_queue.append((value, Source.KBD))
        elif command == Ctrl.WRITE_AUX_OBUF:
            self._ctrl_queue.append((value, Source.AUX))
        elif command == Ctrl.WRITE_AUX:
            self.mouse.command(value)
        self._try_load()

    @property
    def _translate(self) -> bool:
        return bool(self.ram[0] & CommandByte.TRANSLATE)

    def _write_ram(self, index: int, value: int) -> None:
        self.ram[index] = value
        if index == 0:
            if not value & CommandByte.TRANSLATE:
                log.info("guest turned off scancode translation; keys stay in set 1")
            self._update_irqs()

    # -- controller commands -------------------------------------------------------------------
    def _controller_command(self, cmd: int) -> None:
        if Ctrl.READ_RAM_FIRST <= cmd <= Ctrl.READ_RAM_LAST:
            self._reply(self.ram[cmd - Ctrl.READ_RAM_FIRST])
        elif Ctrl.WRITE_RAM_FIRST <= cmd <= Ctrl.WRITE_RAM_LAST or cmd in DATA_COMMANDS:
            self._pending_command = cmd
        elif cmd >= Ctrl.PULSE_FIRST:
            if not cmd & OutputPort.RESET_RELEASED:
                log.info("keyboard controller pulses CPU reset")
                self._on_reset()
        elif not self._simple_command(cmd):
            log.warning("unknown keyboard controller command %#04x", cmd)

    def _simple_command(self, cmd: int) -> bool:
        """Commands without a data byte; returns False when ``cmd`` is unknown."""
        flags = {
            Ctrl.DISABLE_AUX: (CommandByte.DISABLE_AUX, True),
            Ctrl.ENABLE_AUX: (CommandByte.DISABLE_AUX, False),
            Ctrl.DISABLE_KBD: (CommandByte.DISABLE_KBD, True),
            Ctrl.ENABLE_KBD: (CommandByte.DISABLE_KBD, False),
        }
        replies = {
            Ctrl.TEST_AUX: Reply.INTERFACE_OK,
            Ctrl.TEST_KBD: Reply.INTERFACE_OK,
            Ctrl.PASSWORD_INSTALLED: Reply.NO_PASSWORD,
            Ctrl.READ_INPUT_PORT: INPUT_PORT_VALUE,
            Ctrl.READ_TEST_INPUTS: 0,
        }
        if cmd in flags:
            bit, on = flags[cmd]
            self.ram[0] = self.ram[0] | bit if on else self.ram[0] & ~bit
            self._update_irqs()
        elif cmd in replies:
            self._reply(replies[cmd])
        elif cmd == Ctrl.SELF_TEST:
            self.ram[0] |= CommandByte.SYS
            self._reply(Reply.SELF_TEST_OK)
        elif cmd == Ctrl.READ_OUTPUT_PORT:
            self._reply(self._output_port_value())
        elif cmd in (Ctrl.A20_OFF, Ctrl.A20_ON):
            a20 = OutputPort.A20 if cmd == Ctrl.A20_ON else 0
            self._write_output_port((self.output_port & ~OutputPort.A20) | a20)
        else:
            return False
        return True

    def _reply(self, value: int) -> None:
        self._ctrl_queue.append((value, Source.KBD))

    def _output_port_value(self) -> int:
        value = self.output_port & ~(OutputPort.KBD_OBF | OutputPort.AUX_OBF)
        if self._obuf_full:
            value |= OutputPort.AUX_OBF if self._obuf_source == Source.AUX else OutputPort.KBD_OBF
        return value

    def _write_output_port(self, value: int) -> None:
        old = self.output_port
        self.output_port = value
        if (old ^ value) & OutputPort.A20:
            self._on_a20(bool(value & OutputPort.A20))
        if not value & OutputPort.RESET_RELEASED:
            self.output_port |= OutputPort.RESET_RELEASED
            log.info("keyboard controller output port asserts CPU reset")
            self._on_reset()

    # -- output buffer ---------------------------------------------------------------------------
    def _next_source(self) -> tuple[int, Source] | None:
        """The byte that would be loaded next (without removing it)."""
        if self._ctrl_queue:
            return self._ctrl_queue[0]
        command = self.ram[0]
        if not command & _DISABLE_KBD and self.keyboard.has_output():
            return self.keyboard.peek(), Source.KBD
        if not command & _DISABLE_AUX and self.mouse.has_output():
            return self.mouse.peek(), Source.AUX
        return None

    def _try_load(self) -> None:
        if self._obuf_full:
            return
        nxt = self._next_source()  # cheap; the clock only when there is a byte to load
        if nxt is None or self._clock.now_ns() < self._load_after_ns:
            return
        if self._ctrl_queue:
            self._ctrl_queue.popleft()
        elif nxt[1] == Source.KBD:
            self.keyboard.pop()
        else:
            self.mouse.pop()
        self._obuf, self._obuf_source = nxt
        self._obuf_full = True
        self._update_irqs()

    def _update_irqs(self) -> None:
        enables = {Source.KBD: CommandByte.IRQ1, Source.AUX: CommandByte.IRQ12}
        for source, line in self._irq.items():
            level = (self._obuf_full and self._obuf_source == source
                     and bool(self.ram[0] & enables[source]))
            if level != line.level:
                line.set(level)

    def advance(self, now_ns: int) -> None:
        self._try_load()

    def next_deadline_ns(self) -> int | None:
        if self._obuf_full or self._next_source() is None:
            return None
        return max(self._load_after_ns, self._clock.now_ns())

    # -- Device -----------------------------------------------------------------------------------
    def reset(self) -> None:
        self._init_state()
        self.keyboard.reset_device()
        self.mouse.reset_device()
        self._update_irqs()

    _SAVED = ("output_port", "_obuf", "_obuf_full", "_last_write_command", "_pending_command",
              "_load_after_ns")

    def save_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {name.lstrip("_"): getattr(self, name) for name in self._SAVED}
        state.update(version=self.STATE_VERSION, ram=self.ram.hex(),
                     obuf_source=int(self._obuf_source),
                     ctrl_queue=[[b, int(src)] for b, src in self._ctrl_queue],
                     keyboard=self.keyboard.save(), mouse=self.mouse.save())
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        for name in self._SAVED:
            setattr(self, name, state[name.lstrip("_")])
        self.ram = bytearray.fromhex(state["ram"])
        self._obuf_source = Source(state["obuf_source"])
        self._ctrl_queue = deque((b, Source(src)) for b, src in state["ctrl_queue"])
        self.keyboard.load(state["keyboard"])
        self.mouse.load(state["mouse"])
        self._update_irqs()


class Port92Bit(enum.IntFlag):
    FAST_RESET = 0x01
    A20 = 0x02


class Port92(Device):
    """System control port A: bit 1 gates A20, a 0->1 write of bit 0 resets the CPU."""

    NAME = "port92"
    STATE_VERSION = 1

    def __init__(
        self,
        bus: IoBus,
        on_a20: Callable[[bool], None],
        on_reset: Callable[[], None],
        port: int = 0x92,
    ) -> None:
        self._on_a20 = on_a20
        self._on_reset = on_reset
        self.value = 0
        self.registration: Registration = bus.register(
            port, 1, "port92", self._read, self._write)

    @property
    def a20_enabled(self) -> bool:
        return bool(self.value & Port92Bit.A20)

    def _read(self, offset: int, size: int) -> int:
        return self.value

    def _write(self, offset: int, size: int, value: int) -> None:
        old, self.value = self.value, value & (Port92Bit.A20 | Port92Bit.FAST_RESET)
        if (old ^ value) & Port92Bit.A20:
            self._on_a20(bool(value & Port92Bit.A20))
        if value & Port92Bit.FAST_RESET and not old & Port92Bit.FAST_RESET:
            log.info("port 92h fast reset")
            self._on_reset()

    def reset(self) -> None:
        self.value = 0

    def save_state(self) -> dict[str, Any]:
        return {"version": self.STATE_VERSION, "value": self.value}

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        self.value = state["value"]
