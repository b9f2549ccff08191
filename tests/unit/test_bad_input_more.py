"""Bad archives that docs/bad-input.md lists and no other test covered: a file that is
not a tar at all, a tar without a manifest, another program's manifest, a manifest that
is a link, a member the manifest does not list and one it lists but the archive lacks.
Each is refused with a message naming the archive, and nothing is written into the
library (vmgui.config.archive.import_vm)."""

from __future__ import annotations

import io
import json
import random
import tarfile
from pathlib import Path

import pytest

from tests.archives import craft
from vmgui.config.archive import ArchiveError, export_vm, import_vm
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig


@pytest.fixture
def archive(tmp_path) -> Path:
    """A good archive of VM "Box" (vm.toml and a small disk.img)."""
    library = Library(tmp_path / "lib")
    entry = library.create(VmConfig("Box", hard_disks=[Attachment("disk.img")]))
    (entry.folder / "disk.img").write_bytes(bytes(64 * 1024))
    return export_vm(library, "Box", tmp_path / "box.tar")


def refused(tmp_path: Path, source: Path, match: str) -> str:
    """Import ``source`` into a fresh library: an ArchiveError naming ``source`` and
    matching ``match``; the library gets nothing."""
    target = Library(tmp_path / "target")
    with pytest.raises(ArchiveError, match=match) as info:
        import_vm(target, source)
    message = str(info.value)
    assert message.startswith(f"{source}: "), message
    assert not target.root.exists() or list(target.root.iterdir()) == []
    return message


def tar_of(path: Path, *members: tarfile.TarInfo | tuple[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for item in members:
            if isinstance(item, tarfile.TarInfo):
                tar.addfile(item)
            else:
                info = tarfile.TarInfo(item[0])
                info.size = len(item[1])
                tar.addfile(info, io.BytesIO(item[1]))
    return path


@pytest.mark.parametrize("content", [b"these are my notes, not an archive\n",
                                     random.Random(7).randbytes(5000)],
                         ids=["text", "random-bytes"])
def test_a_file_that_is_not_a_tar_is_refused(tmp_path, content):
    source = tmp_path / "notes.tar"
    source.write_bytes(content)
    refused(tmp_path, source, "cannot read the archive")


def test_a_tar_without_a_manifest_is_not_a_vm_archive(tmp_path):
    source = tar_of(tmp_path / "plain.tar", ("vm.toml", b'name = "X"\n'))
    message = refused(tmp_path, source, "not a vmgui VM archive")
    assert message.endswith("not a vmgui VM archive (no manifest.json)")


def test_another_programs_manifest_is_not_a_vm_archive(tmp_path):
    manifest = json.dumps({"format": "some-other-tool", "version": 1}).encode()
    source = tar_of(tmp_path / "other.tar", ("manifest.json", manifest))
    message = refused(tmp_path, source, "not a vmgui VM archive")
    assert message == f"{source}: not a vmgui VM archive"


def test_a_manifest_that_is_a_link_is_refused(tmp_path):
    link = tarfile.TarInfo("manifest.json")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    source = tar_of(tmp_path / "link.tar", link)
    refused(tmp_path, source, r"its manifest.json is not a plain file of at most \d+ bytes; "
                              "nothing imported")


def test_a_member_the_manifest_does_not_list_is_refused(archive, tmp_path):
    evil = craft(archive, tmp_path / "extra.tar", {"extra.bin": b"smuggled"},
                 lambda m: m["files"].pop("extra.bin"))
    refused(tmp_path, evil, "member 'extra.bin' is not in the manifest; refused")


def test_a_member_the_manifest_lists_but_the_archive_lacks_is_refused(archive, tmp_path):
    with tarfile.open(archive) as tar:
        listed = json.loads(tar.extractfile("manifest.json").read())["files"]["disk.img"]
    cut = craft(archive, tmp_path / "cut.tar", {"disk.img": None},
                lambda m: m["files"].__setitem__("disk.img", listed))
    refused(tmp_path, cut, r"disk.img missing from the archive \(truncated\?\); "
                           "nothing imported")
