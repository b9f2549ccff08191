"""Boot sectors for fuzzing: random bytes, and structured ones built from fragments.

Owns: a tiny position-aware assembler (:class:`Asm`, origin 7C00h), the fragments a hostile
or broken boot sector is made of (``int n`` with random registers, port I/O of every width
to device and random ports, CR0/CR3/CR4 writes, LGDT/LIDT of garbage tables, protected-mode
switches, far jumps and calls, stacks at the bottom of their segment, overwrites of the
IVT, BDA, EBDA, ROM and video memory, HLT with IF=0, faults, MSRs, self-modifying code)
and two sources of choices: :class:`RandomSource` (a seeded ``random.Random``, for the
long run in ``tools/fuzz_boot.py``; a seed reproduces the sector) and
:class:`HypothesisSource` (draws from hypothesis, so failures shrink to few fragments).

Every fragment is hand-encoded 16-bit real-mode machine code (Intel SDM vol. 2 opcode
tables); names say what the bytes are.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence
from typing import Protocol

ORIGIN = 0x7C00
SECTOR = 512
CODE_LIMIT = 510  # the signature takes the last two bytes
SIGNATURE = b"\x55\xaa"

R16 = {"ax": 0, "cx": 1, "dx": 2, "bx": 3, "sp": 4, "bp": 5, "si": 6, "di": 7}
SREG = {"es": 0, "cs": 1, "ss": 2, "ds": 3, "fs": 4, "gs": 5}
BIOS_VECTORS = (0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x1A, 0x19, 0x18)
EXCEPTION_VECTORS = (0, 1, 3, 4, 5, 6, 7, 8, 13)
DEVICE_PORTS = (0x20, 0x21, 0xA0, 0xA1, 0x40, 0x41, 0x42, 0x43, 0x60, 0x61, 0x64, 0x70,
                0x71, 0x92, 0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF, 0x3B4,
                0x3B5, 0x3BA, 0x3C0, 0x3C1, 0x3C4, 0x3C5, 0x3C7, 0x3C8, 0x3C9, 0x3CE, 0x3CF,
                0x3D4, 0x3D5, 0x3DA, 0xE9, 0x4D0, 0x4D1, 0xCF8, 0xCFC, 0x80, 0x402)
# (segment, offset) of areas a guest should not scribble over, and does
AREAS = ((0x0000, 0x0000), (0x0040, 0x0000), (0x9FC0, 0x0000), (0xF000, 0x8000),
         (0xF000, 0x0000), (0xF000, 0xE000), (0xB800, 0x0000), (0xA000, 0x0000),
         (0x0000, 0x7C00), (0xFFFF, 0x0010), (0xC000, 0x0000))
FAR_TARGETS = ((0xF000, 0x8000 + 0x10 * 8), (0xF000, 0xE05B), (0xFFFF, 0x0000),
               (0x0000, 0x7C00), (0xA000, 0x0000), (0xB800, 0x0000), (0xC000, 0x0000),
               (0xF000, 0x9000), (0x0000, 0x0000), (0x0040, 0x0000), (0xFFFF, 0xFFFF))


class Source(Protocol):
    """Where a fragment's choices come from."""

    def int(self, lo: int, hi: int) -> int: ...  # inclusive
    def choice(self, options: Sequence): ...
    def bytes(self, n: int) -> bytes: ...


