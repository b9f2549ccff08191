"""The PCI BIOS (int 1Ah AH=B1h) and PCI POST over the pc-pci board's mechanism #1.

Values per the PCI BIOS Specification 2.1 (return codes 81h/83h/86h/87h/89h, "PCI " in
EDX, version 0210h in BX) and the $PIR layout of Microsoft's PCI IRQ Routing Table
Specification 1.0.
"""

from __future__ import annotations

import pytest

from vmgui.bios import rom
from vmgui.bios.api import FakeCpu
from vmgui.bios.pci import PIR_HEADER_SIZE, PciBios, PciConfig
from vmgui.bios.timer import TimerBios
from vmgui.devices.bus import IoBus
from vmgui.devices.pci import BarKind, CfgReg, PciFunction, pc_pci_bus
from vmgui.devices.vbe_lfb import LFB_BASE


class Rig:
    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.io = IoBus()
        self.pci = pc_pci_bus(self.io)
        self.rom: dict[int, bytes] = {}
        self.bios = PciBios(self.io, self.rom.__setitem__)
        self.cfg = PciConfig(self.io)

    def b1(self, al: int, **regs: int):
        call = self.cpu.call(0x1A, ax=0xB100 | al, **regs)
        self.bios.handle(call)
        return call


@pytest.fixture
def rig() -> Rig:
    return Rig()


def ok(rig: Rig) -> bool:
    return not rig.cpu.cf and rig.cpu.regs.ah == 0


def test_installation_check(rig):
    rig.b1(0x01, edi=0x12345678)
    regs = rig.cpu.regs
    assert ok(rig)
    assert regs.edx == 0x20494350  # "PCI "
    assert regs.al == 0x01  # configuration mechanism #1
    assert regs.bx == 0x0210
    assert regs.cl == 0  # last bus
    assert regs.edi == 0x12345678  # no protected-mode entry point: left alone


def test_find_device_by_vendor_and_device(rig):
    rig.b1(0x02, cx=0x7000, dx=0x8086, si=0)
    assert ok(rig) and rig.cpu.regs.bx == 0x0008  # 00:01.0
    rig.b1(0x02, cx=0x1111, dx=0x1234, si=0)
    assert ok(rig) and rig.cpu.regs.bx == 0x0010  # 00:02.0
    rig.b1(0x02, cx=0x7000, dx=0x8086, si=1)  # there is only one
    assert rig.cpu.cf and rig.cpu.regs.ah == 0x86
    rig.b1(0x02, cx=0x1234, dx=0xFFFF, si=0)
    assert rig.cpu.cf and rig.cpu.regs.ah == 0x83


def test_find_class_code(rig):
    for class_code, bdf in ((0x060000, 0x0000), (0x060100, 0x0008), (0x030000, 0x0010)):
        rig.b1(0x03, ecx=class_code, si=0)
        assert ok(rig) and rig.cpu.regs.bx == bdf, hex(class_code)
    rig.b1(0x03, ecx=0x0C0300, si=0)  # a USB controller: none
    assert rig.cpu.cf and rig.cpu.regs.ah == 0x86


def test_read_configuration_byte_word_dword(rig):
    rig.b1(0x08, bx=0x0010, di=0x01)
    assert ok(rig) and rig.cpu.regs.cl == 0x12
    rig.b1(0x09, bx=0x0010, di=0x02)
    assert ok(rig) and rig.cpu.regs.cx == 0x1111
    rig.b1(0x0A, bx=0x0008, di=0x00)
    assert ok(rig) and rig.cpu.regs.ecx == 0x70008086
    rig.b1(0x0A, bx=0x0018, di=0x00)  # an empty slot: the read itself succeeds
    assert ok(rig) and rig.cpu.regs.ecx == 0xFFFFFFFF


@pytest.mark.parametrize(("al", "di"), [(0x09, 0x01), (0x0A, 0x02), (0x08, 0x100),
                                        (0x0C, 0x3D), (0x0D, 0x3E), (0x0B, 0xFFFF)])
def test_bad_register_number(rig, al, di):
    rig.b1(al, bx=0x0010, di=di, ecx=0)
    assert rig.cpu.cf and rig.cpu.regs.ah == 0x87


def test_write_configuration_byte_word_dword(rig):
    rig.b1(0x0B, bx=0x0010, di=CfgReg.INTERRUPT_LINE, ecx=0xAB0B)  # only CL is written
    assert ok(rig) and rig.cfg.read(0x0010, CfgReg.INTERRUPT_LINE, 1) == 0x0B
    rig.b1(0x0C, bx=0x0010, di=CfgReg.COMMAND, ecx=0xFFFF0003)
    assert ok(rig) and rig.cfg.read(0x0010, CfgReg.COMMAND, 2) == 0x0003
    rig.b1(0x0D, bx=0x0010, di=CfgReg.BAR0, ecx=0xFFFFFFFF)
    rig.b1(0x0A, bx=0x0010, di=CfgReg.BAR0)
    assert rig.cpu.regs.ecx == 0xFF000008  # the BAR sizing protocol through the BIOS


