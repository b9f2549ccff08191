"""The VMs this manager runs: one host and one console window each.

Owns: :class:`VmRunner`, which starts a VM from its library entry (a
:class:`~vmgui.host.process.ProcessHost` (a VM process) on
``config.to_machine_config(folder)`` and the images of ``config.open_drives(folder)``,
plus a console window), refuses to start a VM twice, sends
pause/resume/reset, powers VMs off, watches their run state (signal :attr:`VmRunner.changed`),
keeps a recent picture of each screen for the list's thumbnails, and appends COM1 output
to the log file when the VM's serial port is set to ``file``.

The console is :class:`vmgui.ui.console.ConsoleWindow`, imported when the first VM starts
(as are the renderer and numpy, for the thumbnails: the manager starts without them);
when it cannot be imported a minimal framebuffer window (:class:`FallbackConsole`) is used.

Thread rule: GUI thread only.  The console window drains the host's events (and so keeps
``host.state`` current); the runner reads ``host.state``/``alive``/``crash``/``serial``
and never drains events itself, except for the fallback console, which has no poller.

Try-out VMs (``tryout = true``): the overlays live in ``<vm folder>/tryout/``, owned by
this process (:mod:`vmgui.config.tryout`); the console title says "(try-out)"; at
power-off :attr:`VmRunner.tryout_ended` (if set) is called with the :class:`RunningVm`
while its overlays still exist (to keep them), then the folder is deleted.  Before any VM
starts, what a killed earlier session of it left is recovered (:attr:`RunningVm.notice`
says what was done); a VM whose session another live process owns is refused.

Run lock: before anything touches a VM's disks the runner takes its
:class:`~vmgui.config.runlock.RunLock` (a VM another process runs -- ``vmgui start`` --
is refused with the lock's message) and keeps it until the VM is cleaned up
(:meth:`VmRunner._discard`, a failed start, or the VM process found dead by
:meth:`VmRunner.poll`).  A VM process that cannot be set up or started (OSError: no
/dev/shm, no fork) is a :class:`RunError` naming it; the VM is then not listed as running.

A saved state that cannot be loaded (the VM boots afresh; the file is kept) is reported
through :attr:`VmRunner.resume_failed`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from vmgui.config import tryout as tryout_mod
from vmgui.config.library import VmEntry
from vmgui.config.runlock import RunLock, VmBusyError
from vmgui.config.snapshots import saved_state_path, settle_resume
from vmgui.core import events as ev
from vmgui.host.base import NoScreenYet
from vmgui.host.control import SOCKET_NAME
from vmgui.ui.machines import media_of_vm

log = logging.getLogger(__name__)

STATE_INTERVAL_MS = 250
THUMBNAIL_EVERY = 4  # state ticks per thumbnail refresh: about once a second


class RunError(Exception):
    """A VM cannot be started; the message says why, for the user."""


def screen_image(host) -> QImage | None:
    """The host's screen rendered at native resolution (None when it cannot be read)."""
    # imported on the first thumbnail, not with the manager: the renderer pulls in numpy
    from vmgui.devices.fonts import ROM_FONT_HEIGHTS, load_rom_font
    from vmgui.devices.render import render

    try:
        state = host.display()
        height = state.char_height if state.char_height in ROM_FONT_HEIGHTS else 16
        width, height, rgb = render(state, load_rom_font(height))
    except NoScreenYet:  # still starting: the list shows "Starting" in its place
        return None
    except Exception:  # noqa: BLE001 - a thumbnail must never break the manager
        log.debug("cannot render a thumbnail", exc_info=True)
        return None
    if width <= 0 or height <= 0:
        return None
    return QImage(bytes(rgb), width, height, width * 3, QImage.Format.Format_RGB888).copy()


@dataclass
class RunningVm:
    """One started VM.  ``screen`` is the last rendered picture of its display."""

    name: str
    folder: Path
    host: object
    console: QMainWindow
    serial_log: Path | None = None
    serial_written: int = 0
    screen: QImage | None = None
    last_state: object = None
    own_poll: bool = field(default=False)
    writable: frozenset[Path] = frozenset()  # images this VM opened for writing
    serial_tcp: object = None  # SerialTcpBridge when COM1 is a TCP server
    resuming: Path | None = None  # saved state being loaded into the VM
    tryout_dir: Path | None = None  # throw-away disk overlays, deleted at power-off
    notice: str | None = None  # what recovering an earlier, killed try-out session did
    lock: RunLock | None = None  # held from before the disks open until the VM is gone

    @property
    def state(self) -> ev.RunState:
        if self.host.state is ev.RunState.ABORTED:
            return ev.RunState.ABORTED
        if self.host.crash is not None and self.host.state is not ev.RunState.POWERED_OFF:
            return ev.RunState.CRASHED
        if not self.host.alive and self.host.state in (ev.RunState.RUNNING,
                                                       ev.RunState.PAUSED):
            return ev.RunState.POWERED_OFF
        return self.host.state


