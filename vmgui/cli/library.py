"""``vmgui list / create / modify / delete / clone``: the VM library from a terminal.

Owns: the command lines that list, create, change, copy and remove library VMs (see
:mod:`vmgui.config.library` for where they live and the removal rules) and their exit
status: 0 done, 2 bad usage or input (unknown VM, invalid name or setting, duplicate name,
missing image, VM running where it must be powered off); :class:`CliError`, the error of
every library, snapshot and archive command, and :func:`_guarded`, which turns the
expected errors into a message.  Whether a VM runs (:func:`run_state`: its control socket
or its run lock, :mod:`vmgui.config.runlock`) and holding it powered off meanwhile
(:func:`powered_off`).  Image paths given on the command line are stored as absolute
paths; disks made with ``--new-hdd`` live in the VM folder and are stored relative to it.
``--cdrom`` takes only a whole ISO 9660 image, ``--kernel`` only a bzImage with a Linux
boot header (checked when given).  ``modify`` on a
running VM changes the settings its next start uses.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from vmgui.config.library import Library, LibraryError, VmEntry, media_problems
from vmgui.config.runlock import RunLock, VmBusyError, running_pid
from vmgui.config.schema import (
    MAX_MEMORY_MB,
    MEMORY_LIMITS,
    MIN_MEMORY_MB,
    PROFILES,
    Attachment,
    ConfigError,
    VmConfig,
)
from vmgui.config.snapshots import clean_leftovers
from vmgui.storage import media
from vmgui.storage.cdimage import CdImage
from vmgui.storage.image import DiskImageError, ImageMissingError, check_regular
from vmgui.storage.overlay import is_overlay

log = logging.getLogger(__name__)

EXIT_OK, EXIT_USAGE = 0, 2
NEW_HDD_NAME = "hdd.img"
CD_PROFILE = "pc-pci"  # the machine with a CD drive: a new VM given --cdrom becomes one


class CliError(Exception):
    """Bad input or a refused operation: printed as ``vmgui <command>: <message>``, exit
    status 2.  The one error class of every library, snapshot and archive command (see
    :func:`_guarded`)."""


# ---------------------------------------------------------------------- parsers

def _add_vm_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--memory", type=int, metavar="MB",
                   help=f"RAM in MB, {MIN_MEMORY_MB}-{MAX_MEMORY_MB} (default 16); at most "
                        f"what the machine takes ({MEMORY_LIMITS})")
    p.add_argument("--machine", choices=PROFILES, metavar="KIND",
                   help=f"the machine kind, {' or '.join(PROFILES)} (default {PROFILES[0]})")
    p.add_argument("--floppy", type=Path, action="append", metavar="IMG",
                   help="floppy image for A: (given twice: A: then B:)")
    disks = p.add_mutually_exclusive_group()
    disks.add_argument("--hdd", type=Path, action="append", metavar="IMG",
                       help="hard disk image for C: (given twice: C: then D:)")
    disks.add_argument("--new-hdd", type=int, action="append", metavar="SIZE_MB",
                       help=f"create a blank hard disk of SIZE_MB ({media.MIN_HARD_DISK_MB}-"
                            f"{media.MAX_HARD_DISK_MB}) in the VM folder and attach it")
    p.add_argument("--cdrom", type=Path, metavar="ISO",
                   help="ISO 9660 image for the CD drive (a new VM becomes the pc-pci machine, "
                        "which has one; the boot order gets d before c unless --boot is given)")
    p.add_argument("--boot", metavar="LETTERS",
                   help="boot order, e.g. a,c (default a,c): a, b floppies, c hard disk, d the "
                        "CD (on a machine without one: the second hard disk)")
    p.add_argument("--kernel", metavar="BZIMAGE",
                   help="boot this Linux kernel (bzImage) directly, as QEMU's -kernel does, "
                        "instead of a disk's boot sector; the disks stay attached (Linux "
                        "needs 32 MB or more: give --memory 128)")
    p.add_argument("--initrd", metavar="FILE",
                   help="with --kernel: the initial RAM disk (initramfs); '' removes it")
    p.add_argument("--append", metavar="CMDLINE",
                   help="with --kernel: the kernel command line, e.g. \"console=ttyS0\"")
    p.add_argument("--notes", metavar="TEXT", help="free-form notes shown in the manager")
    tryout = p.add_mutually_exclusive_group()
    tryout.add_argument("--tryout", dest="tryout", action="store_const", const=True,
                        help="try-out mode: every run writes its disk changes to throw-away "
                             "overlays, discarded at power-off (takes effect at the next "
                             "start)")
    tryout.add_argument("--no-tryout", dest="tryout", action="store_const", const=False,
                        help="normal mode: disk changes are kept (the default)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the library sub-commands to the ``vmgui`` parser's sub-parsers."""
    p = sub.add_parser("list", help="list the VMs in the library",
                       description="List the library's VMs; inaccessible ones with the reason.")
    p.add_argument("--running", action="store_true",
                   help="list only the running VMs, with their state and process id")
    p.set_defaults(handler=list_command)
    p = sub.add_parser("create", help="create a VM in the library",
                       description="Create a VM. Exit status: 0 done, 2 bad input.")
    p.add_argument("name", help="the VM's name (also its folder's name)")
    _add_vm_options(p)
    p.set_defaults(handler=create_command)
    p = sub.add_parser("modify", help="change a library VM's settings",
                       description="Change the given settings of a VM; others stay as they "
                                   "are. Exit status: 0 done, 2 bad input.")
    p.add_argument("name", help="the VM to change")
    _add_vm_options(p)
    p.add_argument("--no-floppy", action="store_true", help="eject both floppy images")
    p.add_argument("--no-hdd", action="store_true", help="detach all hard disks (files stay)")
    p.add_argument("--no-cdrom", action="store_true", help="eject the CD (the file stays)")
    p.add_argument("--no-kernel", action="store_true",
                   help="boot from the disks again: forget the kernel, initrd and command "
                        "line (the files stay)")
    p.add_argument("--rename", metavar="NEW", help="rename the VM (and its folder)")
    p.set_defaults(handler=modify_command)
    p = sub.add_parser("delete", help="delete a VM from the library",
                       description="Delete a VM's folder and every file in it (images "
                                   "attached from elsewhere are kept). With --keep-files the "
                                   "folder is moved to <library>/.removed/ instead.")
    p.add_argument("name", help="the VM to delete")
    p.add_argument("--keep-files", action="store_true",
                   help="only remove the VM from the library; keep all its files")
    p.set_defaults(handler=delete_command)
    p = sub.add_parser("clone", help="make a full copy of a VM",
                       description="Copy a VM under a new name: its folder's files and the "
                                   "hard disks attached from elsewhere are copied; floppy "
                                   "images from elsewhere are shared. Refused while it runs.")
    p.add_argument("name", help="the VM to copy")
    p.add_argument("new", help="the copy's name")
    p.add_argument("--snapshot", metavar="SNAP",
                   help="copy the VM as it was at this snapshot (disks flattened)")
    p.set_defaults(handler=clone_command)


