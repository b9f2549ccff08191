"""Try-out mode: ``vmgui run ... --tryout`` (and a library VM's ``tryout`` flag) writes to
throw-away overlays; the images keep their exact bytes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.integration.test_snapshot_cli import FREEDOS, PROMPT, ok, vmgui

pytestmark = pytest.mark.skipif(not FREEDOS.exists(), reason="FreeDOS image not available")
WRITE = ("--wait-text", PROMPT, "--type", "copy con test.txt\\n", "--type", "hello\\n",
         "--key", "ctrl+z", "--key", "enter", "--wait-text", "^Z", "--sleep", "2",
         "--type", "type test.txt\\n", "--wait-text", "hello")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
