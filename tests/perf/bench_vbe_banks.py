"""VBE banked access: what a bank switch costs, and a whole frame written through banks.

Why it matters: in a banked VBE mode A0000h-AFFFFh shows a 64 KiB bank of the
framebuffer.  vmgui keeps that window plain RAM and remaps it to the new bank at each
switch (an engine unmap + map) instead of trapping every access as I/O memory (~1.5 us
an access: a 640x480x8 frame would take ~0.5 s).  This measures the remap path.

Method: boot sectors on a pc-pci machine (assembled with nasm at run time) time, between
'S' and 'E' on port E9h, N iterations of: (a) int 10h AX=4F05h alternating between banks
0-3; (b) the same calls always to bank 0 (no remap: the BIOS call alone); (c) the bank
register written directly (OUT to the DISPI ports 1CEh/1CFh, banks alternating); (d) the
same loop without the call (the loop's own cost, subtracted).  Then (e) a 1024x768x8
frame (12 banks of 64 KiB, rep stosd) written 20 times, and (f) the same frame through
the linear framebuffer (unreal mode, a32 rep stosd).  Medians of 3 runs.

Run from the repository root: ``python -m tests.perf.bench_vbe_banks [N]`` (needs nasm).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.perf.timing import time_in_machine

HEADER = """bits 16
org 0x7c00
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov ax, 0x4f02
        mov bx, {mode}
        int 0x10
        sti
        mov al, 'S'
        out 0xe9, al
        mov ecx, {n}
"""
FOOTER = """        mov al, 'E'
        out 0xe9, al
        cli
        hlt
        times 510-($-$$) db 0
        dw 0xaa55
"""
LOOPS = {
    "int 10h 4F05h, bank changes": "l: push ecx\n mov ax, 0x4f05\n xor bx, bx\n mov dx, cx\n"
                                   " and dx, 3\n int 0x10\n pop ecx\n dec ecx\n jnz l\n",
    "int 10h 4F05h, same bank": "l: push ecx\n mov ax, 0x4f05\n xor bx, bx\n xor dx, dx\n"
                                " int 0x10\n pop ecx\n dec ecx\n jnz l\n",
    "DISPI bank register (OUT)": "l: push ecx\n mov dx, 0x1ce\n mov ax, 5\n out dx, ax\n"
                                 " inc dx\n mov ax, cx\n and ax, 3\n out dx, ax\n pop ecx\n"
                                 " dec ecx\n jnz l\n",
    "loop alone": "l: push ecx\n mov ax, 0x4f05\n xor bx, bx\n mov dx, cx\n and dx, 3\n"
                  " nop\n nop\n pop ecx\n dec ecx\n jnz l\n",
}
FRAME = """        push 0xa000
        pop es
        cld
f:      push ecx
        xor bp, bp
b:      mov ax, 0x4f05
        xor bx, bx
        mov dx, bp
        int 0x10
        xor di, di
        mov cx, 0x4000
        mov eax, ebp
        rep stosd
        inc bp
        cmp bp, 12
        jb b
        pop ecx
        dec ecx
        jnz f
"""
LINEAR = """        cli
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        mov bx, 8
        mov es, bx              ; unreal mode: ES with a flat 4 GiB limit
        and al, 0xfe
        mov cr0, eax
        sti
        cld
f:      push ecx
        mov edi, 0xe0000000     ; LFB_BASE
        mov ecx, 1024 * 768 / 4
        mov eax, ecx
        a32 rep stosd
        pop ecx
        dec ecx
        jnz f
        jmp done
gdtr:   dw 15
        dd gdt
gdt:    dq 0
        dq 0x00cf92000000ffff
done:
"""


def assemble(source: str, folder: Path) -> bytes:
    asm, out = folder / "bench.asm", folder / "bench.img"
    asm.write_text(source)
    subprocess.run(["nasm", "-f", "bin", "-o", str(out), str(asm)], check=True)
    return out.read_bytes()


def median_time(image: bytes) -> float:
    return statistics.median(time_in_machine(image, profile="pc-pci") for _ in range(3))


def main() -> None:
    if shutil.which("nasm") is None:
        sys.exit("needs nasm")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        times = {name: median_time(assemble(HEADER.format(mode="0x0101", n=n) + body + FOOTER,
                                            folder))
                 for name, body in LOOPS.items()}
        frames = 20
        frame = median_time(assemble(HEADER.format(mode="0x0105", n=frames) + FRAME + FOOTER,
                                     folder))
        linear = median_time(assemble(HEADER.format(mode="0x4105", n=frames) + LINEAR
                                      + FOOTER, folder))
    base = times.pop("loop alone")
    print(f"{n} iterations each, medians of 3 (loop alone {base * 1e6 / n:.2f} us/iteration)")
    for name, seconds in times.items():
        print(f"  {name:30s} {(seconds - base) * 1e6 / n:7.2f} us per call")
    print(f"  1024x768x8 frame through 12 banks: {frame * 1000 / frames:.2f} ms per frame")
    print(f"  1024x768x8 frame through the LFB:  {linear * 1000 / frames:.2f} ms per frame")


if __name__ == "__main__":
    main()
