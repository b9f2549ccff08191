"""Nothing in a VM folder reaches outside it unless the user attached it: paths in
``snapshots.toml`` (a snapshot's state, thumbnail and layers) and relative paths in
``vm.toml`` are checked when they are read, and an imported archive is refused (library
untouched, named reason) when anything in it -- vm.toml's drives and serial log,
snapshots.toml, overlay headers, the tar members themselves -- points outside the VM's
own folder (vmgui.config.snapshots, vmgui.config.schema, vmgui.config.archive)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from vmgui.config.archive import ArchiveError, export_vm, import_vm
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import SnapshotError, Snapshots

SIZE = 64 * 1024


@pytest.fixture
def library(tmp_path) -> Library:
    """VM "Box": disk.img in its folder, one snapshot with a state and a thumbnail."""
    library = Library(tmp_path / "lib")
    entry = library.create(VmConfig("Box", hard_disks=[Attachment("disk.img")]))
    (entry.folder / "disk.img").write_bytes(bytes(SIZE))
    state, thumb = tmp_path / "s.state", tmp_path / "t.png"
    state.write_bytes(b"state")
    thumb.write_bytes(b"png")
    Snapshots(entry.folder).take("A", state_from=state, thumbnail=thumb)
    return library


@pytest.fixture
def victim(tmp_path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text("precious")
    return path


def edit_tree(folder: Path, old: str, new: str) -> None:
    path = folder / "snapshots" / "snapshots.toml"
    text = path.read_text()
    assert re.search(old, text, re.M), text
    path.write_text(re.sub(old, new, text, flags=re.M))


# ---------------------------------------------------------------------- load time
@pytest.mark.parametrize(("old", "new", "reason"), [
    (r'^state = ".*"$', 'state = "../../victim.txt"', "state path '../../victim.txt' goes "
                                                      "up with ..: not inside the VM folder"),
    (r'^thumbnail = ".*"$', 'thumbnail = "{victim}"', "thumbnail path '{victim}' is "
                                                      "absolute: not inside the VM folder"),
    (r'^hdd0 = ".*"$', 'hdd0 = "../Other/hdd.img"', "hdd0 layer path '../Other/hdd.img' goes "
                                                    "up with .."),
    (r'^state = ".*"$', 'state = "~/victim.txt"', "starts with ~"),
])
def test_a_tree_naming_files_outside_the_folder_is_refused(library, victim, old, new,
                                                            reason):
    folder = library.get("Box").folder
    edit_tree(folder, old, new.format(victim=victim))
    with pytest.raises(SnapshotError, match=re.escape(reason.format(victim=victim))):
        Snapshots(folder)
    assert victim.read_text() == "precious"


def test_an_external_layer_may_be_absolute(library, tmp_path):
    outside = tmp_path / "outside.img"
    outside.write_bytes(bytes(SIZE))
    folder = library.get("Box").folder
    edit_tree(folder, r'^hdd0 = ".*"$', f'hdd0 = "{outside}"')
    assert Snapshots(folder).get("A").disks["hdd0"] == str(outside)


def test_delete_removes_only_the_snapshots_own_files(library):
    folder = library.get("Box").folder
    tree = Snapshots(folder)
    snap = tree.get("A")
    own = [folder / snap.state, folder / snap.thumbnail]
    assert all(p.is_file() and p.is_relative_to(folder / "snapshots") for p in own)
    tree.delete("A")
    assert not any(p.exists() for p in own)


def test_a_relative_disk_path_may_not_leave_the_vm_folder(library, tmp_path):
    config = VmConfig("X", hard_disks=[Attachment("../Other/hdd.img")])
    assert config.validate() == ["hard disk C: image path '../Other/hdd.img' leads out of "
                                 "the VM folder with ..; attach an image outside it by its "
                                 "absolute path"]
    assert VmConfig("X", floppy_a=Attachment("sub/../fd.img")).validate() != []
    assert VmConfig("X", hard_disks=[Attachment(str(tmp_path / "abs.img")),
                                     Attachment("sub/in.img")]).validate() == []


# ---------------------------------------------------------------------- import time
def craft(archive: Path, out: Path, changes: dict[str, bytes | None],
          manifest_edit=None) -> Path:
    """``archive`` with members replaced (None: removed) or added, the manifest's sizes
    and checksums made to match, so that only the checks of content refuse it."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    manifest = json.loads(members.pop("manifest.json"))
    for name, data in changes.items():
        if data is None:
            members.pop(name, None)
            manifest["files"].pop(name, None)
        else:
            members[name] = data
    for name, data in members.items():
        manifest["files"][name] = {"size": len(data),
                                   "sha256": hashlib.sha256(data).hexdigest()}
    if manifest_edit is not None:
        manifest_edit(manifest)
    with tarfile.open(out, "w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()),
                           *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def member(archive: Path, name: str) -> str:
    with tarfile.open(archive) as tar:
        return tar.extractfile(name).read().decode()


def refused(archive: Path, tmp_path: Path, reason: str) -> None:
    target = Library(tmp_path / "target")
    target.create(VmConfig("Other"))
    with pytest.raises(ArchiveError, match=reason) as info:
        import_vm(target, archive, "Imported")
    assert "nothing imported" in str(info.value)
    assert [p.name for p in target.root.iterdir()] == ["Other"]


@pytest.mark.parametrize(("old", "new", "reason"), [
    (r'^state = ".*"$', 'state = "../../victim.txt"', r"state path '\.\./\.\./victim\.txt'"),
    (r'^thumbnail = ".*"$', 'thumbnail = "{victim}"', "thumbnail path .* is absolute"),
    (r'^hdd0 = ".*"$', 'hdd0 = "{victim}"',
     r"snapshot 'A' names its hdd0 layer .* \(is absolute\), which is outside the VM folder"),
])
def test_an_archived_tree_naming_files_outside_is_refused(library, victim, tmp_path, old,
                                                          new, reason):
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    tree = member(archive, "snapshots/snapshots.toml")
    tree = re.sub(old, new.format(victim=victim), tree, flags=re.M)
    evil = craft(archive, tmp_path / "evil.tar", {"snapshots/snapshots.toml": tree.encode()})
    refused(evil, tmp_path, reason)
    assert victim.read_text() == "precious"
