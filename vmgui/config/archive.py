"""Export a library VM to one archive file and import it back, verified.

Owns: the archive layout (a tar file): ``manifest.json`` first (format, VM name, and for
every other member its size and sha256), then the VM folder's files -- ``vm.toml``, its
disks and overlay chains, ``saved.state``, ``snapshots/`` (tree, layers, state files,
thumbnails) -- and, under ``external/``, images attached from outside the folder (their
overlays are pointed at the imported copies).  Logs, screenshots, a try-out session and
the run lock (:mod:`vmgui.config.runlock`) are left out.

Import never writes into the library before every checksum matched: the archive is
unpacked into a temporary folder outside the library, every member is checked against
the manifest (no missing, extra, linked or escaping member), then the folder is copied
next to the library's VMs under a hidden name and renamed into place in one step.  Only
a regular file is read as an archive.  Export never replaces an existing path unless
forced, and then only a regular file (never a device, FIFO, socket or folder).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from vmgui.config import safefile
from vmgui.config.library import (
    CONFIG_FILE,
    TRYOUT_FOLDER,
    Library,
    LibraryError,
    VmEntry,
    _dump,
    load_config,
    media_problems,
)
from vmgui.config.runlock import LOCK_FILE, pid_alive
from vmgui.config.schema import ConfigError, VmConfig
from vmgui.config.snapshots import (
    MEDIA_SLOTS,
    SNAPSHOT_DIR,
    TREE_FILE,
    SnapshotError,
    Snapshots,
    get_slot,
)
from vmgui.storage import overlay as ov
from vmgui.storage.image import file_kind, open_regular

MANIFEST = "manifest.json"
SNAPSHOT_TREE = f"{SNAPSHOT_DIR}/{TREE_FILE}"
_DRIVES = {0: "floppy A:", 1: "floppy B:", 0x80: "hard disk C:", 0x81: "hard disk D:",
           0xE0: "CD"}
FORMAT = "vmgui-vm-export"
VERSION = 1
MAX_MANIFEST_BYTES = 16 << 20
EXTERNAL = "external"
SKIP_FOLDERS = ("logs", "screenshots", TRYOUT_FOLDER)  # not part of the VM
SKIP_FILES = (LOCK_FILE,)  # in the VM folder: who runs it, not part of the VM
_TMP_MARK = ".vmgui-export-"  # + pid + ".tmp": an export's temporary file
_TMP_NAME = re.compile(r"\A\..+" + re.escape(_TMP_MARK) + r"(\d+)\.tmp\Z")


log = logging.getLogger(__name__)


class ArchiveError(Exception):
    """An archive cannot be written or is refused on import; the message says why."""


def _open_member(path: Path, what: str) -> BinaryIO:
    """A file to archive, open for reading: only a regular file (a FIFO would block the
    export, /dev/zero never end it), checked on the open file."""
    try:
        return os.fdopen(open_regular(path, os.O_RDONLY | getattr(os, "O_BINARY", 0),
                                      what=what), "rb")
    except OSError as exc:
        raise ArchiveError(f"cannot export {path}: {exc.strerror or exc}") from exc


def _sha256(path: Path, what: str) -> tuple[int, str]:
    """(size, sha256) of the file to archive at ``path``."""
    digest, size = hashlib.sha256(), 0
    with _open_member(path, what) as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _vm_files(folder: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        rel_root = Path(root).relative_to(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not (rel_root == Path(".") and d in SKIP_FOLDERS))
        top = rel_root == Path(".")
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".tmp") or (top and name in SKIP_FILES):
                continue
            if os.path.isfile(os.path.join(root, name)):  # no sockets or other specials
                out.append((rel_root / name).as_posix())
    return out


def _externals(folder: Path, config: VmConfig) -> dict[str, Path]:
    """Archive name -> file, for images (and raw bases of snapshot layers) outside the
    VM folder."""
    paths: list[Path] = []
    for slot in MEDIA_SLOTS:
        att = get_slot(config, slot)
        if att is not None:
            paths.append(att.resolve(folder))
    snaps = Snapshots(folder)
    paths += [snaps.resolve(p) for s in snaps.snapshots for p in s.disks.values()]
    out: dict[str, Path] = {}
    seen: set[Path] = set()
    for path in paths:
        path = Path(os.path.abspath(path))
        if path in seen or path.is_relative_to(os.path.abspath(folder)):
            continue
        seen.add(path)
        out[f"{EXTERNAL}/{len(out)}-{path.name}"] = path
    return out


class TargetExistsError(ArchiveError):
    """The export's target exists and ``force`` was not given (only a regular file may
    then be replaced)."""


def export_vm(library: Library, name: str, target: Path, *, force: bool = False) -> Path:
    """Write VM ``name`` (powered off) to the tar file ``target`` (atomically).

    An existing ``target`` is refused (:class:`TargetExistsError`) unless ``force``; even
    then only a regular file (or a link to one: the link is replaced) is replaced, never
    a device, FIFO, socket or folder (:class:`ArchiveError`)."""
    _check_target(Path(target), force)  # before the work: it may take minutes
    entry = library.get(name)
    if entry.config is None:
        raise ArchiveError(f"cannot export VM {entry.name!r}: {entry.error}")
    problems = media_problems(entry.config, entry.folder)  # /dev/zero: for ever
    if problems:
        raise ArchiveError(f"cannot export VM {entry.name!r}: {'; '.join(problems)}")
    members, config_bytes, manifest = _plan(entry)
    _write(Path(target), members, config_bytes, manifest, force)
    return Path(target)


def _check_target(target: Path, force: bool) -> None:
    """Refuse to write the archive over what is at ``target`` (see :func:`export_vm`)."""
    try:
        link = os.lstat(target)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ArchiveError(f"{target}: cannot write ({why})") from None
    what = file_kind(link.st_mode)
    if stat.S_ISLNK(link.st_mode):
        try:
            what = f"symbolic link to a {file_kind(os.stat(target).st_mode)}"
        except OSError:
            what = "symbolic link to nothing"
    if not what.endswith("regular file"):
        raise ArchiveError(f"{target}: is a {what}; an export replaces only a regular "
                           "file, so nothing was written")
    if not force:
        raise TargetExistsError(f"{target}: already exists; not replacing it")


def _place(tmp: Path, target: Path, force: bool) -> None:
    """Move the finished archive ``tmp`` to ``target``: over a regular file only when
    ``force``; otherwise never over anything (a hard link fails if ``target`` appeared
    meanwhile; where links are not supported, a last check then a rename)."""
    if force:
        _check_target(target, force)
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        _check_target(target, force)  # says what is there now
        raise
    except OSError:  # a file system without hard links
        _check_target(target, force)
        os.replace(tmp, target)
        return
    tmp.unlink()


def _plan(entry: VmEntry) -> tuple[dict[str, Path], bytes, dict]:
    """(archive name -> file, the archived vm.toml, the manifest) of a VM to export."""
    folder = entry.folder
    members = {rel: folder / rel for rel in _vm_files(folder)}
    externals = _externals(folder, entry.config)
    members.update(externals)
    config = copy.deepcopy(entry.config)
    for arc, path in externals.items():
        for slot in MEDIA_SLOTS:
            att = get_slot(config, slot)
            if att is not None and Path(os.path.abspath(att.resolve(folder))) == path:
                att.path = arc
    config_bytes = _dump(config)
    manifest = {"format": FORMAT, "version": VERSION, "name": entry.name,
                "external": {arc: str(path) for arc, path in externals.items()},
                "files": {}}
    for rel, path in members.items():
        if rel == CONFIG_FILE:
            manifest["files"][rel] = {"size": len(config_bytes),
                                      "sha256": hashlib.sha256(config_bytes).hexdigest()}
        else:
            size, digest = _sha256(path, "disk" if rel in externals else "file")
            manifest["files"][rel] = {"size": size, "sha256": digest}
    return members, config_bytes, manifest


def _write(target: Path, members: dict[str, Path], config_bytes: bytes,
           manifest: dict, force: bool = False) -> None:
    """The archive, written to a temporary file beside ``target`` (named with this
    process's pid: one a killed export left is deleted by the next export into that
    folder) and renamed into place."""
    _clean_stale_exports(target.parent)
    tmp = target.with_name(f".{target.name}{_TMP_MARK}{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
            for rel, path in members.items():
                if rel == CONFIG_FILE:
                    _add_bytes(tar, rel, config_bytes)
                else:
                    _add_file(tar, rel, path, manifest["files"][rel]["size"])
        _place(tmp, target, force)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise ArchiveError(f"{target}: cannot write ({exc.strerror or exc})") from exc
        raise


def _clean_stale_exports(folder: Path) -> None:
    """Delete the temporary files of exports into ``folder`` whose process is gone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _TMP_NAME.match(name)
        if match is None or int(match.group(1)) == os.getpid() \
                or pid_alive(int(match.group(1))):
            continue
        path = Path(folder, name)
        with contextlib.suppress(OSError):
            if stat.S_ISREG(path.lstat().st_mode):
                path.unlink()
                log.info("deleted %s, left by an export that was killed", path)


