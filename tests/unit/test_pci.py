"""PCI configuration mechanism #1 and the pc-pci board's functions (vmgui.devices.pci).

Facts checked: PCI 2.1 (mechanism #1 address layout, master abort reads all ones, BAR
sizing by writing all ones); 82441FX/PIIX3 datasheets (CONFADD is decoded for
double-word accesses only, RCR at CF9h); Linux arch/x86/pci/direct.c's type 1 probe.
"""

from __future__ import annotations

import pytest

from vmgui.devices.base import StateVersionError
from vmgui.devices.bus import IoBus
from vmgui.devices.pci import (
    BarKind,
    CfgReg,
    PciBus,
    PciFunction,
    pc_pci_bus,
)
from vmgui.devices.vbe_lfb import LFB_SIZE

ADDR, DATA = 0xCF8, 0xCFC


def address(device: int, function: int, reg: int, bus: int = 0) -> int:
    return 0x80000000 | bus << 16 | device << 11 | function << 8 | (reg & 0xFC)


class Board:
    def __init__(self) -> None:
        self.io = IoBus()
        self.resets = 0
        self.pci = pc_pci_bus(self.io, self._reset)

    def _reset(self) -> None:
        self.resets += 1

    def read(self, device: int, function: int, reg: int, size: int) -> int:
        self.io.write(ADDR, 4, address(device, function, reg))
        return self.io.read(DATA + (reg & 3), size)

    def write(self, device: int, function: int, reg: int, size: int, value: int) -> None:
        self.io.write(ADDR, 4, address(device, function, reg))
        self.io.write(DATA + (reg & 3), size, value)


@pytest.fixture
def board() -> Board:
    return Board()


def test_identity_of_the_three_functions(board):
    assert board.read(0, 0, 0, 4) == 0x12378086  # i440FX
    assert board.read(0, 0, CfgReg.REVISION, 4) == 0x06000002
    assert board.read(1, 0, 0, 4) == 0x70008086  # PIIX3
    assert board.read(1, 0, CfgReg.REVISION, 4) >> 8 == 0x060100
    assert board.read(1, 0, CfgReg.HEADER_TYPE, 1) == 0x80  # multifunction
    assert board.read(2, 0, 0, 4) == 0x11111234  # Bochs/QEMU std VGA
    assert board.read(2, 0, CfgReg.REVISION, 4) >> 8 == 0x030000
    assert board.read(2, 0, CfgReg.BAR0, 4) == 0x00000008  # prefetchable, unassigned


def test_every_access_width_and_byte_lane_of_the_data_window(board):
    dword = board.read(1, 0, 0, 4)
    for offset in range(4):
        assert board.read(1, 0, offset, 1) == (dword >> (8 * offset)) & 0xFF
    assert board.read(1, 0, 0, 2) == 0x8086
    assert board.read(1, 0, 2, 2) == 0x7000
    # a word in the middle of the window (CFDh-CFEh) is decoded too
    board.io.write(ADDR, 4, address(1, 0, 0))
    assert board.io.read(DATA + 1, 2) == 0x0080
    # a dword that starts at CFEh runs out of the window: two bytes of config space,
    # then two ports nobody claims
    assert board.io.read(DATA + 2, 4) == 0xFFFF7000


def test_byte_and_word_writes_land_in_their_lanes(board):
    board.write(2, 0, CfgReg.INTERRUPT_LINE, 1, 0x0B)
    board.write(2, 0, CfgReg.LATENCY_TIMER, 1, 0x40)
    assert board.read(2, 0, CfgReg.INTERRUPT_LINE, 4) & 0xFF == 0x0B
    assert board.read(2, 0, CfgReg.CACHE_LINE_SIZE, 4) == 0x00004000
    board.write(2, 0, CfgReg.COMMAND, 2, 0x0003)
    assert board.read(2, 0, CfgReg.COMMAND, 4) & 0xFFFF == 0x0003


