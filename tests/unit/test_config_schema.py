"""VmConfig: defaults, validation, the vm.toml round trip, migrations and MachineConfig."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from vmgui.config.schema import (
    CURRENT_SCHEMA_VERSION,
    MAX_MEMORY_MB,
    Attachment,
    ConfigError,
    SerialConfig,
    VmConfig,
    migrate,
)


def full_config() -> VmConfig:
    return VmConfig(
        name="DOS 6.22", notes="línea 1\nline 2", memory_mb=32, boot_order=["c", "a"],
        floppy_a=Attachment("/abs/dos.img", read_only=True), floppy_b=Attachment("b.img"),
        hard_disks=[Attachment("hdd.img"), Attachment("data.img", read_only=True)],
        display_scale="fit", serial=SerialConfig("tcp", port=4555), tryout=True,
        cpu_limit_percent=50)


def test_defaults_are_valid_and_independent():
    a, b = VmConfig("a"), VmConfig("b")
    assert a.validate() == []
    assert a.uuid != b.uuid
    assert (a.memory_mb, a.boot_order, a.display_scale, a.profile) == (16, ["a", "c"], "2x",
                                                                       "pc-at")
    a.boot_order.append("d")
    assert b.boot_order == ["a", "c"]
    assert a.schema_version == CURRENT_SCHEMA_VERSION == 3


def test_memory_limit_matches_the_core():
    from vmgui.core.memory import MAX_EXTENDED_MB

    assert MAX_MEMORY_MB == MAX_EXTENDED_MB + 1


def test_memory_limit_follows_the_profile():
    """The most RAM a VM may have is its machine's: 257 MB on the ISA PC/AT (today's
    limit, unchanged), 2048 MB on the PCI machine."""
    assert VmConfig("x", memory_mb=257).validate() == []
    assert VmConfig("x", memory_mb=2048, profile="pc-pci").validate() == []
    assert VmConfig("x", memory_mb=2, profile="pc-pci").validate() == []
    assert VmConfig("x", memory_mb=2049, profile="pc-pci").validate() == [
        "memory 2049 MB is more than the pc-pci machine takes (2048 MB)"]
    assert VmConfig("x", memory_mb=1024).validate() == [
        "memory 1024 MB is more than the pc-at machine takes (257 MB)"]


def test_unknown_profile_is_one_problem_not_two():
    assert VmConfig("x", memory_mb=5000, profile="pc-xt").validate() == [
        "machine profile 'pc-xt' is unknown (known: pc-at, pc-pci)"]


@pytest.mark.parametrize("name, fragment", [
    ("", "empty"), ("   ", "empty"), ("a/b", "/"), ("a\\b", "\\"), ("a:b", ":"),
    ("what?", "?"), ('say "hi"', '"'), ("a<b>", "<"), ("pipe|d", "|"), ("star*", "*"),
    ("tab\there", "control"), (" lead", "space"), ("trail ", "space"), ("dots.", "dot"),
    (".hidden", "dot"), ("CON", "reserved"), ("nul.txt", "reserved"), ("x" * 101, "longer"),
])
def test_bad_names(name, fragment):
    problems = VmConfig(name).validate()
    assert problems and any(fragment in p for p in problems), problems


@pytest.mark.parametrize("name", ["DOS 6.22", "Windows 3.1 (test)", "ünïcode", "a", "console"])
def test_good_names(name):
    assert VmConfig(name).validate() == []


@pytest.mark.parametrize("change, fragment", [
    ({"memory_mb": 1}, "memory 1 MB"),
    ({"memory_mb": 258}, "memory 258 MB is more than the pc-at machine takes (257 MB)"),
    ({"memory_mb": 3000, "profile": "pc-pci"},
     "memory 3000 MB is more than the pc-pci machine takes (2048 MB)"),
    ({"memory_mb": 1, "profile": "pc-pci"}, "outside 2-2048 MB"),
    ({"boot_order": ["a", "z"]}, "'z'"), ({"boot_order": []}, "empty"),
    ({"boot_order": ["a", "a"]}, "twice"), ({"display_scale": "3x"}, "3x"),
    ({"serial": SerialConfig("tcp", port=80)}, "port 80"),
    ({"serial": SerialConfig("tcp", port=70000)}, "70000"),
    ({"serial": SerialConfig("file")}, "file path"), ({"serial": SerialConfig("usb")}, "usb"),
    ({"hard_disks": [Attachment("1"), Attachment("2"), Attachment("3")]}, "at most 2"),
    ({"floppy_a": Attachment("")}, "floppy A:"), ({"cpu_limit_percent": 101}, "CPU"),
    ({"profile": "pc-xt"}, "pc-xt"), ({"uuid": "nope"}, "uuid"),
])
def test_validation_problems(change, fragment):
    cfg = VmConfig("x", **change)
    problems = cfg.validate()
    assert len(problems) == 1 and fragment in problems[0], problems


def test_validation_edges_accepted():
    for cfg in (VmConfig("x", memory_mb=2), VmConfig("x", memory_mb=257),
                VmConfig("x", serial=SerialConfig("tcp", port=1024)),
                VmConfig("x", serial=SerialConfig("tcp", port=65535)),
                VmConfig("x", serial=SerialConfig("file", path="com1.log")),
                VmConfig("x", boot_order=["d", "c", "b", "a"])):
        assert cfg.validate() == []


def test_toml_round_trip():
    cfg = full_config()
    text = tomli_w.dumps(cfg.to_toml_dict())
    back = VmConfig.from_toml_dict(tomllib.loads(text))
    assert back == cfg


def test_empty_drives_are_left_out_of_the_toml():
    d = VmConfig("x").to_toml_dict()
    assert "floppy_a" not in d and "floppy_b" not in d and d["hard_disks"] == []
    assert d["schema_version"] == CURRENT_SCHEMA_VERSION
    assert VmConfig.from_toml_dict(tomllib.loads(tomli_w.dumps(d))).floppy_a is None


def test_missing_keys_take_defaults():
    cfg = VmConfig.from_toml_dict({"schema_version": 1, "name": "bare"})
    assert cfg.memory_mb == 16 and cfg.boot_order == ["a", "c"] and cfg.validate() == []


def test_version_0_memory_kb_is_migrated():
    old = {"name": "old", "memory_kb": 4096 + 1}  # no schema_version: version 0
    cfg = VmConfig.from_toml_dict(old)
    assert cfg.memory_mb == 5  # rounded up: never less RAM than before
    assert cfg.schema_version == CURRENT_SCHEMA_VERSION
    assert "memory_kb" not in cfg.to_toml_dict()
    assert migrate({"name": "x", "memory_kb": 640})["memory_mb"] == 1


def test_newer_schema_is_refused():
    with pytest.raises(ConfigError) as info:
        VmConfig.from_toml_dict({"schema_version": 7, "name": "future"})
    assert str(info.value) == ("vm.toml: schema version 7 is newer than this vmgui "
                               "understands (3); upgrade vmgui")


@pytest.mark.parametrize("d, fragment", [
    ({"name": "x", "schema_version": 1, "memory_mb": "lots"}, "memory_mb must be an integer"),
    ({"name": "x", "schema_version": 1, "memory_mb": True}, "memory_mb"),
    ({"name": "x", "schema_version": 1, "boot_order": "ac"}, "boot_order"),
    ({"name": "x", "schema_version": 1, "floppy_a": "a.img"}, "floppy_a must be a table"),
    ({"name": "x", "schema_version": 1, "hard_disks": [{"read_only": True}]},
     "hard_disks[0].path is missing"),
    ({"name": "x", "schema_version": 1, "serial": {"port": "x"}}, "serial.port"),
    ({"schema_version": 1}, "name is missing"),
    ({"name": "x", "schema_version": "one"}, "schema_version"),
    ({"name": "x", "memory_kb": "big"}, "memory_kb"),
])
def test_wrong_types_raise_config_error_naming_the_source(d, fragment):
    with pytest.raises(ConfigError) as info:
        VmConfig.from_toml_dict(d, source="/vms/x/vm.toml")
    assert str(info.value).startswith("/vms/x/vm.toml: ") and fragment in str(info.value)


def test_unknown_keys_are_ignored():
    cfg = VmConfig.from_toml_dict({"schema_version": 1, "name": "x", "sound": "sb16"})
    assert cfg.validate() == []


def test_machine_config_resolves_relative_paths(tmp_path):
    cfg = VmConfig("x", memory_mb=8, boot_order=["c", "a"], floppy_b=Attachment("f.img"),
                   hard_disks=[Attachment("hdd.img"), Attachment("/abs/d.img")])
    mc = cfg.to_machine_config(tmp_path)
    assert mc.memory_mb == 8 and mc.boot_order == ("c", "a")
    assert mc.floppies == (None, tmp_path / "f.img")
    assert mc.hard_disks == (tmp_path / "hdd.img", Path("/abs/d.img"))
    assert mc.read_only is False
    assert VmConfig("y").to_machine_config(tmp_path).floppies == ()
    only_a = VmConfig("y", floppy_a=Attachment("a.img", read_only=True))
    mc = only_a.to_machine_config(tmp_path)
    assert mc.floppies == (tmp_path / "a.img",) and mc.read_only is True


def test_open_drives_honours_per_drive_read_only(tmp_path, test_guests):
    (tmp_path / "a.img").write_bytes((test_guests / "echo.img").read_bytes())
    (tmp_path / "c.img").write_bytes(bytes(1024 * 1024))
    cfg = VmConfig("x", floppy_a=Attachment("a.img", read_only=True),
                   hard_disks=[Attachment(str(tmp_path / "c.img"))])
    drives = cfg.open_drives(tmp_path)
    try:
        assert sorted(drives) == [0, 0x80]
        assert drives[0].read_only and drives[0].kind == "floppy"
        assert not drives[0x80].read_only and drives[0x80].kind == "hdd"
    finally:
        for image in drives.values():
            image.close()
    drives = cfg.open_drives(tmp_path, read_only=True)
    assert all(image.read_only for image in drives.values())
    for image in drives.values():
        image.close()
