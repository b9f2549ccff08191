"""The unicorn wrapper: real mode, register access, memory, hooks and the safe stop."""

from __future__ import annotations

import threading
import time

import pytest

from vmgui.bios.api import Reg
from vmgui.core.engine import CR0_INDEX, Engine


@pytest.fixture(params=[True, False], ids=["native-stop", "slicing"])
def engine(request):
    eng = Engine(use_native_stop=request.param)
    ram = bytearray(0x110000)
    eng.map_buffer(0, ram, 0, len(ram))
    eng.test_ram = ram  # keep the buffer alive with the engine
    yield eng
    eng.close()


def run_code(eng: Engine, code: bytes, at: int = 0x1000) -> int:
    eng.mem_write(at, code)
    eng.write(Reg.CS, 0)
    eng.write(Reg.EIP, at)
    return eng.run()


def test_native_hook_is_built():
    assert Engine().native_stop, "the C extension vmgui.core._stophook should be built"


def test_real_mode_runs_16_bit_code(engine):
    # mov ax, 1234h ; mov bx, ax ; hlt  -- as 32-bit code B8 would take 4 immediate bytes
    assert run_code(engine, bytes.fromhex("b83412 89c3 f4".replace(" ", ""))) == 0
    assert engine.read(Reg.EAX) & 0xFFFF == 0x1234
    assert engine.read(Reg.EBX) & 0xFFFF == 0x1234
    assert engine.read(Reg.EIP) == 0x1006  # just past the HLT


def test_segment_read_has_no_stale_upper_bytes(engine):
    engine.write(Reg.EAX, 0x12345678)
    engine.read(Reg.EAX)
    engine.write(Reg.DS, 0x0040)
    assert engine.read(Reg.DS) == 0x0040


def test_batch_read_and_write(engine):
    engine.write(Reg.ESI, 0xCAFE)
    values = engine.read_all()
    assert values[Reg.ESI] == 0xCAFE
    assert values[CR0_INDEX] & 1 == 0  # real mode
    values[Reg.EDI], values[Reg.ES] = 0xBEEF, 0x1234
    engine.write_some(values, (1 << Reg.EDI) | (1 << Reg.ES))
    assert engine.read(Reg.EDI) == 0xBEEF and engine.read(Reg.ES) == 0x1234


def test_segment_base_follows_selector(engine):
    # at 1234:0010 -> linear 12350: mov ax, 4321h ; hlt
    engine.mem_write(0x12350, bytes.fromhex("b82143f4"))
    engine.write(Reg.CS, 0x1234)
    engine.write(Reg.EIP, 0x0010)
    assert engine.run() == 0
    assert engine.read(Reg.EAX) & 0xFFFF == 0x4321


def test_mem_write_invalidates_translated_code(engine):
    run_code(engine, bytes.fromhex("b80100f4"))
    assert engine.read(Reg.EAX) & 0xFFFF == 1
    run_code(engine, bytes.fromhex("b80200f4"))  # same address, new code
    assert engine.read(Reg.EAX) & 0xFFFF == 2


def test_stop_from_another_thread_never_repeats_an_instruction(engine):
    # l: inc dword [0500h] ; inc ecx ; jmp l  -- a re-executed store makes [500h] > ECX
    engine.mem_write(0x1000, bytes.fromhex("66ff060005" "6641" "ebf7"))
    engine.write(Reg.EIP, 0x1000)
    running = True

    def stopper():
        while running:
            time.sleep(0.0005)
            engine.request_stop()

    thread = threading.Thread(target=stopper)
    thread.start()
    try:
        for _ in range(100):
            engine.stop_ctl.stop = 0
            assert engine.run() == 0
    finally:
        running = False
        thread.join()
    count = int.from_bytes(engine.mem_read(0x500, 4), "little")
    assert count > 0
    assert count == engine.read(Reg.ECX)


def test_block_budget_stops_by_itself():
    eng = Engine()
    ram = bytearray(0x20000)
    eng.map_buffer(0, ram, 0, len(ram))
    eng.stop_ctl.limit = 1000
    run_code(eng, bytes.fromhex("ebfe"))  # jmp $
    assert eng.stop_ctl.stopped_by == 2
    assert eng.stop_ctl.blocks == 1000
    eng.close()


def test_hooks_see_interrupts_and_ports(engine):
    seen = []
    engine.hook_interrupt(lambda n: seen.append(("int", n)))
    engine.hook_port_out(lambda port, size, value: seen.append(("out", port, value)))
    engine.hook_port_in(lambda port, size: 0x5A)
    # in al, 60h ; out 80h, al ; int 21h ; hlt
    run_code(engine, bytes.fromhex("e460" "e680" "cd21" "f4"))
    assert ("out", 0x80, 0x5A) in seen and ("int", 0x21) in seen


def test_hook_removal(engine):
    seen = []
    handle = engine.hook_interrupt(seen.append)
    handle.remove()
    run_code(engine, bytes.fromhex("cd21f4"))
    assert seen == []


def test_code_cache_is_bounded():
    """unicorn's default 1 GiB translation buffer let a garbage-running guest grow the
    VM process to 1.1 GB; vmgui asks for 128 MiB (or what the caller says)."""
    assert Engine().code_cache_bytes() == 128 << 20
    assert Engine(code_cache_mb=16).code_cache_bytes() == 16 << 20


def test_guest_keeps_running_right_after_the_code_cache_fills_and_is_flushed():
    """A 2 MiB cache fills many times over with fresh code (each round rewrites 60 KiB of
    straight-line code); every round must still compute the right result."""
    import random

    eng = Engine(code_cache_mb=2)
    ram = bytearray(0x110000)
    eng.map_buffer(0, ram, 0, len(ram))
    rng = random.Random(7)
    for _ in range(60):
        incs = rng.randrange(20_000, 30_000)
        body = b"\x40" * incs + b"\x90" * (60_000 - incs) + b"\xf4"  # inc ax ... hlt
        eng.write(Reg.EAX, 0)
        assert run_code(eng, body, at=0x10000) == 0
        assert eng.read(Reg.EAX) & 0xFFFF == incs & 0xFFFF
    eng.close()
