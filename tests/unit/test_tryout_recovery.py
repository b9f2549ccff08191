"""Try-out sessions that do not end cleanly (vmgui.config.tryout): a kill at each step of
keeping the changes as snapshots is finished by the recovery (one "before" and one "after"
snapshot, the writes kept); a session killed without a decision is discarded; sessions of
live processes and stale temporary folders of bare images."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from vmgui.config import tryout
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import Snapshots, read_disk
from vmgui.storage import overlay as ov

FLOPPY = 1474560
DISK = 256 * 1024
BEFORE, AFTER = "Before try-out 1", "Try-out 1"
F_DATA, H_DATA = b"F" * 512, b"H" * 512


class Killed(BaseException):
    """The process dies here: no handler runs, no rollback happens."""


@pytest.fixture
def folder(tmp_path) -> Path:
    library = Library(tmp_path / "lib")
    entry = library.create(VmConfig("Box", floppy_a=Attachment("floppy.img"),
                                    hard_disks=[Attachment("disk.img")]))
    (entry.folder / "floppy.img").write_bytes(bytes(FLOPPY))
    (entry.folder / "disk.img").write_bytes(bytes(DISK))
    return entry.folder


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_session(folder: Path, owner_pid: int | None = None) -> Path:
    """A try-out session that wrote to both disks and whose VM has exited."""
    session, notice = tryout.begin_tryout(folder, owner_pid=owner_pid)
    assert notice is None and session == folder / "tryout"
    drives = Library(folder.parent).get("Box").config.open_drives(folder, tryout_dir=session)
    try:
        drives[0].write_sectors(0, F_DATA)
        drives[0x80].write_sectors(1, H_DATA)
    finally:
        for image in drives.values():
            image.close()
    return session


def check_kept(folder: Path, digests: dict[str, str]) -> None:
    snaps = Snapshots(folder)
    assert sorted(s.name for s in snaps.snapshots) == [BEFORE, AFTER]
    before = snaps.get(BEFORE)
    after = snaps.get(AFTER)
    assert after.parent == before.id and snaps.current_id == after.id
    for layers in (snaps.layers(), snaps.layers(AFTER)):
        assert read_disk(layers["floppy_a"])[:512] == F_DATA
        assert read_disk(layers["hdd0"])[512:1024] == H_DATA
    frozen = snaps.layers(BEFORE)
    assert read_disk(frozen["floppy_a"]) == bytes(FLOPPY)
    assert read_disk(frozen["hdd0"]) == bytes(DISK)
    assert {name: sha(folder / name) for name in digests} == digests
    assert not (folder / "tryout").exists()


def kill_take(monkeypatch, name: str, half: bool) -> None:
    """Kill the process when snapshot ``name`` is taken: at once, or (``half``) after
    its new layers and vm.toml were written but before the tree was."""
    real_take, real_write = Snapshots.take, Snapshots._write

    def take(self, snap_name, *args, **kwargs):
        if snap_name != name:
            return real_take(self, snap_name, *args, **kwargs)
        if not half:
            raise Killed
        monkeypatch.setattr(Snapshots, "_undo", lambda *a: None)
        monkeypatch.setattr(Snapshots, "_write", lambda self: (_ for _ in ()).throw(Killed))
        try:
            return real_take(self, snap_name, *args, **kwargs)
        finally:
            monkeypatch.setattr(Snapshots, "_write", real_write)
    monkeypatch.setattr(Snapshots, "take", take)


def kill_merge(monkeypatch, on_call: int, copied: bool = False) -> None:
    """Kill the process at the ``on_call``-th merge: before it starts, or (``copied``)
    after it copied the blocks but before the overlay was deleted."""
    real = ov.merge_into_base
    calls = []

    def merge(path, *, remove=True):
        calls.append(path)
        if len(calls) == on_call:
            if copied:
                real(path, remove=False)
            raise Killed
        return real(path, remove=remove)
    monkeypatch.setattr(ov, "merge_into_base", merge)


def kill_after_rebase(monkeypatch) -> None:
    real = ov.rebase

    def rebase(path, new_base):
        real(path, new_base)
        raise Killed
    monkeypatch.setattr(ov, "rebase", rebase)


KILLS = {
    "before the before snapshot": lambda m: kill_take(m, BEFORE, half=False),
    "inside the before snapshot": lambda m: kill_take(m, BEFORE, half=True),
    "after a rebase": kill_after_rebase,
    "before the first merge": lambda m: kill_merge(m, 1),
    "inside the first merge": lambda m: kill_merge(m, 1, copied=True),
    "after one slot was merged": lambda m: kill_merge(m, 2),
    "inside the second merge": lambda m: kill_merge(m, 2, copied=True),
    "before the after snapshot": lambda m: kill_take(m, AFTER, half=False),
    "inside the after snapshot": lambda m: kill_take(m, AFTER, half=True),
    "before the folder was removed": lambda m: m.setattr(
        tryout, "_remove_session", lambda d: (_ for _ in ()).throw(Killed)),
}


@pytest.mark.parametrize("where", list(KILLS))
def test_keep_killed_at_each_step_is_finished_by_recovery(folder, dead_pid, monkeypatch,
                                                          where):
    digests = {"floppy.img": sha(folder / "floppy.img"), "disk.img": sha(folder / "disk.img")}
    session = run_session(folder, owner_pid=dead_pid)  # the owner was killed later
    with monkeypatch.context() as m:
        KILLS[where](m)
        with pytest.raises(Killed):
            tryout.keep_tryout(folder, session, BEFORE, AFTER)
    assert tryout.keep_pending(session)
    message = tryout.recover_tryout(folder)
    assert message is not None and "Box" in message and AFTER in message
    check_kept(folder, digests)
    assert tryout.recover_tryout(folder) is None  # nothing left to do


def test_keep_killed_twice_then_rerun_with_other_names(folder, dead_pid, monkeypatch):
    digests = {"floppy.img": sha(folder / "floppy.img"), "disk.img": sha(folder / "disk.img")}
    session = run_session(folder, owner_pid=dead_pid)
    with monkeypatch.context() as m:
        kill_merge(m, 1)
        with pytest.raises(Killed):
            tryout.keep_tryout(folder, session, BEFORE, AFTER)
    with monkeypatch.context() as m:
        kill_merge(m, 2, copied=True)
        with pytest.raises(Killed):
            tryout.recover_tryout(folder)
    # running the keep again finishes it under the names first chosen
    kept = tryout.keep_tryout(folder, session, "Other before", "Other after")
    assert kept is not None and kept.name == AFTER
    check_kept(folder, digests)


def test_session_killed_without_a_decision_is_discarded(folder, dead_pid):
    digests = {"floppy.img": sha(folder / "floppy.img"), "disk.img": sha(folder / "disk.img")}
    before = Library(folder.parent).get("Box").config
    run_session(folder, owner_pid=dead_pid)
    message = tryout.recover_tryout(folder)
    assert message is not None and "Box" in message and "discarded" in message
    assert not (folder / "tryout").exists()
    assert Snapshots(folder).snapshots == []
    assert Library(folder.parent).get("Box").config == before
    assert {name: sha(folder / name) for name in digests} == digests
    # the next session starts clean
    session, notice = tryout.begin_tryout(folder)
    assert notice is None and not any(session.glob("*.cow"))
    assert tryout.end_tryout(session) and not session.exists()


def test_a_session_of_a_live_process_is_left_alone(folder):
    session = run_session(folder, owner_pid=os.getppid())
    files = sorted(p.name for p in session.iterdir())
    with pytest.raises(tryout.TryoutBusyError, match="Box"):
        tryout.recover_tryout(folder)
    with pytest.raises(tryout.TryoutBusyError):
        tryout.begin_tryout(folder)
    assert sorted(p.name for p in session.iterdir()) == files
    # a session this process uses counts as busy too
    tryout.end_tryout(session)
    session = run_session(folder)
    with pytest.raises(tryout.TryoutBusyError):
        tryout.recover_tryout(folder)
    assert tryout.end_tryout(session)


def test_a_reused_pid_does_not_make_a_session_live(folder):
    if tryout.process_token(os.getpid()) is None:
        pytest.skip("process start tokens need Linux's /proc")
    session = run_session(folder)
    (session / tryout.OWNER_FILE).write_text(
        json.dumps({"pid": os.getpid(), "token": "an-earlier-boot/1"}))
    assert "discarded" in tryout.recover_tryout(folder)
    assert not session.exists()


def test_a_failed_keep_stays_pending_and_is_finished_later(folder, monkeypatch):
    session = run_session(folder)  # owned by this (live) process, as in the manager
    digests = {"floppy.img": sha(folder / "floppy.img"), "disk.img": sha(folder / "disk.img")}
    with monkeypatch.context() as m:
        kill_merge(m, 2)  # stands in for an error (disk full, ...) in the middle
        with pytest.raises(Killed):
            tryout.keep_tryout(folder, session, BEFORE, AFTER)
    assert tryout.end_tryout(session) is False  # the session ends; its changes stay
    assert tryout.keep_pending(session) and not (session / tryout.OWNER_FILE).exists()
    assert "Box" in tryout.recover_tryout(folder)
    check_kept(folder, digests)


def test_keep_refuses_before_changing_anything(folder):
    session = run_session(folder)
    Snapshots(folder).take(BEFORE)
    with pytest.raises(Exception, match="in use"):
        tryout.keep_tryout(folder, session, BEFORE, AFTER)
    assert not tryout.keep_pending(session)
    assert len(Snapshots(folder).snapshots) == 1
    assert tryout.end_tryout(session)


def make_temp(root: Path, name: str, base: Path, extra: str | None = None) -> Path:
    path = root / name
    path.mkdir()
    ov.Overlay.create(path / "tryout-0.cow", base).close()
    if extra is not None:
        (path / extra).write_text("user data")
    return path


def test_stale_temp_folders_of_dead_processes_are_deleted(tmp_path, dead_pid):
    base = tmp_path / "base.img"
    base.write_bytes(bytes(DISK))
    root = tmp_path / "tmp"
    root.mkdir()
    stale = make_temp(root, f"vmgui-tryout-{dead_pid}-abc123", base)
    empty = root / f"vmgui-tryout-{dead_pid}-empty_1"
    empty.mkdir()
    kept = [make_temp(root, f"vmgui-tryout-{os.getpid()}-mine", base),
            make_temp(root, f"vmgui-tryout-{os.getppid()}-live", base),
            make_temp(root, f"vmgui-tryout-{dead_pid}-notes", base, extra="notes.txt"),
            make_temp(root, "vmgui-tryout-0123abcd", base),
            make_temp(root, f"vmgui-other-{dead_pid}-x", base)]
    assert sorted(tryout.clean_stale_temp_sessions(root)) == sorted([stale, empty])
    assert not stale.exists() and not empty.exists()
    assert all(path.is_dir() and any(path.iterdir()) for path in kept)
    assert base.read_bytes() == bytes(DISK)
    made = tryout.make_temp_session()
    try:
        assert made.name.startswith(f"vmgui-tryout-{os.getpid()}-")
    finally:
        made.rmdir()
