"""Damaged or crafted vm.toml, snapshots.toml and archive manifests get a message that
names the file and the problem, never a traceback (vmgui.config.safefile): nesting deep
enough to exhaust the parser, the wrong type where a table belongs, NUL bytes and paths
too long for the OS; the library lists the other VMs and this one as inaccessible."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.fifo import fifo_with_writer
from vmgui.cli.library import describe_entry
from vmgui.config import safefile
from vmgui.config.archive import ArchiveError, import_vm
from vmgui.config.library import MAX_CONFIG_BYTES, Library
from vmgui.config.schema import Attachment, SerialConfig, VmConfig
from vmgui.config.snapshots import SnapshotError, Snapshots

DEEP = "[" * 50_000 + "]" * 50_000


@pytest.fixture
def library(tmp_path) -> Library:
    library = Library(tmp_path / "lib")
    library.create(VmConfig("Good"))
    return library


def write_vm(library: Library, name: str, text: str) -> Path:
    folder = library.root / name
    folder.mkdir()
    (folder / "vm.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(("name", "text", "reason"), [
    ("Deep", f'name = "Deep"\nx = {DEEP}\n', "nested too deeply to be read"),
    ("Nul", 'name = "Nul"\n[[hard_disks]]\npath = "a\\u0000b"\n',
     "hard disk C: image path 'a\\x00b' contains control characters (U+0000)"),
    ("Long", f'name = "Long"\n[[hard_disks]]\npath = "{"a" * 5000}"\n',
     "is 5000 characters long (at most 4096)"),
    ("LongName", f'name = "LongName"\nfloppy_a = {{ path = "/x/{"b" * 300}" }}\n',
     "floppy A: image path '/x/bbb"),
    ("Serial", 'name = "Serial"\nserial = { mode = "file", path = "log\\u0007" }\n',
     "serial file path 'log\\x07' contains control characters (U+0007)"),
])
def test_bad_vm_toml_is_an_inaccessible_vm(library, name, text, reason):
    write_vm(library, name, text)
    entries = {e.name: e for e in library.entries()}
    assert entries["Good"].accessible
    broken = entries[name]
    assert not broken.accessible and reason in broken.error, broken.error
    assert str(broken.folder / "vm.toml") in broken.error
    assert describe_entry(broken).startswith("inaccessible: ")


def test_vm_toml_that_is_a_fifo_or_huge_is_refused_without_reading_it(library):
    folder = write_vm(library, "Huge", 'name = "Huge"\nnotes = "' + "x" * MAX_CONFIG_BYTES
                      + '"\n')
    assert "larger than" in library.get("Huge").error
    if hasattr(os, "mkfifo"):
        (library.root / "Fifo").mkdir()
        with fifo_with_writer(library.root / "Fifo" / "vm.toml"):
            assert "is not a regular file (FIFO)" in library.get("Fifo").error
    assert library.get("Good").accessible and folder.is_dir()


def test_path_problems():
    assert safefile.path_problem("disk.img") is None
    assert safefile.path_problem("/abs/" + "a" * 255) is None
    assert "control characters" in safefile.path_problem("a\nb")
    assert "longer than 255 bytes" in safefile.path_problem("é" * 128)  # 256 bytes
    assert "4097 characters" in safefile.path_problem("a/" * 2048 + "a")
    config = VmConfig("X", hard_disks=[Attachment("ok.img")],
                      serial=SerialConfig("file", "a" * 5000))
    assert config.validate() == ["serial file path 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is 5000 "
                                 "characters long (at most 4096)"]


@pytest.mark.parametrize(("text", "reason"), [
    (f"version = 1\nx = {DEEP}\n", "nested too deeply to be read"),
    ('version = 1\nsnapshot = "abc"\n', "snapshot a list of tables"),
    ('version = 1\nsnapshot = ["abc"]\n', "snapshot 1 is not a table"),
    ('version = 1\n[[snapshot]]\nid = "a"\nname = 5\n', "snapshot 1: name must be text"),
    ('version = 1\n[[snapshot]]\nid = "a"\nname = "n"\ndisks = { evil = "x.cow" }\n',
     "disks must map drive slots"),
    ('version = 1\n[[snapshot]]\nname = "n"\n', "snapshot 1: id must be text, not None"),
    ("version = true\n", "format version True"),
    ('version = 1\ncurrent = ["x"]\n', "current must be text"),
])
def test_bad_snapshots_toml_is_a_snapshot_error(library, text, reason):
    folder = library.get("Good").folder
    (folder / "snapshots" / "snapshots.toml").write_text(text)
    with pytest.raises(SnapshotError, match=reason) as info:
        Snapshots(folder)
    assert "snapshots.toml" in str(info.value)


def _archive(path: Path, manifest: bytes, *members: tuple[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in (("manifest.json", manifest), *members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _manifest(**fields) -> bytes:
    m = {"format": "vmgui-vm-export", "version": 1, "name": "X",
         "files": {"vm.toml": {"size": 1, "sha256": "0" * 64}}}
    m.update(fields)
    return json.dumps(m).encode()


@pytest.mark.parametrize(("manifest", "reason"), [
    (DEEP.encode(), r"manifest.json: nested too deeply to be read"),
    (b'{"format": "vmgui-vm-export", "files": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001,
     r"nested too deeply to be read"),
    (_manifest(files={"vm.toml": "abc"}), r"files\['vm.toml'\] is not a size and a sha256"),
    (_manifest(files={"vm.toml": {"size": True, "sha256": "0" * 64}}),
     r"files\['vm.toml'\] is not a size"),
    (_manifest(files=["vm.toml"]), r"it lists no vm.toml"),
    (_manifest(external="zz"), r"external must map archived files"),
    (_manifest(external={"/etc/passwd": "/orig"}), r"external must map archived files"),
    (_manifest(name=["x"]), r"the VM name is not text"),
    (_manifest(version="1"), r"the archive version '1' is not a version number; "
                             r"nothing imported"),
    (_manifest(version=2), r"archive version 2 is newer than this vmgui reads \(1\)"),
    (b"\xff\xfe", r"not UTF-8|not valid JSON"),
])
def test_bad_manifest_is_an_archive_error(tmp_path, manifest, reason):
    archive = _archive(tmp_path / "bad.tar", manifest, ("vm.toml", b"x"))
    target = Library(tmp_path / "other")
    with pytest.raises(ArchiveError, match=reason):
        import_vm(target, archive)
    assert not target.root.exists()


def test_bad_vm_toml_in_an_archive_is_named_as_in_the_archive(tmp_path):
    import hashlib

    data = f"name = \"X\"\nx = {DEEP}\n".encode()
    manifest = _manifest(files={"vm.toml": {"size": len(data),
                                            "sha256": hashlib.sha256(data).hexdigest()}})
    archive = _archive(tmp_path / "deep.tar", manifest, ("vm.toml", data))
    with pytest.raises(ArchiveError) as info:
        import_vm(Library(tmp_path / "other"), archive)
    message = str(info.value)
    assert message == (f"{archive}: its vm.toml: nested too deeply to be read (corrupt or "
                       "crafted?); nothing imported")


def test_a_member_larger_than_the_manifest_says_is_refused_before_writing(tmp_path):
    archive = _archive(tmp_path / "big.tar", _manifest(), ("vm.toml", b"x" * 4096))
    with pytest.raises(ArchiveError, match="does not have the size the manifest says"):
        import_vm(Library(tmp_path / "other"), archive)
