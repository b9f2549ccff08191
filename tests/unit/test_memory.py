"""GuestMemory: reads and writes across the edges of the VGA window and of RAM."""

from __future__ import annotations

import pytest

from vmgui.core.engine import Engine
from vmgui.core.memory import ONE_MB, ROM_BASE, VGA_BASE, GuestMemory


@pytest.fixture
def memory():
    engine = Engine()
    yield GuestMemory(engine, 1)
    engine.close()


def test_reads_across_both_edges_of_the_vga_window(memory):
    memory.write(VGA_BASE - 2, b"ab")
    memory.write(VGA_BASE, b"cd")
    memory.write(ROM_BASE - 2, b"ef")
    memory.write(ROM_BASE, b"gh")
    assert memory.read(VGA_BASE - 2, 4) == b"abcd"
    # found by the BIOS fuzzing: a read from the window's end into the ROM area raised
    assert memory.read(ROM_BASE - 2, 4) == b"efgh"
    assert memory.read(VGA_BASE - 2, 0x20004)[-4:] == b"efgh"


def test_reads_beyond_memory_are_named(memory):
    with pytest.raises(IndexError, match="beyond memory"):
        memory.read(2 * ONE_MB - 2, 4)
    with pytest.raises(IndexError, match="beyond memory"):
        memory.write(2 * ONE_MB - 2, b"1234")