class RandomSource:
    """Choices from a seeded ``random.Random``: the same seed, the same sector."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: Sequence):
        return options[self.rng.randrange(len(options))]

    def bytes(self, n: int) -> bytes:
        return self.rng.randbytes(n)


class HypothesisSource:
    """Choices drawn from a hypothesis ``data`` object (``st.data()``)."""

    def __init__(self, data) -> None:
        from hypothesis import strategies as st

        self._data = data
        self._st = st

    def int(self, lo: int, hi: int) -> int:
        return self._data.draw(self._st.integers(lo, hi))

    def choice(self, options: Sequence):
        return self._data.draw(self._st.sampled_from(options))

    def bytes(self, n: int) -> bytes:
        return self._data.draw(self._st.binary(min_size=n, max_size=n))


class Asm:
    """Machine code at ORIGIN, appended piece by piece; ``here`` is the next address."""

    def __init__(self) -> None:
        self.code = bytearray()

    @property
    def here(self) -> int:
        return ORIGIN + len(self.code)

    def emit(self, *parts: bytes | int) -> None:
        for part in parts:
            self.code += bytes((part,)) if isinstance(part, int) else part

    def mov16(self, reg: str, value: int) -> None:
        self.emit(0xB8 + R16[reg], struct.pack("<H", value & 0xFFFF))  # mov r16, imm16

    def mov32(self, reg: str, value: int) -> None:
        self.emit(0x66, 0xB8 + R16[reg], struct.pack("<I", value & 0xFFFFFFFF))  # mov r32, imm32

    def mov_sreg(self, sreg: str, value: int) -> None:
        self.mov16("ax", value)
        self.emit(0x8E, 0xC0 | (SREG[sreg] << 3))  # mov sreg, ax

    def inline_data(self, data: bytes) -> int:
        """``jmp short`` over ``data``; returns the data's address."""
        self.emit(0xEB, len(data))
        address = self.here
        self.emit(data)
        return address


# ------------------------------------------------------------------------------ fragments
Fragment = Callable[[Asm, Source], None]


def _word(src: Source) -> int:
    """A 16-bit value, often an edge."""
    return src.choice((0, 1, 0x7FFF, 0x8000, 0xFFFF, 0xFFFE, src.int(0, 0xFFFF)))


def _dword(src: Source) -> int:
    return src.choice((0, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, src.int(0, 0xFFFFFFFF)))


def random_registers(asm: Asm, src: Source) -> None:
    for _ in range(src.int(1, 6)):
        reg = src.choice(("ax", "bx", "cx", "dx", "si", "di", "bp"))
        if src.int(0, 3) == 0:
            asm.mov32(reg, _dword(src))
        else:
            asm.mov16(reg, _word(src))
    if src.int(0, 1):
        asm.mov_sreg(src.choice(("es", "ds", "fs", "gs")), _word(src))


def int_n(asm: Asm, src: Source) -> None:
    random_registers(asm, src)
    vector = src.choice((*BIOS_VECTORS, *BIOS_VECTORS, *EXCEPTION_VECTORS, src.int(0, 255)))
    asm.mov16("ax", (src.int(0, 0xFF) << 8) | src.int(0, 0xFF))  # AH picks the leaf
    asm.emit(0xCD, vector)  # int n


def port_io(asm: Asm, src: Source) -> None:
    port = src.choice((*DEVICE_PORTS, src.int(0, 0xFFFF)))
    width = src.choice((1, 2, 4))
    prefix = b"\x66" if width == 4 else b""
    if src.int(0, 1):  # out
        value = src.int(0, (1 << (8 * width)) - 1)
        if width == 4:
            asm.mov32("ax", value)
        else:
            asm.mov16("ax", value)
        if port < 0x100 and src.int(0, 1):
            asm.emit(prefix, 0xE6 if width == 1 else 0xE7, port)  # out imm8, al/ax/eax
        else:
            asm.mov16("dx", port)
            asm.emit(prefix, 0xEE if width == 1 else 0xEF)  # out dx, al/ax/eax
    else:
        if port < 0x100 and src.int(0, 1):
            asm.emit(prefix, 0xE4 if width == 1 else 0xE5, port)  # in al/ax/eax, imm8
        else:
            asm.mov16("dx", port)
            asm.emit(prefix, 0xEC if width == 1 else 0xED)  # in al/ax/eax, dx


