"""Try-out mode: ``vmgui run ... --tryout`` (and a library VM's ``tryout`` flag) writes to
throw-away overlays; the images keep their exact bytes.  What killed runs leave is cleaned
up by the next one."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_snapshot_cli import FREEDOS, PROMPT, ROOT, ok, vmgui
from vmgui.config import tryout
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.storage import overlay as ov

needs_freedos = pytest.mark.skipif(not FREEDOS.exists(), reason="FreeDOS image not available")
DEMO = ROOT / "resources" / "guests" / "demo.img"
WRITE = ("--wait-text", PROMPT, "--type", "copy con test.txt\\n", "--type", "hello\\n",
         "--key", "ctrl+z", "--key", "enter", "--wait-text", "^Z", "--sleep", "2",
         "--type", "type test.txt\\n", "--wait-text", "hello")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_freedos
def test_tryout_library_vm_and_bare_image(tmp_path):
    home = tmp_path / "machines"
    image = tmp_path / "freedos.img"
    shutil.copyfile(FREEDOS, image)
    digest = sha(image)
    ok(vmgui(home, "create", "Dos", "--floppy", image, "--boot", "a"))
    out = ok(vmgui(home, "run", "Dos", "--deterministic", "--tryout", *WRITE))
    assert "changes to the disks were discarded" in out
    assert sha(image) == digest
    out = ok(vmgui(home, "run", image, "--deterministic", "--tryout", *WRITE))
    assert "discarded" in out and sha(image) == digest


@needs_freedos
def test_tryout_flag_in_vm_toml(tmp_path):
    home = tmp_path / "machines"
    image = tmp_path / "freedos.img"
    shutil.copyfile(FREEDOS, image)
    digest = sha(image)
    ok(vmgui(home, "create", "Dos", "--floppy", image, "--boot", "a"))
    toml = home / "Dos" / "vm.toml"
    toml.write_text(toml.read_text().replace("tryout = false", "tryout = true"))
    out = ok(vmgui(home, "run", "Dos", "--deterministic", *WRITE))
    assert "discarded" in out and sha(image) == digest
    ok(vmgui(home, "run", "Dos", "--deterministic", "--wait-text", PROMPT,
             "--type", "dir test.txt\\n", "--wait-text", "File not found"))


def run_demo(home: Path, tmp: Path, target: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VMGUI_HOME=str(home), TMPDIR=str(tmp))
    cmd = [sys.executable, "-m", "vmgui.cli.main", "run", str(target), "--tryout",
           "--deterministic", "--sleep", "0.1"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=env)


def temp_session(tmp: Path, name: str, base: Path, extra: str | None = None) -> Path:
    path = tmp / name
    path.mkdir()
    ov.Overlay.create(path / "tryout-0.cow", base).close()
    if extra is not None:
        (path / extra).write_text("not an overlay")
    return path


def test_stale_temp_folders_of_killed_runs_are_removed(tmp_path, dead_pid):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    image = tmp_path / "demo.img"
    shutil.copyfile(DEMO, image)
    digest = sha(image)
    stale = temp_session(tmp, f"vmgui-tryout-{dead_pid}-k1ll3d_", image)
    live = temp_session(tmp, f"vmgui-tryout-{os.getpid()}-running", image)
    foreign = temp_session(tmp, f"vmgui-tryout-{dead_pid}-notmine", image, extra="a.txt")
    out = ok(run_demo(tmp_path / "home", tmp, image))
    assert "discarded" in out and sha(image) == digest
    assert not stale.exists()
    assert (live / "tryout-0.cow").is_file() and (foreign / "a.txt").is_file()
    assert sorted(p.name for p in tmp.iterdir()) == sorted([live.name, foreign.name])


def test_library_vm_session_of_a_killed_run_is_recovered(tmp_path, dead_pid):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    entry = Library(home).create(VmConfig("Demo", floppy_a=Attachment("demo.img")))
    shutil.copyfile(DEMO, entry.folder / "demo.img")
    digest = sha(entry.folder / "demo.img")
    session, _ = tryout.begin_tryout(entry.folder, owner_pid=dead_pid)
    with ov.Overlay.create(session / "tryout-00.cow", entry.folder / "demo.img") as o:
        o.write(0, b"LOST")
    out = ok(run_demo(home, tmp, "Demo"))
    assert "Demo: its last try-out session did not end cleanly" in out
    assert not session.exists() and sha(entry.folder / "demo.img") == digest
    # a session another live process owns: the VM is running there
    session, _ = tryout.begin_tryout(entry.folder, owner_pid=os.getpid())
    result = run_demo(home, tmp, "Demo")
    assert result.returncode == 2 and "Demo is running in try-out mode" in result.stderr
    assert tryout.end_tryout(session)