# ---------------------------------------------------------------------- commands

def _guarded(verb: str, body: Callable[[argparse.Namespace, Library], None],
             args: argparse.Namespace, errors: tuple[type[Exception], ...] = ()) -> int:
    """Run a library command: an unknown VM or any of the expected errors (plus
    ``errors``) becomes a one-line message and exit 2, never a traceback."""
    try:
        body(args, Library())
    except KeyError as exc:
        print(f"vmgui {verb}: no VM called {exc.args[0]!r} in {Library().root}",
              file=sys.stderr)
        return EXIT_USAGE
    except (CliError, ConfigError, LibraryError, DiskImageError, VmBusyError,
            *errors) as exc:
        print(f"vmgui {verb}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    return _guarded("list", _list, args)


def create_command(args: argparse.Namespace) -> int:
    return _guarded("create", _create, args)


def modify_command(args: argparse.Namespace) -> int:
    return _guarded("modify", _modify, args)


def delete_command(args: argparse.Namespace) -> int:
    return _guarded("delete", _delete, args)


def clone_command(args: argparse.Namespace) -> int:
    return _guarded("clone", _clone, args)


def describe_entry(entry: VmEntry) -> str:
    """One line about a VM for ``vmgui list`` (without its name)."""
    cfg = entry.config
    if cfg is None:
        return f"inaccessible: {entry.error}"
    problems = media_problems(cfg, entry.folder)  # a FIFO or device: it cannot run
    if problems:
        return f"inaccessible: {'; '.join(problems)}"
    drives = [(letter, att) for letter, att in (("A", cfg.floppy_a), ("B", cfg.floppy_b))
              if att is not None]
    drives += list(zip("CD", cfg.hard_disks, strict=False))
    if cfg.cdrom is not None:
        drives.append(("CD", cfg.cdrom))
    parts = [f"{cfg.memory_mb} MB", f"boot {','.join(cfg.boot_order)}"]
    parts += [f"{letter}: {_drive_text(att, entry.folder)}" for letter, att in drives]
    if cfg.direct_boot.enabled:
        parts.append(f"kernel: {cfg.direct_boot.kernel}")
    if cfg.tryout:
        parts.append("try-out mode")
    return "  ".join(parts)


def _drive_text(att: Attachment, folder: Path) -> str:
    """The attached image as the user attached it; for a snapshot layer the image at the
    bottom of its chain (``fd.img (snapshot layer)``), not the layer file."""
    flags = ["read-only"] if att.read_only else []
    shown = att.path
    path = att.resolve(folder)
    if is_overlay(path):
        base = media.layer_base(path)
        if base is None:
            flags.insert(0, "damaged snapshot layer")
        else:
            flags.insert(0, "snapshot layer")
            shown = _relative_to(base, folder)
    return f"{shown} ({', '.join(flags)})" if flags else shown


def _relative_to(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when inside it (as disks made there are stored),
    else absolute."""
    path = Path(os.path.abspath(path))
    try:
        return path.relative_to(os.path.abspath(folder)).as_posix()
    except ValueError:
        return str(path)


def _list(args: argparse.Namespace, library: Library) -> None:
    entries = library.entries()
    if not entries:
        print(f"No VMs in {library.root}")
        return
    rows = []
    for entry in entries:
        mark = ""
        if getattr(args, "running", False):  # only the running ones
            state = run_state(entry)
            if state is None:
                continue
            mark = f"[{state[0]}, pid {state[1]}]  "
        rows.append((entry, mark))
    if not rows:
        print(f"No running VMs in {library.root}")
        return
    width = max(len(entry.name) for entry, _mark in rows)
    for entry, mark in rows:
        print(f"{entry.name:<{width}}  {mark}{_described(entry)}")


def _described(entry: VmEntry) -> str:
    """:func:`describe_entry`; one VM that cannot be described never hides the others."""
    try:
        return describe_entry(entry)
    except Exception as exc:  # noqa: BLE001 - shown as the VM's line instead
        log.debug("describing %s", entry.name, exc_info=True)
        return f"inaccessible: {exc!r}"


def _running_status(entry: VmEntry) -> dict | None:
    from vmgui.cli.control import running_status

    return running_status(entry) if entry.accessible else None


def run_state(entry: VmEntry) -> tuple[str, int | None] | None:
    """(state, pid) of a VM that runs, whoever started it: its control socket's status
    (the manager, ``vmgui start``), else its run lock's holder (``vmgui run NAME``, which
    serves no socket); None when it does not run."""
    status = _running_status(entry)
    if status is not None:
        return str(status.get("state", "running")), status.get("pid")
    pid = running_pid(entry.folder)
    return None if pid is None else ("running", pid)


@contextlib.contextmanager
def powered_off(entry: VmEntry, doing: str) -> Iterator[None]:
    """Hold the VM's run lock (:mod:`vmgui.config.runlock`) while ``doing`` something
    that needs it powered off, so that nothing starts it meanwhile (what killed
    operations left in its folder is cleaned up first); :class:`CliError` when it runs
    ("power it off before <doing>")."""
    if _running_status(entry) is not None:
        raise CliError(f"{entry.name} is running; power it off before {doing}")
    try:
        lock = RunLock.acquire(entry.folder, entry.name)
    except VmBusyError:
        pid = running_pid(entry.folder)
        who = f" (process {pid})" if pid is not None else ""
        raise CliError(f"{entry.name} is running{who}; power it off before {doing}") from None
    except OSError as exc:
        raise CliError(f"{entry.folder}: cannot lock the VM ({exc.strerror or exc})") from exc
    with lock:
        clean_leftovers(entry.folder)  # of killed operations: nothing else works on it now
        yield


def _clone(args: argparse.Namespace, library: Library) -> None:
    entry = library.get(args.name)
    if entry.config is None:  # before locking: nothing is written into a broken folder
        raise CliError(f"cannot clone VM {entry.name!r}: {entry.error}")
    from vmgui.config import snapshots  # VMs with snapshots get flattened disks

    with powered_off(entry, "cloning it"):
        try:
            if getattr(args, "snapshot", None) or snapshots.Snapshots(entry.folder).snapshots:
                copy_entry = snapshots.clone_vm(library, entry.name, args.new, args.snapshot)
            else:
                copy_entry = library.clone(entry.name, args.new)
        except snapshots.SnapshotError as exc:
            raise CliError(str(exc)) from exc
    print(f"Cloned VM {entry.name!r} to {copy_entry.name!r} in {copy_entry.folder}")


def _existing_image(option: str, path: Path) -> Attachment:
    try:
        check_regular(path, "image")
    except ImageMissingError:
        raise CliError(f"{option} {path}: no such file") from None
    except DiskImageError as exc:
        raise CliError(f"{option}: {exc}") from None
    return Attachment(os.path.abspath(path))


def _existing_iso(path: Path) -> Attachment:
    """The CD attachment of ``path``, checked now: an ISO 9660 image, whole."""
    try:
        CdImage.open(path).close()
    except ImageMissingError:
        raise CliError(f"--cdrom {path}: no such file") from None
    except DiskImageError as exc:
        raise CliError(f"--cdrom: {exc}") from None
    return Attachment(os.path.abspath(path), read_only=True)


def _apply_cdrom(cfg: VmConfig, args: argparse.Namespace) -> None:
    """--machine, --cdrom and --no-cdrom; a CD added to a new VM with no machine chosen
    makes it the pc-pci machine; a CD added without --boot puts d before c."""
    if getattr(args, "machine", None) is not None:
        cfg.profile = args.machine
    if getattr(args, "no_cdrom", False):
        cfg.cdrom = None
    if getattr(args, "cdrom", None) is None:
        return
    cfg.cdrom = _existing_iso(args.cdrom)
    if getattr(args, "machine", None) is None and getattr(args, "creating", False):
        cfg.profile = CD_PROFILE
    if args.boot is None and "d" not in cfg.boot_order:
        at = cfg.boot_order.index("c") if "c" in cfg.boot_order else len(cfg.boot_order)
        cfg.boot_order.insert(at, "d")


def _existing_kernel(option: str, text: str, kernel: bool) -> str:
    """The absolute path of the kernel (``kernel``) or initrd file ``text``, checked now:
    a regular file; a kernel with a Linux boot header (bzImage, protocol 2.02+)."""
    from vmgui.bios.linuxboot import HEADER_END, LinuxBootError, parse_header

    path = Path(text).expanduser()
    what = "kernel" if kernel else "initrd"
    if path.is_dir():
        raise CliError(f"{option} {text}: is a folder, not a file")
    try:
        check_regular(path, what)
        if kernel:
            with open(path, "rb") as fh:
                parse_header(fh.read(HEADER_END), path.name)
    except ImageMissingError:
        raise CliError(f"{option} {text}: no such file") from None
    except (DiskImageError, LinuxBootError) as exc:
        raise CliError(f"{option}: {exc}") from None
    except OSError as exc:
        raise CliError(f"{option} {text}: cannot read the {what} "
                       f"({exc.strerror or exc})") from None
    return os.path.abspath(path)


def _apply_direct_boot(cfg: VmConfig, args: argparse.Namespace) -> None:
    """--kernel, --initrd, --append and --no-kernel (first: it clears all three)."""
    boot = cfg.direct_boot
    if getattr(args, "no_kernel", False):
        boot.kernel = boot.initrd = boot.append = ""
    if getattr(args, "kernel", None) is not None:
        boot.kernel = _existing_kernel("--kernel", args.kernel, kernel=True)
    if getattr(args, "initrd", None) is not None:
        boot.initrd = args.initrd and _existing_kernel("--initrd", args.initrd, kernel=False)
    if getattr(args, "append", None) is not None:
        boot.append = args.append


def _apply_options(cfg: VmConfig, args: argparse.Namespace) -> list[int]:
    """Apply the given options to ``cfg``; returns the sizes of new disks to make."""
    _apply_cdrom(cfg, args)
    _apply_direct_boot(cfg, args)
    if args.memory is not None:
        cfg.memory_mb = args.memory
    if args.boot is not None:
        cfg.boot_order = [p.strip().lower() for p in args.boot.split(",") if p.strip()]
    if args.notes is not None:
        cfg.notes = args.notes
    if getattr(args, "tryout", None) is not None:
        cfg.tryout = args.tryout
    if getattr(args, "no_floppy", False):
        cfg.floppy_a = cfg.floppy_b = None
    if getattr(args, "no_hdd", False):
        cfg.hard_disks = []
    if args.floppy:
        if len(args.floppy) > 2:
            raise CliError("--floppy: at most two (A: and B:)")
        images = [_existing_image("--floppy", p) for p in args.floppy]
        cfg.floppy_a, cfg.floppy_b = images[0], (images[1] if len(images) > 1 else None)
    if args.hdd:
        cfg.hard_disks = [_existing_image("--hdd", p) for p in args.hdd]
    sizes = list(args.new_hdd or [])
    for size in sizes:
        if not media.MIN_HARD_DISK_MB <= size <= media.MAX_HARD_DISK_MB:
            raise CliError(f"--new-hdd {size}: must be {media.MIN_HARD_DISK_MB}-"
                           f"{media.MAX_HARD_DISK_MB} MB")
    return sizes


def _plan_new_disks(cfg: VmConfig, folder: Path, sizes: list[int]) -> list[tuple[Path, int]]:
    """Attach new disk files (to be created in ``folder``) in place of the hard disks."""
    plan: list[tuple[Path, int]] = []
    if not sizes:
        return plan
    cfg.hard_disks = []
    stem, suffix = Path(NEW_HDD_NAME).stem, Path(NEW_HDD_NAME).suffix
    n = 0
    for size in sizes:
        while True:
            name = f"{stem}{'' if n == 0 else f'-{n}'}{suffix}"
            n += 1
            if not (folder / name).exists():
                break
        plan.append((folder / name, size))
        cfg.hard_disks.append(Attachment(name))
    return plan


def _check(cfg: VmConfig) -> None:
    problems = cfg.validate()
    if problems:
        raise CliError("; ".join(problems))


def _create(args: argparse.Namespace, library: Library) -> None:
    cfg = VmConfig(args.name)
    args.creating = True
    sizes = _apply_options(cfg, args)
    plan = _plan_new_disks(cfg, library.root / args.name, sizes)
    _check(cfg)
    entry = library.create(cfg)
    try:
        for path, size in plan:
            media.create_hard_disk(entry.folder / path.name, size)
    except BaseException:
        library.delete(entry.name, keep_files=False)
        raise
    print(f"Created VM {entry.name!r} in {entry.folder}")


def _modify(args: argparse.Namespace, library: Library) -> None:
    entry = library.get(args.name)
    changing = getattr(args, "tryout", None) is not None or any(
        getattr(args, k) not in (None, False) for k in (
            "memory", "machine", "floppy", "hdd", "new_hdd", "boot", "notes", "no_floppy",
            "no_hdd", "cdrom", "no_cdrom", "kernel", "initrd", "append", "no_kernel"))
    if entry.config is None and changing:
        raise CliError(f"VM {entry.name!r} is inaccessible: {entry.error}")
    if entry.config is not None:
        cfg = copy.deepcopy(entry.config)
        sizes = _apply_options(cfg, args)
        if args.rename is not None:
            cfg.name = args.rename
        _check(cfg)
    if args.rename is not None:  # not under a running VM's feet
        with powered_off(entry, "renaming it"):
            entry = library.rename(entry.name, args.rename)
        print(f"Renamed VM {args.name!r} to {entry.name!r}")
    if entry.config is None or not changing:
        return
    cfg.name = entry.name
    plan = _plan_new_disks(cfg, entry.folder, sizes)
    made = []
    try:
        for path, size in plan:
            made.append(media.create_hard_disk(path, size))
        library.save(cfg, entry.folder)
    except BaseException:
        for path in made:
            path.unlink(missing_ok=True)
        raise
    # a running VM keeps the settings it started with (as VirtualBox's offline settings)
    later = "; it is running: the changes take effect at its next start" \
        if run_state(entry) is not None else ""
    print(f"Changed VM {entry.name!r}{later}")


def _delete(args: argparse.Namespace, library: Library) -> None:
    entry = library.get(args.name)
    with powered_off(entry, "deleting it"):  # its disks are in use while it runs
        moved = library.delete(entry.name, keep_files=args.keep_files)
    if moved is not None:
        print(f"Removed VM {entry.name!r} from the library; its files are in {moved}")
    else:
        print(f"Deleted VM {entry.name!r} and its folder {entry.folder}")
