"""The committed demo guest image is what its NASM source assembles to, and a bootable
1.44 MB floppy."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

GUESTS = ROOT / "resources" / "guests"
DEMO = GUESTS / "demo.img"


def test_demo_image_matches_source(tmp_path):
    if shutil.which("nasm") is None:
        pytest.skip("nasm is not installed")
    out = tmp_path / "demo.img"
    subprocess.run(["nasm", "-f", "bin", "-o", str(out), "demo.asm"], check=True, cwd=GUESTS)
    assert out.read_bytes() == DEMO.read_bytes()


def test_demo_image_is_a_bootable_floppy():
    data = DEMO.read_bytes()
    assert len(data) == 1474560
    assert data[510:512] == b"\x55\xaa"
