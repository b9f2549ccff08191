"""The VM library: folders, inaccessible entries, atomic writes, rename/delete/clone, media."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vmgui.config import library as library_mod
from vmgui.config.library import (
    CONFIG_FILE,
    REMOVED_FOLDER,
    ConfigError,
    Library,
    LibraryError,
    read_config,
)
from vmgui.config.schema import Attachment, VmConfig
from vmgui.storage import media


@pytest.fixture
def lib(tmp_path, monkeypatch) -> Library:
    root = tmp_path / "machines"
    monkeypatch.setenv("VMGUI_HOME", str(root))
    return Library()


def test_root_from_env_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path / "home"))
    assert Library().root == tmp_path / "home"
    assert Library(tmp_path / "x").root == tmp_path / "x"
    monkeypatch.delenv("VMGUI_HOME")
    monkeypatch.setattr(library_mod.platformdirs, "user_data_dir",
                        lambda app: str(tmp_path / "data" / app))
    assert Library().root == tmp_path / "data" / "vmgui" / "machines"


def test_empty_library_creates_nothing(lib):
    assert lib.entries() == []
    assert not lib.root.exists()
    with pytest.raises(KeyError):
        lib.get("nothing")


def test_create_makes_the_folder_layout(lib):
    entry = lib.create(VmConfig("DOS", notes="hello", memory_mb=4))
    assert entry.folder == lib.root / "DOS" and entry.accessible and entry.error is None
    for sub in ("logs", "screenshots", "snapshots"):
        assert (entry.folder / sub).is_dir()
    assert read_config(entry.folder / CONFIG_FILE) == entry.config
    assert [p.name for p in lib.root.iterdir()] == ["DOS"]  # no temp folders left
    assert lib.get("DOS").config.memory_mb == 4
    assert lib.get("dos").name == "DOS"  # case-insensitive fallback


def test_entries_are_sorted_ignoring_case(lib):
    for name in ("beta", "Alpha", "gamma"):
        lib.create(VmConfig(name))
    assert [e.name for e in lib.entries()] == ["Alpha", "beta", "gamma"]


def test_create_refuses_duplicates_ignoring_case(lib):
    lib.create(VmConfig("FreeDOS"))
    with pytest.raises(LibraryError, match="already exists"):
        lib.create(VmConfig("freedos"))


def test_create_refuses_invalid_config(lib):
    with pytest.raises(ConfigError, match="memory"):
        lib.create(VmConfig("x", memory_mb=999))
    with pytest.raises(ConfigError, match="not allowed"):
        lib.create(VmConfig("a/b"))
    assert lib.entries() == []


def test_broken_vms_are_inaccessible_and_do_not_affect_others(lib):
    lib.create(VmConfig("good"))
    (lib.root / "corrupt").mkdir()
    (lib.root / "corrupt" / CONFIG_FILE).write_text("name = [unclosed\n")
    (lib.root / "empty-folder").mkdir()
    (lib.root / "binary").mkdir()
    (lib.root / "binary" / CONFIG_FILE).write_bytes(b"\xff\xfe\x00garbage")
    (lib.root / "future").mkdir()
    (lib.root / "future" / CONFIG_FILE).write_text('schema_version = 7\nname = "future"\n')
    (lib.root / "invalid").mkdir()
    (lib.root / "invalid" / CONFIG_FILE).write_text(
        'schema_version = 1\nname = "invalid"\nmemory_mb = 9999\n')
    (lib.root / "dir-config").mkdir()
    (lib.root / "dir-config" / CONFIG_FILE).mkdir()
    (lib.root / "README.txt").write_text("not a VM")
    (lib.root / ".hidden").mkdir()
    entries = {e.name: e for e in lib.entries()}
    assert sorted(entries) == ["binary", "corrupt", "dir-config", "empty-folder", "future",
                               "good", "invalid"]
    assert entries["good"].accessible
    for name, fragment in [("corrupt", "not valid TOML"), ("empty-folder", "missing"),
                           ("binary", "UTF-8"), ("invalid", "memory 9999 MB"),
                           ("future", "schema version 7 is newer than this vmgui "
                                      "understands (3); upgrade vmgui"),
                           ("dir-config", "cannot read")]:
        entry = entries[name]
        assert entry.config is None and not entry.accessible
        assert fragment in entry.error and str(lib.root / name / CONFIG_FILE) in entry.error
    assert lib.get("corrupt").error == entries["corrupt"].error


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_config_is_inaccessible(lib):
    entry = lib.create(VmConfig("locked"))
    entry.config_path.chmod(0)
    try:
        assert "cannot read" in lib.get("locked").error
    finally:
        entry.config_path.chmod(0o644)


def test_folder_name_wins_over_the_stored_name(lib):
    entry = lib.create(VmConfig("real"))
    text = entry.config_path.read_text().replace('name = "real"', 'name = "other"')
    entry.config_path.write_text(text)
    assert lib.get("real").config.name == "real"


def test_version_0_file_is_migrated_on_reading(lib):
    (lib.root / "old").mkdir(parents=True)
    (lib.root / "old" / CONFIG_FILE).write_text('name = "old"\nmemory_kb = 2048\n')
    entry = lib.get("old")
    assert entry.accessible and entry.config.memory_mb == 2
    lib.save(entry.config, entry.folder)
    assert "schema_version = 3" in entry.config_path.read_text()
    assert "memory_kb" not in entry.config_path.read_text()


def test_save_is_atomic_when_the_replace_fails(lib, monkeypatch):
    entry = lib.create(VmConfig("vm", memory_mb=8))
    before = entry.config_path.read_bytes()
    changed = VmConfig("vm", uuid=entry.config.uuid, memory_mb=32)

    def crash(src, dst):
        raise OSError(5, "simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(LibraryError, match="cannot write"):
        lib.save(changed, entry.folder)
    assert entry.config_path.read_bytes() == before
    assert sorted(p.name for p in entry.folder.iterdir()) == [
        "logs", "screenshots", "snapshots", CONFIG_FILE]  # the temp file is gone too
    monkeypatch.undo()
    lib.save(changed, entry.folder)
    assert lib.get("vm").config.memory_mb == 32


def test_save_is_atomic_when_the_write_is_interrupted(lib, monkeypatch):
    entry = lib.create(VmConfig("vm"))
    before = entry.config_path.read_bytes()

    def killed(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        lib.save(VmConfig("vm", memory_mb=64), entry.folder)
    monkeypatch.undo()
    assert entry.config_path.read_bytes() == before
    assert not [p for p in entry.folder.iterdir() if p.name.startswith(".")]


def test_save_validates_and_keeps_the_name(lib):
    entry = lib.create(VmConfig("vm"))
    with pytest.raises(ConfigError, match="boot order"):
        lib.save(VmConfig("vm", boot_order=["x"]), entry.folder)
    with pytest.raises(LibraryError, match="rename"):
        lib.save(VmConfig("other"), entry.folder)


def test_rename(lib):
    uuid = lib.create(VmConfig("old", memory_mb=3)).config.uuid
    lib.create(VmConfig("taken"))
    entry = lib.rename("old", "new name")
    assert entry.folder == lib.root / "new name" and not (lib.root / "old").exists()
    assert lib.get("new name").config.name == "new name"
    assert lib.get("new name").config.uuid == uuid
    with pytest.raises(LibraryError, match="already exists"):
        lib.rename("new name", "TAKEN")
    with pytest.raises(ConfigError, match="invalid VM name"):
        lib.rename("new name", "bad:name")
    with pytest.raises(KeyError):
        lib.rename("ghost", "x")
    assert lib.rename("new name", "New Name").name == "New Name"  # a change of case only
    assert [e.name for e in lib.entries()] == ["New Name", "taken"]


def test_rename_inaccessible_vm(lib):
    (lib.root / "broken").mkdir(parents=True)
    entry = lib.rename("broken", "fixed")
    assert entry.folder.is_dir() and not entry.accessible
    assert "missing" in lib.get("fixed").error


def test_delete_keep_files_moves_the_folder_out(lib, tmp_path):
    entry = lib.create(VmConfig("keep", hard_disks=[Attachment("hdd.img")]))
    media.create_hard_disk(entry.folder / "hdd.img", 1)
    moved = lib.delete("keep", keep_files=True)
    assert moved.parent == lib.root / REMOVED_FOLDER
    assert (moved / "hdd.img").stat().st_size == 1024 * 1024
    assert (moved / CONFIG_FILE).is_file()
    assert lib.entries() == []
    lib.create(VmConfig("keep"))  # the name is free again
    second = lib.delete("keep", keep_files=True)
    assert second != moved and second.is_dir() and moved.is_dir()


def test_delete_removes_the_folder_but_not_outside_images(lib, tmp_path):
    outside = media.create_floppy(tmp_path / "shared.img", "1.44M")
    entry = lib.create(VmConfig("gone", floppy_a=Attachment(str(outside)),
                                hard_disks=[Attachment("hdd.img")]))
    media.create_hard_disk(entry.folder / "hdd.img", 1)
    assert lib.delete("gone") is None
    assert not entry.folder.exists() and outside.is_file()
    assert [p.name for p in lib.root.iterdir()] == []
    with pytest.raises(KeyError):
        lib.delete("gone")


def test_delete_inaccessible_vm(lib):
    (lib.root / "broken").mkdir(parents=True)
    (lib.root / "broken" / CONFIG_FILE).write_text("{{{")
    lib.delete("broken")
    assert lib.entries() == []


def test_clone_is_a_full_copy_with_a_new_uuid(lib, tmp_path):
    shared_floppy = media.create_floppy(tmp_path / "install.img", "720K")
    outside_disk = tmp_path / "outside.img"
    outside_disk.write_bytes(b"D" * 512 * 4)
    src = lib.create(VmConfig("src", notes="n", floppy_a=Attachment(str(shared_floppy)),
                              hard_disks=[Attachment("hdd.img"),
                                          Attachment(str(outside_disk))]))
    (src.folder / "hdd.img").write_bytes(b"C" * 512 * 8)
    (src.folder / "logs" / "old.log").write_text("log")
    clone = lib.clone("src", "copy")
    cfg = clone.config
    assert cfg.name == "copy" and cfg.uuid != src.config.uuid and cfg.notes == "n"
    assert cfg.floppy_a.path == str(shared_floppy)  # floppies from outside are shared
    assert [a.path for a in cfg.hard_disks] == ["hdd.img", "outside.img"]
    assert (clone.folder / "hdd.img").read_bytes() == b"C" * 512 * 8
    assert (clone.folder / "outside.img").read_bytes() == outside_disk.read_bytes()
    assert not (clone.folder / "logs" / "old.log").exists()
    assert lib.get("copy").config == cfg
    assert {e.name for e in lib.entries()} == {"src", "copy"}
    with pytest.raises(LibraryError, match="already exists"):
        lib.clone("src", "COPY")


def test_clone_failure_leaves_nothing_behind(lib, tmp_path):
    lib.create(VmConfig("src", hard_disks=[Attachment(str(tmp_path / "missing.img"))]))
    with pytest.raises(LibraryError, match="cannot clone"):
        lib.clone("src", "copy")
    assert [p.name for p in lib.root.iterdir()] == ["src"]
    (lib.root / "broken").mkdir()
    with pytest.raises(LibraryError, match="cannot clone"):
        lib.clone("broken", "copy")


def test_media_lists_every_referenced_image(lib, tmp_path):
    floppy = media.create_floppy(tmp_path / "boot.img", "1.44M")
    a = lib.create(VmConfig("a", floppy_a=Attachment(str(floppy)),
                            hard_disks=[Attachment("hdd.img")]))
    media.create_hard_disk(a.folder / "hdd.img", 64)
    lib.create(VmConfig("b", floppy_a=Attachment(str(floppy)),
                        hard_disks=[Attachment(str(tmp_path / "lost.img"))]))
    (lib.root / "broken").mkdir()
    found = {Path(m.path): m for m in lib.media()}
    assert set(found) == {floppy, a.folder / "hdd.img", tmp_path / "lost.img"}
    assert found[floppy].format == "raw floppy 1.44M" and found[floppy].used_by == ("a", "b")
    assert found[floppy].size == 1474560 and found[floppy].error is None
    disk = found[a.folder / "hdd.img"]
    assert disk.format == "raw disk 64 MB" and disk.used_by == ("a",)
    lost = found[tmp_path / "lost.img"]
    assert lost.size is None and "no such file" in lost.error and lost.used_by == ("b",)


def test_clone_leaves_out_the_run_lock_and_sockets(lib):
    import socket

    from vmgui.config.runlock import LOCK_FILE, RunLock, running_pid

    src = lib.create(VmConfig("src", hard_disks=[Attachment("hdd.img")]))
    (src.folder / "hdd.img").write_bytes(b"C" * 512)
    stale = socket.socket(socket.AF_UNIX)  # what a killed VM process leaves: no listener
    try:
        stale.bind(str(src.folder / "control.sock"))
    except OSError:
        pytest.skip("the folder's path is too long for a unix socket")
    finally:
        stale.close()
    with RunLock.acquire(src.folder, "src"):
        clone = lib.clone("src", "copy")
    assert (src.folder / LOCK_FILE).exists()
    assert sorted(p.name for p in clone.folder.iterdir()) == [
        "hdd.img", "logs", "screenshots", "snapshots", "vm.toml"]
    assert running_pid(clone.folder) is None
