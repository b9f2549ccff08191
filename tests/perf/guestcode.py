"""Tiny hand-assembled real-mode guests for the benchmarks (boot sectors).

Each returns 512 bytes with the 55AA signature.  The guests report start and end on
the debug port E9h ('S' ... 'E') so the host can time exactly the measured part.
"""

from __future__ import annotations

OUT_E9 = b"\xe6\xe9"  # out 0E9h, al


def boot_sector(code: bytes) -> bytes:
    if len(code) > 510:
        raise ValueError("code does not fit in a boot sector")
    return code + bytes(510 - len(code)) + b"\x55\xaa"


def _signal(ch: str) -> bytes:
    return b"\xb0" + ch.encode() + OUT_E9  # mov al, ch ; out 0E9h, al


MIX = (b"\x66\x01\xc8"  # add eax, ecx
       b"\x66\x31\xc3"  # xor ebx, eax
       b"\x66\xc1\xc0\x05"  # rol eax, 5
       b"\x66\x0f\xaf\xc3")  # imul eax, ebx


def alu_loop(iterations: int, unroll: int = 4) -> bytes:
    """sti; 'S'; mov ecx, N; l: (add, xor, rol, imul) x unroll; dec ecx; jnz l; 'E'; hlt.
    unroll=0 is the tightest loop (add, xor, dec, jnz: 4 instructions per block)."""
    body = (MIX * unroll if unroll else MIX[:6]) + b"\x66\x49"  # ... ; dec ecx
    jnz = b"\x0f\x85" + ((-(len(body) + 4)) & 0xFFFF).to_bytes(2, "little")
    code = (b"\xfb" + _signal("S") + b"\x66\xb9" + iterations.to_bytes(4, "little")
            + body + jnz + _signal("E") + b"\xfa\xf4")
    return boot_sector(code)


def call_loop(iterations: int, setup: bytes, call: bytes) -> bytes:
    """sti; 'S'; mov ecx, N; l: <setup>; <call>; dec ecx; jnz l; 'E'; cli; hlt.
    ``call`` is e.g. b"\\xcd\\x10" (int 10h) or b"\\x90\\x90" (the same loop without it)."""
    body = b"\x66\x51" + setup + call + b"\x66\x59" + b"\x66\x49"  # push ecx .. pop ecx; dec
    jnz = b"\x75" + bytes(((-(len(body) + 2)) & 0xFF,))
    code = (b"\xfb" + _signal("S") + b"\x66\xb9" + iterations.to_bytes(4, "little")
            + body + jnz + _signal("E") + b"\xfa\xf4")
    return boot_sector(code)
