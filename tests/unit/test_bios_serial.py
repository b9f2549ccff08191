"""Unit tests for vmgui.bios.serial (int 14h) driving a real Uart16550 on an IoBus.

Expected values per Ralf Brown's interrupt list (INT 14 AH=00h-03h: parameter byte,
line/modem status in AH/AL, bit 7 of AH = time-out) and the PC16550D datasheet (divisor
latch = 115200 / baud, LCR word length/stop/parity bits).
"""

from __future__ import annotations

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.bda import Bda
from vmgui.bios.serial import SerialBios
from vmgui.devices.bus import IoBus, IrqLine
from vmgui.devices.uart import Uart16550

COM1 = 0x3F8


class Rig:
    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.bus = IoBus()
        self.sent = bytearray()
        self.uart = Uart16550(self.bus, IrqLine(), COM1, on_transmit=self.sent.extend)
        self.cpu.mem.write_u16(Bda.COM_PORTS, COM1)
        self.bios = SerialBios(self.cpu.mem, self.bus)

    def int14(self, ax: int, dx: int = 0):
        call = self.cpu.call(0x14, ax=ax, dx=dx)
        self.bios.handle(call)
        return call


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_init_9600_8n1(rig):
    rig.uart.divisor = 1
    rig.int14(0x00E3)  # 111 00 0 11: 9600 baud, no parity, 1 stop, 8 bits
    assert rig.uart.divisor == 12
    assert rig.uart.baud == 9600
    assert rig.uart.lcr == 0x03  # 8N1, DLAB cleared again
    assert rig.bus.read(COM1 + 3) == 0x03
    # returns the status: AH = line status (THR empty), AL = modem status
    assert rig.cpu.regs.ah & 0x60 == 0x60
    assert rig.cpu.regs.al & 0xB0 == 0xB0  # CTS, DSR, DCD of the always-ready host end


@pytest.mark.parametrize(("al", "divisor", "lcr"), [
    (0x00, 1047, 0x00),  # 110 baud, 5 bits
    (0x43, 384, 0x03),  # 300 baud 8N1
    (0x83, 96, 0x03),  # 1200 baud 8N1
    (0xA3, 48, 0x03),  # 2400 baud 8N1
    (0xDA, 24, 0x1A),  # 4800 baud, even parity, 1 stop, 7 bits
    (0xEF, 12, 0x0F),  # 9600 baud, odd parity, 2 stop, 8 bits
])
def test_init_parameter_byte(rig, al, divisor, lcr):
    rig.int14(al)
    assert rig.uart.divisor == divisor
    assert rig.uart.lcr == lcr


def test_init_leaves_data_register_usable(rig):
    rig.int14(0x00E3)
    rig.int14(0x0141)
    assert bytes(rig.sent) == b"A"  # DLAB is off: the byte went out, not into the latch
    assert rig.uart.divisor == 12


def test_send_characters(rig):
    rig.int14(0x00E3)
    for ch in b"Hi\r\n":
        rig.int14(0x0100 | ch)
        assert not rig.cpu.regs.ah & 0x80
        assert rig.cpu.regs.ah & 0x20  # THR empty again
        assert rig.cpu.regs.al == ch  # AL preserved
    assert bytes(rig.sent) == b"Hi\r\n"


def test_receive_character(rig):
    rig.int14(0x00E3)
    rig.uart.receive(b"x")
    rig.int14(0x0200)
    assert rig.cpu.regs.al == ord("x")
    assert not rig.cpu.regs.ah & 0x80
    assert rig.cpu.regs.ah & 0x1E == 0  # no line errors


def test_receive_in_order(rig):
    rig.int14(0x00E3)
    rig.uart.receive(b"ok")
    rig.int14(0x0200)
    first = rig.cpu.regs.al
    rig.int14(0x0200)
    assert bytes((first, rig.cpu.regs.al)) == b"ok"


def test_receive_nothing_times_out(rig):
    rig.int14(0x00E3)
    rig.int14(0x0200)
    assert rig.cpu.regs.ah & 0x80
    assert not rig.cpu.regs.ah & 0x01  # no data ready


def test_receive_reports_overrun(rig):
    rig.int14(0x00E3)
    rig.bus.write(COM1 + 4, 1, 0x10)  # loopback
    rig.bus.write(COM1, 1, ord("1"))
    rig.bus.write(COM1, 1, ord("2"))  # no FIFO: overruns the holding register
    rig.int14(0x0200)
    assert not rig.cpu.regs.ah & 0x80
    assert rig.cpu.regs.ah & 0x02  # overrun error reported
    assert rig.cpu.regs.al == ord("2")


def test_status(rig):
    rig.int14(0x00E3)
    rig.int14(0x0300)
    assert rig.cpu.regs.ah == 0x60  # THRE | TEMT
    assert rig.cpu.regs.al == 0xB0  # DCD | DSR | CTS
    rig.uart.receive(b"z")
    rig.int14(0x0300)
    assert rig.cpu.regs.ah == 0x61  # data ready


def test_status_modem_lines(rig):
    rig.uart.set_modem_lines(cts=False, dsr=True, ri=True, dcd=False)
    rig.int14(0x0300)
    assert rig.cpu.regs.al & 0xF0 == 0x60  # RI | DSR
    assert rig.cpu.regs.al & 0x0F  # delta bits


def test_missing_port_times_out(rig):
    rig.int14(0x0300, dx=1)  # BDA has no COM2
    assert rig.cpu.regs.ah & 0x80
    rig.int14(0x0141, dx=1)
    assert rig.cpu.regs.ah & 0x80
    assert bytes(rig.sent) == b""
    rig.int14(0x0300, dx=7)  # beyond COM4
    assert rig.cpu.regs.ah & 0x80


def test_second_port_from_bda():
    rig = Rig()
    sent2 = bytearray()
    Uart16550(rig.bus, IrqLine(), 0x2F8, on_transmit=sent2.extend)
    rig.cpu.mem.write_u16(Bda.COM_PORTS + 2, 0x2F8)
    rig.int14(0x0142, dx=1)
    assert bytes(sent2) == b"B" and bytes(rig.sent) == b""


def test_unknown_function(rig):
    rig.int14(0x0900)
    assert rig.cpu.regs.ah & 0x80
