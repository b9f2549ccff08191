"""One IBM PC/AT-compatible machine: engine, memory, devices, BIOS and the run loop.

Owns: building a machine from a :class:`MachineConfig` (the PC/AT profile: which device
sits at which ports and IRQ), the emulation thread's run loop (interrupt delivery, HLT
and BIOS waits without burning host CPU, device deadlines), dispatch of ``int n`` and ROM
traps into the Python BIOS, and turning guest errors into a :class:`GuestCrashed` event.

Thread rules: :meth:`Machine.run` runs on the emulation thread and everything except
:meth:`send`, :meth:`display` and :meth:`text_lines` is called only from there.
:meth:`send` may be called from any thread; events are emitted on the emulation thread.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from unicorn import unicorn_const as ucc

from vmgui.bios import rom
from vmgui.bios.api import Reg, Registers
from vmgui.bios.bda import Bda
from vmgui.bios.firmware import Bios
from vmgui.bios.linuxboot import linux_boot
from vmgui.bios.pci import PciBios
from vmgui.bios.system import ONE_MB, MemoryLayout
from vmgui.core import crash, pmode, removable
from vmgui.core import events as ev
from vmgui.core.ata_drives import build_ata
from vmgui.core.cpuid import CpuIdentity
from vmgui.core.cpuid import get_model as get_cpu_model
from vmgui.core.cpustate import probe_layout
from vmgui.core.engine import ENGINE_CRASHED, STOPPED_AT_IRQ_WINDOW, UC_REG_CR0, Engine
from vmgui.core.hostrandom import HiddenHostRandom
from vmgui.core.interrupts import (
    CR0_PG,
    CR0_PG_PE,
    EFLAGS_IF,
    PAGING_WITHOUT_PE,
    InterruptsMixin,
    Wait,
)
from vmgui.core.memory import GuestMemory
from vmgui.core.openbus import OpenBus
from vmgui.core.profiles import DEFAULT_PROFILE, get_profile
from vmgui.core.regcache import RegisterCache
from vmgui.core.stringio import StringIo
from vmgui.core.sysenter import Sysenter
from vmgui.core.timing import DeadlineTimer, HostClock, VirtualClock
from vmgui.devices.base import Device
from vmgui.devices.bus import IoBus
from vmgui.devices.cmos import CmosRtc, FloppyType
from vmgui.devices.debugcon import DebugConsole
from vmgui.devices.display import DisplayState
from vmgui.devices.i8042 import I8042, Port92
from vmgui.devices.pci import pc_pci_bus
from vmgui.devices.pic import Pic8259Pair
from vmgui.devices.pit import Pit8254, SystemControlPortB
from vmgui.devices.render import text_lines
from vmgui.devices.uart import Uart16550
from vmgui.devices.vga import Vga
from vmgui.devices.video_memory import VideoMemory
from vmgui.storage.image import DiskImage

log = logging.getLogger(__name__)

MAX_WAIT_S = 0.25
MAX_OWED_S = 2.0  # execution cap: idle time owed is carried over up to this much
KEY_BUFFER_HIGH_WATER = 8  # typed keys wait while the BDA buffer holds this many
DETERMINISTIC_EPOCH = datetime(2000, 1, 1, 12, 0, 0)
STATS_INTERVAL_S = 0.5
RESET_NS = 1_000_000  # deterministic mode: guest time a reset (POST) takes
PORT_ACCESS_NS = 1_000  # deterministic mode: guest time one port access takes
UNKNOWN = -1  # Machine._due: a timed device's deadline must be asked for again
IRQ_POLL_NS = 100_000  # without the native hook: how soon a masked-by-IF IRQ is looked at
_FLOPPY_TYPES = {1: FloppyType.K360, 2: FloppyType.M1_2, 3: FloppyType.K720,
                 4: FloppyType.M1_44, 6: FloppyType.M2_88}  # int 13h drive type -> CMOS


@dataclass(frozen=True)
class MachineConfig:
    memory_mb: int = 16  # total RAM: 640 KiB conventional + (memory_mb - 1) MiB extended
    floppies: tuple[Path | None, ...] = ()  # A:, B:
    hard_disks: tuple[Path, ...] = ()  # C:, D:
    cdrom: Path | None = None  # an ISO 9660 image in the CD drive (profiles with one)
    boot_order: tuple[str, ...] = ("a", "c")
    read_only: bool = False
    native_stop: bool = True
    deterministic: bool = False  # guest time from executed code; RTC starts at rtc_start
    cpu_limit_percent: int = 0  # 0: unlimited; else the share of one host core the guest gets
    rtc_start: datetime | None = None  # None: host local time (deterministic: DETERMINISTIC_EPOCH)
    profile: str = DEFAULT_PROFILE  # the machine kind (vmgui.core.profiles)
    kernel: Path | None = None  # a bzImage booted directly instead of a disk (linuxboot)
    initrd: Path | None = None  # its initial RAM disk
    append: str = ""  # its command line


def _no_charge(ns: int) -> None:
    """Real-time mode: host time passes by itself."""


def _is_release(event: bytes) -> bool:
    """A typed key event that releases a key: its last scan code has the break bit."""
    return bool(event) and bool(event[-1] & 0x80)


def boot_drive_numbers(order: tuple[str, ...], profile: str = DEFAULT_PROFILE) -> tuple[int, ...]:
    """BIOS drive numbers of boot letters (``d``: see :func:`removable.boot_number`)."""
    return tuple(removable.boot_number(name, get_profile(profile)) for name in order)


class Machine(InterruptsMixin):
    """A PC/AT.  Create it, then call :meth:`run` on the thread that will emulate it."""

    def __init__(self, config: MachineConfig,
                 on_event: Callable[[ev.Event], None] | None = None,
                 drives: dict[int, DiskImage | None] | None = None,
                 vram=None) -> None:
        """``drives`` overrides opening the config's images (drive number -> image);
        ``vram`` is an optional external block for video memory (see VideoMemory)."""
        self.config = config
        self.profile = get_profile(config.profile)  # ValueError for an unknown kind
        removable.check_drives(self.profile, config.cdrom, drives)  # ValueError: no CD drive
        self.linux = linux_boot(config.kernel, config.initrd, config.append,  # LinuxBootError
                                ONE_MB + max(1, config.memory_mb - 1) * ONE_MB)  # RAM's end
        self._vram = vram
        self._emit = on_event or (lambda event: None)
        self._commands: collections.deque[ev.Command] = collections.deque()
        self._typed: collections.deque[bytes] = collections.deque()
        self._wake = threading.Event()
        self.state = ev.RunState.CREATED
        self.drives = drives if drives is not None else self._open_drives(config)
        if self.profile.cdrom:
            self.drives.setdefault(removable.CD_DRIVE, None)  # the CD drive, maybe empty
        self._build()

    @staticmethod
    def _open_drives(config: MachineConfig) -> dict[int, DiskImage | None]:
        from vmgui.storage.overlay_disk import open_disk  # a layer: as one or not at all

        drives: dict[int, DiskImage | None] = {}
        for i, path in enumerate(config.floppies[:2]):
            drives[i] = (open_disk(path, kind="floppy", read_only=config.read_only)
                         if path else None)
        for i, path in enumerate(config.hard_disks[:4]):
            drives[0x80 + i] = open_disk(path, kind="hdd", read_only=config.read_only)
        if config.cdrom is not None:
            drives[removable.CD_DRIVE] = open_disk(config.cdrom, kind="cdrom")
        return drives

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        cpu = get_cpu_model(self.profile.cpu_model)
        self.engine = Engine(use_native_stop=self.config.native_stop, cpu_model=cpu.engine_model)
        self.video = VideoMemory(self.profile.vbe, self._vram)
        self.memory = GuestMemory(self.engine, max(1, self.config.memory_mb - 1),
                                  self.video.window, profile=self.profile)
        if self.video.lfb is not None:
            self.memory.map_lfb(self.video.lfb)
        # protected-mode delivery patches CPU state the engine hides: where it lives in
        # this engine build is probed (EngineCheckError refuses to start otherwise)
        self.pm = pmode.ProtectedMode(self.engine, self.memory, probe_layout())
        self.open_bus = OpenBus(self.engine,  # unmapped pages read FFh, as on a PC
                                self.memory.unmapped_ranges())
        self.sysenter = Sysenter(self.engine, self.pm)  # the engine leaves SYSENTER undone
        if self.config.deterministic:
            if not self.engine.native_stop:
                raise ValueError("deterministic mode needs the native stop hook "
                                 "(vmgui.core._stophook), which is not built")
            self.clock = VirtualClock(lambda: self.engine.stop_ctl.blocks)
        else:
            self.clock = HostClock()
        self._horizon_ns: int | None = None  # advance(): stop the engine at this guest time
        self._armed_ns: int | None = None
        self._served_ns = 0  # guest time the timed devices were last advanced to
        self._stats_at = time.monotonic()
        self._stats_blocks = 0
        self._stats_disk: dict[int, int] = {}
        self._charge = self._charge_virtual if self.config.deterministic else _no_charge
        self.cpu = CpuIdentity(self.engine, cpu, self.clock, self._charge, self._hook_failed)
        self.host_random = (HiddenHostRandom.install(self.engine, cpu.engine_model,
                                                     self._hook_failed)
                            if self.config.deterministic and cpu.leaves is None else None)
        self.bus = IoBus()
        self.pic = Pic8259Pair(self.bus)
        irq = self.pic.irq_line
        self.pit = Pit8254(self.bus, self.clock, irq(0))
        self.port61 = SystemControlPortB(self.bus, self.pit)
        rtc_start = self.config.rtc_start
        if rtc_start is None and self.config.deterministic:
            rtc_start = DETERMINISTIC_EPOCH
        self.cmos = CmosRtc(self.bus, self.clock, irq(8), start_time=rtc_start)
        self.kbc = I8042(self.bus, self.clock, irq(1), irq(12), self.request_reset, self._set_a20)
        self.port92 = Port92(self.bus, self._set_a20, self.request_reset)
        self.uart = Uart16550(self.bus, irq(4), 0x3F8,
                              on_transmit=lambda data: self._emit(ev.SerialOutput(0, data)))
        self.debugcon = DebugConsole(self.bus, lambda data: self._emit(ev.DebugOutput(data)))
        self.vga = Vga(self.bus, self.clock, self.video.window, self.video.planes,
                       self.video.lfb)
        self.vga.attach_window(self.memory.map_window_a)
        # the devices that act on their own over time (the UART sends at once: not one)
        self.timed = [dev for dev in (self.pit, self.cmos, self.kbc, self.uart)
                      if type(dev).advance is not Device.advance]
        # each one's next deadline as last computed, or UNKNOWN: the run loop advances
        # a device only when that is due or unknown (an access or input may have changed
        # it), and asks again only then: an IRQ costs one device, not all of them
        self._due: list[int | None] = [UNKNOWN] * len(self.timed)
        # an access to a timed device may move its deadline earlier (a PIT programmed
        # one-shot while the engine runs with nothing armed): re-arm then
        self._retime_ports = {port: index for index, dev in enumerate(self.timed)
                              for port in self.bus.ports_of(dev)}
        ebda_segment = 0xA000 - 0x40  # 1 KiB EBDA just below 640 KiB
        self.layout = MemoryLayout(conventional_kb=639, ebda_segment=ebda_segment,
                                   extended_bytes=self.memory.extended_bytes,
                                   high_bios=self.profile.high_bios)
        self.bios = Bios(memory=self.memory, bus=self.bus, clock=self.clock, vga=self.vga,
                         drives=self.drives, layout=self.layout,
                         boot_order=boot_drive_numbers(self.config.boot_order,
                                                       self.config.profile),
                         on_reboot=self.request_reset, on_idle_poll=self._on_idle_poll)
        self.bios.direct_boot = self.linux
        self.pci = pc_pci_bus(self.bus, self.request_reset) if self.profile.pci else None
        if self.pci is not None:
            self.pci_bios = PciBios(self.bus, self.memory.load_rom)
            self.bios.timer.add_function(0xB1, self.pci_bios.handle)
        self.ata = build_ata(self)  # IDE: C:/D: primary, the CD drive secondary master
        self._setup_cmos()
        self.timer = DeadlineTimer(self.engine.request_stop)
        if not self.config.deterministic:
            self.engine.set_deadline_handler(self._serve_deadline_in_run)
        self.string_io = StringIo(self.pm, self.memory, self.bus,  # rep ins/outs in bulk
                                  charge=lambda n: self._charge(n * PORT_ACCESS_NS),
                                  stop_if_irq=self._stop_if_irq, failed=self._hook_failed)
        self._port_in, self._port_out = self.string_io.wrap(self._port_in, self._port_out)
        self._hook()
        self._wait = Wait.NONE
        self._reset_requested = False
        self._fault: str | None = None
        self._tight_polls = 0
        self._last_poll_blocks = 0
        self._idle_owed = 0.0  # execution cap: seconds of idling still owed

    def _setup_cmos(self) -> None:
        self.cmos.set_memory(640, self.memory.extended_bytes // 1024)
        types = [_FLOPPY_TYPES.get(img.drive_type, FloppyType.NONE) if img else FloppyType.NONE
                 for img in (self.drives.get(0), self.drives.get(1))]
        self.cmos.set_floppy_types(types[0], types[1])

    def _hook(self) -> None:
        eng = self.engine
        eng.hook_interrupt(self._on_interrupt)  # guards itself (hot path: one frame less)
        eng.hook_code(self._guarded(self._on_rom_code), rom.linear(rom.STUB_AREA_OFF),
                      rom.linear(rom.STUB_AREA_END))
        eng.hook_code(self._guarded(self._on_rom_code), self.bios.post_trap,
                      self.bios.post_trap)
        eng.hook_port_in(self._port_in)
        eng.hook_port_out(self._port_out)

    def _guarded(self, fn: Callable[[int], None]) -> Callable[[int], None]:
        """Exceptions must not escape into libunicorn: record them and stop the engine."""

        def hook(arg: int) -> None:
            try:
                fn(arg)
            except Exception as exc:  # noqa: BLE001 - any bug or device error stops the VM
                log.exception("error in hook")
                self._fault = f"internal error while serving the guest: {exc!r}"
                self.engine.stop_now()

        return hook

    def _hook_failed(self, exc: Exception) -> None:
        """A CPUID/RDTSC hook failed (vmgui.core.cpuid): stop with a report."""
        self._fault = f"internal error while serving the guest: {exc!r}"
        self.engine.stop_now()

    # ------------------------------------------------------------------ public API
    def send(self, command: ev.Command) -> None:
        """Any thread: queue a command; the emulation thread acts on it promptly."""
        self._commands.append(command)
        self._wake.set()
        self.engine.request_stop()

    def display(self) -> DisplayState:
        return self.vga.display()

    def text_lines(self) -> list[str]:
        return text_lines(self.vga.display())

    def pending_keys(self) -> int:
        """Typed key events not yet handed to the keyboard controller (any thread)."""
        queued = sum(1 for cmd in list(self._commands) if isinstance(cmd, ev.KeyScancodes))
        return len(self._typed) + queued + len(self.kbc.keyboard.data)

    def request_reset(self) -> None:
        self._reset_requested = True
        self.engine.request_stop()

    # ------------------------------------------------------------------ ports, A20
    def _port_in(self, port: int, size: int) -> int:
        self._charge(PORT_ACCESS_NS)
        try:
            value = self.bus.read(port, size)
        except Exception as exc:  # noqa: BLE001
            log.exception("IN %#x", port)
            self._fault = f"device error on IN {port:#06x}: {exc!r}"
            self.engine.stop_now()
            return 0xFF
        index = self._retime_ports.get(port)
        if index is not None:
            self._retime(index)
        self._stop_if_irq()
        return value

    def _port_out(self, port: int, size: int, value: int) -> None:
        self._charge(PORT_ACCESS_NS)
        try:
            self.bus.write(port, size, value)
        except Exception as exc:  # noqa: BLE001
            log.exception("OUT %#x", port)
            self._fault = f"device error on OUT {port:#06x}: {exc!r}"
            self.engine.stop_now()
            return
        index = self._retime_ports.get(port)
        if index is not None:
            self._retime(index)
        self._stop_if_irq()

    def _retime(self, index: int) -> None:
        """Inside a run, after an access to timed device ``index``: arm its deadline if
        it now comes before the armed one; the loop advances it at the next stop."""
        self._due[index] = UNKNOWN
        deadline = self.timed[index].next_deadline_ns()
        if deadline is not None and (self._armed_ns is None or deadline < self._armed_ns):
            self._arm(deadline)

    def _touched_devices(self) -> None:
        """Device state changed outside the guest's port accesses (host input, the
        BIOS, a reset, a loaded state): advance and ask every timed device again."""
        self._due[:] = [UNKNOWN] * len(self._due)

    def _stop_if_irq(self) -> None:
        """A port access may have raised an IRQ or unmasked one (an EOI lets the next
        through): let the run loop see it at the next block boundary where the CPU takes
        it (IF set), instead of at the next timer deadline."""
        if self.pic.pending():
            if self.engine.read(Reg.EFLAGS) & EFLAGS_IF:
                self.engine.request_stop()
            else:
                self.engine.stop_ctl.irq_wait = 1

    def _set_a20(self, enabled: bool) -> None:
        """Either gate (8042 output port or port 92h) opens A20, as on AT chipsets."""
        port92 = getattr(self, "port92", None)  # the callback may fire while building
        gate = self.kbc.a20_enabled or (port92 is not None and port92.a20_enabled)
        log.debug("A20 %s (request %s)", "enabled" if gate else "disabled", enabled)
        self.memory.set_a20(gate)

    # ------------------------------------------------------------------ time
    def _charge_virtual(self, ns: int) -> None:
        """Deterministic mode: account guest time for work done in hooks, and stop the
        engine when that time reaches the armed deadline (a guest polling int 1Ah
        executes few blocks, yet its ticks must come)."""
        clock = self.clock
        clock.charge(ns)
        if self._armed_ns is not None and clock.now_ns() >= self._armed_ns:
            self.engine.request_stop()

    # ------------------------------------------------------------------ run loop
    def power_on(self) -> None:
        """Reset the CPU and devices, run POST and load the boot sector."""
        if self.state is not ev.RunState.CREATED:
            # a reset takes guest time too: a guest resetting in a loop must not stop
            # deterministic time (before the first boot nothing is charged, which keeps
            # every deterministic run's timing as it was)
            self._charge(RESET_NS)
        self.engine.reset_cpu()
        self.pm.cpu.clear_exception()  # a reset forgets a fault in flight (triple fault)
        # CMOS keeps its contents (battery-backed); everything else starts afresh
        for dev in (self.pic, self.pit, self.port61, self.kbc, self.port92, self.uart,
                    self.vga):
            dev.reset()
        if self.pci is not None:
            self.pci.reset()
        self.ata.reset()
        self.memory.set_a20(True)
        self._wait = Wait.NONE
        self._reset_requested = False
        self._typed.clear()  # keys typed before the reset are not for the new boot
        self.bios.build_rom()
        self.engine.write(Reg.ESP, 0x7000)
        self.bios.post()
        if self.pci is not None:
            self.pci_bios.post()
        regs = RegisterCache(self.engine)
        self.bios.boot(Registers(regs))
        regs.flush()
        self._touched_devices()

    def run(self) -> None:
        """The emulation loop; returns at power-off (or after a crash, at power-off)."""
        try:
            self.power_on()
            self._set_state(ev.RunState.RUNNING)
            while self._step():
                pass
        finally:
            self.close()
            self._set_state(ev.RunState.POWERED_OFF)

    def advance(self, seconds: float) -> None:
        """Lockstep driving (deterministic runs): run the guest on the caller's thread
        until guest time has moved on by ``seconds``.  Call :meth:`power_on` first."""
        if self.state is ev.RunState.POWERED_OFF:
            return
        if self.state is ev.RunState.CREATED:
            self._set_state(ev.RunState.RUNNING)
        target = self.clock.now_ns() + max(1, round(seconds * 1e9))
        self._horizon_ns = target
        try:
            while self.clock.now_ns() < target and self.state is not ev.RunState.CRASHED:
                if not self._step():  # PowerOff, or a SaveState that powers off
                    self._set_state(ev.RunState.POWERED_OFF)  # close() releases the rest
                    break
        finally:
            self._horizon_ns = None

    def close(self) -> None:
        """Release the timer thread, the disk images (flushing writes) and the engine.
        Idempotent.  The engine is closed here rather than left to the garbage collector:
        engines with hooks are only freed by the cyclic GC, late and at random times."""
        self.timer.close()
        for image in self.drives.values():
            if image is not None:
                image.close()
        self.engine.close()

    def _set_state(self, state: ev.RunState) -> None:
        if state != self.state:
            self.state = state
            self._emit(ev.StateChanged(state))

    def _step(self) -> bool:
        """One pass of the loop.  False when the machine is powered off."""
        if not self._drain_commands():
            return False
        if self.state in (ev.RunState.PAUSED, ev.RunState.CRASHED):
            self._sleep(None)
            return True
        if self._reset_requested:
            self.power_on()
        now = self._advance_devices()
        self._feed_typed_keys()
        if not self._dispatch_interrupts(now):
            return True
        ctl = self.engine.stop_ctl
        ctl.stop = 0
        # an IRQ the CPU did not take (IF clear) gets its window when IF is set again
        ctl.irq_wait = self.pic.pending()
        self._arm(self._next_deadline())
        started = time.perf_counter()
        err = self.engine.run()
        self._disarm()
        self._after_run(err)
        self._throttle(time.perf_counter() - started)
        self._maybe_stats()
        return True

    def _advance_devices(self) -> int:
        """Bring the timed devices up to guest time now (their deadlines up to it are
        served: IRQs raised, bytes delivered); returns that time.  A device whose known
        deadline lies ahead has nothing to do (UNKNOWN is below any time)."""
        now = self._served_ns = self.clock.now_ns()
        due = self._due
        for index, dev in enumerate(self.timed):
            deadline = due[index]
            if deadline is not None and deadline <= now:
                dev.advance(now)
                due[index] = UNKNOWN
        return now

    def _maybe_stats(self) -> None:
        """Publish a Stats event every STATS_INTERVAL_S of host time."""
        now = time.monotonic()
        if now - self._stats_at < STATS_INTERVAL_S:
            return
        blocks = self.engine.stop_ctl.blocks
        letters = {0x00: "A", 0x01: "B", 0x80: "C", 0x81: "D", removable.CD_DRIVE: "CD"}
        transfers = self.bios.disk.transfers
        counts = []
        for number, image in sorted(self.drives.items()):
            if image is not None:
                total = transfers.get(str(image.path), 0)
                counts.append((letters.get(number, "?"), total - self._stats_disk.get(number, 0)))
                self._stats_disk[number] = total
        self._emit(ev.Stats(now - self._stats_at, blocks - self._stats_blocks, tuple(counts)))
        self._stats_at, self._stats_blocks = now, blocks

    def _throttle(self, busy_s: float) -> None:
        """Execution cap (like VirtualBox's): after running for ``busy_s``, idle long
        enough that the guest gets ``cpu_limit_percent`` of a core.  Guest time keeps
        following the host clock, so the guest sees a slower CPU, not a slower clock."""
        limit = self.config.cpu_limit_percent
        if 0 < limit < 100 and not isinstance(self.clock, VirtualClock):
            # Idle time still owed carries over: a pause is cut to MAX_WAIT_S (commands
            # must stay prompt), and a long slice (a loaded host delays the timer) would
            # otherwise let the guest run far above its share.
            owed = min(self._idle_owed + busy_s * (100 - limit) / limit, MAX_OWED_S)
            self._wake.clear()  # a stale wake-up must not cut the pause short
            if owed > 0 and not self._commands:
                started = time.perf_counter()
                self._wake.wait(min(owed, MAX_WAIT_S))
                self._wake.clear()
                owed -= time.perf_counter() - started
            self._idle_owed = max(0.0, owed)

    def _arm(self, deadline: int | None) -> None:
        """Have the engine stop at guest time ``deadline``: a block budget in
        deterministic mode; in real time the native hook's own look at the host clock
        (a timer thread without the hook: each arming woke it, costing ~0.1 ms a turn)."""
        self._armed_ns = deadline
        if deadline is None:
            return
        ctl = self.engine.stop_ctl
        if isinstance(self.clock, VirtualClock):
            ctl.limit = ctl.blocks + self.clock.blocks_until(deadline)
        elif self.engine.native_stop:
            ctl.deadline_ns = max(1, self.clock.host_ns(deadline))
        else:
            self.timer.arm(self.clock.host_ns(deadline))

    def _disarm(self) -> None:
        self._armed_ns = None
        if isinstance(self.clock, VirtualClock):
            self.engine.stop_ctl.limit = 0
        elif self.engine.native_stop:
            self.engine.stop_ctl.deadline_ns = 0
        else:
            self.timer.disarm()

    def _next_deadline(self) -> int | None:
        """The earliest guest time after the devices' last advance() at which something
        falls due.  Deadlines up to that advance were served; counting them would make a
        waiting guest spin (host mode) or stop making progress (deterministic mode).  One
        that fell due since (host time moves on while the loop runs) is armed although
        past, so the engine stops at once: dropped, it armed nothing, and a guest whose
        PIT ticks faster than the loop turns (10 kHz; 100 Hz on a loaded host) got no
        IRQ ever again."""
        now = self._served_ns
        due = self._due
        for index, deadline in enumerate(due):
            if deadline == UNKNOWN:
                due[index] = self.timed[index].next_deadline_ns()
        deadlines = [d for d in due if d is not None and d > now]
        bios_wait = self.bios.system.next_deadline_ns()
        if bios_wait is not None and bios_wait > now:
            deadlines.append(bios_wait)
        if self._typed:
            deadlines.append(now + 2_000_000)
        if not self.engine.native_stop and self.pic.pending():
            # no IRQ window stop without the native hook: look again soon
            deadlines.append(now + IRQ_POLL_NS)
        if self._horizon_ns is not None and self._horizon_ns > now:
            deadlines.append(self._horizon_ns)
        return min(deadlines) if deadlines else None

    def _serve_deadline_in_run(self) -> bool:
        """The engine reached the armed deadline or an IRQ's window (IF came back with
        irq_wait set): real time, on the emulation thread, inside the run.  When all
        there is to do is the timed devices' work and an IRQ into a protected-mode
        guest, do it here and run on: leaving and re-entering the engine and a turn of
        the loop cost more than the IRQ itself.  False: stop, and let the loop do
        everything (commands, keys, waits, real mode, statistics, the execution cap)."""
        if self._commands or self._typed or self._reset_requested or self._fault is not None \
                or self._wait is not Wait.NONE or self._horizon_ns is not None \
                or time.monotonic() - self._stats_at >= STATS_INTERVAL_S \
                or 0 < self.config.cpu_limit_percent < 100 or not self._protected_mode():
            return False
        try:
            self._advance_devices()
            if self.pic.pending():
                if self.engine.read(Reg.EFLAGS) & EFLAGS_IF:
                    if self.engine.stop_ctl.serving == STOPPED_AT_IRQ_WINDOW:
                        self._step_over_hlt()  # sti; hlt: as in _dispatch_interrupts
                    self._deliver_pm(pmode.Event(self.pic.acknowledge()))
                    if self._fault is not None or self._reset_requested:
                        return True  # the delivery stopped the engine itself
                    # the block this hook runs for must not run: a PC write ends it
                    self.engine.write(Reg.EIP, self.engine.read(Reg.EIP))
                self.engine.stop_ctl.irq_wait = self.pic.pending()
            self._disarm()
            self._arm(self._next_deadline())
        except Exception as exc:  # noqa: BLE001 - reported like a hook's failure
            log.exception("serving a deadline inside the run")
            self._fault = f"internal error while serving a timer deadline: {exc!r}"
            self.engine.stop_now()
        return True

    def _sleep(self, deadline: int | None) -> None:
        if isinstance(self.clock, VirtualClock) and self.state is ev.RunState.RUNNING \
                and deadline is not None:
            self.clock.skip_to(deadline)  # a waiting guest costs no host time
            return
        timeout = MAX_WAIT_S
        if deadline is not None:
            timeout = min(timeout, max(0.0, (deadline - self.clock.now_ns()) / 1e9))
        if timeout > 0 and not self._commands:
            self._wake.wait(timeout)
        self._wake.clear()

    def _after_run(self, err: int) -> None:
        if err == ENGINE_CRASHED:
            self._fault = None
            self._crash(f"{self.engine.crash}; the guest's last known state is below. "
                        "This VM cannot continue: power it off and start it again")
            return
        if self._fault is not None:
            self._crash(self._fault)
            self._fault = None
            return
        if err == ucc.UC_ERR_OK:
            if self.engine.stop_ctl.stopped_by == 0 and self._wait is Wait.NONE \
                    and not self._reset_requested:
                if self._halted():
                    self._wait = Wait.HALT
                elif self.engine.read_raw(UC_REG_CR0) & CR0_PG_PE == CR0_PG:
                    self._crash(PAGING_WITHOUT_PE)
                elif self.pm.cpu.save().exception_in_flight == pmode.DF:
                    # the engine's own shutdown (a fault on top of a double fault it
                    # escalated itself): it stops with no reason and would stop again
                    self._triple_fault(pmode.TripleFault("the CPU engine shut down after "
                                                         "a double fault"), in_hook=False)
                    self.pm.cpu.clear_exception()
            return
        if err == ucc.UC_ERR_INSN_INVALID:
            if self._protected_mode():
                self._deliver_pm(pmode.Event(6), in_hook=False)
                return
            if self.memory.read_u32(6 * 4) != self.bios.stub_pointers[6]:
                self._deliver_now(6)
                return
        self._crash(crash.describe_error(err))

    def _crash(self, reason: str) -> None:
        report = crash.report(self, reason)
        log.error("guest crashed: %s\n%s", reason, report)
        self._set_state(ev.RunState.CRASHED)
        self._emit(ev.GuestCrashed(reason, report))

    # ------------------------------------------------------------------ commands
    def _drain_commands(self) -> bool:
        while self._commands:
            cmd = self._commands.popleft()
            self._touched_devices()  # input reaches the devices; a state may be loaded
            if isinstance(cmd, ev.PowerOff):
                return False
            if isinstance(cmd, ev.KeyScancodes):
                self._typed.append(cmd.data)
            elif isinstance(cmd, ev.DiscardKeys):
                self._discard_typed_keys()
            elif isinstance(cmd, ev.MouseInput):
                self.kbc.mouse_input(cmd.dx, cmd.dy, cmd.buttons)
            elif isinstance(cmd, ev.SerialInput):
                self.uart.receive(cmd.data)
            elif isinstance(cmd, ev.ChangeMedia):
                self._emit(removable.change_media(self, cmd))
            elif isinstance(cmd, ev.Pause) and self.state is ev.RunState.RUNNING:
                self.clock.pause()
                self._set_state(ev.RunState.PAUSED)
            elif isinstance(cmd, ev.Resume) and self.state is ev.RunState.PAUSED:
                self.clock.resume()
                self._set_state(ev.RunState.RUNNING)
            elif isinstance(cmd, ev.SaveState):
                if self._save_state(cmd.path, cmd.new_layers) and cmd.power_off:
                    return False
            elif self.engine.crash is not None and isinstance(cmd, ev.LoadState | ev.Reset):
                log.warning("%s ignored: the CPU engine crashed; power the VM off and "
                            "start it again", type(cmd).__name__)
            elif isinstance(cmd, ev.LoadState):
                self._load_state(cmd.path)
            elif isinstance(cmd, ev.Reset):
                self._reset_requested = True
                if self.state is ev.RunState.CRASHED:
                    self._set_state(ev.RunState.RUNNING)
        return True

    def _save_state(self, path: str, new_layers: tuple[tuple[int, str], ...] = ()) -> bool:
        """On the emulation thread, between engine runs: a consistent snapshot (machine
        state and, with ``new_layers``, the disks frozen at the same instant).  True when
        saved (a StateSaved event says either way)."""
        from vmgui.core import snapshot  # snapshot imports this module

        try:
            snapshot.save(self, path)
            for number, layer in new_layers:
                self._switch_to_layer(number, layer)
        except Exception as exc:  # noqa: BLE001 - report it, keep running
            log.exception("saving state to %s", path)
            self._emit(ev.StateSaved(path, str(exc)))
            return False
        self._emit(ev.StateSaved(path, None))
        return True

    def _switch_to_layer(self, number: int, layer: str) -> None:
        """Freeze drive ``number``'s image and continue on a new overlay over it."""
        from vmgui.storage.image import DiskImage
        from vmgui.storage.overlay import Overlay

        old = self.drives.get(number)
        if old is None or old.read_only:
            raise ValueError(f"drive {number:02X}h has no writable image to snapshot")
        old.flush()
        Overlay.create(layer, old.path).close()
        new = DiskImage.open_overlay(layer, kind=old.kind, read_only=False)
        self.bios.disk.replace(number, new)
        self.drives[number] = new
        old.close()
        log.info("drive %02Xh continues on %s", number, layer)

    def _load_state(self, path: str) -> None:
        from vmgui.core import snapshot
        from vmgui.core.statefile import StateFileError

        try:
            snapshot.load(self, path)
        except (StateFileError, snapshot.RestoreError, OSError) as exc:
            self._emit(ev.StateLoaded(path, str(exc)))
            return
        if self.state is ev.RunState.CRASHED:
            self._set_state(ev.RunState.RUNNING)
        self._emit(ev.StateLoaded(path, None))

    def _discard_typed_keys(self) -> None:
        """Drop queued key presses, keep the releases (a release of a key that is not
        down changes nothing in the guest; a lost one would leave it held)."""
        kept = [event for event in self._typed if _is_release(event)]
        log.info("discarded %d unread key presses", len(self._typed) - len(kept))
        self._typed = collections.deque(kept)

    def _feed_typed_keys(self) -> None:
        """Hand queued key presses to the keyboard controller one at a time, only while
        the guest keeps up (controller idle, BIOS buffer not filling)."""
        if not self._typed or self.kbc.output_buffer_full or self.kbc.keyboard.data:
            return
        if not _is_release(self._typed[0]):  # a press fills the BIOS buffer; a release not
            head = self.memory.read_u16(Bda.KBD_BUF_HEAD)
            tail = self.memory.read_u16(Bda.KBD_BUF_TAIL)
            if ((tail - head) % 32) // 2 >= KEY_BUFFER_HIGH_WATER:
                return
        self.kbc.key_input(self._typed.popleft())
        self._touched_devices()
