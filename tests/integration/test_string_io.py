"""REP INS/OUTS on the ATA data port through vmgui's bulk string-I/O path
(vmgui.core.stringio; issue 11, ATA PIO speed): tests/guests/stringio.asm reads and
writes sectors in real mode (partial counts, DF=1, a DI that wraps, rep insd) and in
32-bit protected mode with paging (a transfer across two pages mapped apart, one whose
second page faults and is mapped by the guest's #PF handler, rep outsd).  Each run is
made with the bulk path and without it: guest memory, the registers the guest kept, the
disk and the device state must be the same, and must be what the disk holds.
Deterministic runs, driven on the test's own thread."""

from __future__ import annotations

import gc
import hashlib
import struct

import pytest

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig

GUEST_SECONDS = 0.5
DISK_SECTORS = 4096
TABLE = 0x600
SECTOR = 512


CODE_AT = 0x100  # where in sectors 40 and 41 (past the first element: the engine stores it)
CODE = {40: bytes.fromhex("66B822222222CB"),  # mov eax, 22222222h; retf (16-bit)
        41: bytes.fromhex("B844444444C3")}  # mov eax, 44444444h; ret (32-bit)


def pattern(sectors: int) -> bytes:
    """Distinct, non-repeating bytes for every sector of the disk (sectors 40 and 41
    hold code at CODE_AT)."""
    out = bytearray()
    for lba in range(sectors):
        data = b"".join(hashlib.sha256(f"{lba}:{i}".encode()).digest() for i in range(16))
        code = CODE.get(lba, b"")
        out += data[:CODE_AT] + code + data[CODE_AT + len(code):]
    return bytes(out)


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "c.img"
    path.write_bytes(pattern(64) + bytes((DISK_SECTORS - 64) * SECTOR))
    return path


def run(test_guests, disk, bulk: bool) -> tuple[dict, bytes]:
    events: list[ev.Event] = []
    machine = Machine(MachineConfig(floppies=(test_guests / "stringio.img",),
                                    hard_disks=(disk,), deterministic=True),
                      on_event=events.append)
    machine.string_io.enabled = bulk
    machine.power_on()
    machine.advance(GUEST_SECONDS)
    assert not [e for e in events if isinstance(e, ev.GuestCrashed)], events
    mem = machine.memory
    result = {
        "table": struct.unpack("<24I", mem.read(TABLE, 96)),
        "r1": mem.read(0x20000, 1024), "r2": mem.read(0x30000, 512),
        "r3": mem.read(0x40000, 512), "r4": mem.read(0x5FF00, 256) + mem.read(0x50000, 256),
        "r5": mem.read(0x60000, 512), "r6": mem.read(0x68000, 512),
        "p1": mem.read(0x200F00, 256) + mem.read(0x300000, 768),
        "p2": mem.read(0x300F00, 256) + mem.read(0x280000, 768),
        "ata": machine.ata.save_state(), "stats": machine.string_io.stats,
    }
    machine.close()
    gc.collect()
    return result, disk.read_bytes()


def test_bulk_and_per_element_paths_agree_with_each_other_and_the_disk(test_guests, disk,
                                                                      tmp_path):
    original = disk.read_bytes()
    bulk, bulk_disk = run(test_guests, disk, True)
    disk.write_bytes(original)
    slow, slow_disk = run(test_guests, disk, False)
    data = pattern(64)

    def sector(lba: int, count: int = 1) -> bytes:
        return data[lba * SECTOR:(lba + count) * SECTOR]

    table = bulk["table"]
    assert table[19] == int.from_bytes(b"DONE", "little")
    assert bulk["r1"] == sector(0, 2) and table[0:2] == (0, 1024)
    assert bulk["r2"] == sector(2) and table[2:4] == (0, 512)
    words = [sector(3)[i:i + 2] for i in range(0, SECTOR, 2)]
    assert bulk["r3"] == b"".join(reversed(words)) and table[4:6] == (0, 0xFFFE)
    assert bulk["r4"] == sector(4) and table[6:8] == (0, 0x12340100)  # DI wrapped, high kept
    assert bulk["r5"] == sector(0) and table[8:10] == (0, 512)
    assert bulk["r6"] == sector(5) and table[10:12] == (0, 512)
    assert bulk["p1"] == sector(20, 2) and table[12:14] == (0, 0x401300)
    assert bulk["p2"] == sector(22, 2) and table[14:17] == (0, 0x402300, 1)  # one #PF
    assert table[17:19] == (0, 0x401100)
    # code read over code that had run: the new code runs (no stale translation)
    assert table[20:24] == (0x11111111, 0x22222222, 0x33333333, 0x44444444)
    assert bulk_disk[10 * SECTOR:11 * SECTOR] == sector(0)
    assert bulk_disk[30 * SECTOR:31 * SECTOR] == sector(20)
    # the same without the bulk path, byte for byte (device state included)
    stats, slow_stats = bulk.pop("stats"), slow.pop("stats")
    assert bulk == slow and bulk_disk == slow_disk
    assert slow_stats.runs == 0
    # every REP moved in bulk, in one run per DRQ block and page piece: R1 2 (two
    # blocks), R2 2, R4 2 (DI wraps), R5 2, R6 1, P1 3 (page end at 64 dwords), P2 3
    # (page end, the #PF, the second block), P3 2, R7 1, P4 1; R3 (DF=1) element by element (its
    # last element has nothing left to move with it)
    assert (stats.runs, stats.elements, stats.declined) == (19, 3072, 255)


def test_a_device_error_during_a_bulk_move_stops_the_vm_with_a_report(test_guests, disk,
                                                                       monkeypatch):
    """A bug in a device's block move must not unwind into the engine: the VM stops
    with a named internal error (the same report as any failing hook)."""
    from vmgui.devices.ata_device import AtaDevice

    def broken(self, width: int, count: int) -> bytes:
        raise RuntimeError("disk image vanished")

    monkeypatch.setattr(AtaDevice, "pio_read", broken)
    events: list[ev.Event] = []
    machine = Machine(MachineConfig(floppies=(test_guests / "stringio.img",),
                                    hard_disks=(disk,), deterministic=True),
                      on_event=events.append)
    machine.power_on()
    machine.advance(GUEST_SECONDS)
    crashes = [e for e in events if isinstance(e, ev.GuestCrashed)]
    machine.close()
    gc.collect()
    assert len(crashes) == 1
    assert "internal error while serving the guest" in crashes[0].reason
    assert "disk image vanished" in crashes[0].reason
