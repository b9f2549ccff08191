"""Layout of the BIOS ROM segment (F000h) and the x86 stubs that live in it.

Owns: where each piece of firmware sits (fonts, diskette parameter table, configuration
table, interrupt stubs, reset vector, date and model bytes) and the machine code of the
stubs.  Every IVT entry points at a stub; a stub's first instruction is a *trap* (a NOP the
machine watches with a code hook limited to the stub area), after which the stub's own
code finishes the job (IRET, or EOI to the PIC for hardware interrupts).  Because the IVT
points at real code, a guest that hooks a vector and chains to the old one still reaches
the BIOS.  Entry points follow the IBM PC/AT BIOS where guests depend on them (reset
vector FFFF:0000, 8x8 font at F000:FA6E, diskette table at F000:EFC7, configuration table
at F000:E6F5, model byte FC at F000:FFFE).
"""

from __future__ import annotations

from dataclasses import dataclass

BIOS_SEGMENT = 0xF000
BIOS_BASE = 0xF0000

FONT16_OFF = 0xA000
FONT14_OFF = 0xB000
FONT8_OFF = 0xC000  # 256 glyphs; int 43h -> here, int 1Fh -> FONT8_OFF + 0x400
FONT8_COMPAT_OFF = 0xFA6E  # first 128 glyphs of the 8x8 font, as on the IBM PC
STUB_AREA_OFF = 0x8000  # 256 generic stubs of STUB_SIZE bytes
STUB_SIZE = 8
IRQ_STUB_AREA_OFF = 0x8800  # hardware-interrupt stubs, IRQ_STUB_SIZE bytes each
IRQ_STUB_SIZE = 32
STUB_AREA_END = 0x8FFF
VBE_OFF = 0xD800  # VBE OEM strings and window function (vmgui.bios.vbe), up to 256 bytes
PCI_IRQ_TABLE_OFF = 0xD000  # $PIR table on PCI machines (16-byte aligned, in F0000h-FFFFFh)
POST_OFF = 0xE05B  # reset lands here (trap = power-on self test)
CONFIG_TABLE_OFF = 0xE6F5
DISKETTE_TABLE_OFF = 0xEFC7
RESET_VECTOR_OFF = 0xFFF0
DATE_OFF = 0xFFF5
MODEL_OFF = 0xFFFE
MODEL_AT = 0xFC
BIOS_DATE = b"11/24/26"

NOP = 0x90
IRET = 0xCF

MASTER_IRQ_BASE = 0x08
SLAVE_IRQ_BASE = 0x70


def linear(offset: int) -> int:
    return BIOS_BASE + offset


def stub_offset(vector: int) -> int:
    """Offset (in F000h) of the stub that IVT[vector] points at after POST."""
    irq = irq_of_vector(vector)
    if irq is not None:
        return IRQ_STUB_AREA_OFF + irq * IRQ_STUB_SIZE
    return STUB_AREA_OFF + vector * STUB_SIZE


def irq_of_vector(vector: int) -> int | None:
    if MASTER_IRQ_BASE <= vector < MASTER_IRQ_BASE + 8:
        return vector - MASTER_IRQ_BASE
    if SLAVE_IRQ_BASE <= vector < SLAVE_IRQ_BASE + 8:
        return vector - SLAVE_IRQ_BASE + 8
    return None


def far_pointer(offset: int, segment: int = BIOS_SEGMENT) -> int:
    """IVT-style dword: offset in the low word, segment in the high word."""
    return (segment << 16) | offset


