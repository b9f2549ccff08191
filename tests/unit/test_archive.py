"""VM archives (vmgui.config.archive): a round trip keeps disks, overlay chains, snapshots
and the saved state; a damaged archive or a clashing name is refused before anything is
written into the library."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from vmgui.config.archive import ArchiveError, export_vm, import_vm
from vmgui.config.library import Library, LibraryError
from vmgui.config.schema import Attachment, VmConfig
from vmgui.config.snapshots import Snapshots, read_disk, saved_state_path
from vmgui.storage import overlay as ov

SIZE = 128 * 1024


@pytest.fixture
def library(tmp_path) -> Library:
    library = Library(tmp_path / "lib")
    external = tmp_path / "outside.img"
    external.write_bytes(b"\x01" * SIZE)
    entry = library.create(VmConfig("Box", hard_disks=[Attachment("disk.img"),
                                                       Attachment(str(external))]))
    (entry.folder / "disk.img").write_bytes(bytes(SIZE))
    tree = Snapshots(entry.folder)
    tree.take("A")
    with ov.Overlay.open(tree.layers()["hdd0"]) as o:
        o.write(0, b"changed")
    with ov.Overlay.open(tree.layers()["hdd1"]) as o:
        o.write(0, b"ext")
    saved_state_path(entry.folder).write_bytes(b"a saved state")
    return library


def test_round_trip(library, tmp_path):
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    target = Library(tmp_path / "other")
    entry = import_vm(target, archive)
    assert entry.name == "Box" and entry.folder == target.root / "Box"
    layers = Snapshots(entry.folder).layers()
    assert read_disk(layers["hdd0"])[:7] == b"changed"
    assert read_disk(layers["hdd1"])[:3] == b"ext"
    assert read_disk(layers["hdd1"])[3:] == b"\x01" * (SIZE - 3)
    for path in layers.values():  # the chains live inside the imported folder now
        with ov.Overlay.open(path, read_only=True) as o:
            assert all(p.is_relative_to(entry.folder) for p in o.chain())
    assert saved_state_path(entry.folder).read_bytes() == b"a saved state"
    assert [s.name for s in Snapshots(entry.folder).snapshots] == ["A"]
    assert target.get("Box").accessible
    again = import_vm(target, archive, "Box 2")
    assert again.config.name == "Box 2"
    with pytest.raises(LibraryError, match="already exists"):
        import_vm(target, archive)


def _rewrite(archive: Path, out: Path, change) -> None:
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src:
            data = src.extractfile(member).read()
            data = change(member.name, data)
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def test_bad_checksum_is_refused_and_nothing_written(library, tmp_path):
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    bad = tmp_path / "bad.tar"

    def flip(name: str, data: bytes) -> bytes:
        if name == "disk.img":
            return b"\xff" + data[1:]
        return data

    _rewrite(archive, bad, flip)
    target = Library(tmp_path / "other")
    with pytest.raises(ArchiveError, match="disk.img does not match its checksum"):
        import_vm(target, bad)
    assert not target.root.exists()

    target.root.mkdir()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ArchiveError):
        import_vm(target, cut)
    assert list(target.root.iterdir()) == []


def test_escaping_member_is_refused(library, tmp_path):
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    evil = tmp_path / "evil.tar"

    def manifest_lists_escape(name: str, data: bytes) -> bytes:
        if name == "manifest.json":
            m = json.loads(data)
            m["files"]["../escape"] = {"size": 1, "sha256": "0" * 64}
            return json.dumps(m).encode()
        return data

    _rewrite(archive, evil, manifest_lists_escape)
    with tarfile.open(evil, "a") as tar:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ArchiveError, match="not a plain file inside"):
        import_vm(Library(tmp_path / "other"), evil)
    assert not (tmp_path / "escape").exists()


def test_a_leftover_try_out_session_is_not_exported(library, tmp_path):
    folder = library.get("Box").folder
    session = folder / "tryout"
    session.mkdir()
    ov.Overlay.create(session / "tryout-80.cow", Snapshots(folder).layers()["hdd0"]).close()
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert not any("tryout" in n for n in names) and any("disk.img" in n for n in names)


def test_the_run_lock_and_sockets_are_not_exported(library, tmp_path):
    import socket

    from vmgui.config.runlock import LOCK_FILE, RunLock

    folder = library.get("Box").folder
    stale = socket.socket(socket.AF_UNIX)  # what a killed VM process leaves: no listener
    try:
        stale.bind(str(folder / "control.sock"))
    except OSError:
        pytest.skip("the folder's path is too long for a unix socket")
    finally:
        stale.close()
    with RunLock.acquire(folder, "Box"):
        archive = export_vm(library, "Box", tmp_path / "box.tar")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert LOCK_FILE not in names and "control.sock" not in names and "disk.img" in names
    entry = import_vm(Library(tmp_path / "other"), archive)
    assert not (entry.folder / LOCK_FILE).exists()