def test_bar_sizing_protocol(board):
    board.write(2, 0, CfgReg.BAR0, 4, 0xFFFFFFFF)
    mask = board.read(2, 0, CfgReg.BAR0, 4)
    assert mask == 0xFF000008  # 16 MiB, 32-bit, prefetchable
    assert (~(mask & ~0xF) & 0xFFFFFFFF) + 1 == LFB_SIZE
    board.write(2, 0, CfgReg.BAR0, 4, 0xE0000000)
    assert board.read(2, 0, CfgReg.BAR0, 4) == 0xE0000008
    # unimplemented BARs read zero whatever is written
    board.write(2, 0, CfgReg.BAR0 + 4, 4, 0xFFFFFFFF)
    assert board.read(2, 0, CfgReg.BAR0 + 4, 4) == 0


def test_io_bar_sizing_and_decoding():
    fn = PciFunction("test", vendor=0x1AF4, device=0x1000, class_code=0x020000)
    fn.add_bar(0, BarKind.IO, 32)
    fn.write(CfgReg.BAR0, 4, 0xFFFFFFFF)
    assert fn.read(CfgReg.BAR0, 4) == 0xFFFFFFE1
    fn.write(CfgReg.BAR0, 4, 0xC040)
    assert fn.bar_address(0) is None  # I/O decoding still off
    fn.write(CfgReg.COMMAND, 2, 0x0001)
    assert fn.bar_address(0) == 0xC040


def test_bar_must_be_a_power_of_two():
    fn = PciFunction("test", vendor=1, device=2, class_code=0)
    with pytest.raises(ValueError, match="BAR1 of 3000 bytes"):
        fn.add_bar(1, BarKind.MEM32, 3000)


def test_read_only_fields_ignore_writes(board):
    for reg in (CfgReg.VENDOR_ID, CfgReg.REVISION, CfgReg.SUBSYSTEM_VENDOR_ID,
                CfgReg.ROM_ADDRESS):
        before = board.read(1, 0, reg, 4)
        board.write(1, 0, reg, 4, 0x5A5A5A5A)
        assert board.read(1, 0, reg, 4) == before, hex(reg)
    board.write(1, 0, CfgReg.HEADER_TYPE, 1, 0x00)
    assert board.read(1, 0, CfgReg.HEADER_TYPE, 1) == 0x80
    board.write(0, 0, CfgReg.INTERRUPT_PIN, 1, 0x01)
    assert board.read(0, 0, CfgReg.INTERRUPT_PIN, 1) == 0


def test_status_error_bits_clear_when_written_with_one():
    fn = PciFunction("test", vendor=1, device=2, class_code=0, status=0x2200)
    fn.write(CfgReg.STATUS, 2, 0x0200)  # DEVSEL timing is read-only
    assert fn.read(CfgReg.STATUS, 2) == 0x2200
    fn.write(CfgReg.STATUS, 2, 0x2000)  # received master abort: write 1 to clear
    assert fn.read(CfgReg.STATUS, 2) == 0x0200


def test_piix3_pirq_route_registers(board):
    assert [board.read(1, 0, 0x60 + i, 1) for i in range(4)] == [0x80] * 4
    board.write(1, 0, 0x60, 4, 0x0B0B0A0A)
    assert board.read(1, 0, 0x60, 4) == 0x0B0B0A0A
    board.write(1, 0, 0x63, 1, 0xFF)  # bits 6:4 are reserved
    assert board.read(1, 0, 0x63, 1) == 0x8F


def test_empty_slots_functions_and_buses_read_all_ones(board):
    for device, function in ((3, 0), (31, 7), (1, 2), (0, 1)):
        assert board.read(device, function, 0, 4) == 0xFFFFFFFF
        assert board.read(device, function, 0, 2) == 0xFFFF
        assert board.read(device, function, 3, 1) == 0xFF
    board.io.write(ADDR, 4, address(0, 0, 0, bus=1))
    assert board.io.read(DATA, 4) == 0xFFFFFFFF
    board.write(5, 0, 0x3C, 1, 0x0A)  # a write nobody claims goes nowhere
    assert board.read(5, 0, 0x3C, 1) == 0xFF


def test_disabled_address_register_leaves_the_data_window_unclaimed(board):
    board.io.write(ADDR, 4, 0x00000000)  # bit 31 clear: device 0, register 0, disabled
    assert board.io.read(DATA, 4) == 0xFFFFFFFF
    board.io.write(ADDR, 4, 0x00001000 | CfgReg.INTERRUPT_LINE)  # device 2, disabled
    board.io.write(DATA, 1, 0x0A)
    assert board.read(2, 0, CfgReg.INTERRUPT_LINE, 1) == 0


