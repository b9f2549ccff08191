"""Unit tests for vmgui.bios.mouse (int 15h AH=C2h, the int 74h trap) with FakeCpu and a
real 8042 + PIC pair on an IoBus.

Expected values per Ralf Brown's interrupt list (INT 15 AX=C200h-C207h status codes,
MEMORY.LST EBDA 22h-2Fh) and the PS/2 mouse protocol (reset -> FA AA 00, packet byte 0 =
sync bit 3, sign bits 4/5, buttons in bits 0-2).
"""

from __future__ import annotations

import pytest

from vmgui.bios import mouse as mb
from vmgui.bios import rom
from vmgui.bios.api import FakeCpu, Reg
from vmgui.bios.bda import Bda
from vmgui.bios.system import MemoryLayout, SystemBios
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.i8042 import BYTE_GAP_NS, I8042
from vmgui.devices.pic import Pic8259Pair

EBDA_SEG = 0x9FC0
EBDA = EBDA_SEG << 4
IRQ12_SLAVE_BIT = 0x10


class ChargingClock(ManualClock):
    """Manual clock that also takes the BIOS's polling charges (as the machine's do)."""

    def charge(self, ns: int) -> None:
        self.advance(ns)


class Rig:
    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.bus = IoBus()
        self.clock = ChargingClock()
        self.pic = Pic8259Pair(self.bus)
        self.kbc = I8042(self.bus, self.clock, self.pic.irq_line(1), self.pic.irq_line(12),
                         lambda: None, lambda on: None)
        self.cpu.mem.write_u16(Bda.EBDA_SEGMENT, EBDA_SEG)
        self.bus.write(0xA1, 1, 0xFF)
        self.bios = mb.MouseBios(self.cpu.mem, self.bus, self.clock)
        self.bios.post()

    def int15(self, ax: int, **regs: int):
        self.cpu.backend.values[Reg.EFLAGS] = 0x2
        call = self.cpu.call(0x15, ax=ax, **regs)
        self.bios.handle(call)
        return call

    def ok(self, ax: int, **regs: int) -> None:
        self.int15(ax, **regs)
        assert not self.cpu.cf, f"AH={self.cpu.regs.ah:02X}h"
        assert self.cpu.regs.ah == 0

    def fails(self, ax: int, status: int, **regs: int) -> None:
        self.int15(ax, **regs)
        assert self.cpu.cf
        assert self.cpu.regs.ah == status

    def install(self, seg: int = 0x1234, off: int = 0x5678) -> None:
        self.ok(0xC207, es=seg, bx=off)

    def irq(self) -> bool:
        """One int 74h trap; True when the stub would call the callback (ZF clear)."""
        call = self.cpu.call(0x74)
        self.bios.on_irq(call)
        return not self.cpu.zf

    def next_byte(self) -> None:
        self.clock.advance(BYTE_GAP_NS)
        self.kbc.advance(self.clock.now_ns())


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_post_unmasks_irq12_and_sets_packet_size_3(rig):
    assert not rig.bus.read(0xA1, 1) & IRQ12_SLAVE_BIT
    assert rig.cpu.mem.read_u8(EBDA + mb.EBDA_FLAGS2) == 0x02
    assert rig.cpu.mem.read_u32(EBDA + mb.EBDA_CALLBACK) == 0


def test_enable_needs_a_handler(rig):
    rig.fails(0xC200, mb.Status.NO_HANDLER, bx=0x0100)
    assert not rig.kbc.mouse.enabled


def test_install_and_enable(rig):
    rig.install(0x1234, 0x5678)
    assert rig.cpu.mem.read_u32(EBDA + mb.EBDA_CALLBACK) == 0x12345678
    assert rig.cpu.mem.read_u8(EBDA + mb.EBDA_FLAGS2) & mb.FLAGS2_HANDLER
    rig.ok(0xC200, bx=0x0100)
    assert rig.kbc.mouse.enabled
    cb = rig.kbc.command_byte
    assert cb & mb.CB_IRQ12 and not cb & mb.CB_DISABLE_AUX
    assert cb & mb.CB_IRQ1 and not cb & mb.CB_DISABLE_KBD  # keyboard setting restored
    rig.ok(0xC200, bx=0x0000)
    assert not rig.kbc.mouse.enabled
    assert not rig.kbc.command_byte & mb.CB_IRQ12
    assert not rig.kbc.output_buffer_full  # every reply was consumed


def test_uninstall_with_null_pointer(rig):
    rig.install()
    rig.ok(0xC207, es=0, bx=0)
    assert not rig.cpu.mem.read_u8(EBDA + mb.EBDA_FLAGS2) & mb.FLAGS2_HANDLER


def test_enable_rejects_bad_bh(rig):
    rig.install()
    rig.fails(0xC200, mb.Status.INVALID_INPUT, bx=0x0200)


def test_reset_returns_bat_and_id(rig):
    rig.ok(0xC201, bx=0xFFFF)
    assert rig.cpu.regs.bx == 0x00AA  # BH = device id 00h, BL = AAh
    assert not rig.kbc.output_buffer_full


def test_device_type(rig):
    rig.ok(0xC204, bx=0xFF00)
    assert rig.cpu.regs.bh == 0x00


@pytest.mark.parametrize("bh,rate", [(0, 10), (5, 100), (6, 200)])
def test_sample_rate(rig, bh, rate):
    rig.ok(0xC202, bx=bh << 8)
    assert rig.kbc.mouse.sample_rate == rate


def test_bad_sample_rate_and_resolution(rig):
    rig.fails(0xC202, mb.Status.INVALID_INPUT, bx=0x0700)
    rig.fails(0xC203, mb.Status.INVALID_INPUT, bx=0x0400)


