"""The bulk string-I/O path's pieces (vmgui.core.stringio, issue 11): the instruction
decoder, the bus lookup of a port's block side, and the ATA device's block moves, which
must have exactly the effects of the element-by-element data port accesses."""

from __future__ import annotations

import pytest

from vmgui.core.stringio import Instruction, decode
from vmgui.devices.ata import AtaController, Attachment
from vmgui.devices.ata_regs import Status
from vmgui.devices.bus import IoBus, IrqLine
from vmgui.storage.image import DiskImage


@pytest.mark.parametrize("code, code32, expected", [
    ("F36D", False, Instruction(True, 2, 0xFFFF, "es")),  # rep insw, 16-bit code
    ("F36D", True, Instruction(True, 4, 0xFFFFFFFF, "es")),  # rep insd, 32-bit code
    ("66F36D", True, Instruction(True, 2, 0xFFFFFFFF, "es")),  # o16 in 32-bit code
    ("6667F36D", False, Instruction(True, 4, 0xFFFFFFFF, "es")),  # o32 a32 in 16-bit
    ("F2266F", False, Instruction(False, 2, 0xFFFF, "es")),  # repne es outsw
    ("F36E", True, Instruction(False, 1, 0xFFFFFFFF, "ds")),  # rep outsb
    ("26F36C", False, Instruction(True, 1, 0xFFFF, "es")),  # INS ignores the override
])
def test_decode_finds_rep_ins_and_outs(code, code32, expected):
    assert decode(bytes.fromhex(code) + b"\x90" * 8, code32) == expected


@pytest.mark.parametrize("code", ["6D", "E5", "ED", "F3A5", "F0F36D", "F3" * 15])
def test_decode_refuses_anything_else(code):
    """A plain INS, IN, a rep movsw, a LOCK prefix, prefixes without an opcode."""
    assert decode(bytes.fromhex(code), False) is None


def _image(tmp_path, name: str = "c.img", sectors: int = 8) -> DiskImage:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 2 * sectors)
    return DiskImage.open(path, kind="hdd")


def _controller(image) -> tuple[IoBus, AtaController, list[bool]]:
    bus = IoBus()
    levels: list[bool] = []
    irq = IrqLine(levels.append)
    ctl = AtaController(bus, [irq, IrqLine()], {(0, 0): Attachment("disk", lambda: image)})
    ctl.reset()
    return bus, ctl, levels


def _read_command(bus: IoBus, lba: int, count: int) -> None:
    for port, value in ((0x1F6, 0xE0), (0x1F2, count), (0x1F3, lba), (0x1F4, 0), (0x1F5, 0),
                        (0x1F7, 0x20)):
        bus.write(port, 1, value)


def test_the_data_port_is_a_string_port_and_the_other_registers_move_nothing(tmp_path):
    image = _image(tmp_path)
    bus, ctl, _ = _controller(image)
    port, offset = bus.string_port(0x1F0, 2)
    assert offset == 0 and port.string_in_ready(0, 2) == 0  # no command: nothing ready
    assert bus.string_port(0x3F6, 2) is None  # the control block has no block side
    _read_command(bus, 0, 1)
    assert port.string_in_ready(0, 2) == 256 and port.string_in_ready(0, 4) == 128
    assert port.string_in_ready(0, 1) == 0  # byte reads take a whole word: one at a time
    status_port, status_offset = bus.string_port(0x1F7, 1) or (None, None)
    assert status_port is port and port.string_in_ready(status_offset, 1) == 0


def test_a_block_read_in_pieces_equals_element_reads_and_raises_the_same_interrupts(
        tmp_path):
    image = _image(tmp_path)
    results = []
    for bulk in (True, False):
        bus, ctl, levels = _controller(image)
        _read_command(bus, 2, 2)
        data = bytearray()
        port, _ = bus.string_port(0x1F0, 2)
        for count in (100, 156, 256):  # partial block, its rest, the second block
            if bulk:
                assert port.string_in_ready(0, 2) >= count
                data += port.string_in(0, 2, count)
            else:
                for _ in range(count):
                    data += bus.read(0x1F0, 2).to_bytes(2, "little")
        dev = ctl.device(0, 0)
        results.append((bytes(data), list(levels), dev.status, dev.phase, dev.pos))
    assert results[0] == results[1]
    assert results[0][0] == image.read_sectors(2, 2)
    assert not results[0][2] & Status.DRQ  # the transfer is over


def test_a_block_written_in_pieces_equals_element_writes(tmp_path):
    outcomes = []
    for bulk in (True, False):
        image = _image(tmp_path, f"{bulk}.img")
        bus, ctl, levels = _controller(image)
        for port_no, value in ((0x1F6, 0xE0), (0x1F2, 1), (0x1F3, 5), (0x1F4, 0),
                               (0x1F5, 0), (0x1F7, 0x30)):
            bus.write(port_no, 1, value)
        payload = bytes(range(255, -1, -1)) * 2
        port, _ = bus.string_port(0x1F0, 4)
        assert port.string_out_room(0, 4) == 128 and port.string_out_room(0, 2) == 256
        if bulk:
            port.string_out(0, 4, payload[:200])
            port.string_out(0, 4, payload[200:])
        else:
            for at in range(0, 512, 4):
                bus.write(0x1F0, 4, int.from_bytes(payload[at:at + 4], "little"))
        dev = ctl.device(0, 0)
        outcomes.append((image.read_sectors(5, 1), list(levels), dev.status))
        assert outcomes[-1][0] == payload
    assert outcomes[0] == outcomes[1]