# --- stub machine code (hand-assembled; each opcode named) --------------------------------
PUSH_AX = b"\x50"
POP_AX = b"\x58"
CLI = b"\xfa"
STC = b"\xf9"
MOV_AL_20 = b"\xb0\x20"  # mov al, 20h (non-specific EOI)
OUT_20_AL = b"\xe6\x20"  # out 20h, al (master PIC)
OUT_A0_AL = b"\xe6\xa0"  # out 0A0h, al (slave PIC)
IN_AL_60 = b"\xe4\x60"  # in al, 60h (keyboard data)
MOV_AH_4F = b"\xb4\x4f"  # mov ah, 4Fh
INT_15 = b"\xcd\x15"
INT_1C = b"\xcd\x1c"
JNC_SKIP_TRAP = b"\x73\x01"  # jnc over the one-byte trap
PUSHA, POPA = b"\x60", b"\x61"
PUSH_DS, POP_DS, PUSH_ES, POP_ES = b"\x1e", b"\x1f", b"\x06", b"\x07"
STI = b"\xfb"
PUSH_AX_BX_CX_DX = b"\x50\x53\x51\x52"  # push ax; push bx; push cx; push dx
CALL_FAR_ES_DI = b"\x26\xff\x1d"  # call far [es:di]
ADD_SP_8 = b"\x83\xc4\x08"  # add sp, 8
JZ = 0x74  # jz rel8


@dataclass(frozen=True)
class Stub:
    """Code for one stub and the offsets (within it) of its trap instructions."""

    code: bytes
    trap: int  # offset of the trap NOP within code


def generic_stub() -> Stub:
    return Stub(bytes((NOP, IRET)), 0)


def irq_stub(irq: int) -> Stub:
    """Default hardware-interrupt handler: trap, then EOI (both PICs for IRQ 8-15)."""
    eoi = MOV_AL_20 + (OUT_A0_AL if irq >= 8 else b"") + OUT_20_AL
    return Stub(PUSH_AX + bytes((NOP,)) + CLI + eoi + POP_AX + bytes((IRET,)), 1)


def timer_stub() -> Stub:
    """IRQ0 (int 08h): trap (tick count, motor timeout), then int 1Ch for user hooks, EOI."""
    code = PUSH_AX + bytes((NOP,)) + INT_1C + CLI + MOV_AL_20 + OUT_20_AL + POP_AX
    return Stub(code + bytes((IRET,)), 1)


def keyboard_stub() -> Stub:
    """IRQ1 (int 09h): read the scan code, offer it to int 15h AH=4Fh (CF clear = the hook
    consumed it), trap to translate it into the BDA buffer, EOI."""
    code = (PUSH_AX + IN_AL_60 + MOV_AH_4F + STC + INT_15 + JNC_SKIP_TRAP + bytes((NOP,))
            + CLI + MOV_AL_20 + OUT_20_AL + POP_AX + bytes((IRET,)))
    return Stub(code, len(PUSH_AX + IN_AL_60 + MOV_AH_4F + STC + INT_15 + JNC_SKIP_TRAP))


def mouse_stub() -> Stub:
    """IRQ12 (int 74h): save everything, trap (Python reads the aux byte from port 60h
    into the EBDA packet buffer; when a packet is complete and a callback is installed it
    clears ZF and loads AX=status, BX=X, CX=Y, DX=Z, ES:DI -> the far pointer at EBDA:22h),
    then, as PC BIOSes do, push status, X, Y, Z as words, far-call the callback with
    interrupts on, discard the 8 bytes, EOI to both PICs, restore, IRET."""
    head = PUSHA + PUSH_DS + PUSH_ES
    call = STI + PUSH_AX_BX_CX_DX + CALL_FAR_ES_DI + ADD_SP_8 + CLI
    eoi = MOV_AL_20 + OUT_A0_AL + OUT_20_AL + POP_ES + POP_DS + POPA + bytes((IRET,))
    code = head + bytes((NOP, JZ, len(call))) + call + eoi
    return Stub(code, len(head))


def reset_vector() -> bytes:
    """FFFF:0000 -> jmp far F000:E05B."""
    return b"\xea" + POST_OFF.to_bytes(2, "little") + BIOS_SEGMENT.to_bytes(2, "little")


def config_table() -> bytes:
    """int 15h AH=C0h system configuration table (size word, model, submodel, revision,
    feature bytes): AT-class, second PIC, RTC, int 15h 4Fh keyboard intercept, EBDA."""
    # feature byte 1: bit 6 second 8259, bit 5 RTC, bit 4 int 09h calls int 15h AH=4Fh,
    # bit 2 EBDA allocated
    features1 = 0x40 | 0x20 | 0x10 | 0x04
    body = bytes((MODEL_AT, 0x00, 0x01, features1, 0x00, 0x00, 0x00, 0x00))
    return len(body).to_bytes(2, "little") + body
