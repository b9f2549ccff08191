"""GuestMemory: reads and writes across the edges of the VGA window and of RAM."""

from __future__ import annotations

import mmap

import pytest

from vmgui.bios.api import Reg
from vmgui.core.engine import Engine
from vmgui.core.memory import ONE_MB, ROM_BASE, VGA_BASE, GuestMemory
from vmgui.devices.vbe_lfb import LFB_BASE, LFB_SIZE
from vmgui.devices.video_memory import IoWindow, RamWindow


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


def test_window_a_can_show_a_bank_of_the_framebuffer(memory):
    lfb = memoryview(mmap.mmap(-1, LFB_SIZE))
    memory.map_lfb(lfb)
    memory.write(VGA_BASE + 0x10000, b"B")  # window B: the VGA memory, whatever A shows
    memory.map_window_a(RamWindow(lfb, 0x20000, "lfb"))
    memory.write(VGA_BASE + 0xFFFF, b"xy")  # the last byte of A, the first of B
    assert lfb[0x2FFFF] == ord("x") and memory.vram[0x10000] == ord("y")
    assert memory.read(LFB_BASE + 0x2FFFF, 1) == b"x"
    assert memory.engine.mem_read(VGA_BASE + 0xFFFF, 2) == b"xy"
    memory.write(LFB_BASE + 5, b"lfb")
    assert memory.read(LFB_BASE + 5, 3) == b"lfb" == bytes(lfb[5:8])
    with pytest.raises(IndexError, match="beyond memory"):
        memory.write(LFB_BASE + LFB_SIZE - 2, b"1234")
    memory.map_window_a(RamWindow(memoryview(memory.vram), 0, "window"))
    assert memory.read(VGA_BASE + 0xFFFF, 1) == b"\0"


def test_window_a_as_io_memory_goes_through_the_device(memory):
    seen = []
    window = IoWindow(lambda offset: offset & 0xFF,
                      lambda offset, value: seen.append((offset, value)))
    memory.map_window_a(window)
    memory.write(VGA_BASE + 0x10, b"\x42\x43")
    assert seen == [(0x10, 0x42), (0x11, 0x43)]
    assert memory.read(VGA_BASE + 0x20, 3) == b"\x20\x21\x22"
    assert memory.read_u8(VGA_BASE + 0x7F) == 0x7F
    # the guest's own accesses: a dword store and a byte load at A000:0100
    code = bytes.fromhex("b800a0" "8ec0" "66b844332211" "2666a30001" "26a00401" "f4")
    memory.write(0x1000, code)
    engine = memory.engine
    engine.write(Reg.CS, 0)
    engine.write(Reg.EIP, 0x1000)
    seen.clear()
    assert engine.run() == 0
    assert seen == [(0x100, 0x44), (0x101, 0x33), (0x102, 0x22), (0x103, 0x11)]
    assert engine.read(Reg.EAX) & 0xFF == 0x04
