"""8259A pair: BIOS-style init, cascade vectors, EOI, masks, spurious, ELCR, AEOI, poll."""

from __future__ import annotations

import pytest

from vmgui.devices.base import StateVersionError
from vmgui.devices.bus import IoBus
from vmgui.devices.pic import Pic8259Pair

M_CMD, M_DATA, S_CMD, S_DATA = 0x20, 0x21, 0xA0, 0xA1
EOI = 0x20
READ_IRR, READ_ISR = 0x0A, 0x0B


def bios_init(bus: IoBus, icw4: int = 0x01) -> None:
    """The PC/AT BIOS sequence: ICW1 11h, ICW2 08h/70h, ICW3 04h/02h, ICW4."""
    for cmd, data, base, icw3 in ((M_CMD, M_DATA, 0x08, 0x04), (S_CMD, S_DATA, 0x70, 0x02)):
        bus.write(cmd, 1, 0x11)
        bus.write(data, 1, base)
        bus.write(data, 1, icw3)
        bus.write(data, 1, icw4)
    bus.write(M_DATA, 1, 0x00)
    bus.write(S_DATA, 1, 0x00)


@pytest.fixture
def setup():
    bus = IoBus()
    pic = Pic8259Pair(bus)
    bios_init(bus)
    return bus, pic


def test_init_sets_vector_bases_and_clears_masks(setup):
    bus, pic = setup
    assert pic.vector_base(True) == 0x08
    assert pic.vector_base(False) == 0x70
    assert bus.read(M_DATA) == 0 and bus.read(S_DATA) == 0
    assert not pic.pending()


def test_irq0_gives_vector_8_and_sets_isr(setup):
    bus, pic = setup
    pic.irq_line(0).pulse()
    assert pic.pending()
    assert pic.acknowledge() == 0x08
    bus.write(M_CMD, 1, READ_ISR)
    assert bus.read(M_CMD) == 0x01
    bus.write(M_CMD, 1, READ_IRR)
    assert bus.read(M_CMD) == 0x00
    assert not pic.pending()
    bus.write(M_CMD, 1, EOI)
    bus.write(M_CMD, 1, READ_ISR)
    assert bus.read(M_CMD) == 0x00


def test_cascaded_irq10_vector_0x72(setup):
    bus, pic = setup
    pic.irq_line(10).pulse()
    assert pic.pending()
    assert pic.acknowledge() == 0x72
    bus.write(M_CMD, 1, READ_ISR)
    assert bus.read(M_CMD) == 0x04  # cascade input in service on the master
    bus.write(S_CMD, 1, READ_ISR)
    assert bus.read(S_CMD) == 0x04  # IR2 of the slave = IRQ 10


def test_slave_needs_eoi_on_both_chips(setup):
    bus, pic = setup
    pic.irq_line(10).pulse()
    assert pic.acknowledge() == 0x72
    pic.irq_line(11).pulse()
    assert not pic.pending()  # IRQ 11 is lower priority than IRQ 10 in service
    bus.write(S_CMD, 1, EOI)
    assert not pic.pending()  # master IR2 still in service (no special fully nested mode)
    bus.write(M_CMD, 1, EOI)
    assert pic.pending()
    assert pic.acknowledge() == 0x73


def test_isa_irq2_is_redirected_to_irq9(setup):
    _, pic = setup
    assert pic.irq_line(2) is pic.irq_line(9)
    pic.irq_line(2).pulse()
    assert pic.acknowledge() == 0x71


def test_priority_order_and_nesting(setup):
    bus, pic = setup
    pic.irq_line(4).pulse()
    pic.irq_line(1).pulse()
    pic.irq_line(12).pulse()
    assert pic.acknowledge() == 0x09  # IRQ 1 highest
    assert not pic.pending()  # the rest are lower than IRQ 1 in service
    pic.irq_line(0).pulse()
    assert pic.acknowledge() == 0x08  # IRQ 0 nests above IRQ 1
    bus.write(M_CMD, 1, EOI)  # ends IRQ 0
    bus.write(M_CMD, 1, EOI)  # ends IRQ 1
    assert pic.acknowledge() == 0x74  # IRQ 12 via cascade (IR2 beats IR4)
    bus.write(S_CMD, 1, EOI)
    bus.write(M_CMD, 1, EOI)
    assert pic.acknowledge() == 0x0C


def test_mask_blocks_and_unmask_delivers(setup):
    bus, pic = setup
    bus.write(M_DATA, 1, 0x01)
    pic.irq_line(0).pulse()
    assert not pic.pending()
    bus.write(M_CMD, 1, READ_IRR)
    assert bus.read(M_CMD) == 0x01  # still latched
    bus.write(M_DATA, 1, 0x00)
    assert pic.acknowledge() == 0x08


def test_slave_mask_through_master_cascade(setup):
    bus, pic = setup
    bus.write(M_DATA, 1, 0x04)  # mask the cascade input
    pic.irq_line(14).pulse()
    assert not pic.pending()
    bus.write(M_DATA, 1, 0x00)
    assert pic.acknowledge() == 0x76


def test_specific_eoi(setup):
    bus, pic = setup
    pic.irq_line(3).pulse()
    assert pic.acknowledge() == 0x0B
    bus.write(M_CMD, 1, 0x60 | 3)  # specific EOI for IR3
    bus.write(M_CMD, 1, READ_ISR)
    assert bus.read(M_CMD) == 0


