"""Shared test fixtures: where the real guest images and our own test guests live."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_GUESTS = ROOT.parent / "shared" / "guests"
TEST_GUESTS = ROOT / "tests" / "guests"


@pytest.fixture(scope="session")
def shared_guests() -> Path:
    if not SHARED_GUESTS.is_dir():
        pytest.skip(f"real guest images not found at {SHARED_GUESTS}")
    return SHARED_GUESTS


@pytest.fixture(scope="session")
def test_guests() -> Path:
    return TEST_GUESTS


@pytest.fixture
def dead_pid() -> int:
    """A process id no process has now (for stale try-out sessions): the highest free
    number below the kernel's limit, found by scanning /proc."""
    proc = Path("/proc")
    if not (proc / "self").exists():
        pytest.skip("needs /proc to find a process id that is not in use")
    pid_max = int((proc / "sys" / "kernel" / "pid_max").read_text())
    for pid in range(pid_max - 1, 1000, -1):
        if not (proc / str(pid)).exists():
            return pid
    pytest.skip("no free process id found")
