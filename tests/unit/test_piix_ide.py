"""The PIIX3 IDE function (00:01.1 of the pc-pci board, vmgui.devices.pci.piix3_ide) and
what PCI POST does to it (vmgui.bios.pci).

Facts checked: Intel 82371SB (PIIX3) datasheet, function 1 (VID/DID 8086h/7010h, PCISTS
0280h, class 01h/01h, IDETIM at 40h-43h with bits 11:10 reserved and bit 15 the decode
enable, SIDETIM at 44h, all zero at reset); Linux drivers/pci/probe.c (programming
interface bits 0 and 2 clear: the legacy 1F0h/3F6h and 170h/376h resources and IRQ 14/15
are used, BARs 0-3 ignored), drivers/ata/ata_piix.c (piix_enable_bits: bit 7 of 41h and
43h, else the port is disabled) and libata-sff.c (BAR4 zero: PIO only);
SeaBIOS fw/pciinit.c piix_ide_setup (writes 8000h to 40h and 42h).
"""

from __future__ import annotations

import pytest

from vmgui.bios.pci import PciBios, PciConfig
from vmgui.devices.base import StateVersionError
from vmgui.devices.bus import IoBus
from vmgui.devices.pci import CfgReg, devfn, pc_pci_bus, piix3_ide

IDE = (1, 1 << 3 | 1)  # device 1, devfn of function 1


@pytest.fixture
def ide():
    return piix3_ide()


def test_identity_is_a_piix3_ide_in_compatibility_mode(ide):
    assert ide.read(CfgReg.VENDOR_ID, 4) == 0x70108086
    assert ide.read(CfgReg.REVISION, 4) == 0x01018000  # class 01h/01h, prog-if 80h, rev 0
    assert ide.read(CfgReg.STATUS, 2) == 0x0280
    assert ide.read(CfgReg.COMMAND, 2) == 0  # decoding off until POST
    assert ide.read(CfgReg.HEADER_TYPE, 1) == 0
    assert ide.read(CfgReg.INTERRUPT_PIN, 1) == 0  # legacy IRQ 14/15, no INTx#


def test_no_bar_takes_an_address(ide):
    """Compatibility mode: BARs 0-3 unused; bus-master DMA (BAR4) not modelled."""
    for index in range(6):
        reg = CfgReg.BAR0 + 4 * index
        ide.write(reg, 4, 0xFFFFFFFF)  # the sizing probe
        assert ide.read(reg, 4) == 0, f"BAR{index}"
        assert ide.bar_address(index) is None
    ide.write(CfgReg.CLASS_CODE, 1, 0x85)  # a guest cannot switch to native mode
    assert ide.read(CfgReg.CLASS_CODE, 1) == 0x80


def test_timing_registers_are_read_write_except_reserved_bits(ide):
    assert ide.read(0x40, 4) == 0 and ide.read(0x44, 1) == 0
    ide.write(0x40, 4, 0xFFFFFFFF)
    assert ide.read(0x40, 4) == 0xF3FFF3FF
    ide.write(0x44, 1, 0x5A)
    assert ide.read(0x44, 1) == 0x5A
    ide.write(0x46, 2, 0xFFFF)  # undefined: reads zero
    assert ide.read(0x46, 2) == 0
    ide.reset()
    assert ide.read(0x40, 4) == 0 and ide.read(0x44, 1) == 0


def test_the_board_has_it_at_00_01_1_beside_the_isa_bridge():
    io = IoBus()
    bus = pc_pci_bus(io)
    cfg = PciConfig(io)
    assert cfg.read(IDE[1], 0, 4) == 0x70108086
    assert cfg.read(IDE[1] & ~7, CfgReg.HEADER_TYPE, 1) & 0x80  # function 0 says multi
    assert bus.function_at(1, 1).name == "PIIX3 IDE"
    state = bus.save_state()
    assert "00:01.1" in state["functions"]


def test_post_enables_both_channels_and_io_decoding():
    io = IoBus()
    pc_pci_bus(io)
    PciBios(io).post()
    cfg = PciConfig(io)
    assert cfg.read(IDE[1], 0x40, 2) == 0x8000  # ata_piix's enable bit 7 of 41h
    assert cfg.read(IDE[1], 0x42, 2) == 0x8000  # ... and of 43h
    assert cfg.read(IDE[1], CfgReg.COMMAND, 2) & 1  # I/O space
    assert cfg.read(IDE[1], CfgReg.INTERRUPT_LINE, 1) == 0  # no pin: not routed
    for index in range(6):
        assert cfg.read(IDE[1], CfgReg.BAR0 + 4 * index, 4) == 0


def test_a_state_saved_before_the_ide_function_existed_still_loads():
    """pc-pci states saved by the vmgui before 00:01.1 lack it: they resume, with the
    function as at power-on; any other missing or extra function is still refused."""
    io = IoBus()
    board = pc_pci_bus(io)
    ide = board.functions[devfn(1, 1)]
    ide.config[0x40] = 0x55
    state = board.save_state()
    old = {**state, "functions": {k: v for k, v in state["functions"].items()
                                  if k != "00:01.1"}}
    board.load_state(old)
    assert ide.config[0x40] == 0  # as powered on
    assert ide.read(0, 4) == 0x70108086
    missing_vga = {**state, "functions": {k: v for k, v in state["functions"].items()
                                          if k != "00:02.0"}}
    with pytest.raises(StateVersionError, match="PCI functions"):
        board.load_state(missing_vga)
