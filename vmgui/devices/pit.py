"""The programmable interval timer (Intel 8254) and system control port B (61h).

Owns: the three 8254 counters (mode, access mode, reload value, latches, gate, output),
the counter-latch and read-back commands, IRQ 0 from counter 0's output, and port 61h:
counter 2's gate, the speaker data enable, the DRAM refresh toggle and counter 2's output.

Follows the Intel 8254 datasheet (order no. 231164): control word format, modes 0-5,
read/write flip-flops, the read-back command and status byte; port 61h bits follow the
IBM PC/AT technical reference and Ralf Brown's port list (PORTS.A, "0061").

Time model: counters are never stepped.  Each counter remembers the guest time at which it
started counting and derives its current value and output level from ``clock.now_ns()``
at 1 193 182 Hz.  :meth:`Pit8254.advance` turns rising edges of counter 0's output that fell
due into one pulse on IRQ 0; several missed periods are coalesced and counted in
``lost_ticks``.  A new count takes effect as soon as it is written (the 8254 waits for the
end of the current period in modes 2 and 3; guests do not depend on it).

Thread rule: used from the VM's emulation thread only.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus, IrqLine, Registration
from vmgui.devices.clock import Clock

log = logging.getLogger(__name__)

PIT_HZ = 1_193_182
NS_PER_S = 1_000_000_000
REFRESH_PERIOD_NS = 15_085  # DRAM refresh request period (counter 1 at 18 on a PC/AT)


class PitPort(enum.IntEnum):
    COUNTER0 = 0
    COUNTER1 = 1
    COUNTER2 = 2
    CONTROL = 3


class ControlWord(enum.IntEnum):
    """Fields of the control word written to the CONTROL port."""

    SELECT_SHIFT = 6
    ACCESS_SHIFT = 4
    MODE_SHIFT = 1
    BCD = 0x01
    READ_BACK = 3  # select value 11b
    READ_BACK_NO_COUNT = 0x20  # read-back: 0 = latch count
    READ_BACK_NO_STATUS = 0x10  # read-back: 0 = latch status


class Access(enum.IntEnum):
    LATCH = 0
    LOBYTE = 1
    HIBYTE = 2
    LOHI = 3


class Mode(enum.IntEnum):
    INTERRUPT_ON_TERMINAL_COUNT = 0
    ONE_SHOT = 1
    RATE_GENERATOR = 2
    SQUARE_WAVE = 3
    SOFTWARE_STROBE = 4
    HARDWARE_STROBE = 5


class Status(enum.IntEnum):
    """Read-back status byte bits."""

    OUTPUT = 0x80
    NULL_COUNT = 0x40


GATED_TRIGGER_MODES = (Mode.ONE_SHOT, Mode.HARDWARE_STROBE)
PERIODIC_MODES = (Mode.RATE_GENERATOR, Mode.SQUARE_WAVE)


def ticks_between(start_ns: int, now_ns: int) -> int:
    """Whole input clock ticks elapsed from ``start_ns`` to ``now_ns``."""
    return (now_ns - start_ns) * PIT_HZ // NS_PER_S


def ns_for_ticks(ticks: int) -> int:
    """Smallest duration in ns after which ``ticks`` whole ticks have elapsed."""
    return -(-ticks * NS_PER_S // PIT_HZ)


def _to_bcd(value: int) -> int:
    return int(str(value % 10000), 16)


def _from_bcd(value: int) -> int:
    digits = f"{value:04x}"
    return int(digits) if digits.isdigit() else value


class _Counter:
    """One 8254 counter, derived from time: ``elapsed`` ticks since (re)load."""

    FIELDS = (
        "mode", "access", "bcd", "reload", "gate", "loaded", "triggered", "base_ticks",
        "run_start_ns", "latch", "latch_bytes", "status_latch", "read_low_next",
        "write_low_next", "write_low", "null_count", "output_idle",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.gate = index != 2  # counters 0 and 1 have GATE tied high on a PC
        self.reset()

    def reset(self) -> None:
        self.mode = Mode.SQUARE_WAVE
        self.access = Access.LOHI
        self.bcd = False
        self.reload = 0
        self.loaded = False
        self.triggered = False
        self.base_ticks = 0
        self.run_start_ns: int | None = None
        self.latch = 0
        self.latch_bytes = 0  # latched count bytes still to read
        self.status_latch: int | None = None
        self.read_low_next = True
        self.write_low_next = True
        self.write_low = 0
        self.null_count = True
        self.output_idle = True

    # -- time ---------------------------------------------------------------------------
    @property
    def period(self) -> int:
        """Counter modulus in ticks: reload value, 0 meaning 65536 (10000 in BCD)."""
        if self.reload == 0:
            return 10000 if self.bcd else 0x10000
        return _from_bcd(self.reload) if self.bcd else self.reload

    def elapsed(self, now_ns: int) -> int:
        if self.run_start_ns is None:
            return self.base_ticks
        return self.base_ticks + ticks_between(self.run_start_ns, now_ns)

    def counting(self) -> bool:
        if not self.loaded:
            return False
        if self.mode in GATED_TRIGGER_MODES:
            return self.triggered
        return True

    def count(self, now_ns: int) -> int:
        """The counting element's value now (binary)."""
        n = self.period
        if not self.counting():
            return self.reload
        d = self.elapsed(now_ns)
        if self.mode == Mode.RATE_GENERATOR:
            return n - d % n
        if self.mode == Mode.SQUARE_WAVE:
            return self._square_count(d, n)
        modulus = 10000 if self.bcd else 0x10000
        return (n - d) % modulus

    @staticmethod
    def _square_count(d: int, n: int) -> int:
        """Mode 3 loads N (N-1 if odd) and decrements by two in each half period."""
        phase = d % n
        high = (n + 1) // 2
        first = n & ~1
        value = first - 2 * (phase if phase < high else phase - high)
        return value if value > 0 else first

    def output(self, now_ns: int) -> bool:
        if not self.counting():
            return self.output_idle
        if not self.gate and self.mode in PERIODIC_MODES:
            return True
        d, n = self.elapsed(now_ns), self.period
        mode = self.mode
        if mode == Mode.INTERRUPT_ON_TERMINAL_COUNT:
            return d >= n
        if mode == Mode.ONE_SHOT:
            return d >= n
        if mode == Mode.RATE_GENERATOR:
            return d % n != n - 1
        if mode == Mode.SQUARE_WAVE:
            return d % n < (n + 1) // 2
        return d != n  # modes 4 and 5: one tick low at terminal count

    def rising_edges(self, d0: int, d1: int) -> int:
        """Rising edges of the output at tick positions p with d0 < p <= d1."""
        if not self.counting() or d1 <= d0:
            return 0
        n = self.period
        if self.mode in PERIODIC_MODES:
            return d1 // n - d0 // n
        edge = n + 1 if self.mode in (Mode.SOFTWARE_STROBE, Mode.HARDWARE_STROBE) else n
        return 1 if d0 < edge <= d1 else 0

    def next_edge_tick(self, d: int) -> int | None:
        """Tick position of the first rising edge after ``d`` (None if there is none)."""
        if not self.counting():
            return None
        n = self.period
        if self.mode in PERIODIC_MODES:
            return (d // n + 1) * n
        edge = n + 1 if self.mode in (Mode.SOFTWARE_STROBE, Mode.HARDWARE_STROBE) else n
        return edge if d < edge else None

    # -- control --------------------------------------------------------------------------
    def set_mode(self, mode: int, access: Access, bcd: bool) -> None:
        self.mode = Mode(mode if mode < 6 else mode - 4)  # 6, 7 alias 2, 3
        self.access = access
        self.bcd = bcd
        self.loaded = False
        self.triggered = False
        self.run_start_ns = None
        self.base_ticks = 0
        self.latch_bytes = 0
        self.status_latch = None
        self.read_low_next = self.write_low_next = True
        self.null_count = True
        self.output_idle = self.mode != Mode.INTERRUPT_ON_TERMINAL_COUNT

    def load(self, value: int, now_ns: int) -> None:
        """A complete count was written: start counting (or arm, for modes 1 and 5)."""
        self.reload = value
        self.loaded = True
        self.null_count = False
        self.base_ticks = 0
        if self.mode in GATED_TRIGGER_MODES:
            self.run_start_ns = now_ns if self.triggered else None
            return
        gated_off = not self.gate and self.mode in (
            Mode.INTERRUPT_ON_TERMINAL_COUNT, Mode.SOFTWARE_STROBE, *PERIODIC_MODES)
        self.run_start_ns = None if gated_off else now_ns

    def set_gate(self, level: bool, now_ns: int) -> None:
        if level == self.gate:
            return
        self.gate = level
        if self.mode in (Mode.INTERRUPT_ON_TERMINAL_COUNT, Mode.SOFTWARE_STROBE):
            if level:  # resume counting where it stopped
                self.run_start_ns = now_ns
            else:
                self.base_ticks = self.elapsed(now_ns)
                self.run_start_ns = None
        elif self.mode in PERIODIC_MODES:
            self.base_ticks = 0
            self.run_start_ns = now_ns if level else None  # rising gate reloads
        elif level:  # modes 1 and 5: rising gate (re)triggers
            self.triggered = True
            self.base_ticks = 0
            self.run_start_ns = now_ns

    # -- port access ----------------------------------------------------------------------
    def latch_count(self, now_ns: int) -> None:
        if self.latch_bytes:
            return  # a latched value is held until read
        value = self.count(now_ns)
        self.latch = _to_bcd(value) if self.bcd else value & 0xFFFF
        self.latch_bytes = 2 if self.access == Access.LOHI else 1

    def latch_status(self, now_ns: int) -> None:
        if self.status_latch is not None:
            return
        status = (self.access << ControlWord.ACCESS_SHIFT) | (self.mode << ControlWord.MODE_SHIFT)
        if self.bcd:
            status |= ControlWord.BCD
        if self.output(now_ns):
            status |= Status.OUTPUT
        if self.null_count:
            status |= Status.NULL_COUNT
        self.status_latch = status

    def read(self, now_ns: int) -> int:
        if self.status_latch is not None:
            value, self.status_latch = self.status_latch, None
            return value
        if self.latch_bytes:
            value = self.latch
            self.latch_bytes -= 1
        else:
            value = self.count(now_ns)
            value = _to_bcd(value) if self.bcd else value & 0xFFFF
        return self._pick_byte(value)

    def _pick_byte(self, value: int) -> int:
        if self.access == Access.LOBYTE:
            return value & 0xFF
        if self.access == Access.HIBYTE:
            return (value >> 8) & 0xFF
        low = self.read_low_next
        self.read_low_next = not low
        return value & 0xFF if low else (value >> 8) & 0xFF

    def write(self, value: int, now_ns: int) -> bool:
        """Write one byte of a count; returns True when a full count was loaded."""
        if self.access == Access.LOBYTE:
            self.load(value, now_ns)
        elif self.access == Access.HIBYTE:
            self.load(value << 8, now_ns)
        elif self.write_low_next:
            self.write_low = value
            self.write_low_next = False
            if self.mode == Mode.INTERRUPT_ON_TERMINAL_COUNT:
                self.base_ticks = self.elapsed(now_ns)  # first byte stops counting
                self.run_start_ns = None
            return False
        else:
            self.write_low_next = True
            self.load(self.write_low | (value << 8), now_ns)
        return True

    def save(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    def load_saved(self, state: dict[str, Any]) -> None:
        for f in self.FIELDS:
            setattr(self, f, state[f])
        self.mode = Mode(self.mode)
        self.access = Access(self.access)


class Pit8254(Device):
    """Three 8254 counters at ``base``..``base+3``; counter 0 drives ``irq0``."""

    NAME = "pit"
    STATE_VERSION = 1

    def __init__(self, bus: IoBus, clock: Clock, irq0: IrqLine, base: int = 0x40) -> None:
        self.clock = clock
        self._irq0 = irq0
        self.counters = [_Counter(i) for i in range(3)]
        self.lost_ticks = 0
        """Counter-0 periods that fell due while an earlier one was still undelivered."""
        self._irq_checked_ticks = 0
        self.registration: Registration = bus.register(
            base, len(PitPort), "pit", self._read, self._write)

    # -- ports ----------------------------------------------------------------------------
    def _read(self, offset: int, size: int) -> int:
        if offset == PitPort.CONTROL:
            return 0xFF  # the control register is write-only
        return self.counters[offset].read(self.clock.now_ns())

    def _write(self, offset: int, size: int, value: int) -> None:
        now = self.clock.now_ns()
        if offset == PitPort.CONTROL:
            self._control(value, now)
            return
        counter = self.counters[offset]
        if counter.write(value, now) and offset == 0:
            self._irq_checked_ticks = 0

    def _control(self, value: int, now: int) -> None:
        select = value >> ControlWord.SELECT_SHIFT
        if select == ControlWord.READ_BACK:
            self._read_back(value, now)
            return
        counter = self.counters[select]
        access = Access((value >> ControlWord.ACCESS_SHIFT) & 3)
        if access == Access.LATCH:
            counter.latch_count(now)
            return
        counter.set_mode((value >> ControlWord.MODE_SHIFT) & 7, access,
                         bool(value & ControlWord.BCD))
        if select == 0:
            self._irq_checked_ticks = 0

    def _read_back(self, value: int, now: int) -> None:
        for index, counter in enumerate(self.counters):
            if not value & (2 << index):
                continue
            if not value & ControlWord.READ_BACK_NO_STATUS:
                counter.latch_status(now)
            if not value & ControlWord.READ_BACK_NO_COUNT:
                counter.latch_count(now)

    # -- public API -----------------------------------------------------------------------
    def set_gate(self, index: int, level: bool) -> None:
        """Drive GATE of counter ``index`` (port 61h bit 0 drives counter 2)."""
        self.counters[index].set_gate(level, self.clock.now_ns())

    def output(self, index: int) -> bool:
        """Output level of counter ``index`` now."""
        return self.counters[index].output(self.clock.now_ns())

    def count(self, index: int) -> int:
        """Current value of counter ``index``'s counting element (binary)."""
        return self.counters[index].count(self.clock.now_ns())

    def frequency_hz(self, index: int) -> float | None:
        """Output frequency of a counter running in mode 2 or 3, else None."""
        counter = self.counters[index]
        if not counter.counting() or counter.mode not in PERIODIC_MODES:
            return None
        if not counter.gate:
            return None
        return PIT_HZ / counter.period

    def advance(self, now_ns: int) -> None:
        counter = self.counters[0]
        d = counter.elapsed(now_ns)
        edges = counter.rising_edges(self._irq_checked_ticks, d)
        self._irq_checked_ticks = max(d, self._irq_checked_ticks)
        if edges:
            self.lost_ticks += edges - 1
            self._irq0.pulse()

    def next_deadline_ns(self) -> int | None:
        counter = self.counters[0]
        if counter.run_start_ns is None:
            return None
        tick = counter.next_edge_tick(self._irq_checked_ticks)
        if tick is None:
            return None
        return counter.run_start_ns + ns_for_ticks(tick - counter.base_ticks)

    # -- Device ---------------------------------------------------------------------------
    def reset(self) -> None:
        for counter in self.counters:
            counter.reset()
        self.lost_ticks = 0
        self._irq_checked_ticks = 0

    def save_state(self) -> dict[str, Any]:
        return {
            "version": self.STATE_VERSION,
            "counters": [c.save() for c in self.counters],
            "lost_ticks": self.lost_ticks,
            "irq_checked_ticks": self._irq_checked_ticks,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        for counter, saved in zip(self.counters, state["counters"], strict=True):
            counter.load_saved(saved)
        self.lost_ticks = state["lost_ticks"]
        self._irq_checked_ticks = state["irq_checked_ticks"]


class PortB(enum.IntFlag):
    """System control port B (61h) bits."""

    TIMER2_GATE = 0x01
    SPEAKER_DATA = 0x02
    PARITY_CHECK_DISABLE = 0x04
    CHANNEL_CHECK_DISABLE = 0x08
    REFRESH_TOGGLE = 0x10
    TIMER2_OUTPUT = 0x20
    CHANNEL_CHECK = 0x40
    PARITY_CHECK = 0x80


PORT_B_WRITABLE = (PortB.TIMER2_GATE | PortB.SPEAKER_DATA | PortB.PARITY_CHECK_DISABLE
                   | PortB.CHANNEL_CHECK_DISABLE)
SPEAKER_COUNTER = 2


class SystemControlPortB(Device):
    """Port 61h: counter 2 gate, speaker enable, refresh toggle, counter 2 output."""

    NAME = "port61"
    STATE_VERSION = 1

    def __init__(self, bus: IoBus, pit: Pit8254, base: int = 0x61) -> None:
        self._pit = pit
        self.value = 0
        self.registration: Registration = bus.register(
            base, 1, "port61", self._read, self._write)

    def _read(self, offset: int, size: int) -> int:
        value = self.value & PORT_B_WRITABLE
        if (self._pit.clock.now_ns() // REFRESH_PERIOD_NS) & 1:
            value |= PortB.REFRESH_TOGGLE
        if self._pit.output(SPEAKER_COUNTER):
            value |= PortB.TIMER2_OUTPUT
        return value

    def _write(self, offset: int, size: int, value: int) -> None:
        self.value = value & PORT_B_WRITABLE
        self._pit.set_gate(SPEAKER_COUNTER, bool(value & PortB.TIMER2_GATE))

    @property
    def speaker_on(self) -> bool:
        """True when the speaker is driven by counter 2 (gate and data enable both set)."""
        both = PortB.TIMER2_GATE | PortB.SPEAKER_DATA
        return self.value & both == both

    @property
    def speaker_frequency_hz(self) -> float | None:
        """Counter 2's square-wave frequency (for a sound backend), or None if idle."""
        return self._pit.frequency_hz(SPEAKER_COUNTER)

    def reset(self) -> None:
        self.value = 0
        self._pit.set_gate(SPEAKER_COUNTER, False)

    def save_state(self) -> dict[str, Any]:
        return {"version": self.STATE_VERSION, "value": self.value}

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        self.value = state["value"]