def test_resolution(rig):
    rig.ok(0xC203, bx=0x0300)
    assert rig.kbc.mouse.resolution == 3


def test_initialise_sets_packet_size_and_resets(rig):
    rig.ok(0xC205, bx=0x0400)
    assert rig.cpu.mem.read_u8(EBDA + mb.EBDA_FLAGS2) & 0x07 == 3
    rig.ok(0xC205, bx=0x0300)
    assert rig.cpu.mem.read_u8(EBDA + mb.EBDA_FLAGS2) & 0x07 == 2
    rig.fails(0xC205, mb.Status.INVALID_INPUT, bx=0x0000)
    rig.fails(0xC205, mb.Status.INVALID_INPUT, bx=0x0900)


def test_status_and_scaling(rig):
    rig.ok(0xC202, bx=0x0400)  # 80 reports/s
    rig.ok(0xC206, bx=0x0200)  # scaling 2:1
    rig.ok(0xC206, bx=0x0000)
    assert rig.cpu.regs.bl == 0x10  # stream mode, disabled, 2:1, no buttons
    assert rig.cpu.regs.cl == 2 and rig.cpu.regs.dl == 80
    rig.ok(0xC206, bx=0x0100)
    assert not rig.kbc.mouse.scaling_2_1
    rig.fails(0xC206, mb.Status.INVALID_FUNCTION, bx=0x0300)


def test_unknown_subfunction(rig):
    rig.fails(0xC208, mb.Status.INVALID_FUNCTION)


def test_dispatch_through_int15(rig):
    layout = MemoryLayout(conventional_kb=639, ebda_segment=EBDA_SEG, extended_bytes=0)
    system = SystemBios(rig.cpu.mem, rig.bus, rig.clock, layout, (0xF000, 0xE6F5))
    system.add_function(0xC2, rig.bios.handle)
    call = rig.cpu.call(0x15, ax=0xC204)
    system.handle15(call)
    assert not rig.cpu.cf and rig.cpu.regs.bh == 0


def test_no_reply_is_interface_error(rig, monkeypatch):
    monkeypatch.setattr(rig.kbc.mouse, "command", lambda value: None)
    start = rig.clock.now_ns()
    rig.fails(0xC201, mb.Status.INTERFACE_ERROR)
    assert rig.clock.now_ns() - start >= mb.REPLY_TIMEOUT_NS
    assert rig.kbc.command_byte & mb.CB_IRQ1  # command byte restored after the failure


def test_resend_reply(rig, monkeypatch):
    monkeypatch.setattr(rig.kbc.mouse, "command", lambda value: rig.kbc.mouse.reply(0xFE))
    rig.fails(0xC204, mb.Status.RESEND)


def test_movement_bytes_ahead_of_ack_are_skipped(rig):
    rig.install()
    rig.ok(0xC200, bx=0x0100)
    rig.kbc.mouse_input(1, 1, 0)  # first byte goes to the output buffer, two stay queued
    rig.ok(0xC206, bx=0x0000)
    assert rig.cpu.regs.bl & 0x20  # enabled


def packet_from_irqs(rig) -> list[bool]:
    results = []
    for _ in range(3):
        results.append(rig.irq())
        rig.next_byte()
    return results


def test_irq_collects_packet_then_calls_back(rig):
    rig.install(0x2000, 0x0100)
    rig.ok(0xC200, bx=0x0100)
    rig.kbc.mouse_input(5, -3, 1)  # right 5, up 3, left button
    assert rig.pic.pending()
    assert packet_from_irqs(rig) == [False, False, True]
    regs = rig.cpu.regs
    assert (regs.ax, regs.bx, regs.cx, regs.dx) == (0x09, 0x05, 0x03, 0x00)
    assert (regs.es, regs.di) == (EBDA_SEG, mb.EBDA_CALLBACK)
    assert rig.cpu.mem.read(EBDA + mb.EBDA_PACKET, 3) == b"\x09\x05\x03"
    assert rig.cpu.mem.read_u8(EBDA + mb.EBDA_FLAGS1) & 0x07 == 0


def test_irq_sign_bits(rig):
    rig.install()
    rig.ok(0xC200, bx=0x0100)
    rig.kbc.mouse_input(-2, 4, 2)  # left 2, down 4, right button
    assert packet_from_irqs(rig)[-1]
    regs = rig.cpu.regs
    assert (regs.ax, regs.bx, regs.cx) == (0x08 | 0x10 | 0x20 | 0x02, 0xFE, 0xFC)


def test_irq_without_handler_never_calls(rig):
    rig.install()
    rig.ok(0xC200, bx=0x0100)
    rig.ok(0xC207, es=0, bx=0)
    rig.kbc.mouse_input(1, 0, 0)
    assert packet_from_irqs(rig) == [False, False, False]


def test_irq_resyncs_on_byte_without_sync_bit(rig):
    rig.install()
    rig.ok(0xC200, bx=0x0100)
    rig.kbc.mouse.data.extend(b"\x05")  # a stray X byte first
    rig.kbc.mouse_input(1, 0, 0)
    results = []
    for _ in range(4):
        results.append(rig.irq())
        rig.next_byte()
    assert results == [False, False, False, True]


def test_spurious_irq_reads_nothing(rig):
    rig.install()
    assert not rig.irq()
    rig.kbc.key_input(b"\x1e")  # a keyboard byte is not a mouse byte
    assert not rig.irq()
    assert rig.kbc.output_buffer_full


def test_rom_stub_fits_and_traps_on_a_nop():
    stub = rom.mouse_stub()
    assert len(stub.code) <= rom.IRQ_STUB_SIZE
    assert stub.code[stub.trap] == rom.NOP
    assert stub.code[-1] == rom.IRET
    assert rom.OUT_A0_AL in stub.code and rom.OUT_20_AL in stub.code
