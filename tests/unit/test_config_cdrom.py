"""The CD attachment in vm.toml: validation, round trip, migration, drives, media list,
clone and export (the rules the floppies and hard disks follow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import isos
from vmgui.config.archive import export_vm, import_vm
from vmgui.config.library import Library
from vmgui.config.schema import (
    CURRENT_SCHEMA_VERSION,
    Attachment,
    ConfigError,
    VmConfig,
    migrate,
)
from vmgui.storage.cdimage import CdImage


def cd_vm(**kw) -> VmConfig:
    return VmConfig("CD", profile="pc-pci", cdrom=Attachment("install.iso"), **kw)


def test_round_trip_keeps_the_cd_and_it_is_always_read_only():
    d = cd_vm(boot_order=["d", "c"]).to_toml_dict()
    assert d["cdrom"] == {"path": "install.iso"} and d["schema_version"] >= 2
    d["cdrom"]["read_only"] = False  # a hand-edited file cannot make a CD writable
    back = VmConfig.from_toml_dict(d)
    assert back.cdrom == Attachment("install.iso", read_only=True)
    assert back.boot_order == ["d", "c"] and back.validate() == []


def test_version_1_files_migrate_unchanged():
    old = {"schema_version": 1, "name": "old", "boot_order": ["d", "a"]}
    assert migrate(old) == {**old, "schema_version": CURRENT_SCHEMA_VERSION}
    assert VmConfig.from_toml_dict(old).cdrom is None


def test_a_cd_needs_a_machine_with_a_cd_drive():
    cfg = VmConfig("AT", cdrom=Attachment("x.iso"))
    assert cfg.validate() == ["a CD is attached, but the pc-at machine has no CD drive (the "
                              "pc-pci machine has one)"]


@pytest.mark.parametrize("path,problem", [
    ("", "CD drive has an empty image path"),
    ("../other/x.iso", "CD drive image path '../other/x.iso' leads out of the VM folder"),
])
def test_cd_paths_follow_the_folder_rules(path, problem):
    cfg = VmConfig("x", profile="pc-pci", cdrom=Attachment(path))
    assert any(p.startswith(problem) for p in cfg.validate()), cfg.validate()


def test_cd_must_be_a_table():
    with pytest.raises(ConfigError, match="cdrom must be a table"):
        VmConfig.from_toml_dict({"schema_version": 2, "name": "x", "cdrom": "x.iso"})


def test_machine_config_and_drives(tmp_path):
    (tmp_path / "install.iso").write_bytes(isos.build_iso())
    cfg = cd_vm()
    mc = cfg.to_machine_config(tmp_path)
    assert mc.cdrom == tmp_path / "install.iso" and mc.profile == "pc-pci"
    assert [(n, kind) for n, _att, kind in cfg.drive_slots()] == [(0xE0, "cdrom")]
    tryout = tmp_path / "tryout"
    tryout.mkdir()
    drives = cfg.open_drives(tmp_path, tryout_dir=tryout)  # a CD gets no try-out overlay
    try:
        assert isinstance(drives[0xE0], CdImage) and not list(tryout.iterdir())
    finally:
        drives[0xE0].close()


def test_a_non_iso_cd_is_refused_when_opening(tmp_path):
    (tmp_path / "install.iso").write_bytes(bytes(1474560))
    with pytest.raises(ValueError, match="is not an ISO 9660 CD image"):
        cd_vm().open_drives(tmp_path)


@pytest.fixture
def library(tmp_path) -> Library:
    library = Library(tmp_path / "lib")
    outside = tmp_path / "outside.iso"
    outside.write_bytes(isos.build_iso(volume_id="OUTSIDE"))
    library.create(VmConfig("Box", profile="pc-pci", cdrom=Attachment(str(outside))))
    return library


def test_media_list_describes_the_cd(library, tmp_path):
    [info] = library.media()
    assert info.path == tmp_path / "outside.iso" and info.used_by == ("Box",)
    assert info.format == "ISO 9660 CD image 40 KB, volume 'OUTSIDE'"


def test_clone_shares_an_outside_cd(library, tmp_path):
    clone = library.clone("Box", "Copy")
    assert clone.config.cdrom.path == str(tmp_path / "outside.iso")


def test_export_carries_an_outside_cd(library, tmp_path):
    archive = export_vm(library, "Box", tmp_path / "box.tar")
    entry = import_vm(Library(tmp_path / "other"), archive)
    path = entry.config.cdrom.resolve(entry.folder)
    assert Path(path).is_relative_to(entry.folder) and entry.config.cdrom.read_only
    with CdImage.open(path) as cd:
        assert cd.volume_id == "OUTSIDE"