class FallbackConsole(QMainWindow):
    """A bare framebuffer window, used only when the real console cannot be imported."""

    powered_off = Signal()

    def __init__(self, host, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.setWindowTitle(title)
        self.label = QLabel(self)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setMinimumSize(640, 400)
        self.setCentralWidget(self.label)
        self._closed = False
        self.timer = QTimer(self)
        self.timer.setInterval(50)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        self.host.poll_events()
        image = screen_image(self.host)
        if image is not None:
            self.label.setPixmap(QPixmap.fromImage(image).scaled(
                self.label.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.FastTransformation))

    def shut_down(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        self.host.power_off()
        self.powered_off.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.shut_down()
        event.accept()


def _make_console(host, title: str, confirm: bool, screenshots_dir: Path | None,
                  scale: str, saved_state: Path | None = None,
                  media: dict[str, str | None] | None = None,
                  tryout: bool = False) -> tuple[QMainWindow, bool]:
    """(console window, True when it is the fallback)."""
    try:
        from vmgui.ui.console import ConsoleWindow, ScaleMode
    except ImportError:
        log.warning("the console window is not available; using a minimal screen view",
                    exc_info=True)
        return FallbackConsole(host, title), True
    console = ConsoleWindow(host, title, screenshots_dir=screenshots_dir, confirm=confirm,
                            saved_state=saved_state, media=media, tryout=tryout)
    try:
        console.set_scale_mode(ScaleMode(scale))
    except (ValueError, AttributeError):
        pass
    return console, False


class VmRunner(QObject):
    """Starts and tracks running VMs.  ``changed(name)`` fires when a VM's state changes,
    ``screens_updated()`` when thumbnails were refreshed (about once a second while VMs
    run), ``ticked()`` about once a second always (the manager's periodic refresh),
    ``resume_failed(name, reason)`` when a saved state could not be loaded."""

    changed = Signal(str)
    screens_updated = Signal()
    ticked = Signal()
    resume_failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None, *, confirm: bool = True,
                 screenshots_dir: Path | None = None, host_factory=None) -> None:
        super().__init__(parent)
        self.confirm = confirm
        self.screenshots_dir = screenshots_dir
        self._host_factory = host_factory
        self._vms: dict[str, RunningVm] = {}
        self.tryout_ended = None  # callable(RunningVm), before a try-out's overlays go
        self._ticks = 0
        self.timer = QTimer(self)
        self.timer.setInterval(STATE_INTERVAL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    # ------------------------------------------------------------------ queries
    def get(self, name: str) -> RunningVm | None:
        return self._vms.get(name)

    def is_running(self, name: str) -> bool:
        vm = self._vms.get(name)
        return vm is not None and vm.host.alive

    def running_names(self) -> list[str]:
        return [name for name, vm in self._vms.items() if vm.host.alive]

    def _written_by_others(self, paths: set[Path]) -> tuple[Path, str] | None:
        """A running VM that writes one of ``paths``: (path, its name), else None."""
        for name, vm in self._vms.items():
            if vm.host.alive:
                for path in sorted(paths & vm.writable):
                    return path, name
        return None

    def state(self, name: str) -> ev.RunState | None:
        vm = self._vms.get(name)
        return None if vm is None else vm.state

    # ------------------------------------------------------------------ control
    def start(self, entry: VmEntry) -> RunningVm:
        """Start ``entry``'s VM and show its console; :class:`RunError` when it cannot."""
        if entry.config is None:
            raise RunError(entry.error or "the VM's configuration cannot be read")
        if self.is_running(entry.name):
            raise RunError(f"{entry.name} is already running")
        self._discard(entry.name)
        lock = self._lock(entry)
        try:
            tryout_dir, notice = self._begin_disks(entry)
            try:
                vm = self._launch(entry, tryout_dir, lock)
            except BaseException:
                if tryout_dir is not None and entry.name not in self._vms:
                    tryout_mod.end_tryout(tryout_dir)
                raise
        except BaseException:
            if entry.name not in self._vms:
                lock.release()
            raise
        vm.notice = notice
        return vm

    @staticmethod
    def _lock(entry: VmEntry) -> RunLock:
        """The VM's run lock; :class:`RunError` when another process runs it."""
        try:
            return RunLock.acquire(entry.folder, entry.name)
        except VmBusyError as exc:
            raise RunError(str(exc)) from exc
        except OSError as exc:
            raise RunError(f"{entry.name}: cannot take the run lock in {entry.folder} "
                           f"({exc.strerror or exc})") from exc

    @staticmethod
    def _begin_disks(entry: VmEntry) -> tuple[Path | None, str | None]:
        """Recover what a killed earlier session of the VM left (this runner does not run
        it), then make this run's try-out folder if the VM is in try-out mode: (the
        folder or None, the recovery's message or None)."""
        try:
            if entry.config.tryout:
                return tryout_mod.begin_tryout(entry.folder)
            return None, tryout_mod.recover_tryout(entry.folder)
        except tryout_mod.TryoutError as exc:
            raise RunError(str(exc)) from exc

    def _launch(self, entry: VmEntry, tryout_dir: Path | None, lock: RunLock) -> RunningVm:
        config = entry.config
        try:
            drives = config.open_drives(entry.folder, tryout_dir=tryout_dir)
        except (OSError, ValueError) as exc:
            raise RunError(str(exc)) from exc
        writable = {Path(img.path).resolve() for img in drives.values()
                    if img is not None and not img.read_only}
        clash = self._written_by_others(writable)
        if clash is not None:
            for image in drives.values():
                if image is not None:
                    image.close()
            path, other = clash
            raise RunError(self.tr("{0} is already in use by the running VM {1}; two VMs "
                                   "writing one disk image would corrupt it").format(path, other))
        try:
            host = self._new_host(config.to_machine_config(entry.folder), drives,
                                  entry.folder / SOCKET_NAME)
        except OSError as exc:  # no shared memory (/dev/shm), no pipe: out of descriptors
            raise RunError(self.tr("{0}: cannot set up the VM process ({1})").format(
                entry.name, exc.strerror or exc)) from exc
        except Exception as exc:
            raise RunError(str(exc)) from exc
        finally:
            if self._host_factory is None:  # the VM process opens its own images
                for image in drives.values():
                    if image is not None:
                        image.close()
        state_file = saved_state_path(entry.folder)
        title = self.tr("{0} (try-out)").format(entry.name) if config.tryout else entry.name
        console, fallback = _make_console(host, title, self.confirm,
                                          self.screenshots_dir, config.display_scale,
                                          None if config.tryout else state_file,
                                          media_of_vm(config, entry.folder), config.tryout)
        serial_log = None
        if config.serial.mode == "file":
            serial_log = Path(config.serial.path).expanduser()
            if not serial_log.is_absolute():
                serial_log = entry.folder / serial_log
        bridge = None
        if config.serial.mode == "tcp":
            from vmgui.ui.manager.serial_tcp import SerialTcpBridge, SerialTcpError

            try:
                bridge = SerialTcpBridge(host, config.serial.port, self)
            except SerialTcpError as exc:
                console.shut_down()
                console.deleteLater()
                raise RunError(str(exc)) from exc
        try:  # before the VM is listed as running: a failure leaves it powered off
            host.start()
        except OSError as exc:  # cannot fork or spawn the VM process
            console.shut_down()  # powers the host off: its shared memory goes
            console.deleteLater()
            if bridge is not None:
                bridge.close()
            raise RunError(self.tr("{0}: cannot start the VM process ({1})").format(
                entry.name, exc.strerror or exc)) from exc
        vm = RunningVm(entry.name, entry.folder, host, console, serial_log=serial_log,
                       own_poll=fallback, writable=frozenset(writable), serial_tcp=bridge,
                       tryout_dir=tryout_dir, lock=lock)
        self._vms[entry.name] = vm
        console.powered_off.connect(lambda name=entry.name: self._on_console_done(name))
        console.show()
        if state_file.is_file() and not config.tryout:
            # resume where "Save state" left it; the file goes once the load succeeded
            host.send(ev.LoadState(str(state_file)))
            vm.resuming = state_file
        log.info("started VM %r", entry.name)
        self.changed.emit(entry.name)
        return vm

    def _new_host(self, machine_config, drives, control_socket: Path | None = None):
        """A VM process by default (crash isolation, no GIL shared between VMs), serving
        ``vmgui control`` on ``control_socket``: the images were opened here only to
        report a bad one before anything starts."""
        if self._host_factory is not None:
            return self._host_factory(machine_config, drives)
        from vmgui.host.process import ProcessHost

        specs = {n: (str(img.path), img.kind, img.read_only) if img is not None else None
                 for n, img in drives.items()}
        return ProcessHost(machine_config, specs, control_socket=control_socket)

    def toggle_pause(self, name: str) -> None:
        vm = self._vms.get(name)
        if vm is None or not vm.host.alive:
            return
        vm.host.send(ev.Resume() if vm.state is ev.RunState.PAUSED else ev.Pause())

    def reset(self, name: str) -> None:
        vm = self._vms.get(name)
        if vm is not None and vm.host.alive:
            vm.host.send(ev.Reset())

    def power_off(self, name: str) -> None:
        """Power the VM off and close its console (no questions)."""
        vm = self._vms.get(name)
        if vm is not None:
            vm.console.shut_down()  # emits powered_off -> _on_console_done
            self._discard(name)
            self.changed.emit(name)

    def power_off_all(self) -> None:
        for name in list(self._vms):
            self.power_off(name)

    def show_console(self, name: str) -> bool:
        vm = self._vms.get(name)
        if vm is None:
            return False
        vm.console.show()
        vm.console.raise_()
        vm.console.activateWindow()
        return True

    def _discard(self, name: str) -> None:
        """Forget ``name``'s VM: power it off if needed, write its log, drop its console."""
        vm = self._vms.pop(name, None)
        if vm is None:
            return
        vm.console.shut_down()
        self._flush_serial(vm)
        if vm.serial_tcp is not None:
            vm.serial_tcp.close()
        if vm.tryout_dir is not None:
            if self.tryout_ended is not None:
                try:
                    self.tryout_ended(vm)
                except Exception:  # noqa: BLE001 - the overlays must still go
                    log.exception("%s: handling the end of try-out mode failed", vm.name)
            if tryout_mod.end_tryout(vm.tryout_dir):
                log.info("%s: try-out session over", vm.name)
        self._release(vm)  # last: keeping a try-out's changes still wrote its disks
        vm.console.hide()
        vm.console.deleteLater()

    @staticmethod
    def _release(vm: RunningVm) -> None:
        if vm.lock is not None and vm.lock.held:
            vm.lock.release()
            log.debug("%s: run lock released", vm.name)

    def _on_console_done(self, name: str) -> None:
        """The console powered the VM off (its window was closed, or Power off)."""
        self._discard(name)
        self.changed.emit(name)

    # ------------------------------------------------------------------ watching
    def poll(self) -> None:
        """Timer step: notice state changes, write serial logs, refresh thumbnails."""
        self._ticks += 1
        thumbnails = self._ticks % THUMBNAIL_EVERY == 0
        for vm in list(self._vms.values()):
            if vm.own_poll and vm.host.alive:
                vm.host.poll_events()
            if not vm.host.alive and vm.tryout_dir is None:
                self._release(vm)  # its process is gone (killed?): so are its open disks
            self._flush_serial(vm)
            self._check_resume(vm)
            state = vm.state
            if state != vm.last_state:
                vm.last_state = state
                self.changed.emit(vm.name)
            if vm.host.alive and (thumbnails or vm.screen is None):
                vm.screen = screen_image(vm.host)
        if thumbnails and self._vms:
            self.screens_updated.emit()
        if thumbnails:
            self.ticked.emit()

    def _check_resume(self, vm: RunningVm) -> None:
        if vm.resuming is None:
            return
        for result in getattr(vm.host, "state_files", ()):
            if isinstance(result, ev.StateLoaded) and result.path == str(vm.resuming):
                settle_resume(vm.name, vm.resuming, result.error)
                vm.resuming = None
                self.changed.emit(vm.name)
                if result.error is not None:
                    self.resume_failed.emit(vm.name, result.error)
                return

    def _flush_serial(self, vm: RunningVm) -> None:
        if vm.serial_tcp is not None:
            vm.serial_tcp.pump()
        if vm.serial_log is None or len(vm.host.serial) <= vm.serial_written:
            return
        try:
            with open(vm.serial_log, "ab") as fh:
                fh.write(vm.host.serial[vm.serial_written:])
        except OSError as exc:
            log.warning("%s: cannot write the COM1 log (%s); logging stopped", vm.serial_log,
                        exc.strerror)
            vm.serial_log = None
            return
        vm.serial_written = len(vm.host.serial)
