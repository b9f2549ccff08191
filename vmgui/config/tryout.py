"""Try-out sessions: throw-away disk overlays that survive a crash of whoever ran them.

Owns: a library VM's session folder ``<vm folder>/tryout/`` (:func:`begin_tryout`,
:func:`end_tryout`) with its overlays ``tryout-<drive number>.cow`` (made by
``VmConfig.open_drives(..., tryout_dir=)``), its ``owner`` file (the pid of the process
using the session, with a start token against pid reuse) and its ``keep.json`` journal;
:func:`keep_tryout` (the session's changes kept as a "before" and an "after" snapshot,
resumable after a kill at any point); :func:`recover_tryout` (what a session that did not
end cleanly left: finished keeping when a journal says the user chose to keep, else
discarded); and the temporary folders of bare images run with ``vmgui run IMAGE --tryout``
(``<tmp>/vmgui-tryout-<pid>-*``: :func:`make_temp_session`,
:func:`clean_stale_temp_sessions`).  The rules are in ``docs/snapshots.md``, "Try-out mode
and crashes".

The owner file exists only while a process uses the session (runs the VM on it, or keeps
its changes): a folder whose owner is alive -- this process included -- is never
touched; one without a live owner is a leftover.  A journal is written (atomically)
before keeping changes anything and names the step reached; only a finished keep removes
it, last, so a leftover with a journal is always kept, never discarded.

Thread rules: one caller at a time per VM, the VM powered off (nothing here locks files).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path

from vmgui.config import safefile
from vmgui.config.library import (
    CONFIG_FILE,
    TRYOUT_FOLDER,
    LibraryError,
    atomic_write,
    read_config,
)
from vmgui.config.runlock import pid_alive, process_token
from vmgui.config.snapshots import (
    DRIVE_SLOTS,
    SLOTS,
    Snapshot,
    SnapshotError,
    Snapshots,
    saved_state_path,
    writable_slots,
)
from vmgui.storage import overlay as ov

log = logging.getLogger(__name__)

OWNER_FILE = "owner"
JOURNAL_FILE = "keep.json"
JOURNAL_VERSION = 1
TEMP_PREFIX = "vmgui-tryout-"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-[^-]+\Z")
_KEEP_ERRORS = (SnapshotError, ov.OverlayError, LibraryError, ValueError, OSError)


class TryoutError(Exception):
    """A try-out session folder cannot be made, kept or recovered; the message says why."""


class TryoutBusyError(TryoutError):
    """A live process uses the VM's try-out session (the VM runs there): not touched."""


def session_folder(folder: Path) -> Path:
    """Where a library VM's try-out session keeps its overlays."""
    return Path(folder) / TRYOUT_FOLDER


def _write_owner(tryout_dir: Path, pid: int) -> None:
    data = {"pid": pid, "token": process_token(pid) or ""}
    atomic_write(tryout_dir / OWNER_FILE, json.dumps(data).encode("utf-8"))


