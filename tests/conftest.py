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