def _add_file(tar: tarfile.TarFile, rel: str, path: Path, size: int) -> None:
    """``path``'s contents as the plain file ``rel`` (a link is archived as the file it
    names, so the archive can be imported)."""
    with _open_member(path, "file") as fh:
        info = tar.gettarinfo(arcname=rel, fileobj=fh)
        if info.size != size:
            raise ArchiveError(f"{path} changed while it was being exported; try again")
        tar.addfile(info, fh)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name


def _read_manifest(tar: tarfile.TarFile, source: Path) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
            raise ArchiveError(f"{source}: its {MANIFEST} is not a plain file of at most "
                               f"{MAX_MANIFEST_BYTES} bytes; nothing imported")
        raw = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{source}: damaged archive ({exc}); nothing imported") from exc
    except KeyError as exc:
        raise ArchiveError(f"{source}: not a vmgui VM archive (no {MANIFEST})") from exc
    try:
        manifest = safefile.parse_json(raw)
    except ValueError as exc:
        raise ArchiveError(f"{source}: not a vmgui VM archive ({MANIFEST}: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{source}: not a vmgui VM archive")
    version = manifest.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ArchiveError(f"{source}: damaged {MANIFEST}: the archive version "
                           f"{version!r:.40} is not a version number; nothing imported")
    if version > VERSION:
        raise ArchiveError(f"{source}: archive version {version} is newer than this "
                           f"vmgui reads ({VERSION})")
    problem = _manifest_problem(manifest)
    if problem is not None:
        raise ArchiveError(f"{source}: damaged {MANIFEST}: {problem}; nothing imported")
    return manifest


