"""A headless VM process: one library VM, driven through its control socket.

Owns: ``python -m vmgui.host.vmprocess --vm NAME [--home ROOT]`` (what ``vmgui start NAME
--headless`` launches detached, output to ``<vm folder>/logs/vm.log``): it opens the VM's
images (in try-out mode: on throw-away overlays, discarded when it ends), resumes the VM's
saved state if it has one, runs the machine on an emulation thread, serves
``<vm folder>/control.sock`` (:mod:`vmgui.host.control`), appends COM1 output to the VM's
serial log file when its serial port is set to ``file``, and exits when the machine powers
off (by ``vmgui control NAME poweroff`` or ``savestate``, SIGTERM or SIGINT).  It holds
the VM's run lock (:mod:`vmgui.config.runlock`) from before it opens the disks until it
ends.  Exit status: 0 powered off, 2 the VM cannot start (unknown, inaccessible, bad
image, or already running: its run lock is taken, or in try-out mode elsewhere), 4 the
machine stopped on an internal error (an exception out of its run loop: reported as a
``GuestCrashed("internal error", ...)`` whose report, with the traceback, goes to the log).

Thread rules: the main thread waits and handles signals; the machine runs on its own
thread; the control server on its own threads.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import traceback
from pathlib import Path

from vmgui.config import tryout as tryout_mod
from vmgui.config.library import Library, LibraryError
from vmgui.config.runlock import RunLock, VmBusyError
from vmgui.config.schema import ConfigError
from vmgui.config.snapshots import saved_state_path, settle_resume
from vmgui.core import events as ev
from vmgui.host.control import ControlError, ControlServer, MachineHost, socket_path
from vmgui.storage.image import DiskImageError

log = logging.getLogger("vmgui.host.vmprocess")


def _serial_writer(path: Path | None):
    if path is None:
        return lambda event: None

    def write(event) -> None:
        if isinstance(event, ev.SerialOutput) and event.port == 0:
            try:
                with open(path, "ab") as fh:
                    fh.write(event.data)
            except OSError as exc:
                log.warning("%s: cannot write the COM1 log (%s)", path, exc.strerror)
    return write


def _run_machine(machine, on_event, failures: list[BaseException]) -> None:
    """The emulation thread: ``machine.run()``.  An internal error (an exception out of
    the run loop; the machine has closed itself) is recorded in ``failures`` and reported
    through ``on_event`` as a crash, as ThreadHost and ProcessHost report it -- never a
    bare thread traceback followed by what looks like a clean power-off."""
    try:
        machine.run()
    except Exception as exc:
        failures.append(exc)
        report = f"{exc!r}\n\n{traceback.format_exc().rstrip()}"
        log.error("guest crashed: internal error\n%s", report)
        on_event(ev.GuestCrashed("internal error", report))


def run_vm(name: str, root: Path | None = None) -> int:
    library = Library(root)
    try:
        entry = library.get(name)
    except KeyError:
        print(f"vmprocess: no VM called {name!r} in {library.root}", file=sys.stderr)
        return 2
    except LibraryError as exc:
        print(f"vmprocess: {exc}", file=sys.stderr)
        return 2
    config = entry.config
    if config is None:
        print(f"vmprocess: VM {entry.name!r} is inaccessible: {entry.error}", file=sys.stderr)
        return 2
    try:  # before any disk is touched; the kernel drops it when this process ends
        lock = RunLock.acquire(entry.folder, entry.name)
    except VmBusyError as exc:
        print(f"vmprocess: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"vmprocess: {entry.folder}: cannot lock the VM ({exc.strerror or exc})",
              file=sys.stderr)
        return 2
    with lock:  # released on return, when the machine has stopped: the process ends then
        return _run_locked(entry, config)


def _run_locked(entry, config) -> int:
    tryout_dir = None
    if config.tryout:  # throw-away overlays in the VM's folder, owned by this process
        try:
            tryout_dir, notice = tryout_mod.begin_tryout(entry.folder)
        except tryout_mod.TryoutError as exc:
            print(f"vmprocess: {exc}", file=sys.stderr)
            return 2
        if notice:
            log.warning("%s", notice)
    try:
        return _run(entry, config, tryout_dir)
    finally:
        if tryout_dir is not None:  # nobody to ask "keep?": discarded, as at power-off
            tryout_mod.end_tryout(tryout_dir)
            log.info("%s: try-out mode, disk changes discarded", entry.name)


def _run(entry, config, tryout_dir: Path | None) -> int:
    host = MachineHost()
    server = ControlServer(host, socket_path(entry.folder), name=entry.name)
    try:  # images first (no locks: opening does not change them), to fail before listening
        drives = config.open_drives(entry.folder, tryout_dir=tryout_dir)
        machine_config = config.to_machine_config(entry.folder)
    except (DiskImageError, ConfigError, OSError, ValueError) as exc:
        print(f"vmprocess: {entry.name}: {exc}", file=sys.stderr)
        return 2
    try:
        # listen before building the machine: `vmgui start` can return while the machine
        # is still being built (requests other than status wait for it)
        server.start()
    except ControlError as exc:
        for image in drives.values():
            if image is not None:
                image.close()
        print(f"vmprocess: {exc}", file=sys.stderr)
        return 2
    serial_log = None
    if config.serial.mode == "file":
        serial_log = Path(config.serial.path).expanduser()
        if not serial_log.is_absolute():
            serial_log = entry.folder / serial_log
    serial = _serial_writer(serial_log)
    state_file = saved_state_path(entry.folder)
    resume = state_file.is_file() and tryout_dir is None

    def on_event(event) -> None:
        host.on_event(event)
        serial(event)
        if resume and isinstance(event, ev.StateLoaded) and event.path == str(state_file):
            settle_resume(entry.name, state_file, event.error)
        if isinstance(event, ev.StateChanged):  # (a crash is logged where it happens)
            log.info("%s: %s", entry.name, event.state.value)

    from vmgui.core.machine import Machine  # the heavy import: after listening

    try:
        machine = Machine(machine_config, on_event=on_event, drives=drives)
    except Exception as exc:
        for image in drives.values():
            if image is not None:
                image.close()
        server.close()
        print(f"vmprocess: {entry.name}: cannot build the machine: {exc}", file=sys.stderr)
        return 2
    host.attach(machine)
    if resume:  # taken by the run loop before the first instruction
        machine.send(ev.LoadState(str(state_file)))
    elif state_file.is_file():
        log.warning("%s runs in try-out mode: its saved state is not resumed", entry.name)
    failures: list[BaseException] = []
    thread = threading.Thread(target=_run_machine, args=(machine, on_event, failures),
                              name="vmgui-cpu", daemon=True)

    def stop(signum, _frame) -> None:
        log.info("signal %d: powering off", signum)
        machine.send(ev.PowerOff())

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, stop)
    thread.start()
    log.info("VM %r running (pid in the control status)", entry.name)
    try:
        while thread.is_alive():
            thread.join(0.5)
    finally:
        server.close()
    if failures:
        log.error("VM %r stopped on an internal error (report above)", entry.name)
        return 4
    log.info("VM %r powered off", entry.name)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vmgui.host.vmprocess",
                                     description="Run one library VM headless, controlled "
                                                 "through its control socket.")
    parser.add_argument("--vm", required=True, metavar="NAME", help="the library VM to run")
    parser.add_argument("--home", type=Path, metavar="ROOT",
                        help="the library folder (default: VMGUI_HOME or the user's)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_vm(args.vm, args.home)


if __name__ == "__main__":
    sys.exit(main())
