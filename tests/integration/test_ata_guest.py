"""The IDE controller as a guest drives it (issue 11): tests/guests/atapio.asm, in real
mode with IRQs 14 and 15, IDENTIFYs the primary master, reads its sector 0 by PIO,
writes sector 1 and reads it back through int 13h, then sends the CD drive INQUIRY and
READ(10) of sector 16 -- on both machine kinds (the pc-at has no CD drive), with the disk
raw and as a try-out layer, and across a saved state.  Deterministic runs, driven on the
test's own thread."""

from __future__ import annotations

import gc
import hashlib
import json

import pytest

from tests import isos
from vmgui.core import events as ev
from vmgui.core import snapshot
from vmgui.core.machine import Machine, MachineConfig
from vmgui.storage.overlay import Overlay

GUEST_SECONDS = 0.5  # the guest is done after a few ms of guest time
DISK_SECTORS = 4096  # 2 MiB: 4 cylinders of 16 heads x 63 sectors (+ 64 sectors)

EXPECTED_DISK = [
    "MODEL VMGUI HARDDISK",
    "CHS 0004 0010 003F LBA 00001000",
    "IRQ14 STATUS 58",  # DRDY, DSC, DRQ: the interrupt before the data block
    "SECTOR0 ATAGUEST SIG AA55",
    "INT13 WRITTEN BY ATA",
]
EXPECTED_CD = [
    "ATAPI SIG EB14",
    "INQUIRY VMGUI   VMGUI CD-ROM",
    "PVD CD001 ATAPI GUEST",
    "IRQS 03 04",  # IDENTIFY, READ, WRITE; INQUIRY and READ(10): data and status each
    "DONE",
]
# What the same guest prints on qemu-system-i386 7.2 -M isapc (SeaBIOS) with the same disk
# as ide index 0 and the same ISO as index 2 (media=cdrom).  The names differ; QEMU counts
# one IRQ 15 more: the media-insertion interrupt its CD raises at power-on, latched by
# the masked PIC and delivered when the guest unmasks IRQ 15.
QEMU_LINES = [
    "MODEL QEMU HARDDISK", "CHS 0004 0010 003F LBA 00001000", "IRQ14 STATUS 58",
    "SECTOR0 ATAGUEST SIG AA55", "INT13 WRITTEN BY ATA", "ATAPI SIG EB14",
    "INQUIRY QEMU    QEMU DVD-ROM", "PVD CD001 ATAPI GUEST", "IRQS 03 05", "DONE",
]
NAMED = ("MODEL", "INQUIRY", "IRQS")


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "c.img"
    sector0 = bytearray(512)
    sector0[3:11] = b"ATAGUEST"
    sector0[510:512] = b"\x55\xaa"
    path.write_bytes(bytes(sector0) + bytes((DISK_SECTORS - 1) * 512))
    return path


@pytest.fixture
def iso(tmp_path):
    path = tmp_path / "cd.iso"
    path.write_bytes(isos.build_iso(image=b"\x01" * 2048, boot=False, volume_id="ATAPI GUEST"))
    return path


def start(test_guests, disk, profile: str, cdrom=None) -> tuple[Machine, list[ev.Event]]:
    events: list[ev.Event] = []
    machine = Machine(MachineConfig(floppies=(test_guests / "atapio.img",), hard_disks=(disk,),
                                    cdrom=cdrom, profile=profile, deterministic=True),
                      on_event=events.append)
    machine.power_on()
    return machine, events


def lines(events: list[ev.Event]) -> list[str]:
    assert not [e for e in events if isinstance(e, ev.GuestCrashed)]
    serial = b"".join(e.data for e in events if isinstance(e, ev.SerialOutput))
    return [line.rstrip() for line in serial.decode("ascii").splitlines()]


def finish(machine: Machine) -> None:
    machine.close()
    gc.collect()


def test_pc_pci_guest_reads_the_disk_and_the_cd_through_the_ports(test_guests, disk, iso):
    machine, events = start(test_guests, disk, "pc-pci", iso)
    machine.advance(GUEST_SECONDS)
    got = lines(events)
    assert got == EXPECTED_DISK + EXPECTED_CD
    assert [line for line in got if not line.startswith(NAMED)] == \
        [line for line in QEMU_LINES if not line.startswith(NAMED)]
    screen = [line.rstrip() for line in machine.text_lines() if line.strip()]
    assert screen[-len(EXPECTED_DISK + EXPECTED_CD):] == EXPECTED_DISK + EXPECTED_CD
    finish(machine)
    data = disk.read_bytes()
    assert data[512:526] == b"WRITTEN BY ATA" and data[526:1024] == bytes(498)


def test_pc_at_has_the_controller_but_no_cd_drive(test_guests, disk):
    machine, events = start(test_guests, disk, "pc-at")
    machine.advance(GUEST_SECONDS)
    assert lines(events) == EXPECTED_DISK + ["ATAPI SIG 0000", "NO ATAPI", "IRQS 03 00",
                                             "DONE"]
    finish(machine)


def test_an_empty_cd_drive_is_not_ready(test_guests, disk):
    machine, events = start(test_guests, disk, "pc-pci")
    machine.advance(GUEST_SECONDS)
    # READ(10) ends in CHECK CONDITION, sense key NOT READY in the Error register's high
    # nibble; QEMU's empty drive (isapc has one at index 2) prints the same line
    assert lines(events)[-3:] == ["ATAPI SIG EB14", "INQUIRY VMGUI   VMGUI CD-ROM",
                                  "ATAPI ERR 20"]
    finish(machine)


def test_in_try_out_mode_the_write_lands_in_the_layer(test_guests, disk, tmp_path):
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    layer = tmp_path / "tryout-80.cow"
    Overlay.create(layer, disk).close()
    machine, events = start(test_guests, layer, "pc-at")
    machine.advance(GUEST_SECONDS)
    assert "INT13 WRITTEN BY ATA" in lines(events)
    finish(machine)
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before
    with Overlay.open(layer, read_only=True) as top:
        assert top.read(512, 14) == b"WRITTEN BY ATA"


def test_the_controller_state_is_saved_and_an_older_state_without_it_loads(
        test_guests, disk, iso):
    machine, events = start(test_guests, disk, "pc-pci", iso)
    machine.advance(GUEST_SECONDS)
    meta, parts = snapshot.capture(machine)
    parts = {**parts, "ram": bytes(parts["ram"].data)}  # a copy: the machine closes
    devices = json.loads(parts["devices"])
    channels = devices["ata"]["channels"]
    assert [[d and d["kind"] for d in ch["devices"]] for ch in channels] == \
        [["disk", None], ["cdrom", None]]
    finish(machine)
    older = json.loads(parts["devices"])
    del older["ata"]  # as saved by a vmgui without the controller
    for devices_part, cd_status in ((parts["devices"], 0x50), (json.dumps(older).encode(), 0)):
        copy, _ = start(test_guests, disk, "pc-pci", iso)
        snapshot.restore(copy, meta, {**parts, "devices": devices_part})
        assert copy.ata.device(1, 0).status == cd_status  # ready after INQUIRY / reset
        finish(copy)
