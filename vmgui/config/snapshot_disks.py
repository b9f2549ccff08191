"""Flat copies of a VM's disks: reading, flattening and full clones.

Owns: :func:`read_disk` (the whole virtual disk an image or overlay chain shows),
:func:`flatten` (an overlay chain, or a raw image, to a sparse raw image) and
:func:`clone_vm` (a full copy of a VM, each writable disk flattened at its current state
or at a snapshot, with that point's saved state).  Split out of
:mod:`vmgui.config.snapshots` (the snapshot tree), which re-exports these names, so
``from vmgui.config.snapshots import clone_vm`` keeps working.

Thread rules: one caller at a time, VM powered off (nothing here locks the files).
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

from vmgui.config.library import (
    CONFIG_FILE,
    Library,
    LibraryError,
    VmEntry,
    _dump,
    atomic_write,
    check_media,
)
from vmgui.config.schema import VmConfig
from vmgui.config.snapshots import (
    COPY_CHUNK,
    MEDIA_SLOTS,
    SAVED_STATE,
    Snapshots,
    get_slot,
    saved_state_path,
    set_slot,
)
from vmgui.storage import overlay as ov

__all__ = ["clone_vm", "flatten", "read_disk"]


def read_disk(path: Path) -> bytes:
    """The whole virtual disk an image or overlay chain shows (small disks; tests)."""
    if ov.must_be_overlay(path):
        with ov.Overlay.open(path, read_only=True) as o:
            return o.read(0, o.size)
    return Path(path).read_bytes()


def flatten(src: Path, dst: Path) -> None:
    """Write the disk ``src`` (a raw image or an overlay chain) as a raw image ``dst``
    (sparse where zero; refuses to overwrite)."""
    src, dst = Path(src), Path(dst)
    if not ov.must_be_overlay(src):  # a damaged layer is refused, not copied as raw
        from vmgui.storage.media import copy_sparse
        copy_sparse(src, dst)
        return
    with ov.Overlay.open(src, read_only=True) as o, open(dst, "xb") as out:
        zero = bytes(COPY_CHUNK)
        for off in range(0, o.size, COPY_CHUNK):
            chunk = o.read(off, min(COPY_CHUNK, o.size - off))
            if chunk == zero[: len(chunk)]:
                out.seek(len(chunk), os.SEEK_CUR)
            else:
                out.write(chunk)
        out.truncate(o.size)
        out.flush()
        os.fsync(out.fileno())


def _bottom_name(path: Path) -> str:
    """The file name of the raw image at the bottom of a chain (what a flat copy is
    called)."""
    if ov.must_be_overlay(path):
        with ov.Overlay.open(path, read_only=True) as o:
            return o.chain()[-1].name
    return path.name


def clone_vm(library: Library, name: str, new_name: str,
             snapshot: str | None = None) -> VmEntry:
    """A full copy of VM ``name`` as ``new_name`` (new uuid, no snapshots), each writable
    disk flattened at ``snapshot`` (default: the current state) into the new folder; the
    saved state of that point comes along.  Read-only media stay shared."""
    entry = library.get(name)
    if entry.config is None:
        raise LibraryError(f"cannot clone VM {entry.name!r}: {entry.error}")
    library._check_new_name(new_name)
    check_media(entry, "clone")
    snaps = Snapshots(entry.folder)
    layers = snaps.layers(snapshot)
    state = saved_state_path(entry.folder)
    if snapshot is not None:
        snap = snaps.get(snapshot)
        state = snaps.resolve(snap.state) if snap.state else None
    config = copy.deepcopy(entry.config)
    config.name, config.uuid = new_name, VmConfig(new_name).uuid
    tmp = library._make_temp_folder(".clone-")
    try:
        used: set[str] = set()
        for slot, top in layers.items():
            base = _bottom_name(top)
            stem, suffix, n = Path(base).stem, Path(base).suffix, 1
            while base.casefold() in used:
                base, n = f"{stem}-{n}{suffix}", n + 1
            used.add(base.casefold())
            flatten(top, tmp / base)
            set_slot(config, slot, base)
        for slot in MEDIA_SLOTS:  # read-only media: absolute path to the shared file
            att = get_slot(config, slot)
            if att is not None and att.read_only:
                att.path = str(os.path.abspath(att.resolve(entry.folder)))
        if state is not None and state.is_file():
            shutil.copyfile(state, tmp / SAVED_STATE)
        atomic_write(tmp / CONFIG_FILE, _dump(config))
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError | ov.OverlayError):
            raise LibraryError(f"cannot clone VM {entry.name!r}: {exc}") from exc
        raise
    folder = library._move_into_place(tmp, new_name)
    return VmEntry(new_name, folder, config, None)
