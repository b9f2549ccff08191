"""``vmgui list/create/modify/delete`` and ``vmgui run NAME`` as a user runs them: a
subprocess with ``VMGUI_HOME`` pointing at a fresh library."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vmgui.config.library import Library

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "machines"


def vmgui(home: Path, *args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VMGUI_HOME=str(home))
    cmd = [sys.executable, "-m", "vmgui.cli.main", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=env)


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
    assert "schema version 7 is newer than this vmgui understands (1); upgrade vmgui" \
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
