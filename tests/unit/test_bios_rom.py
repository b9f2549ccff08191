"""Unit tests for vmgui.bios.rom: stub placement and hand-assembled stub code (x86 opcodes
per the Intel SDM; IBM PC/AT entry points; RBIL INT 15 AH=C0h configuration table)."""

from __future__ import annotations

import pytest

from vmgui.bios import rom

IRET = 0xCF
NOP = 0x90


def test_stub_offset_software_vector():
    assert rom.stub_offset(0x10) == 0x8000 + 0x10 * 8
    assert rom.stub_offset(0x00) == 0x8000
    assert rom.stub_offset(0xFF) == 0x8000 + 0xFF * 8


def test_stub_offset_irq_vectors():
    assert rom.stub_offset(0x08) == 0x8800  # IRQ 0
    assert rom.stub_offset(0x09) == 0x8800 + 32  # IRQ 1
    assert rom.stub_offset(0x0F) == 0x8800 + 7 * 32  # IRQ 7
    assert rom.stub_offset(0x70) == 0x8800 + 8 * 32  # IRQ 8
    assert rom.stub_offset(0x77) == 0x8800 + 15 * 32  # IRQ 15


def test_irq_of_vector():
    assert rom.irq_of_vector(0x08) == 0
    assert rom.irq_of_vector(0x0F) == 7
    assert rom.irq_of_vector(0x70) == 8
    assert rom.irq_of_vector(0x77) == 15
    assert rom.irq_of_vector(0x10) is None
    assert rom.irq_of_vector(0x78) is None
    assert rom.irq_of_vector(0x07) is None


def test_stub_areas_do_not_overlap():
    generic = {rom.stub_offset(v) for v in range(256) if rom.irq_of_vector(v) is None}
    irq = [rom.stub_offset(v) for v in (*range(8, 16), *range(0x70, 0x78))]
    assert len(set(irq)) == 16
    for off in irq:
        assert rom.IRQ_STUB_AREA_OFF <= off
        assert off + rom.IRQ_STUB_SIZE - 1 <= rom.STUB_AREA_END
    assert max(generic) + rom.STUB_SIZE <= rom.IRQ_STUB_AREA_OFF


def test_generic_stub():
    stub = rom.generic_stub()
    assert stub.code == bytes((NOP, IRET))
    assert stub.trap == 0
    assert len(stub.code) <= rom.STUB_SIZE


def test_keyboard_stub():
    stub = rom.keyboard_stub()
    code = stub.code
    assert code[stub.trap] == NOP
    assert code[-1] == IRET
    assert code[0] == 0x50  # push ax
    assert code[-2] == 0x58  # pop ax
    assert b"\xe4\x60" in code  # in al, 60h
    assert b"\xb4\x4f\xf9\xcd\x15" in code  # mov ah,4Fh; stc; int 15h
    # jnc +1 lands just past the trap NOP
    jnc = code.index(b"\x73\x01")
    assert jnc + 2 == stub.trap
    assert b"\xb0\x20\xe6\x20" in code  # EOI to the master PIC
    assert code.index(b"\xe6\x20") > stub.trap
    assert len(code) <= rom.IRQ_STUB_SIZE


def test_timer_stub():
    stub = rom.timer_stub()
    code = stub.code
    assert code[stub.trap] == NOP
    assert b"\xcd\x1c" in code  # int 1Ch
    assert code.index(b"\xcd\x1c") > stub.trap
    assert b"\xb0\x20\xe6\x20" in code
    assert b"\xe6\xa0" not in code
    assert code[0] == 0x50 and code[-2:] == b"\x58\xcf"
    assert len(code) <= rom.IRQ_STUB_SIZE


@pytest.mark.parametrize("irq", [8, 9, 12, 14, 15])
def test_irq_stub_slave_sends_eoi_to_both_pics(irq):
    stub = rom.irq_stub(irq)
    code = stub.code
    assert code[stub.trap] == NOP
    assert code[-1] == IRET
    assert b"\xb0\x20" in code
    slave, master = code.index(b"\xe6\xa0"), code.index(b"\xe6\x20")
    assert slave < master  # slave first, then the cascade on the master
    assert len(code) <= rom.IRQ_STUB_SIZE


@pytest.mark.parametrize("irq", [0, 3, 4, 6, 7])
def test_irq_stub_master_only(irq):
    code = rom.irq_stub(irq).code
    assert b"\xe6\x20" in code
    assert b"\xe6\xa0" not in code
    assert code == bytes.fromhex("5090fab020e62058cf")


def test_reset_vector():
    assert rom.reset_vector() == bytes.fromhex("ea5be000f0")
    assert rom.RESET_VECTOR_OFF == 0xFFF0
    assert rom.linear(rom.RESET_VECTOR_OFF) == 0xFFFF0


def test_ibm_entry_points():
    assert rom.POST_OFF == 0xE05B
    assert rom.CONFIG_TABLE_OFF == 0xE6F5
    assert rom.DISKETTE_TABLE_OFF == 0xEFC7
    assert rom.FONT8_COMPAT_OFF == 0xFA6E
    assert rom.MODEL_OFF == 0xFFFE and rom.MODEL_AT == 0xFC
    assert rom.DATE_OFF == 0xFFF5 and len(rom.BIOS_DATE) == 8


def test_config_table():
    table = rom.config_table()
    length = int.from_bytes(table[:2], "little")
    assert length == len(table) - 2
    assert length >= 8
    assert table[2] == 0xFC  # model: AT
    features1 = table[5]
    assert features1 & 0x40  # second 8259
    assert features1 & 0x20  # RTC
    assert features1 & 0x10  # int 09h calls int 15h AH=4Fh
    assert features1 & 0x04  # EBDA allocated
    assert not features1 & 0x02  # not Micro Channel


def test_far_pointer_and_linear():
    assert rom.far_pointer(0xE6F5) == 0xF000E6F5
    assert rom.far_pointer(0x1234, 0xC000) == 0xC0001234
    assert rom.linear(0xE05B) == 0xFE05B