def test_address_register_reads_back_with_reserved_bits_zero(board):
    board.io.write(ADDR, 4, 0x80000000)
    assert board.io.read(ADDR, 4) == 0x80000000
    board.io.write(ADDR, 4, 0xFFFFFFFF)
    assert board.io.read(ADDR, 4) == 0x80FFFFFC


def test_linux_type1_probe_sequence(board):
    """arch/x86/pci/direct.c: outb(0x01, 0xCFB); tmp = inl(0xCF8);
    outl(0x80000000, 0xCF8); inl(0xCF8) == 0x80000000, then the sanity check finds a
    host bridge; and the type 2 probe (byte writes, byte reads of CF8h) must fail."""
    board.io.write(ADDR, 4, 0x80001234 & 0x80FFFFFC)
    board.io.write(0xCFB, 1, 0x01)
    assert board.io.read(ADDR, 4) == 0x80001234  # the byte did not touch CONFADD
    board.io.write(ADDR, 4, 0x80000000)
    assert board.io.read(ADDR, 4) == 0x80000000
    assert board.read(0, 0, 0x0A, 2) == 0x0600  # PCI_CLASS_BRIDGE_HOST
    board.io.write(ADDR, 4, 0x80000000)
    board.io.write(0xCFB, 1, 0x00)
    board.io.write(0xCF8, 1, 0x00)
    board.io.write(0xCFA, 1, 0x00)
    assert board.io.read(0xCF8, 1) == 0xFF and board.io.read(0xCFA, 1) == 0xFF
    assert board.io.read(ADDR, 4) == 0x80000000
    assert board.io.read(ADDR, 2) == 0x00FF  # CF8h unclaimed as a byte, CF9h is RCR


def test_reset_control_register_at_cf9(board):
    board.io.write(0xCF9, 1, 0x02)
    assert board.io.read(0xCF9, 1) == 0x02 and board.resets == 0
    board.io.write(0xCF9, 1, 0x06)
    assert board.resets == 1


def test_reset_restores_power_on_contents(board):
    board.write(2, 0, CfgReg.BAR0, 4, 0xE0000000)
    board.write(2, 0, CfgReg.COMMAND, 2, 3)
    board.write(1, 0, 0x60, 1, 0x0A)
    board.pci.reset()
    assert board.io.read(ADDR, 4) == 0
    assert board.read(2, 0, CfgReg.BAR0, 4) == 0x08
    assert board.read(2, 0, CfgReg.COMMAND, 2) == 0
    assert board.read(1, 0, 0x60, 1) == 0x80


def test_save_and_load_state(board):
    board.write(2, 0, CfgReg.BAR0, 4, 0xE0000000)
    board.write(1, 0, 0x60, 4, 0x0B0B0A0A)
    board.io.write(0xCF9, 1, 0x02)
    board.io.write(ADDR, 4, address(2, 0, CfgReg.BAR0))
    state = board.pci.save_state()
    other = Board()
    other.pci.load_state(state)
    assert other.io.read(ADDR, 4) == address(2, 0, CfgReg.BAR0)
    assert other.io.read(DATA, 4) == 0xE0000008
    assert other.read(1, 0, 0x60, 4) == 0x0B0B0A0A
    assert other.io.read(0xCF9, 1) == 0x02


def test_state_of_another_board_or_version_is_refused(board):
    state = board.pci.save_state()
    bare = PciBus(IoBus())
    with pytest.raises(StateVersionError, match="PCI functions"):
        bare.check_state_version(state)
    with pytest.raises(StateVersionError, match="version 2"):
        board.pci.check_state_version({**state, "version": 2})
    truncated = {**state, "functions": {**state["functions"], "00:02.0": b"\0" * 10}}
    with pytest.raises(StateVersionError, match="00:02.0 is not 256 bytes"):
        board.pci.load_state(truncated)


def test_two_functions_cannot_share_a_slot(board):
    with pytest.raises(ValueError, match="already i440FX host bridge"):
        board.pci.add(0, 0, PciFunction("x", vendor=1, device=1, class_code=0))
    with pytest.raises(ValueError, match="function 8"):
        board.pci.add(4, 8, PciFunction("x", vendor=1, device=1, class_code=0))
