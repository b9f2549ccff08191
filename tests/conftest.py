"""Shared test fixtures: where the real guest images and our own test guests live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import debian_images

ROOT = Path(__file__).resolve().parent.parent
# ../shared/guests beside the checkout; VMGUI_SHARED_GUESTS points elsewhere (a git
# worktree one level deeper than the main checkout, say)
SHARED_GUESTS = Path(os.environ.get("VMGUI_SHARED_GUESTS") or ROOT.parent / "shared" / "guests")
TEST_GUESTS = ROOT / "tests" / "guests"


@pytest.fixture(scope="session")
def shared_guests() -> Path:
    if not SHARED_GUESTS.is_dir():
        pytest.skip(f"real guest images not found at {SHARED_GUESTS}")
    return SHARED_GUESTS


@pytest.fixture(scope="session")
def test_guests() -> Path:
    return TEST_GUESTS


@pytest.fixture(scope="session")
def debian_image():
    """``debian_image(name)``: the path of a guest image built from Debian's packages
    (``tests/debian_images.py``: GRUB, SYSLINUX/ISOLINUX, memtest86+), cached between runs
    in the user's cache folder; a test whose image needs a package that is not installed
    skips, naming the package."""
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            try:
                built[name] = debian_images.image(name, SHARED_GUESTS / "freedos722.img")
            except debian_images.MissingInput as exc:
                pytest.skip(str(exc))
        return built[name]

    return get


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
