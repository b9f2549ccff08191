"""16550A UART: registers, FIFO, interrupt priority, THRE rules, loopback, OUT2 gate."""

from __future__ import annotations

import pytest

from vmgui.devices.bus import IoBus, IrqLine
from vmgui.devices.uart import Uart16550

BASE = 0x2F8
RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR = (BASE + i for i in range(8))
FCR = IIR
OUT2 = 0x08


class Setup:
    def __init__(self) -> None:
        self.bus = IoBus()
        self.sent = bytearray()
        self.irq = IrqLine()
        self.uart = Uart16550(self.bus, self.irq, base=BASE, on_transmit=self.sent.extend)

    def w(self, port: int, value: int) -> None:
        self.bus.write(port, 1, value)

    def r(self, port: int) -> int:
        return self.bus.read(port)


@pytest.fixture
def s():
    return Setup()


def test_reset_values(s):
    assert s.r(IIR) == 0x01
    assert s.r(LSR) == 0x60
    assert s.r(MSR) & 0xF0 == 0xB0
    assert s.r(LCR) == 0 and s.r(MCR) == 0


def test_divisor_latch_and_baud(s):
    s.w(LCR, 0x83)
    s.w(RBR, 0x01)
    s.w(IER, 0x00)
    assert s.uart.baud == 115200
    assert s.r(RBR) == 0x01
    s.w(LCR, 0x03)
    s.w(IER, 0x0F)
    assert s.r(IER) == 0x0F
    assert s.sent == b""


def test_transmit_is_immediate(s):
    s.w(RBR, ord("H"))
    s.w(RBR, ord("i"))
    assert bytes(s.sent) == b"Hi"
    assert s.r(LSR) & 0x60 == 0x60


def test_receive_without_fifo_overruns_after_one_byte_from_loopback(s):
    s.w(MCR, 0x10)
    s.w(RBR, 0x41)
    s.w(RBR, 0x42)
    lsr = s.r(LSR)
    assert lsr & 0x03 == 0x03  # DR | OE
    assert s.r(LSR) & 0x02 == 0  # OE cleared by the read
    assert s.r(RBR) == 0x42
    assert s.sent == b""


def test_host_receive_backlog_never_overruns(s):
    s.w(FCR, 0x01)
    s.uart.receive(bytes(range(40)))
    assert [s.r(RBR) for _ in range(40)] == list(range(40))
    assert s.r(LSR) & 0x03 == 0


def test_rx_interrupt_gated_by_out2(s):
    s.w(IER, 0x01)
    s.uart.receive(b"x")
    assert not s.irq.level
    assert s.r(IIR) == 0x04
    s.w(MCR, OUT2)
    assert s.irq.level
    assert s.r(RBR) == ord("x")
    assert not s.irq.level
    assert s.r(IIR) == 0x01


def test_fifo_trigger_level_and_timeout(s):
    s.w(MCR, OUT2)
    s.w(FCR, 0x81)  # FIFO on, trigger 8
    s.w(IER, 0x01)
    s.uart.receive(b"abc")
    assert s.r(IIR) == 0xCC  # FIFO enabled, character timeout
    s.uart.receive(b"defgh")
    assert s.r(IIR) == 0xC4  # trigger level reached
    assert s.r(RBR) == ord("a")
    assert s.r(IIR) == 0xCC  # 7 < 8 again


def test_fcr_clears_rx_fifo(s):
    s.w(FCR, 0x01)
    s.uart.receive(b"abc")
    s.w(FCR, 0x03)
    assert not s.r(LSR) & 0x01


def test_thre_interrupt_rules(s):
    s.w(MCR, OUT2)
    s.w(IER, 0x02)  # enabling ETBEI with THR empty interrupts at once
    assert s.irq.level
    assert s.r(IIR) == 0x02
    assert not s.irq.level  # the IIR read that reported THRE cleared it
    assert s.r(IIR) == 0x01
    s.w(RBR, 0x41)  # transmit: THR empty again -> interrupt
    assert s.irq.level
    s.w(IER, 0x00)
    assert not s.irq.level
    s.w(IER, 0x02)  # re-enabling re-arms
    assert s.irq.level


def test_interrupt_priority(s):
    s.w(MCR, OUT2 | 0x10)  # loopback to produce an overrun
    s.w(IER, 0x0F)
    s.w(RBR, 1)
    s.w(RBR, 2)  # overrun
    assert s.r(IIR) == 0x06  # line status first
    s.r(LSR)
    assert s.r(IIR) == 0x04  # then received data
    s.r(RBR)
    assert s.r(IIR) == 0x02  # then THRE
    s.w(MCR, OUT2 | 0x10 | 0x02)  # RTS -> CTS change in loopback
    assert s.r(IIR) == 0x00  # modem status last
    msr = s.r(MSR)
    assert msr & 0x11 == 0x11  # CTS and DCTS
    assert s.r(IIR) == 0x01


def test_loopback_modem_mapping(s):
    s.w(MCR, 0x10 | 0x0F)
    assert s.r(MSR) & 0xF0 == 0xF0
    s.w(MCR, 0x10)
    msr = s.r(MSR)
    assert msr & 0xF0 == 0x00
    assert msr & 0x0F == 0x0F  # DCTS, DDSR, TERI, DDCD
    assert not s.irq.level  # loopback forces OUT2 inactive: the PC's gate is closed


def test_host_modem_lines(s):
    s.r(MSR)
    s.uart.set_modem_lines(cts=False, dsr=True, ri=False, dcd=True)
    assert s.r(MSR) == 0xA1


def test_scratch_register(s):
    s.w(SCR, 0x5A)
    assert s.r(SCR) == 0x5A


def test_save_load(s):
    s.w(FCR, 0xC1)
    s.uart.receive(b"hello")
    s.w(SCR, 7)
    state = s.uart.save_state()
    other = Setup()
    other.uart.load_state(state)
    assert other.r(SCR) == 7
    assert bytes(other.r(RBR) for _ in range(5)) == b"hello"
    assert other.uart.trigger == 14


def test_a_pending_fifo_interrupt_and_the_backlog_survive_save_and_load(s):
    """Linux's 8250 driver at its shell: FIFO on (trigger 14), receive and THRE
    interrupts enabled, OUT2 set.  Saved with 20 bytes typed (16 in the FIFO, 4 waiting
    on the line) and the interrupt pending, the loaded port raises the same IRQ and
    delivers every byte in order."""
    s.w(FCR, 0xC1)
    s.w(LCR, 0x03)
    s.w(MCR, OUT2 | 0x03)
    s.w(IER, 0x03)
    s.r(IIR)  # the THRE interrupt read away, as the driver does
    typed = bytes(range(0x41, 0x41 + 20))
    s.uart.receive(typed)
    assert s.irq.level
    iir = s.r(IIR)
    state = s.uart.save_state()
    other = Setup()
    other.uart.load_state(state)
    assert other.irq.level and other.r(IIR) == iir
    got = bytearray()
    while other.r(LSR) & 0x01:
        got.append(other.r(RBR))
    assert bytes(got) == typed
