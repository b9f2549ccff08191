"""The committed test-guest images are what their sources assemble to."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import TEST_GUESTS


@pytest.mark.parametrize("source", sorted(TEST_GUESTS.glob("*.asm")), ids=lambda p: p.stem)
def test_image_matches_source(source, tmp_path):
    if shutil.which("nasm") is None:
        pytest.skip("nasm is not installed")
    out = tmp_path / "out.img"
    subprocess.run(["nasm", "-f", "bin", "-o", str(out), source.name], check=True,
                   cwd=TEST_GUESTS)
    assert out.read_bytes() == source.with_suffix(".img").read_bytes()
    assert len(out.read_bytes()) % 512 == 0  # a boot sector, or one that loads more