def _manifest_problem(manifest: dict) -> str | None:
    """What is wrong with the fields of a parsed manifest; None when nothing is."""
    files, external = manifest.get("files"), manifest.get("external", {})
    if not isinstance(files, dict) or CONFIG_FILE not in files:
        return f"it lists no {CONFIG_FILE}"
    for name, want in files.items():
        size = want.get("size") if isinstance(want, dict) else None
        digest = want.get("sha256") if isinstance(want, dict) else None
        if (isinstance(size, bool) or not isinstance(size, int) or size < 0
                or not isinstance(digest, str) or len(digest) != 64):
            return f"files[{safefile.shown(name)}] is not a size and a sha256"
    if not isinstance(manifest.get("name", ""), str):
        return "the VM name is not text"
    if not isinstance(external, dict) or not all(
            isinstance(v, str) and k in files for k, v in external.items()):
        return "external must map archived files to their original paths"
    return None


def _unpack_verified(source: Path, dest: Path) -> dict:
    """Unpack ``source`` into ``dest`` and check every member against the manifest."""
    with open_archive(source) as fh:
        try:
            tar = tarfile.open(fileobj=fh, mode="r:*")
        except (OSError, tarfile.TarError) as exc:
            raise ArchiveError(f"{source}: cannot read the archive ({exc})") from exc
        return _unpack_members(tar, source, dest)


def open_archive(source: Path) -> BinaryIO:
    """The archive file ``source``, open for reading; ArchiveError naming it when it is
    missing or not a regular file ("…: is a FIFO, not an archive file": a FIFO would
    block the import, /dev/zero never end it)."""
    try:
        mode = os.stat(source).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ArchiveError(f"{source}: no such file") from None
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ArchiveError(f"{source}: cannot read the archive ({why})") from None
    if not stat.S_ISREG(mode):
        raise ArchiveError(f"{source}: is a {file_kind(mode)}, not an archive file")
    try:  # regular-only on the open file too: it may have been swapped since the stat
        fd = open_regular(source, os.O_RDONLY | getattr(os, "O_BINARY", 0), what="archive")
    except OSError as exc:
        raise ArchiveError(f"{source}: cannot read the archive "
                           f"({exc.strerror or exc})") from exc
    return os.fdopen(fd, "rb")


