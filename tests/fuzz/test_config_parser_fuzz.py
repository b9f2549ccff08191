"""Fuzz: damaged vm.toml, snapshots.toml and VM archives.

Each starts from a valid file vmgui wrote itself (a library VM with a disk and a
snapshot, and its export) and damages it: byte edits, TOML documents with random values
in place of valid ones, nesting thousands deep, and for archives random members.
Property: the parser answers with a result or with vmgui's own named exception for that
file (ConfigError, SnapshotError, ArchiveError/LibraryError), never with KeyError,
TypeError, RecursionError, UnicodeDecodeError or any other; listing a library with a
damaged VM in it never fails.
"""

from __future__ import annotations

import io
import json
import tarfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmgui.config.archive import ArchiveError, export_vm, import_vm
from vmgui.config.library import CONFIG_FILE, Library, LibraryError, read_config
from vmgui.config.schema import Attachment, ConfigError, VmConfig
from vmgui.config.snapshots import SNAPSHOT_DIR, TREE_FILE, SnapshotError, Snapshots

from .budget import fuzz_settings
from .mutations import (
    NASTY_TEXT,
    byte_mutations,
    check_raises_only,
    deep_json,
    deep_toml,
    toml_mutations,
)

FUZZ = fuzz_settings(150)
DISK = 64 * 1024


class Valid:
    """A library VM (disk, a snapshot) and its archive, written once per module."""

    def __init__(self, root: Path) -> None:
        self.library = Library(root / "lib")
        entry = self.library.create(VmConfig("Box", hard_disks=[Attachment("disk.img")]))
        (entry.folder / "disk.img").write_bytes(bytes(DISK))
        Snapshots(entry.folder).take("A", "first")
        self.folder = entry.folder
        self.vm_toml = (entry.folder / CONFIG_FILE).read_bytes()
        self.tree = (entry.folder / SNAPSHOT_DIR / TREE_FILE).read_bytes()
        self.archive = export_vm(self.library, "Box", root / "box.tar").read_bytes()
        with tarfile.open(fileobj=io.BytesIO(self.archive)) as tar:
            self.members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()
                            if m.isfile()}


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Valid:
    return Valid(tmp_path_factory.mktemp("parsers"))


def _vm_folder(tmp: Path, vm_toml: bytes) -> Path:
    root = tmp / "lib"
    folder = root / "Box"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_bytes(vm_toml)
    return folder


def _check_vm_toml(tmp: Path, data: bytes) -> None:
    folder = _vm_folder(tmp, data)
    check_raises_only(lambda: read_config(folder / CONFIG_FILE), (ConfigError,), "read_config")
    entries = check_raises_only(lambda: Library(folder.parent).entries(), (), "Library.entries")
    assert [e.name for e in entries] == ["Box"]  # listed, with its error if damaged


def vm_toml_inputs(valid_toml: bytes) -> st.SearchStrategy[bytes]:
    doc = tomllib.loads(valid_toml.decode())
    return st.one_of(byte_mutations(valid_toml), toml_mutations(doc),
                     deep_toml("name"), deep_toml("hard_disks"),
                     st.binary(max_size=200))


@FUZZ
@given(data=st.data())
def test_damaged_vm_toml(valid, tmp_path, data):
    _check_vm_toml(tmp_path, data.draw(vm_toml_inputs(valid.vm_toml)))


@FUZZ
@given(data=st.data())
def test_damaged_snapshots_toml(valid, tmp_path, data):
    doc = tomllib.loads(valid.tree.decode())
    tree = data.draw(st.one_of(byte_mutations(valid.tree), toml_mutations(doc),
                               deep_toml("snapshot"), deep_toml("current")))
    folder = _vm_folder(tmp_path, valid.vm_toml)
    (folder / SNAPSHOT_DIR).mkdir(exist_ok=True)
    (folder / SNAPSHOT_DIR / TREE_FILE).write_bytes(tree)

    def use() -> None:
        snaps = Snapshots(folder)
        snaps.referenced()
        for snap in snaps.snapshots:
            snaps.children(snap)

    check_raises_only(use, (SnapshotError, ConfigError), "Snapshots")


def _tar(members: dict[str, bytes], extra: list[tarfile.TarInfo]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        for info in extra:
            tar.addfile(info, io.BytesIO(bytes(info.size)) if info.isfile() else None)
    return out.getvalue()


@st.composite
def damaged_archives(draw, valid: Valid) -> bytes:
    """Byte edits of the archive, or an archive rebuilt with one member replaced by a
    damaged version (manifest.json, vm.toml, snapshots.toml) and odd extra members."""
    if draw(st.booleans()):
        return draw(byte_mutations(valid.archive))
    members = dict(valid.members)
    name = draw(st.sampled_from(sorted(members)))
    blob = members[name]
    if name.endswith("manifest.json"):
        members[name] = draw(st.one_of(
            byte_mutations(blob), st.just(deep_json(50000)),
            st.just(b'"a string where an object belongs"'),
            st.builds(lambda v: json.dumps({**json.loads(blob), "files": v}).encode(),
                      st.one_of(st.text(), st.integers(), st.lists(st.text())))))
    elif name.endswith(".toml"):
        members[name] = draw(st.one_of(byte_mutations(blob),
                                       toml_mutations(tomllib.loads(blob.decode()))))
    else:
        members[name] = draw(byte_mutations(blob))
    extra = []
    for _ in range(draw(st.integers(0, 2))):
        info = tarfile.TarInfo(draw(st.sampled_from(
            [*NASTY_TEXT[1:6], "Box/../../x", "Box/link", "/abs", "Box/dev"])) or "x")
        kind = draw(st.sampled_from([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                                     tarfile.CHRTYPE, tarfile.FIFOTYPE, tarfile.DIRTYPE]))
        info.type = kind
        info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
        info.size = 16 if kind == tarfile.REGTYPE else 0
        extra.append(info)
    try:
        return _tar(members, extra)
    except (ValueError, UnicodeError):  # a name tarfile itself cannot store
        return _tar(members, [])


@FUZZ
@given(data=st.data())
def test_damaged_archive_import(valid, tmp_path, data):
    archive = tmp_path / "in.tar"
    archive.write_bytes(data.draw(damaged_archives(valid)))
    target = Library(tmp_path / "target")
    before = sorted(p.name for p in target.root.iterdir()) if target.root.exists() else []
    entry = check_raises_only(lambda: import_vm(target, archive, "Imported"),
                              (ArchiveError, LibraryError), "import_vm")
    if entry is not None:
        assert entry.folder.is_relative_to(target.root)
        import shutil

        shutil.rmtree(entry.folder)
    after = sorted(p.name for p in target.root.iterdir()) if target.root.exists() else []
    assert after == before  # nothing left behind after a refusal
