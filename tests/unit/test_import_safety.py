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
import os
import re
import tarfile
from pathlib import Path

import pytest

from tests.archives import craft, member
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
def refused(archive: Path, tmp_path: Path, reason: str) -> None:
    target = Library(tmp_path / "target")
    if "Other" not in target:
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


def edit_config(text: str, old: str, new: str) -> bytes:
    assert re.search(old, text, re.M), text
    return re.sub(old, new, text, count=1, flags=re.M).encode()


@pytest.mark.parametrize(("old", "new", "reason"), [
    (r'path = "[^"]*hdd0\.cow"', 'path = "{victim}"',
     r"its vm.toml attaches hard disk C: '.*victim.txt' \(is absolute\), which is outside"),
    (r'path = "[^"]*hdd0\.cow"', 'path = "~/victim.txt"', r"\(starts with ~"),
    (r'path = "[^"]*hdd0\.cow"', 'path = "../Other/hdd.img"',
     r"its vm.toml: hard disk C: image path '\.\./Other/hdd\.img' leads out of the VM"),
    (r'^mode = "off"$', 'mode = "file"\npath = "{victim}"',
     r"its vm.toml logs COM1 to '.*victim.txt' \(is absolute\), which is outside"),
])
def test_an_archived_vm_toml_reaching_outside_is_refused(library, victim, tmp_path, old,
                                                         new, reason):
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    text = member(archive, "vm.toml").replace('path = ""\n', "")
    evil = craft(archive, tmp_path / "evil.tar",
                 {"vm.toml": edit_config(text, old, new.format(victim=victim))})
    refused(evil, tmp_path, reason)
    assert victim.read_text() == "precious"


def test_an_archived_layer_whose_base_is_outside_is_refused(library, tmp_path):
    from vmgui.storage import overlay as ov

    outside = tmp_path / "other-vm-disk.img"
    outside.write_bytes(bytes(SIZE))
    layer = tmp_path / "layers" / "evil.cow"
    layer.parent.mkdir()
    ov.Overlay.create(layer, outside).close()  # its header names the absolute path
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    evil = craft(archive, tmp_path / "evil.tar", {"evil.cow": layer.read_bytes()})
    refused(evil, tmp_path, r"the snapshot layer evil.cow has its base at '/.*"
                            r"other-vm-disk.img', which is outside the VM folder")
    fd = os.open(layer, os.O_RDWR)
    try:
        header = ov.read_header(str(layer), fd)
        header.base_path = "../../other-vm-disk.img"
        ov.write_header(fd, header)
    finally:
        os.close(fd)
    evil = craft(archive, tmp_path / "evil2.tar", {"snapshots/evil.cow": layer.read_bytes()})
    refused(evil, tmp_path, r"the snapshot layer snapshots/evil.cow has its base at "
                            r"'\.\./\.\./other-vm-disk\.img'")
    assert outside.read_bytes() == bytes(SIZE)


def _with_member(archive: Path, out: Path, info: tarfile.TarInfo,
                 data: bytes = b"") -> Path:
    """``archive`` plus a member (listed in the manifest, with a matching checksum)."""
    craft(archive, out, {}, lambda m: m["files"].__setitem__(
        info.name, {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}))
    with tarfile.open(out, "a") as tar:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)
    return out


@pytest.mark.parametrize(("kind", "name", "reason"), [
    (tarfile.SYMTYPE, "link.img", "is not a plain file inside the VM folder"),
    (tarfile.LNKTYPE, "hard.img", "is not a plain file inside the VM folder"),
    (tarfile.CHRTYPE, "zero.img", "is not a plain file inside the VM folder"),
    (tarfile.FIFOTYPE, "fifo.img", "is not a plain file inside the VM folder"),
    (tarfile.DIRTYPE, "dir", "is not a plain file inside the VM folder"),
    (tarfile.REGTYPE, "{tmp}/abs.img", "is not a plain file inside the VM folder"),
    (tarfile.REGTYPE, "sub/../../up.img", "is not a plain file inside the VM folder"),
    (tarfile.REGTYPE, "tryout/keep.json", "belongs to a try-out session"),
])
def test_members_that_are_not_plain_files_inside_are_refused(library, tmp_path, victim,
                                                             kind, name, reason):
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    name = name.format(tmp=tmp_path)
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = str(victim)
    data = b"x" if kind == tarfile.REGTYPE else b""
    evil = _with_member(archive, tmp_path / "evil.tar", info, data)
    target = Library(tmp_path / "target")
    with pytest.raises(ArchiveError, match=reason):
        import_vm(target, evil)
    assert not target.root.exists()
    assert victim.read_text() == "precious"
    assert not (tmp_path / "abs.img").exists()


def test_a_keep_journal_naming_files_outside_its_session_is_refused(library, victim):
    from vmgui.config import tryout

    folder = library.get("Box").folder
    session = tryout.session_folder(folder)
    session.mkdir()
    (session / tryout.JOURNAL_FILE).write_text(json.dumps({
        "version": tryout.JOURNAL_VERSION, "vm": "Box", "before": "b", "after": "a",
        "before_id": "", "rebased": [], "overlays": {"hdd0": f"../../{victim.name}"}}))
    with pytest.raises(tryout.TryoutError, match="not a keep journal this vmgui reads"):
        tryout.recover_tryout(folder)
    assert victim.read_text() == "precious"
