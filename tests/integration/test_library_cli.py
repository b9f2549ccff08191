"""``vmgui list/create/modify/delete`` and ``vmgui run NAME`` as a user runs them: a
subprocess with ``VMGUI_HOME`` pointing at a fresh library."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.runner import vmgui
from vmgui.config.library import Library

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "machines"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def bad(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


def test_create_list_modify_delete(home, tmp_path):
    floppy = tmp_path / "boot.img"
    floppy.write_bytes(bytes(1474560))
    assert "No VMs" in ok(vmgui(home, "list"))
    ok(vmgui(home, "create", "My DOS", "--memory", "8", "--floppy", floppy, "--new-hdd", "2",
             "--boot", "c,a", "--notes", "for testing"))
    cfg = Library(home).get("My DOS").config
    assert (cfg.memory_mb, cfg.boot_order, cfg.notes) == (8, ["c", "a"], "for testing")
    assert cfg.floppy_a.path == str(floppy)
    assert (home / "My DOS" / cfg.hard_disks[0].path).stat().st_size == 2 * 1024 * 1024
    listing = ok(vmgui(home, "list"))
    assert "My DOS" in listing and "8 MB" in listing and "boot c,a" in listing

    ok(vmgui(home, "modify", "My DOS", "--memory", "32", "--rename", "DOS 6", "--no-floppy"))
    cfg = Library(home).get("DOS 6").config
    assert cfg.memory_mb == 32 and cfg.floppy_a is None and cfg.boot_order == ["c", "a"]
    assert len(cfg.hard_disks) == 1 and not (home / "My DOS").exists()

    removed = ok(vmgui(home, "delete", "DOS 6", "--keep-files"))
    assert ".removed" in removed
    assert list((home / ".removed").iterdir())[0].joinpath("hdd.img").is_file()
    ok(vmgui(home, "create", "DOS 6"))
    ok(vmgui(home, "delete", "DOS 6"))
    assert "No VMs" in ok(vmgui(home, "list"))
    assert floppy.is_file()


def test_bad_input_exits_2(home, tmp_path):
    ok(vmgui(home, "create", "one"))
    bad(vmgui(home, "create", "ONE"), "already exists")
    bad(vmgui(home, "create", "a:b"), "a:b", "not allowed")
    bad(vmgui(home, "create", "x", "--memory", "1"), "memory 1 MB")
    bad(vmgui(home, "create", "x", "--boot", "a,q"), "'q'")
    bad(vmgui(home, "create", "x", "--floppy", tmp_path / "none.img"), "none.img",
        "no such file")
    bad(vmgui(home, "create", "x", "--new-hdd", "99999"), "--new-hdd 99999")
    bad(vmgui(home, "modify", "ghost", "--memory", "4"), "no VM called 'ghost'")
    bad(vmgui(home, "modify", "one", "--memory", "999"), "memory 999 MB")
    bad(vmgui(home, "modify", "one", "--rename", "bad/name"), "bad/name")
    bad(vmgui(home, "delete", "ghost"), "no VM called 'ghost'")
    bad(vmgui(home, "run", "--headless", "ghost", "--wait-text", "x"), "ghost",
        "nor a VM in the library")
    assert [e.name for e in Library(home).entries()] == ["one"]
    assert Library(home).get("one").config.memory_mb == 16


@pytest.mark.slow
def test_run_library_vm_next_to_a_corrupt_one(home, tmp_path, test_guests):
    floppy = tmp_path / "echo-copy.img"
    shutil.copyfile(test_guests / "echo.img", floppy)
    ok(vmgui(home, "create", "echo", "--floppy", floppy, "--memory", "4"))
    (home / "corrupt").mkdir()
    (home / "corrupt" / "vm.toml").write_text("this is = = not toml\n")
    (home / "future").mkdir()
    (home / "future" / "vm.toml").write_text('schema_version = 7\nname = "future"\n')

    listing = ok(vmgui(home, "list")).splitlines()
    by_name = {line.split()[0]: line for line in listing}
    assert "inaccessible" in by_name["corrupt"] and "not valid TOML" in by_name["corrupt"]
    assert "schema version 7 is newer than this vmgui understands (3); upgrade vmgui" \
        in by_name["future"]
    assert "inaccessible" not in by_name["echo"] and "4 MB" in by_name["echo"]

    result = vmgui(home, "run", "--headless", "echo", "--timeout", "20", "--wait-text", "READY",
                   "--type", "a", "--wait-text", "1E61")
    ok(result)
    bad(vmgui(home, "run", "--headless", "corrupt", "--wait-text", "READY"),
        "VM 'corrupt' is inaccessible", "not valid TOML")
    bad(vmgui(home, "run", "--headless", "future", "--wait-text", "READY"),
        "schema version 7 is newer")
    bad(vmgui(home, "run", "--headless", "echo", "--floppy", floppy), "vmgui modify")

    floppy.unlink()
    bad(vmgui(home, "run", "--headless", "echo", "--wait-text", "READY"),
        "echo-copy.img", "no such file")


def test_modify_sets_and_clears_try_out_mode(home):
    ok(vmgui(home, "create", "Demo"))
    assert Library(home).get("Demo").config.tryout is False
    assert "Changed VM 'Demo'" in ok(vmgui(home, "modify", "Demo", "--tryout"))
    assert Library(home).get("Demo").config.tryout is True
    assert "try-out mode" in ok(vmgui(home, "list"))
    ok(vmgui(home, "modify", "Demo", "--no-tryout", "--memory", "8"))
    cfg = Library(home).get("Demo").config
    assert (cfg.tryout, cfg.memory_mb) == (False, 8)
    assert "try-out mode" not in ok(vmgui(home, "list"))
    bad(vmgui(home, "modify", "Demo", "--tryout", "--no-tryout"), "not allowed with")
    ok(vmgui(home, "create", "Other", "--tryout"))
    assert Library(home).get("Other").config.tryout is True


def test_list_names_the_image_below_a_snapshot_layer(home, tmp_path):
    from vmgui.storage import media

    floppy = media.create_floppy(tmp_path / "fd.img", "720K")
    ok(vmgui(home, "create", "Demo", "--floppy", floppy, "--new-hdd", "1"))
    ok(vmgui(home, "snapshot", "Demo", "take", "A"))
    cfg = Library(home).get("Demo").config
    assert cfg.floppy_a.path.endswith(".cow")  # the VM runs on snapshot layers now
    listing = ok(vmgui(home, "list"))
    assert f"A: {floppy} (snapshot layer)" in listing
    assert "C: hdd.img (snapshot layer)" in listing  # a disk in the VM folder: relative
    assert ".cow" not in listing
    formats = {m.path.name: m.format for m in Library(home).media()}
    layer = Path(cfg.floppy_a.path).name
    assert formats[layer] == "720K floppy, snapshot layer over fd.img"


def test_list_running_lists_only_running_vms(home):
    ok(vmgui(home, "create", "Idle"))
    listing = ok(vmgui(home, "list", "--running"))
    assert "Idle" not in listing and "not running" not in listing
    assert "No running VMs" in listing
    assert "Idle" in ok(vmgui(home, "list"))


def test_run_help_and_memory_limits_agree_with_the_settings(home, tmp_path):
    from vmgui.config.schema import MAX_MEMORY_MB, MIN_MEMORY_MB

    help_text = " ".join(ok(vmgui(home, "run", "--help")).split())  # unwrapped
    assert "until the console window exists" not in help_text
    assert "--headless no window: accepted for scripts; 'vmgui run' always runs without " \
        "one" in help_text
    assert f"--memory MB RAM in MB, {MIN_MEMORY_MB}-{MAX_MEMORY_MB}" in help_text
    assert "at most what the machine takes (pc-at 257, pc-pci 2048)" in help_text
    image = tmp_path / "boot.img"
    image.write_bytes(bytes(512))
    at_limit = "more than the pc-at machine takes (257 MB)"
    bad(vmgui(home, "run", image, "--memory", 258), at_limit, "(--machine pc-pci takes it)")
    bad(vmgui(home, "run", image, "--memory", MAX_MEMORY_MB + 1), at_limit)
    bad(vmgui(home, "run", image, "--memory", MIN_MEMORY_MB - 1),
        f"outside {MIN_MEMORY_MB}-257 MB")
    bad(vmgui(home, "run", image, "--machine", "pc-pci", "--memory", MAX_MEMORY_MB + 1),
        f"memory {MAX_MEMORY_MB + 1} MB is more than the pc-pci machine takes "
        f"({MAX_MEMORY_MB} MB)")
    bad(vmgui(home, "create", "x", "--memory", 258), at_limit)
    bad(vmgui(home, "create", "x", "--machine", "pc-pci", "--memory", 3000),
        "memory 3000 MB is more than the pc-pci machine takes (2048 MB)")
    bad(vmgui(home, "create", "x", "--machine", "pc-xt"), "invalid choice: 'pc-xt'")


def test_run_machine_of_a_library_vm_is_its_own(home, test_guests):
    """``create/modify --machine`` picks the machine kind and its memory range; ``run``
    boots a 2 GB pc-pci VM (bigmem.img reaches its last megabyte) and will not switch a
    library VM's kind for one run (issue 10)."""
    image = test_guests / "bigmem.img"
    ok(vmgui(home, "create", "Demo", "--floppy", image))
    bad(vmgui(home, "modify", "Demo", "--memory", "2048"),
        "memory 2048 MB is more than the pc-at machine takes (257 MB)")
    ok(vmgui(home, "modify", "Demo", "--machine", "pc-pci", "--memory", "2048"))
    cfg = Library(home).get("Demo").config
    assert (cfg.profile, cfg.memory_mb) == ("pc-pci", 2048)
    out = ok(vmgui(home, "run", "Demo", "--wait-text", "TOP OK"))
    assert "Traceback" not in out
    bad(vmgui(home, "run", "Demo", "--machine", "pc-at"),
        "--machine cannot change library VM 'Demo' (a pc-pci); use 'vmgui modify --machine'")
    bad(vmgui(home, "modify", "Demo", "--machine", "pc-at"),
        "memory 2048 MB is more than the pc-at machine takes (257 MB)")
    ok(vmgui(home, "run", image, "--machine", "pc-pci", "--memory", "2048",
             "--wait-text", "TOP OK"))
