"""Bochs/QEMU debug console port."""

from __future__ import annotations

from vmgui.devices.bus import IoBus
from vmgui.devices.debugcon import DebugConsole


def test_writes_reach_output_and_reads_return_e9():
    bus = IoBus()
    out = bytearray()
    DebugConsole(bus, out.extend)
    for ch in b"OK\n":
        bus.write(0xE9, 1, ch)
    assert bytes(out) == b"OK\n"
    assert bus.read(0xE9) == 0xE9


def test_word_write_is_split_into_bytes_at_another_port():
    bus = IoBus()
    out = bytearray()
    con = DebugConsole(bus, out.extend, port=0x402)
    bus.write(0x402, 2, 0x4241)  # 'A', then 'B' goes to the unclaimed 403h
    assert bytes(out) == b"A"
    con.registration.remove()
    assert bus.read(0x402) == 0xFF