def string_io(asm: Asm, src: Source) -> None:
    asm.mov16("dx", src.choice((*DEVICE_PORTS, src.int(0, 0xFFFF))))
    asm.mov16("cx", src.choice((1, 2, 16, 512, src.int(0, 0xFFFF))))
    asm.mov16("si", src.int(0, 0xFFFF))
    asm.mov16("di", src.int(0, 0xFFFF))
    op = src.choice((0x6C, 0x6D, 0x6E, 0x6F))  # insb, insw, outsb, outsw
    asm.emit(0xF3, op)  # rep


def control_registers(asm: Asm, src: Source) -> None:
    asm.mov32("ax", src.choice((1, 0x80000001, 0x80000000, 0x60000010, _dword(src))))
    cr = src.choice((0, 0, 3, 4, 2))
    asm.emit(0x0F, 0x22, 0xC0 | (cr << 3))  # mov crN, eax


def descriptor_table(asm: Asm, src: Source) -> None:
    """lgdt/lidt of a garbage 6-byte pseudo-descriptor (inline or at a random address)."""
    if src.int(0, 1):
        address = asm.inline_data(struct.pack("<HI", _word(src), _dword(src)))
        asm.mov16("bx", address)
    else:
        asm.mov16("bx", src.int(0, 0xFFFF))
    which = src.choice((0x17, 0x1F))  # lgdt [bx] / lidt [bx]
    if src.int(0, 1):
        asm.emit(0x66)
    asm.emit(0x0F, 0x01, which)


def _gdt_bytes(src: Source) -> bytes:
    """A null descriptor then a few: sometimes a sane flat code/data pair, else garbage."""
    if src.int(0, 2) == 0:
        return src.bytes(8 * src.int(1, 4))
    flat_code = bytes.fromhex("ffff0000009acf00")
    flat_data = bytes.fromhex("ffff00000092cf00")
    code16 = bytes.fromhex("ffff0000009a0000")
    return bytes(8) + flat_code + flat_data + code16 + src.bytes(8 * src.int(0, 2))


def protected_mode_switch(asm: Asm, src: Source) -> None:
    """cli?; lgdt; (lidt garbage?); set CR0.PE; far jump to a random or sane selector;
    then load random selectors into data segments and touch memory."""
    if src.int(0, 1):
        asm.emit(0xFA)  # cli
    gdt = _gdt_bytes(src)
    table = asm.inline_data(gdt)
    pseudo = asm.inline_data(struct.pack("<HI", len(gdt) - 1, table))
    asm.mov16("bx", pseudo)
    asm.emit(0x66, 0x0F, 0x01, 0x17)  # lgdt [bx]
    if src.int(0, 2) == 0:
        asm.mov16("bx", src.int(0, 0xFFFF))
        asm.emit(0x0F, 0x01, 0x1F)  # lidt [bx] (garbage)
    asm.emit(0x0F, 0x20, 0xC0)  # mov eax, cr0
    asm.emit(0x0C, 0x01)  # or al, 1
    asm.emit(0x0F, 0x22, 0xC0)  # mov cr0, eax
    selector = src.choice((0x08, 0x18, src.int(0, 0xFFFF)))
    after = asm.here + 5
    if selector == 0x08:  # 32-bit code: the bytes that follow run as 32-bit code
        asm.emit(0xEA, struct.pack("<HH", after, selector))
    else:
        asm.emit(0xEA, struct.pack("<HH", src.choice((after, src.int(0, 0xFFFF))), selector))
    asm.mov16("ax", src.choice((0x10, 0x00, src.int(0, 0xFFFF))))
    asm.emit(0x8E, 0xD8)  # mov ds, ax
    if src.int(0, 1):
        asm.emit(0x8E, 0xD0)  # mov ss, ax
    asm.emit(0xA1, struct.pack("<H", src.int(0, 0xFFFF)))  # mov ax, [moffs]
    if src.int(0, 1):
        asm.emit(0xCD, src.int(0, 255))  # int n in protected mode


