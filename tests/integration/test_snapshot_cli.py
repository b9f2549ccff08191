"""Saved state and snapshots as a user drives them: ``vmgui run NAME ... --save-state``,
resuming on the next ``vmgui run NAME``, ``vmgui snapshot``, ``vmgui clone --snapshot``,
``vmgui export/import`` -- subprocesses on FreeDOS in a fresh ``VMGUI_HOME``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.runner import vmgui
from vmgui.config.library import Library
from vmgui.config.snapshots import Snapshots, flatten, saved_state_path

ROOT = Path(__file__).resolve().parents[2]
FREEDOS = Path("/work/shared/guests/freedos722.img")
pytestmark = pytest.mark.skipif(not FREEDOS.exists(), reason="FreeDOS image not available")
PROMPT = "A:\\>"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


@pytest.fixture
def home(tmp_path) -> Path:
    home = tmp_path / "machines"
    image = tmp_path / "freedos.img"
    shutil.copyfile(FREEDOS, image)
    ok(vmgui(home, "create", "Dos", "--floppy", image, "--boot", "a"))
    return home


def dir_listing(home: Path, tmp_path: Path, name: str) -> str:
    """``mdir`` of the current state's A: disk, read through its overlay chain."""
    flat = tmp_path / f"{name}.img"
    flat.unlink(missing_ok=True)
    flatten(Snapshots(home / "Dos").layers()["floppy_a"], flat)
    if shutil.which("mdir"):
        return subprocess.run(["mdir", "-i", flat, "::"], capture_output=True, text=True,
                              env=dict(os.environ, MTOOLS_SKIP_CHECK="1")).stdout
    return _listing_from_entries(flat.read_bytes())


def _listing_from_entries(data: bytes) -> str:
    """Without mtools: every live 8.3 directory entry in the image, one per line, laid
    out as mdir does ("TEST     TXT"); deleted (E5h) and empty entries are skipped."""
    lines = []
    for offset in range(0, len(data) - 32, 32):
        name, attributes = data[offset:offset + 11], data[offset + 11]
        if name[0] in (0x00, 0xE5) or attributes & 0xC8 or attributes == 0x0F:
            continue  # free, deleted, volume label / long-name pieces, garbage
        if all(0x20 <= byte < 0x7F for byte in name) and name[0] != 0x20:
            lines.append(f"{name[:8].decode()} {name[8:].decode()}")
    return "\n".join(lines)


def test_save_state_then_resume_pixel_for_pixel(home, tmp_path):
    before, after = tmp_path / "before.png", tmp_path / "after.png"
    ok(vmgui(home, "run", "Dos", "--deterministic", "--wait-text", PROMPT, "--type", "ver\\n",
             "--wait-text", "FreeCom", "--screenshot", before, "--save-state"))
    saved = saved_state_path(home / "Dos")
    assert saved.is_file()
    out = ok(vmgui(home, "run", "Dos", "--deterministic", "--screenshot", after,
                   "--type", "dir\\n", "--wait-text", "bytes free"))
    assert after.read_bytes() == before.read_bytes()
    assert not saved.exists()  # resumed: discarded, as VirtualBox does
    assert "starting the VM afresh" not in out


def test_damaged_saved_state_is_reported_kept_and_the_vm_boots(home, tmp_path):
    ok(vmgui(home, "run", "Dos", "--deterministic", "--wait-text", PROMPT, "--save-state"))
    saved = saved_state_path(home / "Dos")
    saved.write_bytes(saved.read_bytes()[:5000])
    result = vmgui(home, "run", "Dos", "--deterministic", "--wait-text", PROMPT)
    out = ok(result)
    assert "cannot resume the saved state" in out and "truncated" in out
    assert saved.stat().st_size == 5000  # kept for the user to decide
    ok(vmgui(home, "snapshot", "Dos", "discard-state"))
    assert not saved.exists()


def test_save_state_needs_a_library_vm(tmp_path):
    image = tmp_path / "fd.img"
    shutil.copyfile(FREEDOS, image)
    result = vmgui(tmp_path / "h", "run", image, "--save-state")
    assert result.returncode == 2 and "needs a library VM" in result.stderr


def test_snapshot_tree_follows_the_disk(home, tmp_path):
    ok(vmgui(home, "snapshot", "Dos", "take", "A", "--description", "clean"))
    ok(vmgui(home, "run", "Dos", "--deterministic", "--wait-text", PROMPT,
             "--type", "copy con test.txt\\n", "--type", "hello\\n", "--key", "ctrl+z",
             "--key", "enter", "--wait-text", "^Z", "--sleep", "2"))
    assert "TEST     TXT" in dir_listing(home, tmp_path, "b0")
    ok(vmgui(home, "snapshot", "Dos", "take", "B"))
    listing = ok(vmgui(home, "snapshot", "Dos", "list"))
    assert "A" in listing and "* " in listing and "(current state)" in listing

    ok(vmgui(home, "snapshot", "Dos", "restore", "A"))
    assert "TEST     TXT" not in dir_listing(home, tmp_path, "a")
    ok(vmgui(home, "snapshot", "Dos", "restore", "B"))
    assert "TEST     TXT" in dir_listing(home, tmp_path, "b")

    ok(vmgui(home, "clone", "Dos", "Old", "--snapshot", "A"))
    old = Library(home).get("Old")
    assert not Snapshots(old.folder).snapshots
    ok(vmgui(home, "snapshot", "Dos", "delete", "A"))
    assert "TEST     TXT" in dir_listing(home, tmp_path, "b2")
    ok(vmgui(home, "run", "Dos", "--deterministic", "--wait-text", PROMPT,
             "--type", "type test.txt\\n", "--wait-text", "hello"))


def test_flipped_byte_in_an_overlay_is_a_clear_error(home):
    ok(vmgui(home, "snapshot", "Dos", "take", "A"))
    layer = Snapshots(home / "Dos").layers()["floppy_a"]
    raw = bytearray(layer.read_bytes())
    raw[30] ^= 1
    layer.write_bytes(bytes(raw))
    result = vmgui(home, "run", "Dos", "--deterministic", "--wait-text", PROMPT)
    assert result.returncode == 2
    assert layer.name in result.stderr and "Traceback" not in result.stderr


def test_export_import_and_bad_checksum(home, tmp_path):
    ok(vmgui(home, "snapshot", "Dos", "take", "A"))
    archive = tmp_path / "dos.tar"
    ok(vmgui(home, "export", "Dos", archive))
    clash = vmgui(home, "import", archive)
    assert clash.returncode == 2 and "already exists" in clash.stderr
    ok(vmgui(home, "import", archive, "--name", "Dos2"))
    ok(vmgui(home, "run", "Dos2", "--deterministic", "--wait-text", PROMPT))

    blob = bytearray(archive.read_bytes())
    at = blob.find(b"FreeDOS", 4096)  # somewhere inside a disk member
    blob[at] ^= 0x20
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(blob))
    names = sorted(p.name for p in home.iterdir())
    result = vmgui(home, "import", bad, "--name", "Dos3")
    assert result.returncode == 2 and "checksum" in result.stderr
    assert sorted(p.name for p in home.iterdir()) == names
