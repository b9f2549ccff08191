"""The manager's Snapshots tab, try-out labels, export/import and clone, driven like a user
would (``confirm=False``: no dialogs; names are given or defaulted)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from vmgui.config import tryout
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import Snapshots, read_disk, saved_state_path
from vmgui.core import events as ev
from vmgui.storage import overlay as ov
from vmgui.ui.manager import ManagerWindow
from vmgui.ui.manager.icons import DEMO_IMAGE
from vmgui.ui.manager.snapshots_pane import tryout_ended
from vmgui.ui.manager.vmlist import TRYOUT_ROLE

DISK = 256 * 1024


def disk_vm(library: Library, name: str, tryout: bool = False) -> Path:
    entry = library.create(VmConfig(name, hard_disks=[Attachment("disk.img")], tryout=tryout))
    (entry.folder / "disk.img").write_bytes(bytes(DISK))
    return entry.folder


def write_current(folder: Path, offset: int, data: bytes) -> None:
    with ov.Overlay.open(Snapshots(folder).layers()["hdd0"]) as o:
        o.write(offset, data)


def current_disk(folder: Path) -> bytes:
    return read_disk(Snapshots(folder).layers()["hdd0"])


def wait_running(qtbot, host) -> None:
    def running() -> bool:
        host.poll_events()
        return host.state is ev.RunState.RUNNING

    qtbot.waitUntil(running, timeout=8000)


def test_take_restore_delete_clone_from_the_pane(library, manager):
    folder = disk_vm(library, "Box")
    manager.reload(select="Box")
    manager.actions["show_snapshots"].trigger()
    pane = manager.snapshots
    assert manager.tabs.currentWidget() is pane
    assert pane.item_texts() == [(0, "Current State")]
    assert not pane.actions["restore"].isEnabled()  # Current State selected
    first = manager.take_snapshot("First", "clean disk")
    write_current(folder, 0, b"ONE!")
    pane.take_snapshot("Second")
    write_current(folder, 512, b"TWO!")
    assert pane.item_texts() == [(0, "First"), (1, "Second"), (2, "Current State")]
    assert pane.selected_id() == ""
    # selecting a snapshot shows its details and enables its actions
    pane.tree.setCurrentItem(pane.tree.topLevelItem(0))
    assert pane.selected_id() == first.id
    assert "clean disk" in pane.info.text()
    assert pane.actions["restore"].isEnabled() and pane.actions["delete"].isEnabled()
    assert pane.restore_snapshot()
    assert current_disk(folder) == bytes(DISK)
    assert pane.item_texts() == [(0, "First"), (1, "Second"), (1, "Current State")]
    # delete Second (a leaf): First and the current state keep their disks
    assert pane.delete_snapshot(Snapshots(folder).get("Second").id)
    assert pane.item_texts() == [(0, "First"), (1, "Current State")]
    # clone at First: a flat copy with First's disk
    write_current(folder, 0, b"LATE")
    clone = pane.clone_snapshot(first.id, "Box at First")
    assert clone is not None and manager.selected_name() == "Box at First"
    assert (clone.folder / "disk.img").read_bytes() == bytes(DISK)
    assert Snapshots(clone.folder).snapshots == []


def test_live_snapshot_of_a_running_vm_resumes_after_restore(library, manager, qtbot):
    library.create(VmConfig("Live", memory_mb=16, boot_order=["a"],
                            floppy_a=Attachment(str(DEMO_IMAGE), read_only=True)))
    manager.reload(select="Live")
    manager.show_tab(1)
    vm = manager.start_vm("Live")
    wait_running(qtbot, vm.host)
    qtbot.waitUntil(lambda: any("vmgui demo" in line for line in vm.host.text_lines()),
                    timeout=8000)
    pane = manager.snapshots
    assert not pane.actions["restore"].isEnabled()  # nothing selected yet
    snap = pane.take_snapshot("Running", "demo menu")
    assert snap is not None and snap.state and snap.thumbnail, manager.last_error
    assert pane.last_pause_s is not None and pane.last_pause_s < 5
    folder = library.get("Live").folder
    assert (folder / snap.thumbnail).stat().st_size > 0
    pane.tree.setCurrentItem(pane.tree.topLevelItem(0))
    assert pane.thumbnail.pixmap() is not None and not pane.thumbnail.pixmap().isNull()
    manager.power_off_vm("Live")
    assert not saved_state_path(folder).exists()
    assert pane.actions["restore"].isEnabled()
    assert pane.restore_snapshot(snap.id)
    assert saved_state_path(folder).is_file()
    vm = manager.start_vm("Live")
    state_path = str(saved_state_path(folder))

    def loaded() -> ev.StateLoaded | None:
        vm.host.poll_events()
        return next((r for r in vm.host.state_files if isinstance(r, ev.StateLoaded)
                     and r.path == state_path), None)

    qtbot.waitUntil(lambda: loaded() is not None, timeout=8000)
    assert loaded().error is None
    assert any("vmgui demo" in line for line in vm.host.text_lines())
    qtbot.waitUntil(lambda: not saved_state_path(folder).exists(), timeout=3000)


def test_live_snapshot_freezes_the_disks_of_a_running_vm(library, manager, qtbot):
    """A running VM with a writable disk: in the same pause as its machine state the VM
    freezes the disk and continues on a new copy-on-write layer it creates itself."""
    folder = disk_vm(library, "Disky")
    config = library.get("Disky").config
    config.floppy_a = Attachment(str(DEMO_IMAGE), read_only=True)
    config.boot_order = ["a", "c"]
    library.save(config, folder)
    manager.reload(select="Disky")
    vm = manager.start_vm("Disky")
    wait_running(qtbot, vm.host)
    first = manager.take_snapshot("Live one")
    assert first is not None, manager.last_error
    second = manager.take_snapshot("Live two")
    assert second is not None, manager.last_error
    snaps = Snapshots(folder)
    assert [s.name for s in snaps.snapshots] == ["Live one", "Live two"]
    assert first.disks["hdd0"] == "disk.img" and first.state  # frozen raw disk + RAM
    top = snaps.layers()["hdd0"]
    assert ov.is_overlay(top) and vm.writable == frozenset({top.resolve()})
    with ov.Overlay.open(top, read_only=True) as layer:  # a chain of two new layers
        assert len(layer.chain()) == 3
    manager.power_off_vm("Disky")
    qtbot.waitUntil(lambda: not manager.runner.is_running("Disky"), timeout=5000)
    manager.reload(select="Disky")
    assert manager.snapshots.restore_snapshot(first.id), manager.last_error
    again = manager.start_vm("Disky")
    wait_running(qtbot, again.host)


def test_export_then_import_through_the_menu_functions(library, manager, tmp_path):
    folder = disk_vm(library, "Travel")
    Snapshots(folder).take("S1")
    write_current(folder, 0, b"DATA")
    manager.reload(select="Travel")
    assert manager.actions["export"].isEnabled()
    archive = manager.export_vm("Travel", tmp_path / "travel.tar")
    assert archive is not None and archive.is_file()
    imported = manager.import_vm(archive)  # the name is taken: a free one is chosen
    assert imported is not None and imported.name == "Travel 2"
    assert manager.selected_name() == "Travel 2"
    assert current_disk(imported.folder)[:4] == b"DATA"
    assert [s.name for s in Snapshots(imported.folder).snapshots] == ["S1"]
    named = manager.import_vm(archive, "Elsewhere")
    assert named is not None and named.name == "Elsewhere"


def test_clone_from_the_current_state_with_snapshots(library, manager):
    folder = disk_vm(library, "Src")
    Snapshots(folder).take("S1")
    write_current(folder, 0, b"NOW!")
    manager.reload(select="Src")
    clone = manager.clone_vm("Src", "Src now")
    assert clone is not None
    assert (clone.folder / "disk.img").read_bytes()[:4] == b"NOW!"


def test_tryout_label_and_discard_message(library, manager, qtbot):
    library.create(VmConfig("Trial", tryout=True, boot_order=["a"],
                            floppy_a=Attachment(str(DEMO_IMAGE), read_only=True)))
    manager.reload(select="Trial")
    index = manager.list.currentIndex()
    assert index.data(TRYOUT_ROLE) is True
    assert "(try-out)" in index.data(Qt.ItemDataRole.AccessibleTextRole)
    assert manager.details.title.text() == "Trial (try-out)"
    vm = manager.start_vm("Trial")
    assert "(try-out)" in vm.console.windowTitle()
    wait_running(qtbot, vm.host)
    manager.power_off_vm("Trial")
    assert "discarded" in manager.statusBar().currentMessage()


def test_tryout_changes_kept_as_a_snapshot(library, manager, tmp_path):
    folder = disk_vm(library, "Keep", tryout=True)
    session = tmp_path / "session"
    session.mkdir()
    with ov.Overlay.create(session / "tryout-80.cow", folder / "disk.img") as o:
        o.write(0, b"KEPT")
    manager.keep_tryout_default = True
    tryout_ended(manager, SimpleNamespace(name="Keep", folder=folder, tryout_dir=session))
    assert "kept as snapshot" in manager.statusBar().currentMessage()
    snaps = Snapshots(folder)
    assert [n.snapshot.name.split(" ")[0] for n in snaps.list()] == ["Before", "Try-out"]
    before, after = (n.snapshot for n in snaps.list())
    assert read_disk(snaps.resolve(before.disks["hdd0"])) == bytes(DISK)
    assert read_disk(snaps.resolve(after.disks["hdd0"]))[:4] == b"KEPT"
    assert current_disk(folder)[:4] == b"KEPT"
    assert (folder / "disk.img").read_bytes() == bytes(DISK)


def killed_session(folder: Path, owner_pid: int, data: bytes = b"LOST") -> Path:
    """A try-out session whose manager was killed after the guest wrote ``data``."""
    session, _notice = tryout.begin_tryout(folder, owner_pid=owner_pid)
    with ov.Overlay.create(session / "tryout-80.cow", folder / "disk.img") as o:
        o.write(0, data)
    return session


def test_manager_recovers_killed_tryout_sessions_when_it_opens(library, qtbot, tmp_path,
                                                               dead_pid, monkeypatch):
    lost = disk_vm(library, "Lost", tryout=True)
    killed_session(lost, dead_pid)
    kept = disk_vm(library, "Kept", tryout=True)
    session = killed_session(kept, dead_pid, b"KEPT")
    with monkeypatch.context() as m:  # the manager was killed while keeping the changes
        m.setattr(ov, "merge_into_base", lambda *a, **k: (_ for _ in ()).throw(KeyError))
        with pytest.raises(KeyError):
            tryout.keep_tryout(kept, session, "Before try-out X", "Try-out X")
    busy = disk_vm(library, "Busy", tryout=True)
    killed_session(busy, os.getppid())  # another live process runs it
    window = ManagerWindow(library, confirm=False, create_demo=False,
                           screenshots_dir=tmp_path / "shots")
    qtbot.addWidget(window)
    message = window.statusBar().currentMessage()
    assert "Lost" in message and "discarded" in message
    assert "Kept" in message and "Try-out X" in message
    assert "Busy" not in message and (busy / "tryout" / "tryout-80.cow").is_file()
    assert not (lost / "tryout").exists() and not (kept / "tryout").exists()
    assert current_disk(lost) == bytes(DISK)
    assert [s.name for s in Snapshots(kept).snapshots] == ["Before try-out X", "Try-out X"]
    assert current_disk(kept)[:4] == b"KEPT"
    assert (kept / "disk.img").read_bytes() == bytes(DISK)
    with pytest.raises(Exception, match="Busy is running in try-out mode"):
        window.runner.start(library.get("Busy"))


def test_start_recovers_a_killed_session_and_a_failed_keep_is_retried(library, manager,
                                                                      dead_pid, monkeypatch):
    folder = disk_vm(library, "Again", tryout=True)
    killed_session(folder, dead_pid)
    vm = manager.start_vm("Again")
    assert vm is not None and vm.tryout_dir == folder / "tryout"
    assert "discarded" in manager.statusBar().currentMessage()
    assert [p.name for p in vm.tryout_dir.glob("*.cow")] == ["tryout-80.cow"]
    # keeping fails half-way (an error, not a kill): the changes stay for the next start
    manager.keep_tryout_default = True
    monkeypatch.setattr(ov, "merge_into_base", lambda *a, **k: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    manager.runner.power_off("Again")
    assert "stay in" in (manager.last_error or "")
    assert tryout.keep_pending(folder / "tryout")
    monkeypatch.undo()
    with ov.Overlay.open(folder / "tryout" / "tryout-80.cow") as o:
        o.write(0, b"LATE")  # stands in for what the guest wrote
    manager.keep_tryout_default = False
    vm = manager.start_vm("Again")
    assert vm is not None and "Try-out" in manager.statusBar().currentMessage()
    manager.runner.power_off("Again")  # this session's changes are discarded
    snaps = Snapshots(folder)
    assert [s.name.split(" ")[0] for s in snaps.snapshots] == ["Before", "Try-out"]
    assert current_disk(folder)[:4] == b"LATE"
    assert not (folder / "tryout").exists()


def test_restore_and_delete_on_a_running_vm(library, manager, qtbot):
    """Restore powers a running VM off, restores and starts it again; delete saves it,
    merges and resumes it."""
    folder = disk_vm(library, "Busy")
    config = library.get("Busy").config
    config.floppy_a = Attachment(str(DEMO_IMAGE), read_only=True)
    config.boot_order = ["a", "c"]
    library.save(config, folder)
    manager.reload(select="Busy")
    vm = manager.start_vm("Busy")
    wait_running(qtbot, vm.host)
    first = manager.take_snapshot("One")
    second = manager.take_snapshot("Two")
    assert first is not None and second is not None, manager.last_error
    manager.reload(select="Busy")
    assert manager.snapshots.delete_snapshot(first.id), manager.last_error
    assert [s.name for s in Snapshots(folder).snapshots] == ["Two"]
    again = manager.runner.get("Busy")
    assert again is not None and again.host is not vm.host  # saved, merged, resumed
    wait_running(qtbot, again.host)
    assert manager.snapshots.restore_snapshot(second.id), manager.last_error
    restored = manager.runner.get("Busy")
    assert restored is not None and restored.host is not again.host
    wait_running(qtbot, restored.host)
