"""A VM's snapshot tree, its saved state and flattened copies of its disks.

Owns: ``<folder>/snapshots/snapshots.toml`` (the tree: id, name, description, created,
parent, frozen disk layer per drive slot, state file, thumbnail; and the current-state
pointer), :class:`Snapshots` (take / restore / delete / list for a powered-off VM),
``<folder>/saved.state`` (:func:`saved_state_path`).  :func:`flatten` (an overlay chain
to a raw image), :func:`clone_vm` (a full, flattened copy, optionally at a snapshot) and
:func:`read_disk` live in :mod:`vmgui.config.snapshot_disks` and are re-exported here.
Try-out sessions, and keeping their changes as snapshots, are :mod:`vmgui.config.tryout`'s.

Disks follow snapshots through copy-on-write overlays (``docs/overlay-format.md``); the
rules (who points at what, merge direction on delete, crash ordering) are in
``docs/snapshots.md``.  ``vm.toml`` always names the *current* top layer of each drive,
so a VM runs the same way with or without snapshots.

Thread rules: one caller at a time, VM powered off (nothing here locks the files).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import os
import secrets
import shutil
import uuid as uuid_mod
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from vmgui.config import litter, safefile
from vmgui.config.library import (
    CONFIG_FILE,
    Library,
    atomic_write,
    media_problems,
    read_config,
)
from vmgui.config.schema import Attachment, VmConfig
from vmgui.storage import overlay as ov

log = logging.getLogger(__name__)

SNAPSHOT_DIR = "snapshots"
TREE_FILE = "snapshots.toml"
SAVED_STATE = "saved.state"
FORMAT_VERSION = 1
SLOTS = ("floppy_a", "floppy_b", "hdd0", "hdd1")  # drives that can have snapshot layers
MEDIA_SLOTS = (*SLOTS, "cdrom")  # every attachment (the CD is read-only: never layered)
DRIVE_SLOTS = {0: "floppy_a", 1: "floppy_b", 0x80: "hdd0", 0x81: "hdd1",
               0xE0: "cdrom"}  # BIOS number
COPY_CHUNK = 1 << 20
MAX_TREE_BYTES = 16 << 20  # about 40,000 snapshots


class SnapshotError(Exception):
    """A snapshot operation cannot be done; the message says why (nothing was changed)."""


def saved_state_path(folder: Path) -> Path:
    """Where a VM's saved state ("save the state and power off") lives."""
    return Path(folder) / SAVED_STATE


def settle_resume(name: str, path: Path, error: str | None) -> bool:
    """After the VM ``name`` was sent ``LoadState(path)`` and answered ``error``: a state
    that loaded is deleted (as VirtualBox does); one that did not is kept and the reason
    logged (the VM booted afresh).  True when it resumed."""
    if error is None:
        Path(path).unlink(missing_ok=True)
        log.info("%s resumed from its saved state", name)
        return True
    log.warning("%s: saved state not loaded (%s); it booted afresh and the file is kept",
                name, error)
    return False


@dataclass
class Snapshot:
    id: str
    name: str
    description: str = ""
    created: str = ""
    parent: str = ""  # "" = a root
    disks: dict[str, str] = field(default_factory=dict)  # slot -> frozen layer (folder-rel.)
    state: str = ""  # folder-relative machine state file, "" if taken powered off
    thumbnail: str = ""  # folder-relative PNG, "" if none

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "description": self.description,
                "created": self.created, "parent": self.parent, "disks": dict(self.disks),
                "state": self.state, "thumbnail": self.thumbnail}


@dataclass
class TreeNode:
    snapshot: Snapshot
    depth: int
    is_current: bool


# ---------------------------------------------------------------------- slots
def get_slot(config: VmConfig, slot: str) -> Attachment | None:
    if slot.startswith("hdd"):
        i = int(slot[3:])
        return config.hard_disks[i] if i < len(config.hard_disks) else None
    return getattr(config, slot)


def set_slot(config: VmConfig, slot: str, path: str) -> None:
    att = get_slot(config, slot)
    if att is not None:
        att.path = path
    elif slot.startswith("hdd"):
        while len(config.hard_disks) <= int(slot[3:]):
            config.hard_disks.append(Attachment(path))
    else:
        setattr(config, slot, Attachment(path))