def live_owner(tryout_dir: Path) -> int | None:
    """The pid of the live process using the session in ``tryout_dir``, else None."""
    try:
        data = json.loads((Path(tryout_dir) / OWNER_FILE).read_text("utf-8"))
        pid, token = int(data["pid"]), str(data.get("token", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid_alive(pid, token) else None


# ---------------------------------------------------------------------- sessions
def begin_tryout(folder: Path, *, owner_pid: int | None = None) -> tuple[Path, str | None]:
    """Make the try-out session folder of the library VM in ``folder``, owned by
    ``owner_pid`` (default: this process).  A leftover of an earlier session is recovered
    first (:func:`recover_tryout`); returns (the folder, the recovery's message or None).
    Raises :class:`TryoutBusyError` when a live process uses the VM's session."""
    folder = Path(folder)
    notice = recover_tryout(folder)
    tryout_dir = session_folder(folder)
    try:
        tryout_dir.mkdir()
    except FileExistsError:
        raise TryoutError(f"{tryout_dir} is in the way (left from an earlier try-out "
                          "session with files vmgui did not make); remove it") from None
    except OSError as exc:
        raise TryoutError(f"cannot make {tryout_dir}: {exc.strerror or exc}") from exc
    try:
        _write_owner(tryout_dir, owner_pid or os.getpid())
    except LibraryError as exc:
        with contextlib.suppress(OSError):
            tryout_dir.rmdir()
        raise TryoutError(str(exc)) from exc
    log.info("%s: try-out session in %s", folder.name, tryout_dir)
    return tryout_dir, notice


def end_tryout(tryout_dir: Path) -> bool:
    """The session is over: delete its folder and overlays (the changes are discarded),
    unless a keep of its changes is pending (an interrupted or failed
    :func:`keep_tryout`): then only the owner file goes, so that the next
    :func:`recover_tryout` finishes keeping.  Returns True when the folder is gone."""
    tryout_dir = Path(tryout_dir)
    if not tryout_dir.is_dir():
        return True
    if keep_pending(tryout_dir):
        with contextlib.suppress(OSError):
            (tryout_dir / OWNER_FILE).unlink(missing_ok=True)
        log.warning("%s: keeping the try-out changes is not finished; they stay here until "
                    "the VM starts again", tryout_dir)
        return False
    try:
        _remove_session(tryout_dir)
    except (OSError, ov.OverlayError) as exc:
        log.warning("%s: cannot remove the try-out session: %s", tryout_dir, exc)
    return not tryout_dir.exists()


def _remove_session(tryout_dir: Path) -> int:
    """Delete the overlays, owner file and journal (last) of a session folder, then the
    folder if nothing else is in it; returns how many overlays were deleted."""
    discarded, others = 0, []
    for path in sorted(tryout_dir.iterdir()):
        if path.is_file() and not path.is_symlink() and ov.is_overlay(path):
            ov.discard(path)
            discarded += 1
        elif path.name.endswith(".tmp") and path.is_file():
            path.unlink()
        elif path.name not in (OWNER_FILE, JOURNAL_FILE):
            others.append(path.name)
    (tryout_dir / OWNER_FILE).unlink(missing_ok=True)
    (tryout_dir / JOURNAL_FILE).unlink(missing_ok=True)  # last: the session is over
    if others:
        log.warning("%s: left in place, it holds files vmgui did not make: %s", tryout_dir,
                    ", ".join(others))
    else:
        tryout_dir.rmdir()
    return discarded


def tryout_overlays(folder: Path, tryout_dir: Path) -> dict[str, Path]:
    """Slot -> the try-out overlay a powered-off session left in ``tryout_dir`` (named
    by ``VmConfig.open_drives``: ``tryout-<drive number>.cow``), for writable drives."""
    config = read_config(Path(folder) / CONFIG_FILE)
    numbers = {slot: number for number, slot in DRIVE_SLOTS.items()}
    out = {}
    for slot, _att in writable_slots(config):
        path = Path(tryout_dir) / f"tryout-{numbers[slot]:02x}.cow"
        if path.is_file():
            out[slot] = path
    return out


# ---------------------------------------------------------------------- keeping
def keep_pending(tryout_dir: Path) -> bool:
    """Did the user choose to keep this session's changes, and is that not finished?"""
    return (Path(tryout_dir) / JOURNAL_FILE).is_file()


def _read_journal(tryout_dir: Path) -> dict | None:
    path = Path(tryout_dir) / JOURNAL_FILE
    try:
        data = safefile.parse_json(safefile.read_small(path, 1 << 20))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TryoutError(f"{path}: cannot read ({exc}); remove {tryout_dir} to discard "
                          "the try-out changes") from exc
    if (not isinstance(data, dict) or data.get("version") != JOURNAL_VERSION
            or not all(isinstance(data.get(k), t) for k, t in (
                ("before", str), ("after", str), ("overlays", dict), ("rebased", list)))
            or not all(slot in SLOTS and _plain_name(name)  # files of the session only
                       for slot, name in data["overlays"].items())):
        raise TryoutError(f"{path}: not a keep journal this vmgui reads; remove "
                          f"{tryout_dir} to discard the try-out changes")
    return data


def _plain_name(name: object) -> bool:
    """A file name without a folder part (what the journal names in the session)."""
    return (isinstance(name, str) and safefile.path_problem(name) is None
            and name not in ("", ".", "..") and "/" not in name and "\\" not in name)


def _write_journal(tryout_dir: Path, journal: dict) -> None:
    atomic_write(Path(tryout_dir) / JOURNAL_FILE,
                 json.dumps(journal, indent=1).encode("utf-8"))


def keep_tryout(folder: Path, tryout_dir: Path, before_name: str,
                after_name: str) -> Snapshot | None:
    """Keep the disk changes of a powered-off try-out session as a snapshot.

    ``before_name`` freezes the layers the session grew from (so it can be restored);
    each session overlay is rebased onto the new, still empty, top over its base (which
    reads the same) and merged into it; ``after_name`` then freezes those tops; the
    session folder is removed.  Returns the ``after_name`` snapshot, None when the session
    left no overlays.  The VM process must have exited (nothing may hold the overlays
    open).

    Resumable: the step reached is journalled in ``tryout_dir/keep.json`` (written before
    anything changes); calling this again (or :func:`recover_tryout`) after a kill or an
    error finishes the job with the names first given, taking no second snapshot."""
    folder, tryout_dir = Path(folder), Path(tryout_dir)
    journal = _read_journal(tryout_dir)
    if journal is None:
        overlays = tryout_overlays(folder, tryout_dir)
        if not overlays:
            return None
        if saved_state_path(folder).exists():
            raise SnapshotError("the VM has a saved state from before the try-out session, "
                                "which does not match the changed disks; discard it first")
        names = [before_name.strip(), after_name.strip()]
        taken = {s.name.casefold() for s in Snapshots(folder).snapshots}
        for name in names:
            if not name or name.casefold() in taken:
                raise SnapshotError(f"cannot name a snapshot {name!r}: empty or in use")
        if names[0].casefold() == names[1].casefold():
            raise SnapshotError("the two try-out snapshots need different names")
        journal = {"version": JOURNAL_VERSION, "vm": folder.name, "before": names[0],
                   "after": names[1], "before_id": "", "rebased": [],
                   "overlays": {slot: path.name for slot, path in overlays.items()}}
        _write_journal(tryout_dir, journal)
    else:
        log.info("%s: finishing an interrupted keep of try-out changes", folder.name)
    after = _finish_keep(folder, tryout_dir, journal)
    _remove_session(tryout_dir)
    return after


def _named(snaps: Snapshots, name: str, sid: str = "") -> Snapshot | None:
    return next((s for s in snaps.snapshots if (sid and s.id == sid) or s.name == name),
                None)


def _finish_keep(folder: Path, tryout_dir: Path, journal: dict) -> Snapshot:
    """Do what is left of a journalled keep (each step finds out whether it was done)."""
    snaps = Snapshots(folder)
    before = _named(snaps, journal["before"], str(journal.get("before_id", "")))
    if before is None:  # killed before (or while) taking it
        before = snaps.take(journal["before"], "The state before a try-out session")
    if journal.get("before_id") != before.id:
        journal["before_id"] = before.id
        _write_journal(tryout_dir, journal)
    after = _named(snaps, journal["after"])
    if after is not None:  # killed after the last step: only the folder was left
        return after
    if snaps.current_id != before.id:
        raise TryoutError(f"{folder.name}: the snapshots changed after {before.name!r} was "
                          "taken; cannot finish keeping the try-out changes (remove "
                          f"{tryout_dir} to discard them)")
    tops = snaps.layers()
    for slot, name in journal["overlays"].items():
        path = tryout_dir / name
        if not path.exists():
            continue  # merged: merge_into_base deletes an overlay last
        if slot not in tops:
            raise TryoutError(f"{folder.name}: its {slot} drive is no longer attached; cannot "
                              f"keep its try-out changes (remove {tryout_dir} to discard "
                              "them)")
        if slot not in journal["rebased"]:
            # not merging yet: rebasing again is harmless; once the merge may have begun
            # the overlay is left as it is and merge_into_base finishes it
            ov.rebase(path, tops[slot])
            journal["rebased"].append(slot)
            _write_journal(tryout_dir, journal)
        ov.merge_into_base(path)
    return Snapshots(folder).take(journal["after"], "The disk changes of a try-out session")


# ---------------------------------------------------------------------- recovery
def recover_tryout(folder: Path) -> str | None:
    """Deal with a try-out session of the library VM in ``folder`` that did not end
    cleanly (the manager, ``vmgui run`` or the VM process was killed): with a keep
    journal the keep is finished, else the session ended without a decision and its
    changes are discarded.  Returns a message for the user (also logged), None when there
    was nothing to do.  Cheap when the VM has no session folder.

    Raises :class:`TryoutBusyError` when a live process owns the session (the VM runs
    there, or its changes are being kept): nothing is touched; :class:`TryoutError` when
    keeping fails (the changes stay, for a later attempt)."""
    folder = Path(folder)
    tryout_dir = session_folder(folder)
    if not tryout_dir.is_dir():
        return None
    pid = live_owner(tryout_dir)
    if pid is not None:
        raise TryoutBusyError(f"{folder.name} is running in try-out mode (process {pid}); "
                              "power it off there first")
    journal = _read_journal(tryout_dir)
    if journal is None:
        try:
            discarded = _remove_session(tryout_dir)
        except (OSError, ov.OverlayError) as exc:
            raise TryoutError(f"{folder.name}: cannot remove the try-out session left in "
                              f"{tryout_dir}: {exc}") from exc
        if not discarded:
            return None
        message = (f"{folder.name}: its last try-out session did not end cleanly (vmgui or "
                   "the VM was stopped); the changes to its disks were discarded")
    else:
        try:
            after = _finish_keep(folder, tryout_dir, journal)
            _remove_session(tryout_dir)
        except TryoutError:
            raise
        except _KEEP_ERRORS as exc:
            raise TryoutError(f"{folder.name}: keeping the changes of its last try-out "
                              f"session failed: {exc}.  They stay in {tryout_dir}; remove "
                              "that folder to discard them") from exc
        message = (f"{folder.name}: keeping the changes of an interrupted try-out session "
                   f"was finished: they are snapshot {after.name!r}")
    log.warning("%s", message)
    return message


# ---------------------------------------------------------------------- bare images
def make_temp_session() -> Path:
    """A temporary folder for the try-out overlays of bare images (not library VMs),
    named with this process's pid so that a later run can tell it is stale."""
    return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))


def _only_overlays(path: Path) -> bool:
    """A real folder of this user's that holds nothing but overlay files."""
    try:
        st = path.lstat()
        if not path.is_dir() or path.is_symlink():
            return False
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return False
        return all(p.is_file() and not p.is_symlink() and ov.is_overlay(p)
                   for p in path.iterdir())
    except OSError:
        return False


def clean_stale_temp_sessions(root: Path | None = None) -> list[Path]:
    """Delete the temporary try-out folders (``vmgui-tryout-<pid>-*`` in ``root``, default
    the system's temporary folder) of processes that are gone; only folders holding
    nothing but overlays.  Returns the folders deleted."""
    root = Path(root) if root is not None else Path(tempfile.gettempdir())
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    removed = []
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is None:
            continue
        pid, path = int(match.group(1)), root / name
        if pid == os.getpid() or pid_alive(pid) or not _only_overlays(path):
            continue
        try:
            for overlay in path.iterdir():
                ov.discard(overlay)
            path.rmdir()
        except (OSError, ov.OverlayError) as exc:
            log.warning("cannot delete the stale try-out folder %s: %s", path, exc)
            continue
        log.info("deleted the try-out folder %s of process %d, which is gone", path, pid)
        removed.append(path)
    return removed
