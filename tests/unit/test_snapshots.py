"""Snapshot trees over copy-on-write overlays (vmgui.config.snapshots): take, restore,
delete with merging, clones at a snapshot, and what survives injected failures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vmgui.config import library as library_mod
from vmgui.config import snapshots as snaps_mod
from vmgui.config.library import Library, LibraryError
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import SnapshotError, Snapshots, clone_vm, read_disk
from vmgui.core import statefile
from vmgui.storage import overlay as ov

SIZE = 256 * 1024


@pytest.fixture
def vm(tmp_path) -> tuple[Library, Path]:
    library = Library(tmp_path / "lib")
    entry = library.create(VmConfig("Box", hard_disks=[Attachment("disk.img")]))
    (entry.folder / "disk.img").write_bytes(bytes(SIZE))
    return library, entry.folder


def write_current(folder: Path, offset: int, data: bytes) -> None:
    top = Snapshots(folder).layers()["hdd0"]
    with ov.Overlay.open(top) as o:
        o.write(offset, data)


def current_bytes(folder: Path) -> bytes:
    return read_disk(Snapshots(folder).layers()["hdd0"])


def cow_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.cow"))


def test_take_restore_branch_and_delete(vm):
    _library, folder = vm
    tree = Snapshots(folder)
    a = tree.take("A", "clean")
    assert a.disks == {"hdd0": "disk.img"}
    assert tree.current.id == a.id
    assert ov.is_overlay(folder / Snapshots(folder).layers()["hdd0"])
    write_current(folder, 0, b"XXXX")
    tree.take("B")
    write_current(folder, 4096, b"YYYY")  # current state, not in any snapshot
    tree.restore("A")
    assert current_bytes(folder) == bytes(SIZE)
    tree.restore("b")  # names ignore case
    disk = current_bytes(folder)
    assert disk[:4] == b"XXXX" and disk[4096:4100] == bytes(4)  # YYYY was discarded
    assert len(cow_files(folder)) == 2  # B's frozen layer and the current top
    nodes = Snapshots(folder).list()
    assert [(n.snapshot.name, n.depth, n.is_current) for n in nodes] == [
        ("A", 0, False), ("B", 1, True)]

    write_current(folder, 8192, b"ZZZZ")
    tree.delete("A")  # B's layer merges into disk.img; the current top is rebased onto it
    assert [s.name for s in Snapshots(folder).snapshots] == ["B"]
    assert Snapshots(folder).get("B").disks == {"hdd0": "disk.img"}
    assert (folder / "disk.img").read_bytes()[:4] == b"XXXX"
    disk = current_bytes(folder)
    assert disk[:4] == b"XXXX" and disk[8192:8196] == b"ZZZZ"
    assert len(cow_files(folder)) == 1

    tree = Snapshots(folder)
    tree.delete("B")  # current: its top merges into disk.img, which the VM uses again
    assert Snapshots(folder).snapshots == [] and Snapshots(folder).current is None
    assert Snapshots(folder).layers()["hdd0"] == folder / "disk.img"
    assert (folder / "disk.img").read_bytes()[8192:8196] == b"ZZZZ"
    assert cow_files(folder) == []


def test_delete_with_two_children_is_refused(vm):
    _library, folder = vm
    tree = Snapshots(folder)
    tree.take("A")
    tree.take("B")
    tree.restore("A")  # A now has B and the current state below it
    before = (folder / "snapshots" / "snapshots.toml").read_bytes()
    with pytest.raises(SnapshotError, match="2 children"):
        tree.delete("A")
    assert (folder / "snapshots" / "snapshots.toml").read_bytes() == before
    tree.delete("B")  # a leaf: its layer goes
    assert [s.name for s in Snapshots(folder).snapshots] == ["A"]
    assert len(cow_files(folder)) == 1


def test_state_file_and_thumbnail_follow_the_snapshot(vm, tmp_path):
    _library, folder = vm
    saved = snaps_mod.saved_state_path(folder)
    saved.write_bytes(b"state-1")
    thumb = tmp_path / "t.png"
    thumb.write_bytes(b"png")
    tree = Snapshots(folder)
    snap = tree.take("S", thumbnail=thumb)  # the saved state is taken along
    assert tree.resolve(snap.state).read_bytes() == b"state-1"
    assert tree.resolve(snap.thumbnail).read_bytes() == b"png"
    saved.unlink()  # (it was resumed)
    tree.take("T")
    assert not Snapshots(folder).get("T").state
    tree.restore("S")
    assert saved.read_bytes() == b"state-1"
    tree.restore("T")
    assert not saved.exists()
    with pytest.raises(SnapshotError, match="already exists"):
        tree.take("s")
    with pytest.raises(SnapshotError, match="no snapshot"):
        tree.restore("nope")


def test_failed_metadata_write_leaves_everything_as_it_was(vm, monkeypatch):
    _library, folder = vm
    tree = Snapshots(folder)
    tree.take("A")
    toml = folder / "snapshots" / "snapshots.toml"
    before = (toml.read_bytes(), (folder / "vm.toml").read_bytes(), cow_files(folder))
    real_replace = library_mod.os.replace

    def dies_before_rename(src, dst):  # the temporary file is written, then the failure
        if Path(dst).name == "snapshots.toml":
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(library_mod.os, "replace", dies_before_rename)
    with pytest.raises(LibraryError, match="No space left"):
        Snapshots(folder).take("B")
    monkeypatch.undo()
    assert (toml.read_bytes(), (folder / "vm.toml").read_bytes(), cow_files(folder)) == before
    assert [s.name for s in Snapshots(folder).snapshots] == ["A"]
    assert not [p for p in folder.rglob("*.tmp")]


def test_interrupted_state_file_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "saved.state"
    statefile.write_state(path, {"ram": b"old" * 1000}, {}, unicorn_version="x")
    before = path.read_bytes()
    calls = {"n": 0}
    real = statefile._write_chunk

    def dies_midway(f, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(5, "I/O error")
        real(f, data)

    monkeypatch.setattr(statefile, "_write_chunk", dies_midway)
    with pytest.raises(OSError):
        statefile.write_state(path, {"ram": b"new" * 1000}, {}, unicorn_version="x")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["saved.state"]


def test_flipped_byte_in_a_layer_is_a_clear_error(vm):
    _library, folder = vm
    tree = Snapshots(folder)
    tree.take("A")
    write_current(folder, 0, b"data")
    tree.take("B")
    layer = tree.resolve(tree.get("B").disks["hdd0"])
    raw = bytearray(layer.read_bytes())
    raw[20] ^= 0x40  # header
    layer.write_bytes(bytes(raw))
    config = Library(folder.parent).get("Box").config
    with pytest.raises(ov.OverlayDamagedError, match=layer.name):
        config.open_drives(folder)


def test_clone_at_a_snapshot_is_flat(vm):
    library, folder = vm
    tree = Snapshots(folder)
    tree.take("A")
    write_current(folder, 0, b"AFTER")
    tree.take("B")
    write_current(folder, 0, b"LATER")
    entry = clone_vm(library, "Box", "Copy", snapshot="A")
    disk = entry.folder / entry.config.hard_disks[0].path
    assert not ov.is_overlay(disk) and disk.read_bytes() == bytes(SIZE)
    assert Snapshots(entry.folder).snapshots == []
    now = clone_vm(library, "Box", "Now")
    assert (now.folder / now.config.hard_disks[0].path).read_bytes()[:5] == b"LATER"
    assert entry.config.uuid != library.get("Box").config.uuid


def test_tryout_drives_leave_the_image_alone(vm, tmp_path):
    _library, folder = vm
    digest = hashlib.sha256((folder / "disk.img").read_bytes()).hexdigest()
    config = Library(folder.parent).get("Box").config
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    drives = config.open_drives(folder, tryout_dir=scratch)
    try:
        drives[0x80].write_sectors(0, b"\xaa" * 512)
        assert drives[0x80].read_sectors(0, 1) == b"\xaa" * 512
    finally:
        drives[0x80].close()
    assert hashlib.sha256((folder / "disk.img").read_bytes()).hexdigest() == digest
