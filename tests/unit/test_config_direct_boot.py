"""The direct-boot settings of a VM (``[direct_boot]`` in vm.toml, schema version 3):
round trip, older files without them, validation of the paths and the command line, and
what the machine gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmgui.bios.linuxboot import CMDLINE_ROOM
from vmgui.config.library import Library, media_problems
from vmgui.config.schema import (
    MAX_CMDLINE_BYTES,
    Attachment,
    ConfigError,
    DirectBoot,
    VmConfig,
    migrate,
)


def linux_vm(**kw) -> VmConfig:
    return VmConfig("Linux", memory_mb=128, direct_boot=DirectBoot(**kw))


def test_a_vm_without_a_kernel_writes_no_direct_boot_table():
    d = VmConfig("Dos").to_toml_dict()
    assert "direct_boot" not in d and d["schema_version"] == 3
    assert VmConfig.from_toml_dict(d).direct_boot == DirectBoot()


def test_round_trip_keeps_kernel_initrd_and_command_line():
    cfg = linux_vm(kernel="/boot/vmlinuz", initrd="initrd.gz", append="console=ttyS0 quiet")
    d = cfg.to_toml_dict()
    assert d["direct_boot"] == {"kernel": "/boot/vmlinuz", "initrd": "initrd.gz",
                                "append": "console=ttyS0 quiet"}
    back = VmConfig.from_toml_dict(d)
    assert back.direct_boot == cfg.direct_boot and back.validate() == []


@pytest.mark.parametrize("version", [0, 1, 2])
def test_older_files_load_and_boot_from_their_disks(version):
    old = {"schema_version": version, "name": "old", "hard_disks": [{"path": "c.img"}]}
    if version == 0:
        del old["schema_version"]
    cfg = VmConfig.from_toml_dict(old)
    assert cfg.direct_boot == DirectBoot() and cfg.hard_disks == [Attachment("c.img")]
    assert migrate(dict(old))["schema_version"] == 3


def test_a_file_with_a_kernel_saved_by_this_vmgui_is_refused_by_an_older_one():
    """The version is what stops an older vmgui from booting the disk instead (it checks
    schema_version against its own, 2)."""
    assert linux_vm(kernel="k").to_toml_dict()["schema_version"] > 2


@pytest.mark.parametrize(("table", "message"), [
    ("vmlinuz", "direct_boot must be a table, not 'vmlinuz'"),
    ({"kernel": 5}, "direct_boot.kernel must be text, not 5"),
    ({"kernel": "k", "append": ["a"]}, "direct_boot.append must be text"),
])
def test_wrong_types_are_named(table, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        VmConfig.from_toml_dict({"schema_version": 3, "name": "x", "direct_boot": table})


@pytest.mark.parametrize(("boot", "problem"), [
    (DirectBoot(initrd="/i.gz"), "an initrd is set but no kernel to boot with it"),
    (DirectBoot(append="quiet"), "a kernel command line is set but no kernel"),
    (DirectBoot(kernel="  "), "the kernel path is blank"),
    (DirectBoot(kernel="k", initrd=" "), "the initrd path is blank"),
    (DirectBoot(kernel="vm\x00linuz"), "kernel path 'vm\\x00linuz' contains control "
                                       "characters (U+0000)"),
    (DirectBoot(kernel="../elsewhere/vmlinuz"), "kernel path '../elsewhere/vmlinuz' leads "
                                                "out of the VM folder with .."),
    (DirectBoot(kernel="k", initrd="x" * 5000), "initrd path 'xxxx"),
    (DirectBoot(kernel="k", append="console=ttyS0\nquiet"),
     "the kernel command line contains control characters (U+000A)"),
    (DirectBoot(kernel="k", append="a" * 9000),
     "the kernel command line is 9000 bytes long (at most 8191)"),
])
def test_bad_values_are_named(boot, problem):
    problems = VmConfig("x", direct_boot=boot).validate()
    assert any(problem in p for p in problems), problems


def test_the_longest_command_line_is_what_the_loader_has_room_for():
    assert MAX_CMDLINE_BYTES == CMDLINE_ROOM - 1
    assert VmConfig("x", direct_boot=DirectBoot("k", "", "a" * MAX_CMDLINE_BYTES)
                    ).validate() == []


def test_the_machine_gets_the_kernel_resolved_against_the_folder(tmp_path):
    cfg = linux_vm(kernel="vmlinuz", initrd="/abs/initrd.gz", append="console=ttyS0")
    cfg.hard_disks = [Attachment("c.img")]
    machine = cfg.to_machine_config(tmp_path)
    assert (machine.kernel, machine.initrd, machine.append) == (
        tmp_path / "vmlinuz", Path("/abs/initrd.gz"), "console=ttyS0")
    assert machine.hard_disks == (tmp_path / "c.img",)  # the disk stays attached


def test_without_a_kernel_the_machine_boots_from_disk(tmp_path):
    machine = VmConfig("x").to_machine_config(tmp_path)
    assert (machine.kernel, machine.initrd, machine.append) == (None, None, "")


def test_a_fifo_as_the_kernel_is_a_media_problem(tmp_path):
    import os

    library = Library(tmp_path / "lib")
    fifo = tmp_path / "vmlinuz"
    os.mkfifo(fifo)
    entry = library.create(linux_vm(kernel=str(fifo)))
    assert media_problems(entry.config, entry.folder) == [
        f"kernel '{fifo}' is not a regular file (FIFO)"]
    missing = linux_vm(kernel=str(tmp_path / "gone"))
    assert media_problems(missing, entry.folder) == []  # reported when it starts
