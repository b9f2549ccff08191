"""The VM library: one folder per VM under a root folder, each with its ``vm.toml``.

Owns: where VMs live (``$VMGUI_HOME`` if set, else the platform's user data folder +
``machines``), the folder layout (``<root>/<name>/vm.toml``, ``logs/``, ``screenshots/``,
``snapshots/``; ``tryout/`` while a try-out session runs, :mod:`vmgui.config.tryout`),
listing with inaccessible entries for VMs whose ``vm.toml`` is missing, unreadable,
corrupt or invalid (as VirtualBox lists them: the reason is shown, other VMs are
unaffected), creating, saving, renaming, cloning and removing VMs, and the media list
(every image any VM references).

Rules:

- The folder's name is the VM's name; a ``vm.toml`` whose ``name`` differs is read with the
  folder's name.  Names are unique ignoring case (folders must work on Windows and macOS).
- Every ``vm.toml`` write is atomic: a temporary file in the same folder, flushed and
  fsynced, then ``os.replace``; a crash leaves the old file or the new one, never a mix.
  New and cloned VMs are built in a hidden ``.new-*`` / ``.clone-*`` folder and renamed
  into place, so a half-made VM never appears in the list.
- Folders whose names start with a dot are not VMs (VM names never start with one).
- :meth:`Library.delete` with ``keep_files=True`` ("remove only") moves the VM folder,
  disk images and all, to ``<root>/.removed/<name>-<timestamp>``: nothing is deleted, the
  name is free again, and the user can move the folder back to restore the VM.  With
  ``keep_files=False`` it deletes the VM folder and everything inside it; images attached
  from outside the folder are never deleted.
- :meth:`Library.clone` is a full clone: files in the VM folder are copied (holes stay
  holes; not the run lock, :mod:`vmgui.config.runlock`), hard disks attached from outside
  the folder are copied into the new folder; floppy and CD images attached from outside
  are shared (install disks), like VirtualBox.

Thread rules: none; a :class:`Library` holds no open files and caches nothing, so every
call sees the disk as it is.  Two processes editing the same VM at once is not guarded.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs
import tomli_w

from vmgui.config import safefile
from vmgui.config.runlock import pid_alive
from vmgui.config.schema import Attachment, ConfigError, VmConfig, name_problems
from vmgui.storage import media as media_mod
from vmgui.storage.image import DiskImageError, ImageMissingError, Kind, check_regular

MediaKind = Kind | Literal["cdrom"]

__all__ = ["ConfigError", "Library", "LibraryError", "MediaInfo", "VmEntry", "atomic_write",
           "default_root", "load_config", "read_config"]

log = logging.getLogger(__name__)

HOME_ENV = "VMGUI_HOME"
CONFIG_FILE = "vm.toml"
MAX_CONFIG_BYTES = 1 << 20  # a vm.toml vmgui writes is under 2 KB
SUBFOLDERS = ("logs", "screenshots", "snapshots")
TRYOUT_FOLDER = "tryout"  # a try-out session's throw-away overlays (not copied by clones)
REMOVED_FOLDER = ".removed"
#: the hidden work folders of create/clone/import (``.new-<pid>-<hex>``...) and delete
_WORK_FOLDER = re.compile(r"\A\.(?:new|clone|import)-(\d+)-[0-9a-f]+\Z"
                          r"|\A\.deleting-.+-(\d+)-\d+\Z")


class LibraryError(Exception):
    """A library operation failed; the message names the VM or file."""


@dataclass(frozen=True)
class VmEntry:
    """One VM folder.  Inaccessible VMs have ``config`` None and the reason in ``error``."""

    name: str
    folder: Path
    config: VmConfig | None
    error: str | None = None

    @property
    def accessible(self) -> bool:
        return self.config is not None

    @property
    def config_path(self) -> Path:
        return self.folder / CONFIG_FILE


@dataclass(frozen=True)
class MediaInfo:
    """An image referenced by at least one VM.  ``size`` is None when it cannot be read,
    and then ``error`` says why (``format`` is then ``"unusable"``)."""

    path: Path
    size: int | None
    format: str
    used_by: tuple[str, ...]
    error: str | None = None


def default_root() -> Path:
    """``$VMGUI_HOME`` if set, else ``<user data dir>/vmgui/machines``."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    return Path(platformdirs.user_data_dir("vmgui")) / "machines"


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file in the same folder, flush,
    fsync, ``os.replace``, fsync the folder).  Raises :class:`LibraryError` on OS errors."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise LibraryError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            with contextlib.suppress(OSError, AttributeError):
                os.fchmod(fh.fileno(), _mode_for(path))
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise LibraryError(f"{path}: cannot write ({exc.strerror or exc})") from exc
        raise
    _fsync_folder(path.parent)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_config(path: Path) -> VmConfig:
    """Read and parse one ``vm.toml``, neither renamed after its folder nor validated
    (:func:`read_config` does both); raises :class:`ConfigError` naming the file."""
    try:
        raw = safefile.read_small(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing (the VM folder has no {CONFIG_FILE})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        data = safefile.parse_toml(raw)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return VmConfig.from_toml_dict(data, source=str(path))


def read_config(path: Path) -> VmConfig:
    """Read and validate one ``vm.toml``; raises :class:`ConfigError` naming the file."""
    path = Path(path)
    config = load_config(path)
    folder_name = path.parent.name
    if config.name != folder_name:
        log.warning("%s: name %r differs from the folder's; using %r", path, config.name,
                    folder_name)
        config.name = folder_name
    problems = config.validate()
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return config


def media_problems(config: VmConfig, folder: Path) -> list[str]:
    """Why the VM in ``folder`` cannot use its attached images now: one that exists but
    is not a regular file (a FIFO blocks whoever opens it, a device never ends) or whose
    path cannot be used, and a snapshot layer whose header (or one down its chain) is
    damaged (:func:`vmgui.storage.media.layer_damage`); the same for the kernel and initrd
    of a direct boot (:class:`~vmgui.config.schema.DirectBoot`).  Missing images are not problems
    here (the drive reports them when the VM starts).  Opens only regular files' headers."""
    problems = []
    for _number, att, _kind in config.drive_slots():
        path = att.resolve(Path(folder))
        try:
            check_regular(path)
        except ImageMissingError:
            continue
        except DiskImageError as exc:
            problems.append(str(exc))
        else:
            damage = media_mod.layer_damage(path)  # a bad magic, a garbage .cow
            if damage is not None:
                problems.append(damage)
    kernel, initrd, _append = config.direct_boot.resolve(Path(folder))
    for path, what in ((kernel, "kernel"), (initrd, "initrd")):
        if path is None:
            continue
        try:
            check_regular(path, what)  # a FIFO as the kernel would block the start
        except ImageMissingError:
            continue
        except DiskImageError as exc:
            problems.append(str(exc))
    return problems


def check_media(entry: VmEntry, doing: str) -> None:
    """:class:`LibraryError` ("cannot clone VM 'x': disk '/dev/zero' is not a regular
    file (character device)") when an image of ``entry`` is not a regular file."""
    problems = media_problems(entry.config, entry.folder) if entry.config else []
    if problems:
        raise LibraryError(f"cannot {doing} VM {entry.name!r}: {'; '.join(problems)}")


def _dump(config: VmConfig) -> bytes:
    return tomli_w.dumps(config.to_toml_dict()).encode("utf-8")


class Library:
    """The VMs under :attr:`root`.  Reading never creates folders; writing does."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    # ------------------------------------------------------------------ reading

    def _folder_names(self) -> list[str]:
        try:
            children = list(self.root.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise LibraryError(f"{self.root}: cannot list the VM folder ({exc.strerror})") from exc
        return sorted((c.name for c in children
                       if not c.name.startswith(".") and c.is_dir()), key=_sort_key)

    def _load(self, name: str) -> VmEntry:
        folder = self.root / name
        try:
            config = read_config(folder / CONFIG_FILE)
        except ConfigError as exc:
            return VmEntry(name, folder, None, str(exc))
        except Exception as exc:  # never let one VM break the list
            log.error("%s: unexpected error reading the VM: %r", folder, exc)
            log.debug("the error", exc_info=True)
            return VmEntry(name, folder, None, f"{folder / CONFIG_FILE}: {exc!r}")
        return VmEntry(name, folder, config, None)

    def entries(self) -> list[VmEntry]:
        """Every VM, sorted by name (ignoring case); broken ones as inaccessible entries."""
        return [self._load(name) for name in self._folder_names()]

    def get(self, name: str) -> VmEntry:
        """The VM called ``name`` (exact, else the one matching ignoring case); KeyError."""
        names = self._folder_names()
        if name in names:
            return self._load(name)
        matches = [n for n in names if n.casefold() == str(name).casefold()]
        if len(matches) == 1:
            return self._load(matches[0])
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        try:
            self.get(str(name))
        except (KeyError, LibraryError):
            return False
        return True

    # ------------------------------------------------------------------ checks

    def _check_new_name(self, name: str, renaming: str | None = None) -> None:
        problems = name_problems(name)
        if problems:
            raise ConfigError(f"invalid VM name: {'; '.join(problems)}")
        for existing in self._folder_names():
            if existing.casefold() == name.casefold() and existing != renaming:
                raise LibraryError(f"a VM called {existing!r} already exists in {self.root}")

    @staticmethod
    def _check_valid(config: VmConfig) -> None:
        problems = config.validate()
        if problems:
            raise ConfigError(f"VM {config.name!r}: " + "; ".join(problems))

    def _make_temp_folder(self, prefix: str) -> Path:
        """A hidden folder in the root named ``<prefix><pid>-<random>``; those of killed
        processes are deleted first (:meth:`_clean_stale_folders`)."""
        self._clean_stale_folders()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            while True:  # like tempfile.mkdtemp, but with the usual (umask) permissions
                tmp = self.root / f"{prefix}{os.getpid()}-{secrets.token_hex(6)}"
                with contextlib.suppress(FileExistsError):
                    tmp.mkdir()
                    return tmp
        except OSError as exc:
            raise LibraryError(f"{self.root}: cannot create a folder ({exc.strerror})") from exc

    def _clean_stale_folders(self) -> None:
        """Delete the hidden work folders (a VM being made, cloned, imported or deleted)
        of processes that are gone: a killed create, clone, import or delete left them."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return
        for name in names:
            match = _WORK_FOLDER.match(name)
            pid = int(match.group(1) or match.group(2)) if match else os.getpid()
            if pid == os.getpid() or pid_alive(pid):
                continue
            path = self.root / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                log.info("deleted %s, left by a library operation that was killed", path)

    def _move_into_place(self, tmp: Path, name: str) -> Path:
        folder = self.root / name
        try:
            if folder.exists():
                raise LibraryError(f"{folder}: already exists")
            for sub in SUBFOLDERS:
                (tmp / sub).mkdir(0o700 if sub == "logs" else 0o777, exist_ok=True)
            os.rename(tmp, folder)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise LibraryError(f"{folder}: cannot create ({exc.strerror})") from exc
            raise
        _fsync_folder(self.root)
        return folder

    # ------------------------------------------------------------------ writing

    def create(self, config: VmConfig) -> VmEntry:
        """Add a new VM: validates, refuses a name in use (ignoring case), makes its folder."""
        self._check_valid(config)
        self._check_new_name(config.name)
        config = copy.deepcopy(config)
        tmp = self._make_temp_folder(".new-")
        try:
            atomic_write(tmp / CONFIG_FILE, _dump(config))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        folder = self._move_into_place(tmp, config.name)
        log.info("created VM %r in %s", config.name, folder)
        return VmEntry(config.name, folder, config, None)

    def save(self, config: VmConfig, folder: Path) -> None:
        """Write ``config`` to ``folder/vm.toml`` atomically (validated; the name must be
        the folder's: use :meth:`rename` to rename)."""
        folder = Path(folder)
        if config.name != folder.name:
            raise LibraryError(f"{folder}: config name {config.name!r} differs from the "
                               "folder's; use Library.rename to rename a VM")
        self._check_valid(config)
        atomic_write(folder / CONFIG_FILE, _dump(config))

    def rename(self, old: str, new: str) -> VmEntry:
        """Rename a VM and its folder (an inaccessible VM's folder is renamed too)."""
        entry = self.get(old)
        self._check_new_name(new, renaming=entry.name)
        folder = self.root / new
        if new != entry.name:
            try:
                os.rename(entry.folder, folder)
            except OSError as exc:
                raise LibraryError(f"{entry.folder}: cannot rename to {new!r} "
                                   f"({exc.strerror})") from exc
        if entry.config is None:
            return VmEntry(new, folder, None, entry.error)
        config = copy.deepcopy(entry.config)
        config.name = new
        self.save(config, folder)  # if this fails the folder name still wins on reading
        return VmEntry(new, folder, config, None)

    def delete(self, name: str, keep_files: bool = False) -> Path | None:
        """Remove a VM from the library.

        ``keep_files`` True: move its folder to ``<root>/.removed/<name>-<timestamp>`` and
        return that path (nothing is deleted).  False: delete the VM folder and all files
        in it (never images attached from outside it) and return None.
        """
        entry = self.get(name)
        if keep_files:
            base = f"{entry.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            target, n = self.root / REMOVED_FOLDER / base, 1
            while target.exists():
                target, n = self.root / REMOVED_FOLDER / f"{base}-{n}", n + 1
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(entry.folder, target)
            except OSError as exc:
                raise LibraryError(f"{entry.folder}: cannot move to {target} "
                                   f"({exc.strerror})") from exc
            log.info("removed VM %r from the library; its files are in %s", entry.name, target)
            return target
        doomed = self.root / f".deleting-{entry.name}-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.rename(entry.folder, doomed)
        except OSError as exc:
            raise LibraryError(f"{entry.folder}: cannot delete ({exc.strerror})") from exc
        errors: list[str] = []
        _rmtree(doomed, errors)
        if errors:
            raise LibraryError(f"VM {entry.name!r} removed, but some files could not be "
                               f"deleted: {'; '.join(errors[:3])}")
        log.info("deleted VM %r and its folder", entry.name)
        return None

    def clone(self, name: str, new_name: str) -> VmEntry:
        """A full copy of VM ``name`` called ``new_name`` with a new uuid."""
        entry = self.get(name)
        if entry.config is None:
            raise LibraryError(f"cannot clone VM {entry.name!r}: {entry.error}")
        self._check_new_name(new_name)
        check_media(entry, "clone")
        config = copy.deepcopy(entry.config)
        config.name = new_name
        config.uuid = VmConfig(new_name).uuid
        tmp = self._make_temp_folder(".clone-")
        try:
            _copy_folder_files(entry.folder, tmp)
            for att in config.hard_disks:
                source = att.resolve(entry.folder)
                if not _inside(source, entry.folder):
                    check_regular(source)  # /dev/zero would be copied for ever
                    target = _unique_file(tmp, source.name)
                    media_mod.copy_sparse(source, target)
                    att.path = target.name
            atomic_write(tmp / CONFIG_FILE, _dump(config))
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, (OSError, DiskImageError)):
                raise LibraryError(f"cannot clone VM {entry.name!r}: {exc}") from exc
            raise
        folder = self._move_into_place(tmp, new_name)
        return VmEntry(new_name, folder, config, None)

    # ------------------------------------------------------------------ media

    def media(self) -> list[MediaInfo]:
        """Every image referenced by an accessible VM, sorted by path."""
        users: dict[Path, list[str]] = {}
        kinds: dict[Path, MediaKind] = {}
        for entry in self.entries():
            if entry.config is None:
                continue
            cfg = entry.config
            slots: list[tuple[Attachment | None, MediaKind]] = [(cfg.floppy_a, "floppy"),
                                                      (cfg.floppy_b, "floppy")]
            slots += [(att, "hdd") for att in cfg.hard_disks]
            slots.append((cfg.cdrom, "cdrom"))
            for att, kind in slots:
                if att is None:
                    continue
                path = Path(os.path.abspath(att.resolve(entry.folder)))
                kinds.setdefault(path, kind)
                if entry.name not in users.setdefault(path, []):
                    users[path].append(entry.name)
        return [_media_info(path, kinds[path], tuple(names))
                for path, names in sorted(users.items())]