def far_transfer(asm: Asm, src: Source) -> None:
    seg, off = src.choice((*FAR_TARGETS, (src.int(0, 0xFFFF), src.int(0, 0xFFFF))))
    kind = src.int(0, 3)
    if kind == 0:
        asm.emit(0xEA, struct.pack("<HH", off, seg))  # jmp far seg:off
    elif kind == 1:
        asm.emit(0x9A, struct.pack("<HH", off, seg))  # call far seg:off
    else:  # push a frame and retf / iret to it
        asm.mov16("ax", seg)
        asm.emit(0x50)  # push ax
        asm.mov16("ax", off)
        asm.emit(0x50)  # push ax
        if kind == 3:
            asm.emit(0x9C)  # pushf (below the frame: iret pops a garbage flags word)
            asm.emit(0xCF)  # iret
        else:
            asm.emit(0xCB)  # retf


def stack_edge(asm: Asm, src: Source) -> None:
    """SP at the bottom of its segment, then push/call/int so the stack wraps."""
    asm.mov_sreg("ss", src.choice((0x0000, 0x0040, 0xF000, 0xB800, 0xFFFF, src.int(0, 0xFFFF))))
    asm.mov16("sp", src.choice((0, 1, 2, 3, 4, 6, 0xFFFF, src.int(0, 16))))
    for _ in range(src.int(1, 8)):
        asm.emit(src.choice((b"\x50", b"\x66\x50", b"\x9c", b"\x60", b"\xe8\x00\x00",
                             b"\xcd\x10", b"\xcd\x1a", b"\x58", b"\xc3", b"\xcf")))


def scribble(asm: Asm, src: Source) -> None:
    """rep stos over a system area (IVT, BDA, EBDA, ROM, video memory, the sector)."""
    seg, off = src.choice((*AREAS, (src.int(0, 0xFFFF), src.int(0, 0xFFFF))))
    asm.mov_sreg("es", seg)
    asm.mov16("di", off + src.choice((0, src.int(0, 0x400))))
    asm.mov16("cx", src.choice((1, 2, 0x40, 0x100, 0x200, 0x8000, src.int(0, 0xFFFF))))
    asm.mov16("ax", src.int(0, 0xFFFF))
    asm.emit(0xFC if src.int(0, 3) else 0xFD)  # cld / std
    asm.emit(0xF3, src.choice((0xAA, 0xAB)))  # rep stosb / stosw


def poke(asm: Asm, src: Source) -> None:
    """One word into a random place (an IVT entry, a BDA field, the code ahead)."""
    seg, off = src.choice((*AREAS, (0, src.int(0, 0x3FF)), (0x40, src.int(0, 0xFF))))
    asm.mov_sreg("es", seg)
    asm.mov16("bx", off + src.int(0, 0xFF))
    asm.emit(0x26, 0xC7, 0x07, struct.pack("<H", _word(src)))  # mov word [es:bx], imm16


def halt(asm: Asm, src: Source) -> None:
    asm.emit(src.choice((b"\xfa\xf4", b"\xf4", b"\xfb\xf4", b"\xfa\xf4\xeb\xfd",
                         b"\x9c\x58\x80\xe4\xfd\x50\x9d\xf4")))  # ... and IF cleared via popf


def faults(asm: Asm, src: Source) -> None:
    asm.emit(src.choice((
        b"\x31\xdb\xf7\xf3",  # xor bx, bx; div bx
        b"\x0f\x0b",  # ud2
        b"\xcc",  # int3
        b"\xce",  # into
        b"\xf0\x90",  # lock nop (#UD)
        b"\x8e\xc8",  # mov cs, ax (#UD)
        b"\x0f\x00\xd0",  # lldt ax (#UD in real mode)
        b"\x0f\x00\xd8",  # ltr ax
        b"\x67\x66\x8b\x07",  # mov eax, [ebx] (beyond 64K: #GP)
        b"\x0f\x30",  # wrmsr
        b"\x0f\x32",  # rdmsr
        b"\x0f\xa2",  # cpuid
        b"\x0f\x31",  # rdtsc
        b"\x0f\x23\xc0",  # mov dr0, eax
        b"\xdb\xe3\xd9\xe8\xdf\x3f",  # fninit; fld1; fistp [bx]
        b"\x0f\x01\xf8",  # swapgs (#UD)
        b"\x0f\x05",  # syscall
        b"\x0f\x34",  # sysenter
        b"\x0f\xaa",  # rsm
        b"\xf1",  # int1
    )))


