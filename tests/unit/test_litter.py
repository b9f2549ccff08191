"""Killed operations leave no litter for good (vmgui.config.litter and its users): a
snapshot take, restore or delete killed half-way leaves files that the next operation
on the VM (or the next CLI command holding its run lock) deletes -- only files nothing
refers to; a killed export's temporary file goes at the next export into that folder;
the work folders of a killed create/clone/import/delete at the next one.  A link at the
run lock's place is never written through.  Kills are real: a child process that
``os._exit``\\ s in the middle of the operation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from vmgui.config import litter
from vmgui.config.archive import export_vm
from vmgui.config.library import Library
from vmgui.config.runlock import LOCK_FILE, RunLock, running_pid
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import Snapshots, clean_leftovers, read_disk

ROOT = Path(__file__).resolve().parents[2]
SIZE = 64 * 1024


@pytest.fixture
def library(tmp_path) -> Library:
    library = Library(tmp_path / "lib")
    entry = library.create(VmConfig("Box", hard_disks=[Attachment("disk.img")]))
    (entry.folder / "disk.img").write_bytes(b"\x07" * SIZE)
    return library


def killed(code: str, **names: object) -> None:
    """Run ``code`` in a child process that dies (exit 9, no clean-up) where the code
    calls ``die()``."""
    prelude = "import os\ndef die(*a, **k):\n    os._exit(9)\n"
    values = "".join(f"{k} = {str(v)!r}\n" for k, v in names.items())
    result = subprocess.run([sys.executable, "-c", prelude + values + textwrap.dedent(code)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 9, result.stderr


def cows(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.cow")}


def test_a_killed_take_leaves_layers_the_next_take_deletes(library, tmp_path):
    folder = library.get("Box").folder
    Snapshots(folder).take("A")
    before = cows(folder)
    thumb = tmp_path / "t.png"
    thumb.write_bytes(b"png")
    killed("""
        from vmgui.config.snapshots import Snapshots
        Snapshots._save_config = die  # after the new layers and files, before vm.toml
        Snapshots(folder).take("B", thumbnail=thumb)
        """, folder=folder, thumb=thumb)
    assert len(cows(folder)) == len(before) + 1  # the litter the issue reports
    assert len(list((folder / "snapshots").glob("*.png"))) == 1
    assert (folder / litter.PENDING).exists()
    tree = Snapshots(folder)
    assert [s.name for s in tree.snapshots] == ["A"]
    tree.take("C")  # cleans up first
    assert len(cows(folder)) == len(before) + 1  # C's new top only
    assert not list((folder / "snapshots").glob("*.png"))
    assert not (folder / litter.PENDING).exists()
    assert read_disk(Snapshots(folder).layers()["hdd0"]) == b"\x07" * SIZE


def test_a_take_killed_after_vm_toml_keeps_what_vm_toml_uses(library):
    folder = library.get("Box").folder
    killed("""
        from vmgui.config.snapshots import Snapshots
        Snapshots._write = die  # vm.toml names the new layer, the tree does not know it
        Snapshots(folder).take("A")
        """, folder=folder)
    top = Snapshots(folder).layers()["hdd0"]
    assert top.name in cows(folder)
    assert clean_leftovers(folder) == []
    assert top.is_file() and read_disk(top) == b"\x07" * SIZE


def test_a_killed_restore_and_delete_leave_nothing_after_the_next_operation(library):
    folder = library.get("Box").folder
    tree = Snapshots(folder)
    tree.take("A")
    tree.take("B")
    killed("""
        from vmgui.config.snapshots import Snapshots
        Snapshots._discard_unused = die  # committed, the old top not yet deleted
        Snapshots(folder).restore("A")
        """, folder=folder)
    killed("""
        from vmgui.config.snapshots import Snapshots
        Snapshots._discard_unused = die
        Snapshots(folder).delete("B")
        """, folder=folder)
    leftover = cows(folder)
    removed = clean_leftovers(folder)
    assert removed and all(p.name in leftover for p in removed)
    tree = Snapshots(folder)
    assert {p.name for p in tree.referenced() if p.suffix == ".cow"} == cows(folder)
    assert read_disk(tree.layers()["hdd0"]) == b"\x07" * SIZE


def test_the_sweep_never_deletes_files_in_use_links_or_outside_files(library, tmp_path):
    folder = library.get("Box").folder
    Snapshots(folder).take("A")
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (folder / "link.cow").symlink_to(outside)
    in_use = sorted(cows(folder) - {"link.cow"})
    (folder / litter.PENDING).write_text(json.dumps({"pending": [
        in_use[0], "disk.img", "../../outside.txt", str(outside), "link.cow"]}))
    assert clean_leftovers(folder) == []
    assert outside.read_text() == "precious" and (folder / "link.cow").is_symlink()
    assert (folder / "disk.img").is_file() and (folder / in_use[0]).is_file()
    assert not (folder / litter.PENDING).exists()


def test_stale_temporary_files_go_fresh_ones_stay(library):
    folder = library.get("Box").folder
    old, fresh = folder / ".vm.toml.abc.tmp", folder / "snapshots" / ".x.state.1.tmp"
    for path in (old, fresh):
        path.write_bytes(b"half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert clean_leftovers(folder) == [old]
    assert fresh.exists()


def test_a_killed_export_leaves_a_file_the_next_export_deletes(library, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    killed("""
        from vmgui.config import archive
        from vmgui.config.library import Library
        archive._add_file = die
        archive.export_vm(Library(root), "Box", target)
        """, root=library.root, target=out / "box.tar")
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".box.tar.vmgui-export-"), left
    export_vm(library, "Box", out / "other.tar")
    assert [p.name for p in out.iterdir()] == ["other.tar"]


def test_killed_library_operations_leave_folders_the_next_one_deletes(library):
    killed("""
        from vmgui.config import library
        library._copy_folder_files = die
        library.Library(root).clone("Box", "Copy")
        """, root=library.root)
    work = [p.name for p in library.root.iterdir() if p.name.startswith(".clone-")]
    assert len(work) == 1
    library.create(VmConfig("New"))
    assert sorted(p.name for p in library.root.iterdir()) == ["Box", "New"]


def test_the_run_lock_is_never_written_through_a_link(library, tmp_path):
    folder = library.get("Box").folder
    target = tmp_path / "target.txt"
    target.write_text("precious")
    (folder / LOCK_FILE).unlink(missing_ok=True)
    (folder / LOCK_FILE).symlink_to(target)
    with pytest.raises(OSError, match="running.lock is a symbolic link, which vmgui does "
                                      "not follow; remove it"):
        RunLock.acquire(folder, "Box")
    assert running_pid(folder) is None
    assert target.read_text() == "precious"