def _media_info(path: Path, kind: MediaKind, used_by: tuple[str, ...]) -> MediaInfo:
    try:
        size = check_regular(path).st_size  # a FIFO or device is never opened
        return MediaInfo(path, size, media_mod.describe(path, kind=kind), used_by)
    except (DiskImageError, OSError) as exc:
        return MediaInfo(path, None, "unusable", used_by, str(exc))


def _rmtree(folder: Path, errors: list[str]) -> None:
    def record(_func: object, path: str, exc: object) -> None:
        errors.append(f"{path}: {exc[1] if isinstance(exc, tuple) else exc}")

    if sys.version_info >= (3, 12):
        shutil.rmtree(folder, onexc=record)
    else:
        shutil.rmtree(folder, onerror=record)


def _sort_key(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
    except ValueError:
        return False
    return True


def _unique_file(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def _copy_folder_files(src: Path, dst: Path) -> None:
    """Copy a VM folder's files (not its config, logs, screenshots, snapshots, try-out
    session or run lock, nor sockets such as a crashed run's control socket, FIFOs or
    devices: only folders, regular files and symbolic links, which stay links)."""
    from vmgui.config.runlock import LOCK_FILE

    skip = {CONFIG_FILE, *SUBFOLDERS, TRYOUT_FOLDER, LOCK_FILE}

    def special(path: Path) -> bool:
        try:
            mode = path.lstat().st_mode
        except OSError:
            return True
        return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == src
        return {n for n in names if n.startswith(".") or (top and n in skip)
                or special(Path(folder, n))}

    shutil.copytree(src, dst, ignore=ignore, copy_function=media_mod.copy_sparse,
                    dirs_exist_ok=True, symlinks=True)
