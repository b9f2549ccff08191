"""Archives met with bad input (issue 12): an import of what is not an archive file
says what it is, an export never replaces an existing path unless forced (and then only
a regular file), a refused import reads as one sentence and says nothing about the
name it would have had (vmgui.config.archive)."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

import pytest

from tests.archives import craft, member
from tests.fifo import fifo_with_writer
from vmgui.config import archive
from vmgui.config.archive import ArchiveError, TargetExistsError, export_vm, import_vm
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import Snapshots


@pytest.fixture
def library(tmp_path) -> Library:
    """VM "Box": disk.img in its folder, one snapshot with a saved state."""
    library = Library(tmp_path / "lib")
    entry = library.create(VmConfig("Box", hard_disks=[Attachment("disk.img")]))
    (entry.folder / "disk.img").write_bytes(bytes(64 * 1024))
    state = tmp_path / "s.state"
    state.write_bytes(b"state")
    Snapshots(entry.folder).take("A", state_from=state)
    return library


def test_importing_what_is_not_an_archive_file_says_what_it_is(tmp_path):
    target = Library(tmp_path / "target")
    with fifo_with_writer(tmp_path / "fifo.tar") as fifo:
        with pytest.raises(ArchiveError, match=re.escape(f"{fifo}: is a FIFO, not an "
                                                         "archive file")):
            import_vm(target, fifo)
    with pytest.raises(ArchiveError, match=re.escape(f"{tmp_path}: is a directory, not an "
                                                     "archive file")):
        import_vm(target, tmp_path)
    with pytest.raises(ArchiveError, match=re.escape(f"{tmp_path / 'no.tar'}: no such file")):
        import_vm(target, tmp_path / "no.tar")
    assert not any(target.root.glob("*"))  # nothing imported


def test_export_refuses_an_existing_file_unless_forced(library, tmp_path):
    target = tmp_path / "box.tar"
    target.write_text("keep me")
    with pytest.raises(TargetExistsError, match=re.escape(f"{target}: already exists; not "
                                                          "replacing it")):
        export_vm(library, "Box", target)
    assert target.read_text() == "keep me"
    assert export_vm(library, "Box", target, force=True) == target
    assert '"name": "Box"' in member(target, "manifest.json")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _device_node(path: Path) -> Path:
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 7))  # as /dev/full
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


@pytest.mark.parametrize("kind", ["fifo", "folder", "link-to-dev-null", "dangling-link",
                                  "device"])
@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_export_never_replaces_anything_but_a_regular_file(library, tmp_path, kind, force):
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
        what = "is a FIFO"
    elif kind == "folder":
        target.mkdir()
        what = "is a directory"
    elif kind == "link-to-dev-null":
        target.symlink_to(os.devnull)
        what = "is a symbolic link to a character device"
    elif kind == "dangling-link":
        target.symlink_to(tmp_path / "nowhere")
        what = "is a symbolic link to nothing"
    else:
        _device_node(target)
        what = "is a character device"
    before = os.lstat(target)
    with pytest.raises(ArchiveError, match=re.escape(f"{target}: {what}; an export replaces "
                                                     "only a regular file")) as info:
        export_vm(library, "Box", target, force=force)
    assert not isinstance(info.value, TargetExistsError)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino,
                                                            before.st_rdev)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["lib", "s.state", "target"])  # no temporary archive left either


def test_a_file_that_appears_during_an_export_is_not_replaced(library, tmp_path):
    """The last step links the finished archive into place, which fails if something
    took the name meanwhile (no check-then-rename race)."""
    tmp, target = tmp_path / "made.tmp", tmp_path / "box.tar"
    tmp.write_text("archive")
    target.write_text("arrived meanwhile")
    with pytest.raises(TargetExistsError):
        archive._place(tmp, target, force=False)
    assert target.read_text() == "arrived meanwhile"
    os.unlink(target)
    os.mkfifo(target)
    with pytest.raises(ArchiveError, match="is a FIFO"):
        archive._place(tmp, target, force=True)
    assert stat.S_ISFIFO(os.lstat(target).st_mode)


def test_a_tree_naming_a_state_outside_is_refused_in_one_sentence(library, tmp_path):
    exported = export_vm(library, "Box", tmp_path / "box.tar")
    tree = re.sub(r'^state = ".*"$', 'state = "../../victim.txt"',
                  member(exported, "snapshots/snapshots.toml"), flags=re.M)
    evil = craft(exported, tmp_path / "evil.tar", {"snapshots/snapshots.toml": tree.encode()})
    with pytest.raises(ArchiveError) as info:
        import_vm(Library(tmp_path / "target"), evil, "Imported")
    assert str(info.value) == (
        f"{evil}: snapshots/snapshots.toml: snapshot 1 ('A'): state path '../../victim.txt' "
        "goes up with ..: not inside the VM folder; refused (nothing imported)")


def test_a_damaged_archived_tree_is_not_called_outside_the_folder(library, tmp_path):
    exported = export_vm(library, "Box", tmp_path / "box.tar")
    evil = craft(exported, tmp_path / "evil.tar",
                 {"snapshots/snapshots.toml": b'version = 1\nsnapshot = "abc"\n'})
    with pytest.raises(ArchiveError, match=r"snapshots\.toml: damaged .*; nothing imported$"
                       ) as info:
        import_vm(Library(tmp_path / "target"), evil)
    assert "outside the VM folder" not in str(info.value)


def test_the_rename_of_an_import_is_logged_only_once_it_is_done(library, tmp_path, caplog):
    exported = export_vm(library, "Box", tmp_path / "box.tar")
    tree = re.sub(r'^state = ".*"$', 'state = "/etc/passwd"',
                  member(exported, "snapshots/snapshots.toml"), flags=re.M)
    evil = craft(exported, tmp_path / "evil.tar", {"snapshots/snapshots.toml": tree.encode()})
    target = Library(tmp_path / "target")
    caplog.set_level(logging.DEBUG, logger="vmgui")
    with pytest.raises(ArchiveError, match="nothing imported"):
        import_vm(target, evil, "Imported")
    assert not [r.getMessage() for r in caplog.records if "'Imported'" in r.getMessage()]
    caplog.clear()
    entry = import_vm(target, exported, "Imported")
    assert entry.name == "Imported" and entry.config.name == "Imported"
    said = [(r.levelno, r.getMessage()) for r in caplog.records if "Imported" in r.getMessage()]
    assert said == [(logging.INFO, f"{exported}: imported VM 'Box' as 'Imported'")]


@pytest.mark.parametrize("version", ["1", True, 0, -1, 1.0, None],
                         ids=["text", "true", "zero", "negative", "float", "missing"])
def test_a_manifest_version_that_is_not_a_version_number_is_named(library, tmp_path, version):
    exported = export_vm(library, "Box", tmp_path / "box.tar")
    odd = craft(exported, tmp_path / "odd.tar", {},
                manifest_edit=lambda manifest: manifest.update(version=version))
    with pytest.raises(ArchiveError) as info:
        import_vm(Library(tmp_path / "target"), odd)
    assert str(info.value) == (f"{odd}: damaged manifest.json: the archive version "
                               f"{version!r} is not a version number; nothing imported")