def loops(asm: Asm, src: Source) -> None:
    asm.mov16("cx", _word(src))
    # loop $ / jmp $ / loopnz $ / jcxz $
    asm.emit(src.choice((b"\xe2\xfe", b"\xeb\xfe", b"\xe0\xfe", b"\xe3\xfe")))


def self_modify(asm: Asm, src: Source) -> None:
    """Overwrite the next bytes of code, then run them."""
    target = asm.here + 8 + src.int(0, 4)  # into the nops after these 8 bytes
    asm.mov16("bx", target)
    asm.mov16("ax", src.int(0, 0xFFFF))
    asm.emit(0x89, 0x07)  # mov [bx], ax
    asm.emit(b"\x90" * 6)


def a20_and_reset(asm: Asm, src: Source) -> None:
    asm.emit(src.choice((
        b"\xe4\x92\x0c\x02\xe6\x92",  # in al, 92h; or al, 2; out 92h, al (A20 on)
        b"\xe4\x92\x24\xfd\xe6\x92",  # A20 off
        b"\xb0\xd1\xe6\x64\xb0\xdd\xe6\x60",  # 8042: write output port, A20 off
        b"\xb0\xd1\xe6\x64\xb0\xdf\xe6\x60",  # A20 on
        b"\xb0\xfe\xe6\x64",  # 8042 pulse reset
        b"\xb0\x01\xe6\x92",  # port 92h fast reset
        b"\xb0\xad\xe6\x64\xb0\xa7\xe6\x64",  # disable keyboard and mouse
        b"\xb0\xd4\xe6\x64\xb0\xf4\xe6\x60",  # mouse: enable reporting
    )))


def random_bytes(asm: Asm, src: Source) -> None:
    asm.emit(src.bytes(src.int(1, 24)))


FRAGMENTS: tuple[Fragment, ...] = (
    int_n, int_n, port_io, port_io, string_io, control_registers, descriptor_table,
    protected_mode_switch, far_transfer, stack_edge, scribble, poke, halt, faults, loops,
    self_modify, a20_and_reset, random_bytes, random_registers,
)


def structured(src: Source, max_fragments: int = 12) -> bytes:
    """A boot sector of random fragments; the rest of the sector is zeros, random bytes
    or ``jmp $``; the signature is usually right."""
    asm = Asm()
    if src.int(0, 1):
        asm.emit(0xFB)  # sti
    for _ in range(src.int(1, max_fragments)):
        fragment = src.choice(FRAGMENTS)
        mark = len(asm.code)
        fragment(asm, src)
        if len(asm.code) > CODE_LIMIT:
            del asm.code[mark:]
            break
    tail = src.choice(("zeros", "random", "loop", "halt"))
    if tail == "loop" and len(asm.code) + 2 <= CODE_LIMIT:
        asm.emit(0xEB, 0xFE)  # jmp $
    elif tail == "halt" and len(asm.code) + 2 <= CODE_LIMIT:
        asm.emit(0xFA, 0xF4)  # cli; hlt
    rest = CODE_LIMIT - len(asm.code)
    asm.emit(src.bytes(rest) if tail == "random" else bytes(rest))
    return bytes(asm.code) + _signature(src)


def random_sector(src: Source) -> bytes:
    return src.bytes(CODE_LIMIT) + _signature(src)


def _signature(src: Source) -> bytes:
    return SIGNATURE if src.int(0, 19) else src.bytes(2)


def from_seed(seed: int) -> tuple[str, bytes]:
    """The long run's sector number ``seed``: (kind, 512 bytes); a quarter are random."""
    src = RandomSource(seed)
    if src.int(0, 3) == 0:
        return "random", random_sector(src)
    return "structured", structured(src)