def test_unknown_function_is_not_supported(rig):
    rig.b1(0x06)  # generate special cycle
    assert rig.cpu.cf and rig.cpu.regs.ah == 0x81


def test_post_assigns_routes_and_enables(rig):
    rig.bios.post()
    assert rig.cfg.read(0x0010, CfgReg.BAR0, 4) == LFB_BASE | 0x8
    assert rig.pci.function_at(2).bar_address(0) == LFB_BASE
    for bdf in (0x0000, 0x0008, 0x0010):
        assert rig.cfg.read(bdf, CfgReg.COMMAND, 2) & 0x3 == 0x3, hex(bdf)
    assert rig.cfg.read(0x0008, 0x60, 4) == 0x0B0B0A0A  # PIRQ A-D -> IRQ 10, 10, 11, 11


def test_post_sets_interrupt_lines_and_places_other_bars(rig):
    nic = PciFunction("test NIC", vendor=0x10EC, device=0x8029, class_code=0x020000,
                      interrupt_pin=1)
    nic.add_bar(0, BarKind.IO, 32)
    nic.add_bar(1, BarKind.MEM32, 4096)
    rig.pci.add(3, 0, nic)
    rig.bios.post()
    # device 3's INTA# is wired to link C (SeaBIOS's swizzle), routed to IRQ 11
    assert nic.read(CfgReg.INTERRUPT_LINE, 1) == 11
    assert nic.bar_address(0) == 0xC000
    mem = nic.bar_address(1)
    assert mem is not None and mem >= LFB_BASE + (16 << 20) and mem % 4096 == 0
    assert rig.cfg.read(0x0010, CfgReg.BAR0, 4) == LFB_BASE | 0x8  # still the framebuffer


def test_pir_table_in_rom(rig):
    rig.bios.post()
    table = rig.rom[rom.linear(rom.PCI_IRQ_TABLE_OFF)]
    assert rom.linear(rom.PCI_IRQ_TABLE_OFF) % 16 == 0
    assert 0xF0000 <= rom.linear(rom.PCI_IRQ_TABLE_OFF) < 0x100000
    assert table[:4] == b"$PIR" and table[4:6] == b"\x00\x01"
    assert int.from_bytes(table[6:8], "little") == len(table) == PIR_HEADER_SIZE + 2 * 16
    assert table[8:10] == b"\x00\x08"  # router at bus 0, devfn 08h (the PIIX3)
    assert sum(table) % 256 == 0
    slots = [table[i:i + 16] for i in range(PIR_HEADER_SIZE, len(table), 16)]
    assert [slot[1] for slot in slots] == [0x08, 0x10]  # devices 1 and 2
    assert [slot[2] for slot in slots] == [0x60, 0x61]  # their INTA# on links A and B


def test_routing_options_copy_the_slots(rig):
    rig.bios.post()
    mem = rig.cpu.mem
    mem.write_u16(0x500, 8)  # room for less than one slot
    mem.write_u16(0x502, 0x600)
    mem.write_u16(0x504, 0x0000)
    rig.b1(0x0E, bx=0, es=0, di=0x500)
    assert rig.cpu.cf and rig.cpu.regs.ah == 0x89
    assert mem.read_u16(0x500) == 32
    rig.b1(0x0E, bx=0, es=0, di=0x500)
    assert ok(rig) and rig.cpu.regs.bx == 0
    assert mem.read(0x600, 32) == rig.bios.pir_table[PIR_HEADER_SIZE:]


def test_routing_options_before_post_are_not_supported(rig):
    rig.b1(0x0E, bx=0, es=0, di=0x500)
    assert rig.cpu.cf and rig.cpu.regs.ah == 0x81


def test_post_on_a_bus_without_pci_does_nothing():
    io = IoBus()
    loaded: dict[int, bytes] = {}
    bios = PciBios(io, loaded.__setitem__)
    bios.post()
    assert loaded == {} and bios.pir_table == b""
    assert list(PciConfig(io).functions()) == []


def test_int1a_b1_without_a_pci_bios_answers_as_an_at_bios():
    """pc-at: nobody serves AH=B1h; the timer BIOS reports it unsupported (CF set, AH
    left as it was), as before the PCI BIOS existed."""
    cpu = FakeCpu()
    timer = TimerBios(cpu.mem, IoBus())
    call = cpu.call(0x1A, ax=0xB101, edx=0)
    timer.handle(call)
    assert cpu.cf and cpu.regs.ax == 0xB101 and cpu.regs.edx == 0


def test_int1a_b1_reaches_the_pci_bios_once_added(rig):
    timer = TimerBios(rig.cpu.mem, rig.io)
    timer.add_function(0xB1, rig.bios.handle)
    call = rig.cpu.call(0x1A, ax=0xB101)
    timer.handle(call)
    assert ok(rig) and rig.cpu.regs.edx == 0x20494350