def test_spurious_irq7_when_level_request_vanishes(setup):
    bus, pic = setup
    bus.write(0x4D0, 1, 0x20)  # IRQ 5 level-triggered
    line = pic.irq_line(5)
    line.raise_()
    assert pic.pending()
    line.lower()
    assert pic.acknowledge() == 0x0F  # spurious IRQ 7
    bus.write(M_CMD, 1, READ_ISR)
    assert bus.read(M_CMD) == 0x00  # no ISR bit for a spurious interrupt


def test_vanished_slave_request_is_spurious_irq7_on_master(setup):
    bus, pic = setup
    bus.write(0x4D1, 1, 0x08)  # IRQ 11 level-triggered
    line = pic.irq_line(11)
    line.raise_()
    assert pic.pending()
    line.lower()
    assert not pic.pending()  # the cascade input is a level: the request is gone
    assert pic.acknowledge() == 0x0F
    for cmd in (M_CMD, S_CMD):
        bus.write(cmd, 1, READ_ISR)
        assert bus.read(cmd) == 0x00


def test_spurious_irq15_when_slave_has_nothing_at_inta(setup):
    bus, pic = setup
    pic.irq_line(12).pulse()
    bus.write(S_DATA, 1, 0x10)  # guest masks IRQ 12 on the slave only
    pic.master.irr |= 0x04  # master latched the cascade request before the mask landed
    assert pic.acknowledge() == 0x77
    bus.write(M_CMD, 1, READ_ISR)
    assert bus.read(M_CMD) == 0x04  # the OS must still EOI the master
    bus.write(S_CMD, 1, READ_ISR)
    assert bus.read(S_CMD) == 0x00


def test_spurious_when_nothing_pending(setup):
    _, pic = setup
    assert pic.acknowledge() == 0x0F


def test_edge_needs_new_rising_edge(setup):
    _, pic = setup
    line = pic.irq_line(3)
    line.raise_()
    assert pic.acknowledge() == 0x0B
    line.raise_()  # still high: no new edge
    assert not pic.pending() or pic.acknowledge() != 0x0B


def test_level_mode_rerequests_after_eoi_while_high(setup):
    bus, pic = setup
    bus.write(0x4D1, 1, 0x02)  # IRQ 9 level
    assert bus.read(0x4D1) == 0x02
    line = pic.irq_line(9)
    line.raise_()
    assert pic.acknowledge() == 0x71
    bus.write(S_CMD, 1, EOI)
    bus.write(M_CMD, 1, EOI)
    assert pic.pending()  # line still high
    line.lower()
    assert not pic.pending()


def test_elcr_masks_fixed_edge_lines(setup):
    bus, _ = setup
    bus.write(0x4D0, 1, 0xFF)
    bus.write(0x4D1, 1, 0xFF)
    assert bus.read(0x4D0) == 0xF8
    assert bus.read(0x4D1) == 0xDE


def test_auto_eoi_leaves_isr_clear():
    bus = IoBus()
    pic = Pic8259Pair(bus)
    bios_init(bus, icw4=0x03)
    pic.irq_line(1).pulse()
    assert pic.acknowledge() == 0x09
    bus.write(M_CMD, 1, READ_ISR)
    assert bus.read(M_CMD) == 0
    pic.irq_line(1).pulse()
    assert pic.acknowledge() == 0x09  # no EOI needed


def test_rotate_on_nonspecific_eoi_makes_serviced_line_lowest(setup):
    bus, pic = setup
    pic.irq_line(0).pulse()
    assert pic.acknowledge() == 0x08
    bus.write(M_CMD, 1, 0xA0)  # rotate on non-specific EOI
    pic.irq_line(0).pulse()
    pic.irq_line(3).pulse()
    assert pic.acknowledge() == 0x0B  # IR0 is now the lowest priority


def test_poll_command(setup):
    bus, pic = setup
    bus.write(M_CMD, 1, 0x0C)  # OCW3 poll
    assert bus.read(M_CMD) == 0x00
    pic.irq_line(6).pulse()
    bus.write(M_CMD, 1, 0x0C)
    assert bus.read(M_CMD) == 0x86
    bus.write(M_CMD, 1, READ_ISR)
    assert bus.read(M_CMD) == 0x40


def test_icw1_clears_mask_and_pending_edges(setup):
    bus, pic = setup
    bus.write(M_DATA, 1, 0xFF)
    pic.irq_line(4).pulse()
    bios_init(bus)
    assert bus.read(M_DATA) == 0
    assert not pic.pending()


def test_imr_write_during_init_is_icw():
    bus = IoBus()
    pic = Pic8259Pair(bus, master_base=0x120, slave_base=0x1A0, elcr_base=None)
    bus.write(0x120, 1, 0x13)  # single, ICW4 needed
    bus.write(0x121, 1, 0x50)
    bus.write(0x121, 1, 0x01)  # ICW4 (no ICW3 in single mode)
    bus.write(0x121, 1, 0xFE)  # OCW1
    assert pic.vector_base(True) == 0x50
    assert bus.read(0x121) == 0xFE
    assert bus.owner(0x4D0) is None


def test_save_load_roundtrip(setup):
    bus, pic = setup
    pic.irq_line(10).pulse()
    pic.irq_line(4).pulse()
    bus.write(M_DATA, 1, 0x10)
    state = pic.save_state()
    bus2 = IoBus()
    pic2 = Pic8259Pair(bus2)
    pic2.load_state(state)
    assert pic2.acknowledge() == 0x72
    assert bus2.read(M_DATA) == 0x10
    with pytest.raises(StateVersionError):
        pic2.load_state({**state, "version": 99})
