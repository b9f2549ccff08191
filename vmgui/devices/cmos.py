"""The real-time clock and its 128 bytes of CMOS RAM (Motorola MC146818A / DS12887).

Owns: the index/data port pair (with the NMI-disable bit of the index port), the clock
(seconds .. year plus the IBM century byte at 32h), registers A-D (update-in-progress,
periodic rate, SET/PIE/AIE/UIE/DM/24h, interrupt flags, valid-RAM bit), the periodic,
alarm and update-ended interrupts on IRQ 8, and the PC/AT configuration bytes POST fills in
(floppy and hard-disk types, equipment byte, memory sizes, checksum at 2Eh/2Fh).

Follows the Motorola MC146818A datasheet / Dallas DS12887 datasheet for the clock and
register A-D semantics, and the IBM PC/AT technical reference plus Ralf Brown's CMOS.LST for
the configuration byte layout (type-47 geometry as Bochs/QEMU write it).

Time model: the clock is a set of binary fields that were correct at the whole-second
boundary ``synced_ns`` of ``clock.now_ns()``; every access first catches the fields up by
the whole seconds elapsed, setting UF/AF (and PF for the periodic rate) as it goes.  UIP
reads 1 during the last 244 us before each second boundary.  The SET bit freezes the clock;
clearing it restarts the second from that moment.  IRQ 8 is raised when IRQF becomes 1
and lowered when register C is read, as on the chip.

Thread rule: used from the VM's emulation thread only.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import logging
from typing import Any

from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus, IrqLine, Registration
from vmgui.devices.clock import Clock

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
UIP_WINDOW_NS = 244_000
RTC_OSC_HZ = 32_768
CMOS_SIZE = 128
MAX_CATCH_UP_STEPS = 3600  # seconds stepped one by one (alarm checks); larger jumps leap


class CmosPort(enum.IntEnum):
    INDEX = 0  # bit 7 = NMI disable, bits 6-0 = register index
    DATA = 1


class Reg(enum.IntEnum):
    SECONDS = 0x00
    SECONDS_ALARM = 0x01
    MINUTES = 0x02
    MINUTES_ALARM = 0x03
    HOURS = 0x04
    HOURS_ALARM = 0x05
    DAY_OF_WEEK = 0x06
    DAY_OF_MONTH = 0x07
    MONTH = 0x08
    YEAR = 0x09
    A = 0x0A
    B = 0x0B
    C = 0x0C
    D = 0x0D
    DIAGNOSTIC = 0x0E
    SHUTDOWN = 0x0F
    FLOPPY_TYPES = 0x10
    HARD_DISK_TYPES = 0x12
    EQUIPMENT = 0x14
    BASE_MEM_LO = 0x15
    BASE_MEM_HI = 0x16
    EXT_MEM_LO = 0x17
    EXT_MEM_HI = 0x18
    HD0_EXT_TYPE = 0x19
    HD1_EXT_TYPE = 0x1A
    HD0_PARAMS = 0x1B  # 9 bytes: cyl lo/hi, heads, wpcomp lo/hi, control, lz lo/hi, sectors
    HD1_PARAMS = 0x24
    CHECKSUM_HI = 0x2E
    CHECKSUM_LO = 0x2F
    EXT_MEM2_LO = 0x30
    EXT_MEM2_HI = 0x31
    CENTURY = 0x32
    HIGH_MEM_LO = 0x34  # memory above 16 MiB in 64 KiB units
    HIGH_MEM_HI = 0x35


CHECKSUM_FIRST = Reg.FLOPPY_TYPES
CHECKSUM_LAST = 0x2D
TIME_REGS = (Reg.SECONDS, Reg.MINUTES, Reg.HOURS, Reg.DAY_OF_WEEK, Reg.DAY_OF_MONTH,
             Reg.MONTH, Reg.YEAR, Reg.CENTURY)
ALARM_PAIRS = ((Reg.SECONDS_ALARM, Reg.SECONDS), (Reg.MINUTES_ALARM, Reg.MINUTES),
               (Reg.HOURS_ALARM, Reg.HOURS))
ALARM_DONT_CARE = 0xC0


class RegA(enum.IntFlag):
    UIP = 0x80
    DIVIDER_MASK = 0x70
    RATE_MASK = 0x0F


DIVIDER_32K = 0x20  # DV2-0 = 010: 32.768 kHz time base, running
REG_A_DEFAULT = DIVIDER_32K | 0x06  # 1024 Hz periodic rate


class RegB(enum.IntFlag):
    DSE = 0x01
    HOUR_24 = 0x02
    DM_BINARY = 0x04
    SQWE = 0x08
    UIE = 0x10
    AIE = 0x20
    PIE = 0x40
    SET = 0x80


REG_B_DEFAULT = RegB.HOUR_24


class RegC(enum.IntFlag):
    UF = 0x10
    AF = 0x20
    PF = 0x40
    IRQF = 0x80


class RegD(enum.IntFlag):
    VRT = 0x80


# Plain ints for what the run loop calls on every turn (advance, next_deadline_ns):
# arithmetic on IntFlag members builds enum objects, ~1 us each.
_REG_A, _REG_B, _REG_C = int(Reg.A), int(Reg.B), int(Reg.C)
_RATE_MASK, _DIVIDER_MASK = int(RegA.RATE_MASK), int(RegA.DIVIDER_MASK)
_B_SET, _B_PIE, _B_UIE_AIE = int(RegB.SET), int(RegB.PIE), int(RegB.UIE | RegB.AIE)
_C_PF, _C_IRQF = int(RegC.PF), int(RegC.IRQF)


PM_BIT = 0x80  # 12-hour mode: hours register bit 7


class FloppyType(enum.IntEnum):
    NONE = 0
    K360 = 1
    M1_2 = 2
    K720 = 3
    M1_44 = 4
    M2_88 = 5


class Equipment(enum.IntFlag):
    FLOPPY_PRESENT = 0x01
    MATH_COPROCESSOR = 0x02
    FLOPPY_COUNT_SHIFT = 6


HD_USER_TYPE = 0x0F  # "see extended type byte"
HD_EXT_USER_TYPE = 47


def _weekday(date: dt.datetime) -> int:
    """RTC day of week: 1 = Sunday .. 7 = Saturday."""
    return (date.weekday() + 1) % 7 + 1


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def _unbcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


class CmosRtc(Device):
    """MC146818-compatible RTC plus CMOS RAM at ``base`` (index) and ``base+1`` (data)."""

    NAME = "cmos"
    STATE_VERSION = 1

    def __init__(
        self,
        bus: IoBus,
        clock: Clock,
        irq8: IrqLine,
        base: int = 0x70,
        start_time: dt.datetime | None = None,
    ) -> None:
        self._clock = clock
        self._irq8 = irq8
        self.ram = bytearray(CMOS_SIZE)
        self.index = 0
        self.nmi_enabled = True
        """False while the guest holds port 70h bit 7 set (NMI masked)."""
        self.ram[Reg.A] = REG_A_DEFAULT
        self.ram[Reg.B] = REG_B_DEFAULT
        self.ram[Reg.D] = RegD.VRT
        now = clock.now_ns()
        self._set_datetime(start_time if start_time is not None else dt.datetime.now())
        self._synced_ns = now
        self._periodic_index = self._periodic_count(now)
        self.registration: Registration = bus.register(
            base, len(CmosPort), "cmos", self._read, self._write)

    # -- time fields (binary, kept in self._time) ------------------------------------------
    def _set_datetime(self, when: dt.datetime) -> None:
        self._time = {
            Reg.SECONDS: when.second, Reg.MINUTES: when.minute, Reg.HOURS: when.hour,
            Reg.DAY_OF_WEEK: _weekday(when), Reg.DAY_OF_MONTH: when.day,
            Reg.MONTH: when.month, Reg.YEAR: when.year % 100, Reg.CENTURY: when.year // 100,
        }

    def _as_datetime(self) -> dt.datetime | None:
        t = self._time
        try:
            return dt.datetime(t[Reg.CENTURY] * 100 + t[Reg.YEAR], t[Reg.MONTH],
                               t[Reg.DAY_OF_MONTH], t[Reg.HOURS], t[Reg.MINUTES],
                               t[Reg.SECONDS])
        except ValueError:
            return None

    def _add_seconds(self, seconds: int) -> None:
        old = self._as_datetime()
        if old is None:
            old = self._repair_date()
        new = old + dt.timedelta(seconds=seconds)
        days = (new.date() - old.date()).days
        dow = (self._time[Reg.DAY_OF_WEEK] - 1 + days) % 7 + 1
        self._set_datetime(new)
        self._time[Reg.DAY_OF_WEEK] = dow

    def _repair_date(self) -> dt.datetime:
        """Clamp out-of-range fields a guest wrote so the clock can keep running."""
        t = self._time
        year = min(max(t[Reg.CENTURY] * 100 + t[Reg.YEAR], 1), 9999)
        month = min(max(t[Reg.MONTH], 1), 12)
        day = min(max(t[Reg.DAY_OF_MONTH], 1), calendar.monthrange(year, month)[1])
        log.warning("RTC holds an invalid date/time %s; clamped", dict(t))
        return dt.datetime(year, month, day, min(t[Reg.HOURS], 23), min(t[Reg.MINUTES], 59),
                           min(t[Reg.SECONDS], 59))

    def now(self) -> dt.datetime | None:
        """The RTC's current date and time (None if the guest stored an invalid one)."""
        self._catch_up(self._clock.now_ns())
        return self._as_datetime()

    # -- encoding ----------------------------------------------------------------------------
    @property
    def _binary(self) -> bool:
        return bool(self.ram[Reg.B] & RegB.DM_BINARY)

    @property
    def _hour24(self) -> bool:
        return bool(self.ram[Reg.B] & RegB.HOUR_24)

    def _encode(self, reg: int, value: int) -> int:
        if reg == Reg.HOURS and not self._hour24:
            pm = value >= 12
            value = value % 12 or 12
            return self._encode_plain(value) | (PM_BIT if pm else 0)
        return self._encode_plain(value)

    def _encode_plain(self, value: int) -> int:
        return value if self._binary else _bcd(value)

    def _decode(self, reg: int, raw: int) -> int:
        if reg == Reg.HOURS and not self._hour24:
            pm = bool(raw & PM_BIT)
            hour = self._decode_plain(raw & ~PM_BIT) % 12
            return hour + 12 if pm else hour
        return self._decode_plain(raw)

    def _decode_plain(self, raw: int) -> int:
        return raw if self._binary else _unbcd(raw)

    # -- catching up with time -----------------------------------------------------------------
    def _periodic_cycles(self) -> int | None:
        """Periodic interrupt period in 32.768 kHz cycles (None: rate 0 or divider off)."""
        a = self.ram[_REG_A]
        rate = a & _RATE_MASK
        if not rate or a & _DIVIDER_MASK != DIVIDER_32K:
            return None
        return 1 << (rate + 6) if rate <= 2 else 1 << (rate - 1)

    def _periodic_count(self, now_ns: int) -> int:
        cycles = self._periodic_cycles()
        if cycles is None:
            return 0
        return now_ns * RTC_OSC_HZ // (cycles * NS_PER_S)

    def _catch_up(self, now_ns: int) -> None:
        flags = 0
        cycles = self._periodic_cycles()
        periodic = 0 if cycles is None else now_ns * RTC_OSC_HZ // (cycles * NS_PER_S)
        if periodic != self._periodic_index and cycles is not None:
            flags |= _C_PF
        self._periodic_index = periodic
        if self.ram[_REG_B] & _B_SET:
            self._synced_ns = now_ns
        else:
            seconds = (now_ns - self._synced_ns) // NS_PER_S
            if seconds > 0:
                flags |= self._tick_seconds(seconds)
                self._synced_ns += seconds * NS_PER_S
        if flags:
            self._raise_flags(flags)

    def _tick_seconds(self, seconds: int) -> int:
        """Advance the clock; returns the flags the update cycles set."""
        flags = RegC.UF
        if seconds > MAX_CATCH_UP_STEPS:
            self._add_seconds(seconds - MAX_CATCH_UP_STEPS)
            seconds = MAX_CATCH_UP_STEPS
        for _ in range(seconds):
            self._add_seconds(1)
            if self._alarm_matches():
                flags |= RegC.AF
        return flags

    def _alarm_matches(self) -> bool:
        for alarm_reg, time_reg in ALARM_PAIRS:
            alarm = self.ram[alarm_reg]
            if alarm & ALARM_DONT_CARE == ALARM_DONT_CARE:
                continue
            if alarm != self._encode(time_reg, self._time[time_reg]):
                return False
        return True

    def _raise_flags(self, flags: int) -> None:
        c = self.ram[Reg.C] | flags
        enables = self.ram[Reg.B] & (RegB.PIE | RegB.AIE | RegB.UIE)
        # PIE/AIE/UIE share their bit positions with PF/AF/UF
        if c & enables and not c & RegC.IRQF:
            self.ram[Reg.C] = c | RegC.IRQF
            self._irq8.raise_()
            return
        self.ram[Reg.C] = c

    # -- register access ---------------------------------------------------------------------
    def read_register(self, reg: int) -> int:
        """Read CMOS register ``reg`` (0-7Fh) exactly as the data port would."""
        now = self._clock.now_ns()
        self._catch_up(now)
        if reg in TIME_REGS:
            return self._encode(reg, self._time[reg])
        if reg == Reg.A:
            value = self.ram[Reg.A] & ~RegA.UIP
            if self._in_update_window(now):
                value |= RegA.UIP
            return value
        if reg == Reg.C:
            value = self.ram[Reg.C]
            self.ram[Reg.C] = 0
            if value & RegC.IRQF:
                self._irq8.lower()
            return value
        if reg == Reg.D:
            return RegD.VRT
        return self.ram[reg]

    def _in_update_window(self, now_ns: int) -> bool:
        if self.ram[Reg.B] & RegB.SET:
            return False
        into_second = (now_ns - self._synced_ns) % NS_PER_S
        return into_second >= NS_PER_S - UIP_WINDOW_NS

    def write_register(self, reg: int, value: int) -> None:
        """Write CMOS register ``reg`` (0-7Fh) exactly as the data port would."""
        now = self._clock.now_ns()
        self._catch_up(now)
        value &= 0xFF
        if reg in TIME_REGS:
            self._time[reg] = self._decode(reg, value)
        elif reg == Reg.A:
            self.ram[Reg.A] = value & ~RegA.UIP
            self._periodic_index = self._periodic_count(now)
        elif reg == Reg.B:
            self._write_b(value, now)
        elif reg in (Reg.C, Reg.D):
            log.debug("write to read-only RTC register %s ignored", Reg(reg).name)
        else:
            self.ram[reg] = value

    def _write_b(self, value: int, now_ns: int) -> None:
        old = self.ram[Reg.B]
        if value & RegB.SET:
            value &= ~RegB.UIE  # the datasheet: SET clears UIE
        if old & RegB.SET and not value & RegB.SET:
            self._synced_ns = now_ns  # the divider chain restarts the second
        if (old ^ value) & (RegB.HOUR_24 | RegB.DM_BINARY):
            log.debug("RTC data mode changed to %#04x", value)
        self.ram[Reg.B] = value
        self._raise_flags(0)

    def _read(self, offset: int, size: int) -> int:
        if offset == CmosPort.INDEX:
            return 0xFF  # the index register is write-only
        return self.read_register(self.index)

    def _write(self, offset: int, size: int, value: int) -> None:
        if offset == CmosPort.INDEX:
            self.index = value & (CMOS_SIZE - 1)
            self.nmi_enabled = not value & 0x80
        else:
            self.write_register(self.index, value)

    # -- run loop ------------------------------------------------------------------------------
    def advance(self, now_ns: int) -> None:
        self._catch_up(now_ns)

    def next_deadline_ns(self) -> int | None:
        b = self.ram[_REG_B]
        if self.ram[_REG_C] & _C_IRQF or not b & (_B_PIE | _B_UIE_AIE):
            return None  # IRQ 8 stays high until register C is read; or no IRQ enabled
        deadline = None
        cycles = self._periodic_cycles()
        if b & _B_PIE and cycles is not None:
            deadline = -(-(self._periodic_index + 1) * cycles * NS_PER_S // RTC_OSC_HZ)
        if b & _B_UIE_AIE and not b & _B_SET:
            second = self._synced_ns + NS_PER_S
            deadline = second if deadline is None else min(deadline, second)
        return deadline

    # -- POST helpers ----------------------------------------------------------------------------
    def set_memory(self, base_kb: int, ext_kb: int) -> None:
        """Base memory (KiB below 640K) and extended memory (KiB above 1 MiB)."""
        self._put_word(Reg.BASE_MEM_LO, min(base_kb, 0xFFFF))
        ext = min(ext_kb, 0xFFFF)
        self._put_word(Reg.EXT_MEM_LO, ext)
        self._put_word(Reg.EXT_MEM2_LO, ext)
        above_16m_kb = max(ext_kb - 15 * 1024, 0)
        self._put_word(Reg.HIGH_MEM_LO, min(above_16m_kb // 64, 0xFFFF))
        self.update_checksum()

    def set_floppy_types(self, a: int, b: int = FloppyType.NONE) -> None:
        """Drive types for A: and B: (:class:`FloppyType`); updates the equipment byte."""
        self.ram[Reg.FLOPPY_TYPES] = (FloppyType(a) << 4) | FloppyType(b)
        count = (a != FloppyType.NONE) + (b != FloppyType.NONE)
        equipment = self.ram[Reg.EQUIPMENT] & ~(0xC0 | Equipment.FLOPPY_PRESENT)
        if count:
            equipment |= Equipment.FLOPPY_PRESENT
            equipment |= (count - 1) << Equipment.FLOPPY_COUNT_SHIFT
        self.ram[Reg.EQUIPMENT] = equipment
        self.update_checksum()

    def set_math_coprocessor(self, present: bool) -> None:
        equipment = self.ram[Reg.EQUIPMENT] & ~Equipment.MATH_COPROCESSOR
        self.ram[Reg.EQUIPMENT] = equipment | (Equipment.MATH_COPROCESSOR if present else 0)
        self.update_checksum()

    def set_hard_disk_present(
        self, index: int, present: bool = True, geometry: tuple[int, int, int] | None = None
    ) -> None:
        """Mark hard disk 0 or 1 as type 47 (user-defined) with optional (C, H, S)."""
        if index not in (0, 1):
            raise ValueError("CMOS describes hard disks 0 and 1 only")
        shift = 4 if index == 0 else 0
        types = self.ram[Reg.HARD_DISK_TYPES] & ~(0x0F << shift)
        self.ram[Reg.HARD_DISK_TYPES] = types | ((HD_USER_TYPE if present else 0) << shift)
        self.ram[Reg.HD0_EXT_TYPE + index] = HD_EXT_USER_TYPE if present else 0
        params = Reg.HD0_PARAMS if index == 0 else Reg.HD1_PARAMS
        self.ram[params:params + 9] = bytes(9)
        if present and geometry is not None:
            cylinders, heads, sectors = geometry
            self._put_word(params, cylinders)
            self.ram[params + 2] = heads
            self._put_word(params + 3, 0xFFFF)  # no write precompensation
            self.ram[params + 5] = 0xC0 | (0x08 if heads > 8 else 0)
            self._put_word(params + 6, cylinders)  # landing zone
            self.ram[params + 8] = sectors
        self.update_checksum()

    def _put_word(self, reg: int, value: int) -> None:
        self.ram[reg] = value & 0xFF
        self.ram[reg + 1] = (value >> 8) & 0xFF

    def checksum(self) -> int:
        return sum(self.ram[CHECKSUM_FIRST:CHECKSUM_LAST + 1]) & 0xFFFF

    def update_checksum(self) -> None:
        """Store the sum of bytes 10h-2Dh at 2Eh (high) / 2Fh (low)."""
        total = self.checksum()
        self.ram[Reg.CHECKSUM_HI] = total >> 8
        self.ram[Reg.CHECKSUM_LO] = total & 0xFF

    # -- Device --------------------------------------------------------------------------------
    def reset(self) -> None:
        """RESET clears the interrupt enables and flags; time and RAM survive (battery)."""
        self.ram[Reg.B] &= ~(RegB.PIE | RegB.AIE | RegB.UIE | RegB.SQWE)
        if self.ram[Reg.C] & RegC.IRQF:
            self._irq8.lower()
        self.ram[Reg.C] = 0
        self.index = 0
        self.nmi_enabled = True

    def save_state(self) -> dict[str, Any]:
        return {
            "version": self.STATE_VERSION,
            "ram": self.ram.hex(),
            "index": self.index,
            "nmi_enabled": self.nmi_enabled,
            "time": {Reg(k).name: v for k, v in self._time.items()},
            "synced_ns": self._synced_ns,
            "periodic_index": self._periodic_index,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.check_state_version(state)
        self.ram = bytearray.fromhex(state["ram"])
        self.index = state["index"]
        self.nmi_enabled = state["nmi_enabled"]
        self._time = {Reg[k]: v for k, v in state["time"].items()}
        self._synced_ns = state["synced_ns"]
        self._periodic_index = state["periodic_index"]