def _unpack_members(tar: tarfile.TarFile, source: Path, dest: Path) -> dict:
    """:func:`_unpack_verified`'s work on the opened archive."""
    with tar:
        manifest = _read_manifest(tar, source)
        files: dict = manifest["files"]
        seen = set()
        try:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                if not member.isfile() or not _safe_name(member.name):
                    raise ArchiveError(f"{source}: member {member.name!r} is not a plain "
                                       "file inside the VM folder; refused")
                if PurePosixPath(member.name).parts[0] == TRYOUT_FOLDER:
                    raise ArchiveError(f"{source}: member {member.name!r} belongs to a "
                                       "try-out session, which archives never hold; "
                                       "refused")
                want = files.get(member.name)
                if want is None:
                    raise ArchiveError(f"{source}: member {member.name!r} is not in the "
                                       "manifest; refused")
                if member.size != want["size"]:  # before writing anything of it
                    raise ArchiveError(f"{source}: {member.name} does not have the size "
                                       "the manifest says (damaged archive); nothing "
                                       "imported")
                target = dest / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with tar.extractfile(member) as fin, open(target, "wb") as fout:
                    while chunk := fin.read(1 << 20):
                        digest.update(chunk)
                        fout.write(chunk)
                if digest.hexdigest() != want["sha256"]:
                    raise ArchiveError(f"{source}: {member.name} does not match its checksum "
                                       "in the manifest (damaged archive); nothing imported")
                seen.add(member.name)
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"{source}: damaged archive ({exc}); nothing imported") from exc
    missing = sorted(set(files) - seen)
    if missing:
        raise ArchiveError(f"{source}: {', '.join(missing[:3])} missing from the archive "
                           "(truncated?); nothing imported")
    return manifest


def _fix_external_bases(folder: Path, manifest: dict) -> None:
    """Overlays whose base was an external image now use the imported copy."""
    moved = {os.path.abspath(orig): folder / arc
             for arc, orig in manifest.get("external", {}).items()}
    if not moved:
        return
    for path in folder.rglob("*.cow"):
        if not ov.is_overlay(path):
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            header = ov.read_header(str(path), fd)
        finally:
            os.close(fd)
        base = Path(header.base_path)
        if base.is_absolute() and os.path.abspath(base) in moved:
            ov.rebase(path, moved[os.path.abspath(base)])
    tree = Snapshots(folder)
    changed = False
    for snap in tree.snapshots:
        for slot, stored in snap.disks.items():
            if Path(stored).is_absolute() and os.path.abspath(stored) in moved:
                snap.disks[slot] = moved[os.path.abspath(stored)].relative_to(folder).as_posix()
                changed = True
    if changed:
        tree._write()


def _outside_problem(folder: Path, config: VmConfig) -> str | None:
    """Why the unpacked VM ``folder`` is refused, as the end of one sentence after the
    archive's name: something in it names a file outside it (an archive may bring only
    the VM's own files) -- an image or the serial log in ``vm.toml``, a path in
    ``snapshots.toml``, the base of an overlay -- or its ``snapshots.toml`` cannot be
    read; None when nothing is wrong."""
    outside = ", which is outside the VM folder; refused (nothing imported)"
    for number, att, _kind in config.drive_slots():
        if (why := safefile.escape_problem(att.path)) is not None:
            return (f"its {CONFIG_FILE} attaches {_DRIVES.get(number, 'a drive')} "
                    f"{safefile.shown(att.path)} ({why}){outside}")
    serial = config.serial.path
    if serial and (why := safefile.escape_problem(serial)) is not None:
        return f"its {CONFIG_FILE} logs COM1 to {safefile.shown(serial)} ({why}){outside}"
    try:
        tree = Snapshots(folder)
    except SnapshotError as exc:  # says itself what is wrong (and "refused" if it is)
        reason = _as_archived(exc, folder)
        return f"{reason} (nothing imported)" if reason.endswith("; refused") \
            else f"{reason}; nothing imported"
    problem = _tree_problem(tree) or _overlay_problem(folder)
    return None if problem is None else problem + outside


