"""GuestMemory: reads and writes across the edges of the VGA window and of RAM; RAM up to
2 GB, each machine's limit, the high BIOS alias, whole-page loads."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from vmgui.bios.api import Reg
from vmgui.core.engine import Engine, EngineError
from vmgui.core.memory import (
    HIGH_BIOS_BASE,
    MAX_EXTENDED_MB,
    ONE_MB,
    PCI_HOLE_BASE,
    ROM_BASE,
    VGA_BASE,
    GuestMemory,
)
from vmgui.core.profiles import get_profile
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


# ---------------------------------------------------------------------- up to 2 GB (issue 10)
@pytest.fixture
def engine():
    engine = Engine()
    yield engine
    engine.close()


def test_ram_ends_below_the_pci_hole():
    assert ONE_MB + MAX_EXTENDED_MB * ONE_MB == 0x80000000 <= PCI_HOLE_BASE


def test_2gb_machine_reaches_its_last_byte_and_no_further(engine):
    memory = GuestMemory(engine, MAX_EXTENDED_MB, profile=get_profile("pc-pci"))
    assert memory.size == len(memory.ram) == 0x80000000
    memory.write(0x7FFFFFFC, b"last")
    assert engine.mem_read(0x7FFFFFFC, 4) == b"last" == memory.read(0x7FFFFFFC, 4)
    with pytest.raises(EngineError):
        engine.mem_read(0x80000000, 4)  # nothing is mapped above RAM
    with pytest.raises(IndexError, match="beyond memory"):
        memory.write(0x7FFFFFFE, b"1234")


def test_untouched_ram_costs_no_host_memory(engine):
    memory = GuestMemory(engine, MAX_EXTENDED_MB, profile=get_profile("pc-pci"))
    memory.write(0x40000000, b"x")
    assert int(memory.maybe_used_pages().sum()) < 64  # of 524288 pages


@pytest.mark.parametrize(("extended_mb", "profile", "message"), [
    (256, "pc-at", None), (257, "pc-at", r"memory 258 MB is more than the pc-at machine "
                                         r"takes \(257 MB\)"),
    (2047, "pc-pci", None),
    (2048, "pc-pci", r"extended memory 2048 MB outside 1-2047 MB"),
    (0, "pc-pci", r"extended memory 0 MB outside"),
])
def test_memory_limits_of_each_machine(engine, extended_mb, profile, message):
    if message is None:
        assert GuestMemory(engine, extended_mb, profile=get_profile(profile)).size \
            == (extended_mb + 1) * ONE_MB
    else:
        with pytest.raises(ValueError, match=message):
            GuestMemory(engine, extended_mb, profile=get_profile(profile))


def test_the_pci_machine_shows_its_bios_at_the_top_of_4gb(engine):
    memory = GuestMemory(engine, 15, profile=get_profile("pc-pci"))
    memory.load_rom(0xFFFF0, b"\xea\x5b\xe0\x00\xf0")  # the reset vector: jmp F000:E05B
    memory.load_rom(0xE0000, b"low end")
    assert engine.mem_read(HIGH_BIOS_BASE + 0x1FFF0, 5) == b"\xea\x5b\xe0\x00\xf0"
    assert engine.mem_read(HIGH_BIOS_BASE, 7) == b"low end"
    assert memory.read(0xFFFFFFF0, 5) == b"\xea\x5b\xe0\x00\xf0"


def test_the_isa_machine_has_nothing_at_the_top_of_4gb(engine):
    memory = GuestMemory(engine, 15, profile=get_profile("pc-at"))
    with pytest.raises(EngineError):
        engine.mem_read(HIGH_BIOS_BASE, 4)
    with pytest.raises(IndexError, match="beyond memory"):
        memory.read(0xFFFFFFF0, 4)


def test_put_pages_and_discard(engine):
    memory = GuestMemory(engine, 3, profile=get_profile("pc-pci"))
    memory.ram[0x200000:0x200004] = b"junk"
    memory.discard()
    memory.put_pages(np.array([0x100, 0x3FF]), b"A" * 4096 + b"B" * 4096)
    assert memory.ram[0x100000:0x101000] == b"A" * 4096
    assert memory.ram[0x3FF000:0x400000] == b"B" * 4096
    assert memory.ram[0x200000:0x200004] == bytes(4)


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


def test_data_writes_go_straight_to_ram_below_640k_and_above_the_hma(memory, monkeypatch):
    """An interrupt frame or a page-table bit is data: no engine call (which dropped the
    page's translated code, and with paging on emptied the TLB twice)."""
    calls = []
    monkeypatch.setattr(memory.engine, "mem_write", lambda addr, data: calls.append(addr))
    memory.write_data(0x9FFF0, b"\x11" * 16)
    memory.write_data(ONE_MB + 0x10000, b"\x22" * 4)
    memory.write_data(memory.size - 4, b"\x33" * 4)
    assert calls == []
    assert memory.read(0x9FFF0, 16) == b"\x11" * 16
    assert memory.read(ONE_MB + 0x10000, 4) == b"\x22" * 4
    assert memory.read(memory.size - 4, 4) == b"\x33" * 4
    memory.write_data(ONE_MB + 0x10, b"\x44")  # the HMA: its A20 alias needs the engine
    assert calls == [ONE_MB + 0x10]
    with pytest.raises(IndexError):
        memory.write_data(memory.size - 2, b"\x55" * 4)
