"""The work behind ``vmgui run`` (see :mod:`vmgui.cli.run` for the command line).

A bare ISO 9660 image (IMAGE or ``--cdrom``) goes in the CD drive of a pc-pci machine
(the profile with one), booted after the floppy and before the hard disk unless
``--boot`` says otherwise.

A library VM is run under its run lock (:mod:`vmgui.config.runlock`), taken before its
disks are touched and held until it has powered off: another process running it (the
manager, ``vmgui start``, another ``vmgui run``) makes this one refuse (exit status 2).
Bare image files take no lock.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import replace
from pathlib import Path

from vmgui.automation.session import (
    AutomationError,
    AutomationTimeout,
    GuestCrashedError,
    Session,
)
from vmgui.cli.run import (
    EXIT_CRASH,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    RunError,
    Step,
    seconds,
    unescape,
)
from vmgui.config import tryout as tryout_mod
from vmgui.config.library import Library, LibraryError, VmEntry
from vmgui.config.runlock import RunLock, VmBusyError
from vmgui.config.safefile import path_problem, shown
from vmgui.config.snapshots import clean_leftovers, saved_state_path
from vmgui.core import events as ev
from vmgui.core import keys, snapshot
from vmgui.core.machine import MachineConfig
from vmgui.core.profiles import DEFAULT_PROFILE, all_profiles, get_profile
from vmgui.core.removable import CD_DRIVE
from vmgui.core.statefile import StateFileError
from vmgui.host.lockstep import LockstepHost
from vmgui.host.thread import ThreadHost
from vmgui.storage.cdimage import is_iso9660
from vmgui.storage.image import FLOPPY_FORMATS, DiskImage, DiskImageError, check_regular
from vmgui.storage.overlay import Overlay
from vmgui.storage.overlay_disk import open_disk

log = logging.getLogger(__name__)

CD_PROFILE = "pc-pci"  # the machine with a CD drive, for bare images with a CD
CD_BOOT_ORDER = ("a", "d", "c")  # with a CD and no --boot: VirtualBox's floppy, CD, disk
KERNEL_MEMORY_MB = 128  # --kernel without --memory: QEMU's default (a kernel needs 32+ MB)


def _looks_like_floppy(path: Path) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size in FLOPPY_FORMATS or (size == 512)


def _unusable(path: Path) -> str | None:
    """Why the OS cannot use ``path`` at all (a NUL byte, too long); None if it can."""
    return path_problem(str(path))


def _memory_mb(args: argparse.Namespace, default: int, profile: str) -> int:
    memory = default if args.memory is None else args.memory
    problem = get_profile(profile).memory_problem(memory)  # the limits VM settings have
    if problem:
        bigger = [p.name for p in all_profiles() if p.memory_problem(memory) is None]
        hint = f" (--machine {bigger[0]} takes it)" if bigger and args.memory else ""
        raise RunError(f"--memory: {problem}{hint}", EXIT_USAGE)
    return memory


def _boot_order(args: argparse.Namespace, default: tuple[str, ...]) -> tuple[str, ...]:
    if args.boot is None:
        return default
    order = tuple(part.strip().lower() for part in args.boot.split(",") if part.strip())
    if not order or any(part not in ("a", "b", "c", "d") for part in order):
        raise RunError(f"--boot {args.boot!r}: use drive letters a-d, e.g. a,c", EXIT_USAGE)
    return order


def _library_vm(image: Path | None) -> VmEntry | None:
    """The library VM that ``image`` names, when it is not an existing file."""
    if image is None or _unusable(image) or image.is_file():
        return None
    try:
        return Library().get(str(image))
    except (KeyError, LibraryError):
        return None


def _library_config(args: argparse.Namespace, entry: VmEntry, tryout_dir: Path | None = None,
                    ) -> tuple[MachineConfig, dict[int, DiskImage | None]]:
    if entry.config is None:
        raise RunError(f"VM {entry.name!r} is inaccessible: {entry.error}", EXIT_USAGE)
    if args.floppy or args.hdd or getattr(args, "cdrom", None):
        raise RunError(f"--floppy/--hdd/--cdrom cannot be added to library VM "
                       f"{entry.name!r}; change its drives with 'vmgui modify'", EXIT_USAGE)
    if _direct_boot(args) != (None, None, ""):
        raise RunError(f"--kernel/--initrd/--append cannot be given to library VM "
                       f"{entry.name!r}; set them with 'vmgui modify {entry.name} --kernel "
                       "FILE ...'", EXIT_USAGE)
    if getattr(args, "machine", None) not in (None, entry.config.profile):
        raise RunError(f"--machine cannot change library VM {entry.name!r} (a "
                       f"{entry.config.profile}); use 'vmgui modify --machine'", EXIT_USAGE)
    base = entry.config.to_machine_config(entry.folder)
    config = replace(base, memory_mb=_memory_mb(args, base.memory_mb, base.profile),
                     boot_order=_boot_order(args, base.boot_order),
                     read_only=base.read_only or args.read_only)
    try:
        drives = entry.config.open_drives(entry.folder, read_only=args.read_only,
                                          tryout_dir=tryout_dir)
    except DiskImageError as exc:
        raise RunError(f"VM {entry.name!r}: {exc}", EXIT_USAGE) from exc
    return config, drives


def _open_image(path: Path, kind: str, read_only: bool, tryout_dir: Path | None) -> DiskImage:
    """Open a bare image (or overlay; kind "cdrom": an ISO); in try-out mode through a new
    throw-away overlay.  Only a regular file is opened (a FIFO would block, a device never
    end)."""
    check_regular(path, "CD" if kind == "cdrom" else "disk")
    if tryout_dir is not None and not read_only:
        top = tryout_dir / f"tryout-{len(list(tryout_dir.iterdir()))}.cow"
        Overlay.create(top, path).close()
        path = top
    return open_disk(path, kind=kind, read_only=read_only)  # a layer: as one or not at all


def build_config(args: argparse.Namespace, tryout_dir: Path | None = None,
                 ) -> tuple[MachineConfig, dict[int, DiskImage | None]]:
    """Machine config and open drives; ``tryout_dir`` set: writable disks go through
    throw-away overlays made there."""
    entry = _library_vm(args.image)
    if entry is not None:
        return _library_config(args, entry, tryout_dir)
    cdrom: Path | None = getattr(args, "cdrom", None)
    kernel, initrd, append = _direct_boot(args)
    for path in (args.image, *args.floppy, *args.hdd, cdrom, kernel, initrd):
        if path is not None and (why := _unusable(path)):
            raise RunError(f"{shown(str(path))}: the path {why}", EXIT_USAGE)
    if args.image is not None and not args.image.exists():
        raise RunError(f"{args.image}: no such file, nor a VM in the library "
                       f"{Library().root} (see 'vmgui list')", EXIT_USAGE)
    floppies = list(args.floppy)
    hdds = list(args.hdd)
    if args.image is not None and is_iso9660(args.image):  # a bare ISO is a CD
        if cdrom is not None:
            raise RunError(f"{args.image} is an ISO 9660 image and --cdrom gives {cdrom}: "
                           "the machine has one CD drive", EXIT_USAGE)
        cdrom = args.image
    elif args.image is not None:
        (floppies if _looks_like_floppy(args.image) else hdds).insert(0, args.image)
    if kernel is None and (initrd is not None or append):
        raise RunError("--initrd and --append need --kernel", EXIT_USAGE)
    if not floppies and not hdds and cdrom is None and kernel is None:
        raise RunError("no disk image given (IMAGE, --floppy, --hdd or --cdrom) and no "
                       "--kernel", EXIT_USAGE)
    profile = getattr(args, "machine", None) or (CD_PROFILE if cdrom is not None
                                                 else DEFAULT_PROFILE)
    memory = _memory_mb(args, KERNEL_MEMORY_MB if kernel is not None else 16, profile)
    order = _boot_order(args, CD_BOOT_ORDER if cdrom is not None else ("a", "c"))
    drives: dict[int, DiskImage | None] = {}
    try:
        for i, path in enumerate(floppies[:2]):
            drives[i] = _open_image(path, "floppy", args.read_only, tryout_dir)
        for i, path in enumerate(hdds[:2]):
            drives[0x80 + i] = _open_image(path, "hdd", args.read_only, tryout_dir)
        if cdrom is not None:  # read-only: no try-out overlay
            drives[CD_DRIVE] = _open_image(cdrom, "cdrom", True, None)
    except DiskImageError as exc:
        for image in drives.values():
            if image is not None:
                image.close()
        raise RunError(str(exc), EXIT_USAGE) from exc
    config = MachineConfig(memory_mb=memory, boot_order=order, read_only=args.read_only,
                           profile=profile, kernel=kernel, initrd=initrd, append=append)
    return config, drives


def _direct_boot(args: argparse.Namespace) -> tuple[Path | None, Path | None, str]:
    """--kernel, --initrd and --append (absent from namespaces made elsewhere)."""
    return (getattr(args, "kernel", None), getattr(args, "initrd", None),
            getattr(args, "append", "") or "")


class Runner:
    """Runs ``vmgui run`` steps through an automation :class:`Session` (the steps are the
    one-line form of the same verbs scenario files use)."""

    def __init__(self, host, serial_path: Path | None) -> None:
        self.host = host
        self.session = Session(host, serial_path=serial_path)

    def pump(self) -> None:
        try:
            self.session.pump()
        except GuestCrashedError as exc:
            raise RunError(str(exc), EXIT_CRASH) from exc

    def run_step(self, step: Step) -> None:
        s, value = self.session, step.value
        verbs = {
            "wait_text": lambda: s.wait_for_text(unescape(value), step.timeout),
            "type": lambda: s.type_text(unescape(value), key_delay=step.key_delay),
            "key": lambda: s.press(value),
            "key_down": lambda: s.key_down(value),
            "key_up": lambda: s.key_up(value),
            "sleep": lambda: s.sleep(float(value)),
            "screenshot": lambda: s.screenshot(value),
            "dump_text": lambda: Path(value).write_text(s.text() + "\n", encoding="utf-8"),
        }
        try:
            verbs[step.verb]()
        except AutomationTimeout as exc:
            raise RunError(str(exc), EXIT_TIMEOUT) from exc
        except GuestCrashedError as exc:
            raise RunError(str(exc), EXIT_CRASH) from exc
        except AutomationError as exc:
            raise RunError(str(exc), EXIT_USAGE) from exc


def validate_steps(steps: list[Step]) -> None:
    for step in steps:
        try:
            if step.verb == "type":
                keys.text(unescape(step.value))
            elif step.verb in ("key", "key_down", "key_up"):
                keys.combo(step.value)
            elif step.verb == "sleep" and seconds(step.value) < 0:
                raise ValueError("negative")
        except (keys.KeyError_, ValueError) as exc:
            raise RunError(f"--{step.verb.replace('_', '-')} {step.value!r}: {exc}",
                           EXIT_USAGE) from exc
        if step.verb in ("screenshot", "dump_text"):
            parent = Path(step.value).resolve().parent
            if not parent.is_dir():
                raise RunError(f"--{step.verb.replace('_', '-')} {step.value}: folder "
                               f"{parent} does not exist", EXIT_USAGE)


def run_command(args: argparse.Namespace) -> int:
    entry = _library_vm(args.image)
    try:
        lock = _run_lock(entry)
    except RunError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return exc.status
    try:
        return _run_vm(args, entry)
    finally:
        if lock is not None:
            lock.release()


def _run_lock(entry: VmEntry | None) -> RunLock | None:
    """A library VM's run lock (:mod:`vmgui.config.runlock`), held while this process
    runs it; None for bare image files.  RunError when another process runs the VM."""
    if entry is None or entry.config is None:
        return None
    try:
        lock = RunLock.acquire(entry.folder, entry.name)
    except VmBusyError as exc:
        raise RunError(str(exc), EXIT_USAGE) from None
    except OSError as exc:
        raise RunError(f"{entry.folder}: cannot lock the VM ({exc.strerror or exc})",
                       EXIT_USAGE) from exc
    clean_leftovers(entry.folder)  # of killed operations: nothing else works on it now
    return lock


def _run_vm(args: argparse.Namespace, entry: VmEntry | None) -> int:
    steps: list[Step] = getattr(args, "steps", None) or []
    tryout = bool(getattr(args, "tryout", False)) or bool(
        entry is not None and entry.config is not None and entry.config.tryout)
    try:
        tryout_dir = _begin_disks(entry, tryout)
    except RunError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return exc.status
    try:
        return _run(args, steps, entry, tryout_dir)
    finally:
        if tryout_dir is not None:
            tryout_mod.end_tryout(tryout_dir)
            print("vmgui run: try-out mode: the changes to the disks were discarded",
                  file=sys.stderr)


def _begin_disks(entry: VmEntry | None, tryout: bool) -> Path | None:
    """Before the VM runs: recover what a killed earlier session of a library VM left
    (said on stderr; refused while another live process runs it in try-out mode), and
    make this run's try-out folder: the VM's ``tryout/``, or for bare images a temporary
    folder named with this pid (stale ones of dead processes are deleted first)."""
    if tryout:
        for path in tryout_mod.clean_stale_temp_sessions():
            log.info("deleted the stale try-out folder %s", path)
    if entry is None or entry.config is None:
        return tryout_mod.make_temp_session() if tryout and entry is None else None
    try:
        if tryout:
            tryout_dir, notice = tryout_mod.begin_tryout(entry.folder)
        else:
            tryout_dir, notice = None, tryout_mod.recover_tryout(entry.folder)
    except tryout_mod.TryoutError as exc:
        raise RunError(str(exc), EXIT_USAGE) from exc
    if notice:
        print(f"vmgui run: {notice}", file=sys.stderr)
    return tryout_dir


def _run(args: argparse.Namespace, steps: list[Step], entry: VmEntry | None,
         tryout_dir: Path | None) -> int:
    save_to = resume_from = None
    try:
        validate_steps(steps)
        if getattr(args, "save_state", False):
            if entry is None:
                raise RunError("--save-state needs a library VM (the state is saved in its "
                               "folder)", EXIT_USAGE)
            if tryout_dir is not None:
                raise RunError("--save-state cannot be used in try-out mode (the disks the "
                               "state belongs to are thrown away)", EXIT_USAGE)
            save_to = saved_state_path(entry.folder)
        if entry is not None and saved_state_path(entry.folder).is_file():
            resume_from = saved_state_path(entry.folder)
        config, drives = build_config(args, tryout_dir)
    except RunError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return exc.status
    except DiskImageError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.deterministic:
        config = dataclasses.replace(config, deterministic=True)
    try:
        host = LockstepHost(config, drives) if args.deterministic else ThreadHost(config, drives)
    except ValueError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.serial is not None:
        args.serial.write_bytes(b"")
    host.start()
    runner = Runner(host, args.serial)
    try:
        if resume_from is not None:
            resume(host, resume_from, keep=tryout_dir is not None)
        for step in steps:
            runner.run_step(step)
        if save_to is not None:
            save_state(host, save_to)
        elif not steps:
            _run_until_interrupted(runner)
        runner.pump()
    except RunError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return exc.status
    finally:
        host.power_off()
        runner.session.flush_serial()
    return EXIT_OK


def _wait_event(host, kind: type, path: Path, timeout: float = 60.0):
    """Run the host until the StateSaved/StateLoaded event for ``path`` arrives."""
    deadline = host.now() + timeout
    while True:
        for event in host.poll_events():
            if isinstance(event, kind) and event.path == str(path):
                return event
        if host.crash is not None:
            raise RunError(f"guest crashed: {host.crash.reason}\n{host.crash.report}",
                           EXIT_CRASH)
        if host.now() > deadline:
            raise RunError(f"{path}: no answer from the machine after {timeout:g} s",
                           EXIT_TIMEOUT)
        host.wait(0.001)


def resume(host, path: Path, keep: bool = False) -> bool:
    """Continue a started host from the saved state ``path``, then delete the file (as
    VirtualBox does) unless ``keep``.  A LockstepHost loads it directly on this thread
    (no guest time passes, so the first screenshot equals the one saved); other hosts
    get a LoadState command and are waited for.  An unusable file is kept and reported
    on stderr, and the VM starts fresh.  Returns True when resumed."""
    try:
        if isinstance(host, LockstepHost):
            try:
                snapshot.load(host.machine, path)
                error = None
            except (StateFileError, snapshot.RestoreError, OSError) as exc:
                error = str(exc)
        else:
            host.send(ev.LoadState(str(path)))
            error = _wait_event(host, ev.StateLoaded, path).error
    except RunError as exc:
        error = str(exc)
    if error is not None:
        print(f"vmgui run: cannot resume the saved state {path}: {error}; starting the VM "
              "afresh (the file is kept; 'vmgui snapshot NAME discard-state' deletes it)",
              file=sys.stderr)
        return False
    log.info("resumed from %s", path)
    if not keep:
        path.unlink(missing_ok=True)
    return True


def save_state(host, path: Path) -> None:
    """Save the machine's state to ``path`` (atomically) and wait until it is written;
    the caller powers off afterwards."""
    host.send(ev.SaveState(str(path), power_off=True))  # nothing runs after the save
    event = _wait_event(host, ev.StateSaved, path)
    if event.error is not None:
        raise RunError(f"saving the state to {path} failed: {event.error}", EXIT_USAGE)
    print(f"vmgui run: state saved to {path}; the next start resumes from it",
          file=sys.stderr)


def _run_until_interrupted(runner: Runner) -> None:
    print("vmgui run: no steps given; the guest runs until Ctrl+C", file=sys.stderr)
    try:
        while True:
            runner.pump()
            runner.host.wait(0.1)
    except KeyboardInterrupt:
        pass
