"""Host memory for guest RAM (vmgui.core.hostpages): lazy allocation, touched pages found
without touching the others, pages given back as zeros."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from vmgui.core import hostpages
from vmgui.core.hostpages import PAGE

needs_pagemap = pytest.mark.skipif(not os.access("/proc/self/pagemap", os.R_OK),
                                   reason="needs Linux's /proc/self/pagemap")


def test_allocate_gives_zeroed_private_memory():
    buf = hostpages.allocate(64 * PAGE)
    assert len(buf) == 64 * PAGE and buf[:] == bytes(64 * PAGE)
    buf[5] = 1
    assert buf[5] == 1


@pytest.mark.parametrize("size", [0, -PAGE, PAGE + 1])
def test_allocate_refuses_sizes_that_are_not_whole_pages(size):
    with pytest.raises(ValueError, match="not a positive multiple of 4096"):
        hostpages.allocate(size)


@needs_pagemap
def test_only_touched_pages_may_be_used():
    buf = hostpages.allocate(256 * PAGE)
    assert not hostpages.maybe_used_pages(buf).any()
    buf[3 * PAGE + 7] = 0xAA  # written
    _ = buf[200 * PAGE]  # only read: maps the zero page, so it counts as "maybe"
    maybe = hostpages.maybe_used_pages(buf)
    assert list(np.flatnonzero(maybe)) == [3, 200]


@needs_pagemap
def test_asking_does_not_touch_a_page():
    buf = hostpages.allocate(1024 * PAGE)
    for _ in range(3):
        assert not hostpages.maybe_used_pages(buf).any()


def test_discard_reads_as_zeros_and_forgets_the_pages():
    buf = hostpages.allocate(16 * PAGE)
    buf[:] = b"\xff" * len(buf)
    hostpages.discard(buf, 4 * PAGE, 8 * PAGE)
    if sys.platform.startswith("linux") and os.access("/proc/self/pagemap", os.R_OK):
        maybe = hostpages.maybe_used_pages(buf)  # before reading them maps the zero page
        assert not maybe[4:12].any() and maybe[:4].all() and maybe[12:].all()
    assert buf[: 4 * PAGE] == b"\xff" * 4 * PAGE
    assert buf[4 * PAGE : 12 * PAGE] == bytes(8 * PAGE)
    assert buf[12 * PAGE :] == b"\xff" * 4 * PAGE
    hostpages.discard(buf)
    assert buf[:] == bytes(len(buf))


def test_discard_without_madvise_writes_zeros(monkeypatch):
    monkeypatch.setattr(hostpages.sys, "platform", "other")
    buf = hostpages.allocate(600 * PAGE)  # more than one fallback zero block
    buf[:] = b"\x01" * len(buf)
    hostpages.discard(buf, PAGE)
    assert buf[:PAGE] == b"\x01" * PAGE and buf[PAGE:] == bytes(599 * PAGE)


@pytest.mark.parametrize(("offset", "size"), [(1, PAGE), (0, PAGE + 1), (0, 17 * PAGE)])
def test_discard_refuses_partial_pages_and_ranges_outside(offset, size):
    buf = hostpages.allocate(16 * PAGE)
    with pytest.raises(ValueError, match="not whole pages of the buffer"):
        hostpages.discard(buf, offset, size)


def test_without_a_page_map_every_page_is_checked(monkeypatch):
    def no_proc(*args, **kwargs):
        raise PermissionError("no /proc here")

    monkeypatch.setattr("builtins.open", no_proc)
    buf = hostpages.allocate(8 * PAGE)
    assert hostpages.maybe_used_pages(buf).all()