def _overlay_problem(folder: Path) -> str | None:
    """An overlay in ``folder`` whose base (as its header names it) is outside it."""
    root = os.path.abspath(folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if not ov.is_overlay(path):
            continue
        rel = path.relative_to(folder).as_posix()
        try:
            fd = os.open(path, os.O_RDONLY | ov.BINARY)
            try:
                base = ov.read_header(rel, fd).base_path
            finally:
                os.close(fd)
        except (OSError, ov.OverlayError) as exc:
            return f"{rel} is a damaged snapshot layer ({exc}); it cannot be checked"
        if Path(base).is_absolute():
            return f"the snapshot layer {rel} has its base at {safefile.shown(base)}"
        target = os.path.normpath(os.path.join(os.path.dirname(path), base))
        if os.path.commonpath([root, target]) != root:
            return f"the snapshot layer {rel} has its base at {safefile.shown(base)}"
    return None


def _tree_problem(tree: Snapshots) -> str | None:
    """A snapshot in ``tree`` that names a file by an absolute path (or up with ..)."""
    for snap in tree.snapshots:
        for what, stored in [("state", snap.state), ("thumbnail", snap.thumbnail),
                             *((f"{slot} layer", p) for slot, p in snap.disks.items())]:
            if stored and (why := safefile.escape_problem(stored)) is not None:
                return (f"{SNAPSHOT_TREE}: snapshot {snap.name!r:.40} names its {what} "
                        f"{safefile.shown(stored)} ({why})")
    return None


def _as_archived(exc: Exception, staging: Path) -> str:
    """``exc``'s message with the staging folder's paths shown as in the archive."""
    return str(exc).replace(f"{staging}{os.sep}", "")


def _staged_config(staging: Path, source: Path, name: str) -> tuple[VmConfig, str]:
    """The unpacked ``vm.toml``, read, checked and renamed ``name`` (written back), and
    the name it had in the archive."""
    path = staging / CONFIG_FILE
    try:
        config, archived_name = _read_archived_config(path, name)
    except ConfigError as exc:  # named as in the archive, not by the staging path
        reason = str(exc).replace(str(path), f"its {CONFIG_FILE}")
        raise ArchiveError(f"{source}: {reason}; nothing imported") from exc
    path.write_bytes(_dump(config))
    return config, archived_name


def _read_archived_config(path: Path, name: str) -> tuple[VmConfig, str]:
    """:func:`~vmgui.config.library.read_config` renaming the VM ``name`` without a word
    (that one logs a warning when the folder's name differs from the file's): nothing is
    said about the name before the import is done.  Returns the config and the name the
    file gave."""
    config = load_config(path)
    archived_name, config.name = config.name, name
    problems = config.validate()
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return config, archived_name


def import_vm(library: Library, source: Path, new_name: str | None = None) -> VmEntry:
    """Add the VM in archive ``source`` to ``library`` (as ``new_name`` if given).

    Refuses (ArchiveError / LibraryError, library untouched) a damaged archive, any
    checksum mismatch, or a name already in the library."""
    source = Path(source)
    with tempfile.TemporaryDirectory(prefix="vmgui-import-") as tmpdir:
        staging = Path(tmpdir) / "vm"
        staging.mkdir()
        manifest = _unpack_verified(source, staging)
        name = new_name or str(manifest.get("name", ""))
        library._check_new_name(name)
        staging = staging.rename(staging.with_name(name))
        config, archived_name = _staged_config(staging, source, name)
        try:
            _fix_external_bases(staging, manifest)
        except SnapshotError as exc:
            raise ArchiveError(f"{source}: {_as_archived(exc, staging)}; nothing "
                               "imported") from exc
        except (OSError, ov.OverlayError) as exc:
            raise ArchiveError(f"{source}: cannot re-link external images ({exc})") from exc
        problem = _outside_problem(staging, config)
        if problem is not None:
            raise ArchiveError(f"{source}: {problem}")
        tmp = library._make_temp_folder(".import-")
        try:
            shutil.copytree(staging, tmp, dirs_exist_ok=True)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise LibraryError(f"cannot import into {library.root}: {exc}") from exc
            raise
    folder = library._move_into_place(tmp, name)
    if archived_name != name:  # said once it is done, not for a refused import
        log.info("%s: imported VM %r as %r", source, archived_name, name)
    return VmEntry(name, folder, config, None)