def writable_slots(config: VmConfig) -> list[tuple[str, Attachment]]:
    """The drive slots that follow snapshots: every attached, writable image."""
    out = []
    for slot in SLOTS:
        att = get_slot(config, slot)
        if att is not None and not att.read_only:
            out.append((slot, att))
    return out


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.tmp")
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stored_problem(stored: str, own: bool) -> str | None:
    """Why a path in ``snapshots.toml`` is refused: one the OS cannot use, a relative one
    that leads out of the VM folder, or for a file the snapshot owns (its state and
    thumbnail, deleted with it) any path not inside the folder.  A frozen disk layer
    may be absolute: an image the user attached from elsewhere."""
    why = safefile.path_problem(stored)
    if why is None and (own or not Path(stored).is_absolute()):
        why = safefile.escape_problem(stored)
        if why is not None:
            why = f"{why}: not inside the VM folder"
    return why


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- the tree
class Snapshots:
    """The snapshot tree of the VM in ``folder`` (powered off)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.dir = self.folder / SNAPSHOT_DIR
        self.path = self.dir / TREE_FILE
        self.snapshots: list[Snapshot] = []
        self.current_id = ""
        self._load()

    # ------------------------------------------------------------------ file
    def _load(self) -> None:
        try:
            data = safefile.parse_toml(safefile.read_small(self.path, MAX_TREE_BYTES))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise SnapshotError(f"{self.path}: cannot read ({exc.strerror or exc})") from exc
        except ValueError as exc:
            raise SnapshotError(f"{self.path}: {exc}") from None
        version = data.get("version", 0)
        if isinstance(version, bool) or not isinstance(version, int) \
                or version > FORMAT_VERSION:
            raise SnapshotError(f"{self.path}: format version {version!r} is newer than "
                                f"this vmgui reads ({FORMAT_VERSION})")
        entries = data.get("snapshot", [])
        if not isinstance(data.get("current", ""), str) or not isinstance(entries, list):
            raise SnapshotError(f"{self.path}: damaged (current must be text, snapshot a "
                                "list of tables)")
        self.current_id = data.get("current", "")
        self.snapshots = [self._parse(i, d) for i, d in enumerate(entries)]

    def _parse(self, index: int, d: object) -> Snapshot:
        """One ``[[snapshot]]`` table, every field checked (SnapshotError naming it)."""
        where = f"{self.path}: snapshot {index + 1}"
        if not isinstance(d, dict):
            raise SnapshotError(f"{where} is not a table")
        text = {}
        for key in ("id", "name", "description", "created", "parent", "state", "thumbnail"):
            value = d.get(key, None if key in ("id", "name") else "")
            if not isinstance(value, str):
                raise SnapshotError(f"{where}: {key} must be text, not {value!r:.80}")
            text[key] = value
        disks = d.get("disks", {})
        if not isinstance(disks, dict) or not all(
                k in SLOTS and isinstance(v, str) for k, v in disks.items()):
            raise SnapshotError(f"{where}: disks must map drive slots "
                                f"({', '.join(SLOTS)}) to file paths")
        for what, stored, own in ([("state", text["state"], True),
                                   ("thumbnail", text["thumbnail"], True)]
                                  + [(f"{k} layer", v, False) for k, v in disks.items()]):
            why = _stored_problem(stored, own)
            if stored and why:
                raise SnapshotError(f"{where} ({text['name']!r:.40}): {what} path "
                                    f"{safefile.shown(stored)} {why}; refused")
        return Snapshot(disks=dict(disks), **text)

    def _write(self) -> None:
        self.dir.mkdir(exist_ok=True)
        data = {"version": FORMAT_VERSION, "current": self.current_id,
                "snapshot": [s.to_dict() for s in self.snapshots]}
        atomic_write(self.path, tomli_w.dumps(data).encode("utf-8"))

    def _config(self) -> VmConfig:
        return read_config(self.folder / CONFIG_FILE)

    def _save_config(self, config: VmConfig) -> None:
        Library(self.folder.parent).save(config, self.folder)

    def _rel(self, path: Path) -> str:
        """``path`` relative to the VM folder (posix) when inside it, else absolute."""
        try:
            return Path(os.path.abspath(path)).relative_to(
                os.path.abspath(self.folder)).as_posix()
        except ValueError:
            return str(os.path.abspath(path))

    def resolve(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.folder / p

    def _layer_path(self, slot: str) -> Path:
        # in the VM folder itself, beside its disks: an overlay stores its base's path
        # relative only when the base is in its folder or below (docs/overlay-format.md),
        # so the VM folder can then be renamed, moved or archived whole
        return self.folder / f"{secrets.token_hex(8)}-{slot}.cow"

    def referenced(self) -> set[Path]:
        """Every file the VM's state refers to (absolute): ``vm.toml``'s images, the
        tree's layers, states and thumbnails, and the overlay chains below them."""
        files = {a.resolve(self.folder) for _n, a, _k in self._config().drive_slots()}
        files |= {self.resolve(p) for s in self.snapshots
                  for p in (*s.disks.values(), s.state, s.thumbnail) if p}
        return litter.with_chains(files)

    def _clean_up(self) -> None:
        """Before changing anything: delete what a killed operation left."""
        litter.sweep(self.folder, self.referenced)

    # ------------------------------------------------------------------ reading
    @property
    def current(self) -> Snapshot | None:
        """The snapshot the current state grows from (None: no snapshots)."""
        return self._by_id(self.current_id) if self.current_id else None

    def _by_id(self, sid: str) -> Snapshot | None:
        return next((s for s in self.snapshots if s.id == sid), None)

    def get(self, id_or_name: str) -> Snapshot:
        """By id, id prefix (4+ characters) or name (case-insensitive)."""
        key = str(id_or_name)
        for match in (lambda s: s.id == key, lambda s: s.name == key,
                      lambda s: s.name.casefold() == key.casefold(),
                      lambda s: len(key) >= 4 and s.id.startswith(key)):
            found = [s for s in self.snapshots if match(s)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise SnapshotError(f"{key!r} names {len(found)} snapshots; use an id")
        raise SnapshotError(f"no snapshot {key!r} (see 'vmgui snapshot NAME list')")

    def children(self, snap: Snapshot | None) -> list[Snapshot]:
        pid = snap.id if snap else ""
        return [s for s in self.snapshots if s.parent == pid]

    def list(self) -> list[TreeNode]:
        """The tree depth-first (oldest child first), the current snapshot marked."""
        out: list[TreeNode] = []

        def walk(parent: Snapshot | None, depth: int) -> None:
            for s in sorted(self.children(parent), key=lambda s: s.created):
                out.append(TreeNode(s, depth, s.id == self.current_id))
                walk(s, depth + 1)

        walk(None, 0)
        return out

    def in_use(self) -> set[Path]:
        """Every layer file a snapshot references (resolved)."""
        return {Path(os.path.abspath(self.resolve(p)))
                for s in self.snapshots for p in s.disks.values()}

    # ------------------------------------------------------------------ take
    def new_layer_paths(self) -> dict[str, Path]:
        """Names for the layers a running VM creates itself when a live snapshot freezes
        its disks (slot -> path); pass them to :meth:`take` as ``created_layers``."""
        return {slot: self._layer_path(slot) for slot, _att in writable_slots(self._config())}

    def take(self, name: str, description: str = "", *, state_from: Path | None = None,
             thumbnail: Path | None = None, state_file: Path | None = None,
             created_layers: dict[str, Path] | None = None) -> Snapshot:
        """Freeze the current disk layers under a new snapshot and put an empty overlay
        on top of each writable drive (``vm.toml`` then names those).  The machine state
        comes from ``state_from`` (``state_file`` is the same), else from the VM's
        ``saved.state`` if it has one, else the snapshot is of a powered-off machine."""
        name = name.strip()
        if not name:
            raise SnapshotError("a snapshot needs a name")
        if any(s.name.casefold() == name.casefold() for s in self.snapshots):
            raise SnapshotError(f"a snapshot called {name!r} already exists")
        state_from = state_from or state_file
        if state_from is None and saved_state_path(self.folder).exists():
            state_from = saved_state_path(self.folder)
        for label, src in (("state file", state_from), ("thumbnail", thumbnail)):
            if src is not None and not Path(src).is_file():
                raise SnapshotError(f"{label} {src}: no such file")
        config = self._config()
        problems = media_problems(config, self.folder)  # a FIFO would block the take
        if problems:
            raise SnapshotError(f"cannot take a snapshot: {'; '.join(problems)}")
        self._clean_up()
        snap = Snapshot(id=str(uuid_mod.uuid4()), name=name, description=description,
                        created=_now(), parent=self.current_id)
        layers = created_layers if created_layers is not None else {
            slot: self._layer_path(slot) for slot, _att in writable_slots(config)}
        extras = [self.dir / f"{snap.id}.state", self.dir / f"{snap.id}.png"]
        with litter.pending(self.folder, [*layers.values(), *extras]):
            self._take(snap, config, layers, state_from, thumbnail, created_layers)
        log.info("%s: took snapshot %r (%s)", self.folder.name, name, snap.id)
        return snap

    def _take(self, snap: Snapshot, config: VmConfig, layers: dict[str, Path],
              state_from: Path | None, thumbnail: Path | None,
              created_layers: dict[str, Path] | None) -> None:
        new_config = copy.deepcopy(config)
        made: list[Path] = []
        config_written = False
        try:
            for slot, att in writable_slots(config):
                top = att.resolve(self.folder)
                layer = layers[slot]
                if created_layers is not None:
                    # a running VM already froze ``top`` and continues on this layer
                    with ov.Overlay.open(layer, read_only=True) as check:
                        below = Path(check.chain()[1]).resolve()
                    if below != top.resolve():
                        raise SnapshotError(f"{layer.name} is not a layer over {top.name}")
                else:
                    ov.Overlay.create(layer, top).close()
                made.append(layer)
                snap.disks[slot] = self._rel(top)
                set_slot(new_config, slot, self._rel(layer))
            if state_from is not None:
                target = self.dir / f"{snap.id}.state"
                _copy_atomic(Path(state_from), target)
                made.append(target)
                snap.state = self._rel(target)
            if thumbnail is not None:
                target = self.dir / f"{snap.id}.png"
                _copy_atomic(Path(thumbnail), target)
                made.append(target)
                snap.thumbnail = self._rel(target)
            self._save_config(new_config)
            config_written = True
            self.snapshots.append(snap)
            self.current_id = snap.id
            self._write()
        except BaseException:
            self._undo(config if config_written else None, made, snap)
            raise

    def _undo(self, config: VmConfig | None, made: list[Path], snap: Snapshot) -> None:
        """Roll back a failed take/restore: the old vm.toml, the tree, new files."""
        if config is not None:
            with contextlib.suppress(Exception):
                self._save_config(config)
        if snap in self.snapshots:
            self.snapshots.remove(snap)
        self.snapshots.clear()
        self.current_id = ""
        with contextlib.suppress(SnapshotError):
            self._load()
        for path in made:
            with contextlib.suppress(OSError):
                path.unlink()

    # ------------------------------------------------------------------ restore
    def restore(self, id_or_name: str) -> Snapshot:
        """Go back to a snapshot: each of its frozen layers gets a new empty overlay that
        ``vm.toml`` then names; the old top layers (changes since the last snapshot) are
        discarded.  Its machine state, if any, becomes the VM's ``saved.state`` (else a
        saved state of the discarded current state is deleted)."""
        snap = self.get(id_or_name)
        for slot, stored in snap.disks.items():
            if not self.resolve(stored).is_file():
                raise SnapshotError(f"snapshot {snap.name!r}: its {slot} layer "
                                    f"{self.resolve(stored)} is missing")
        if snap.state and not self.resolve(snap.state).is_file():
            raise SnapshotError(f"snapshot {snap.name!r}: its state file is missing")
        config = self._config()
        self._clean_up()
        old_tops = [att.resolve(self.folder) for slot in snap.disks
                    if (att := get_slot(config, slot)) is not None]
        layers = {slot: self._layer_path(slot) for slot in snap.disks}
        doomed = [p for p in old_tops if self._discardable(p)]
        with litter.pending(self.folder, [*layers.values(), *doomed]):
            self._restore(snap, config, layers)
            self._discard_unused(old_tops)
        log.info("%s: restored snapshot %r", self.folder.name, snap.name)
        return snap

    def _restore(self, snap: Snapshot, config: VmConfig, layers: dict[str, Path]) -> None:
        new_config = copy.deepcopy(config)
        made: list[Path] = []
        saved = saved_state_path(self.folder)
        staged = saved.with_name(f".{saved.name}.restore.tmp")
        config_written = False
        try:
            for slot, stored in snap.disks.items():
                layer = layers[slot]
                ov.Overlay.create(layer, self.resolve(stored)).close()
                made.append(layer)
                set_slot(new_config, slot, self._rel(layer))
            if snap.state:
                _copy_atomic(self.resolve(snap.state), staged)
                made.append(staged)
            self._save_config(new_config)
            config_written = True
            self.current_id = snap.id
            self._write()
        except BaseException:
            self._undo(config if config_written else None, made, Snapshot("", ""))
            raise
        if snap.state:
            os.replace(staged, saved)
        else:
            saved.unlink(missing_ok=True)

    def _discardable(self, path: Path) -> bool:
        """A layer file vmgui may delete once unused: an overlay in the VM folder itself
        (never an image the user attached, nor anything elsewhere)."""
        path = Path(os.path.abspath(path))
        return path.parent == Path(os.path.abspath(self.folder)) and ov.is_overlay(path)

    def _discard_unused(self, paths: list[Path]) -> None:
        """Delete layer files in the VM folder that nothing references any more."""
        used = self.in_use()
        with contextlib.suppress(Exception):
            config = self._config()
            used |= {Path(os.path.abspath(a.resolve(self.folder)))
                     for _s, a in writable_slots(config)}
        for path in paths:
            path = Path(os.path.abspath(path))
            if path in used or not self._discardable(path):
                continue
            try:
                ov.discard(path)
            except (OSError, ov.OverlayError) as exc:
                log.warning("could not delete unused layer %s: %s", path, exc)

    # ------------------------------------------------------------------ delete
    def delete(self, id_or_name: str) -> None:
        """Remove a snapshot, keeping every other snapshot's and the current state's disk
        contents: its only child layer (a child snapshot's, or the current state's) is
        merged down into its frozen layer, which then serves the child.  A snapshot with
        more than one child (counting the current state) is refused, as in VirtualBox."""
        snap = self.get(id_or_name)
        kids = self.children(snap)
        is_current = self.current_id == snap.id
        if len(kids) + is_current > 1:
            names = [repr(k.name) for k in kids] + (["the current state"] if is_current else [])
            raise SnapshotError(f"snapshot {snap.name!r} has {len(names)} children "
                                f"({', '.join(names)}); delete or restore past all but one "
                                "of them first")
        config = self._config()
        self._clean_up()
        new_config = copy.deepcopy(config)
        doomed: list[Path] = []
        for slot, stored in snap.disks.items():
            layer = self.resolve(stored)
            if kids:
                child_path = kids[0].disks.get(slot)
                if child_path is None:
                    continue
                dependent = self.resolve(child_path)
                grand = [self.resolve(g.disks[slot]) for g in self.children(kids[0])
                         if slot in g.disks]
                if self.current_id == kids[0].id and get_slot(config, slot) is not None:
                    grand.append(get_slot(config, slot).resolve(self.folder))
            elif is_current:
                att = get_slot(config, slot)
                if att is None:
                    continue
                dependent, grand = att.resolve(self.folder), []
            else:  # a leaf: its layer only served itself
                doomed.append(layer)
                continue
            ov.merge_into_base(dependent, remove=False)
            for g in grand:
                ov.rebase(g, layer)
            if kids:
                kids[0].disks[slot] = stored
            else:
                set_slot(new_config, slot, stored)
            doomed.append(dependent)
        extras = [self.resolve(p) for p in (snap.state, snap.thumbnail) if p]
        unused = [p for p in doomed if self._discardable(p)] + extras  # once committed
        with litter.pending(self.folder, unused):
            if not kids and is_current:
                self._save_config(new_config)
            for kid in kids:
                kid.parent = snap.parent
            if is_current:
                self.current_id = snap.parent
            self.snapshots.remove(snap)
            self._write()
            self._discard_unused(doomed)
            for extra in extras:
                extra.unlink(missing_ok=True)
        log.info("%s: deleted snapshot %r", self.folder.name, snap.name)

    # ------------------------------------------------------------------ reading disks
    def layers(self, id_or_name: str | None = None) -> dict[str, Path]:
        """Slot -> top layer of a snapshot (None: the current state's)."""
        if id_or_name is None:
            return {slot: att.resolve(self.folder) for slot, att in
                    writable_slots(self._config())}
        snap = self.get(id_or_name)
        return {slot: self.resolve(p) for slot, p in snap.disks.items()}


def clean_leftovers(folder: Path) -> list[Path]:
    """Delete what killed snapshot operations and atomic writes left in the VM folder
    (:mod:`vmgui.config.litter`); the caller holds the VM's run lock.  Nothing when the
    VM's files cannot be read (then what is in use is unknown)."""
    try:
        tree = Snapshots(folder)
    except SnapshotError as exc:
        log.debug("%s: no clean-up (%s)", folder, exc)
        return []
    return litter.sweep(Path(folder), tree.referenced)


def __getattr__(name: str):
    """The flat-copy functions, moved to :mod:`vmgui.config.snapshot_disks` (imported on
    first use: that module imports this one)."""
    if name in ("read_disk", "flatten", "clone_vm"):
        from vmgui.config import snapshot_disks

        return getattr(snapshot_disks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
