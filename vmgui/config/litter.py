"""What killed operations leave in a VM folder, and cleaning it up.

Owns: the pending-files journal ``snapshots/.pending.json`` (:func:`pending`): before a
snapshot operation creates files (new layers, a state copy, a thumbnail) or makes some
unused (the layers a restore discards, those a delete merges away), it lists them
there, and removes the list when it ends, whichever way.  A list found later means the
operation was killed; :func:`sweep` then deletes the listed files that nothing refers
to -- the caller says what is referred to (``vm.toml``'s images, the snapshot tree's
files and, found here, the overlay chains below them) -- and hidden temporary files
(``.*.tmp``, left by atomic writes) older than :data:`STALE_TMP_S`.  A file still
referred to is never deleted, so the sweep is right whether the operation died before
or after it committed.

Only regular files inside the VM folder (not through links) are ever deleted.  The
caller must make sure no other process works on the folder: it holds the VM's run
lock (:mod:`vmgui.config.runlock`), or it is a snapshot operation, whose own rules
already demand that.

Thread rules: none; nothing here keeps state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from vmgui.config import safefile
from vmgui.config.library import atomic_write
from vmgui.storage import overlay as ov

log = logging.getLogger(__name__)

PENDING = "snapshots/.pending.json"
STALE_TMP_S = 60.0  # an atomic write in progress is younger than this
TMP_FOLDERS = ("", "snapshots")  # where atomic writes leave their temporary files
MAX_CHAIN = 64


@contextlib.contextmanager
def pending(folder: Path, paths: Iterable[Path]) -> Iterator[None]:
    """List ``paths`` (files inside ``folder``) as pending while the block runs; the list
    is removed when the block ends, normally or by an exception (whose handler has then
    undone what it made).  Only a kill leaves it, for :func:`sweep`."""
    folder = Path(folder)
    names = [Path(os.path.relpath(p, folder)).as_posix() for p in paths]
    journal = folder / PENDING
    journal.parent.mkdir(exist_ok=True)
    atomic_write(journal, json.dumps({"pending": names}, indent=1).encode("utf-8"))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            journal.unlink()


def sweep(folder: Path, referenced: Callable[[], set[Path]]) -> list[Path]:
    """Delete what killed operations left in ``folder``: the files a pending list names
    that ``referenced()`` (absolute paths) does not contain, then the list; and stale
    temporary files.  ``referenced`` raising leaves the list for a later sweep.  Returns
    the files deleted (each logged)."""
    folder = Path(folder)
    removed = _sweep_pending(folder, referenced)
    now = time.time()
    for sub in TMP_FOLDERS:
        try:
            entries = list(os.scandir(folder / sub))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(".tmp") and _stale(
                    entry, now) and _unlink(Path(entry.path)):
                removed.append(Path(entry.path))
    for path in removed:
        log.info("%s: deleted %s, left by an operation that was killed", folder.name,
                 path.relative_to(folder))
    return removed


def _sweep_pending(folder: Path, referenced: Callable[[], set[Path]]) -> list[Path]:
    journal = folder / PENDING
    try:
        names = safefile.parse_json(safefile.read_small(journal, 1 << 20, follow=False))
        names = names.get("pending") if isinstance(names, dict) else None
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("%s: ignoring a damaged list of pending files (%s)", journal, exc)
        names = None
    removed = []
    if isinstance(names, list):
        try:
            used = referenced()
        except Exception as exc:  # noqa: BLE001 - unsure what is used: delete nothing
            log.warning("%s: not cleaning up after a killed operation now (%s)",
                        folder.name, exc)
            return []
        for name in names:
            if not isinstance(name, str) or safefile.path_problem(name) \
                    or safefile.escape_problem(name):
                continue
            path = Path(os.path.abspath(folder / name))
            if path not in used and _unlink(path):
                removed.append(path)
    with contextlib.suppress(OSError):
        journal.unlink()
    return removed


def _stale(entry: os.DirEntry, now: float) -> bool:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and now - st.st_mtime > STALE_TMP_S


def _unlink(path: Path) -> bool:
    """Delete ``path`` if it is a regular file (not a link, not a folder)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        os.unlink(path)
    except OSError:
        return False
    return True


def with_chains(paths: Iterable[Path]) -> set[Path]:
    """``paths`` (absolute) and every file below them in their overlay chains, as the
    overlays' headers name them (damaged headers end a chain)."""
    out: set[Path] = set()
    for path in paths:
        path = Path(os.path.abspath(path))
        for _depth in range(MAX_CHAIN):
            if path in out:
                break
            out.add(path)
            below = _base_of(path)
            if below is None:
                break
            path = below
    return out


def _base_of(path: Path) -> Path | None:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) or not ov.is_overlay(path):
            return None
        fd = os.open(path, os.O_RDONLY | ov.BINARY)
        try:
            stored = ov.read_header(str(path), fd).base_path
        finally:
            os.close(fd)
    except (OSError, ValueError, ov.OverlayError):
        return None
    base = Path(stored)
    return Path(os.path.abspath(base if base.is_absolute() else path.parent / base))
