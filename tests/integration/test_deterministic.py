"""Reproducible runs: ``vmgui run --deterministic`` gives byte-identical screenshots."""

from __future__ import annotations

import hashlib

import pytest

from tests.integration.runner import vmgui_run

pytestmark = pytest.mark.slow


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_freedos_screenshots_are_byte_identical(shared_guests, tmp_path):
    runs = []
    for n in (1, 2):
        ver, listing = tmp_path / f"ver{n}.png", tmp_path / f"dir{n}.png"
        result = vmgui_run(shared_guests / "freedos722.img", "--deterministic", "--read-only",
                           "--wait-text", "A:\\>", "--type", "ver\\n", "--wait-text", "FreeCom",
                           "--screenshot", ver, "--type", "dir\\n", "--wait-text", "bytes free",
                           "--screenshot", listing)
        assert result.returncode == 0, result.stderr
        runs.append((digest(ver), digest(listing)))
    assert runs[0] == runs[1]


def test_random_guest_is_reproducible(shared_guests, tmp_path):
    """cubicDoom seeds its maze from the PIT counter: in deterministic mode the PIT reads
    the same at the same point of execution, so the maze and the view repeat."""
    shots = []
    for n in (1, 2):
        shot = tmp_path / f"doom{n}.png"
        result = vmgui_run(shared_guests / "cubicdoom.img", "--deterministic", "--sleep", "1",
                           "--key-down", "alt", "--sleep", "0.3", "--key-up", "alt",
                           "--screenshot", shot)
        assert result.returncode == 0, result.stderr
        shots.append(digest(shot))
    assert shots[0] == shots[1]


def test_rtc_starts_at_a_fixed_date(tmp_path):
    from tests.conftest import ROOT

    out = tmp_path / "clock.txt"
    result = vmgui_run(ROOT / "resources" / "guests" / "demo.img", "--deterministic",
                       "--wait-text", "Choose 1-4", "--type", "3", "--wait-text", "BIOS ticks",
                       "--dump-text", out)
    assert result.returncode == 0, result.stderr
    assert "Date: 2000-01-01" in out.read_text(encoding="utf-8")


def test_guest_time_timeout_in_deterministic_mode(tmp_path, test_guests):
    result = vmgui_run(test_guests / "echo.img", "--deterministic", "--timeout", "2",
                       "--wait-text", "never on screen")
    assert result.returncode == 3
    assert "READY" in result.stderr
