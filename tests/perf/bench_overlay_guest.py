"""Overlay cost as a guest sees it: int 13h reads and writes from a guest loop, on a raw
hard disk and on a copy-on-write overlay over the same image.

Method: a boot-sector guest (assembled with nasm) calls int 13h AH=42h (extended read) or
AH=43h (extended write) N times, 8 sectors (4 KiB) per call, at sequential or pseudo-random
(LCG) 4 KiB-aligned LBAs of a 64 MiB hard disk, and reports start and end on port E9h.
The disk is the raw image, or an overlay over a copy of it that is "empty" (new: reads fall
through, writes allocate) or "full" (every chunk already in the overlay); each run opens
the disk afresh, so every overlay chunk is read or written for the first time in the
session ("cold" in bench_overlay.py).  Raw and overlay runs alternate; median of R rounds.
Target (issue 6): overlay <= 1.2x raw.  The storage layer alone (no guest, no BIOS) is
measured by bench_overlay.py.

Run from the repository root: ``python -m tests.perf.bench_overlay_guest [N] [R]``
(needs ``nasm``).
"""

from __future__ import annotations

import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.perf.timing import time_in_machine
from vmgui.storage.image import DiskImage
from vmgui.storage.overlay import Overlay

DISK = 64 << 20
GUEST = r"""
bits 16
org 0x7C00
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov al, 'S'
    out 0xE9, al
    mov ebp, COUNT
    mov edi, 12345
    xor ebx, ebx
next:
%if RANDOM
    imul edi, edi, 1103515245
    add edi, 12345
    mov eax, edi
    shr eax, 8
%else
    mov eax, ebx
    inc ebx
%endif
    and eax, BLOCKS - 1
    shl eax, 3
    mov [dap + 8], eax
    mov ah, FUNCTION
    xor al, al
    mov dl, 0x80
    mov si, dap
    int 0x13
    jc failed
    dec ebp
    jnz next
    mov al, 'E'
    out 0xE9, al
    cli
    hlt
failed:
    mov al, 'F'
    out 0xE9, al
    cli
    hlt
dap:
    db 16, 0
    dw 8
    dw 0, 0x1000
    dq 0
times 510 - ($ - $$) db 0
    dw 0xAA55
"""


def assemble(folder: Path, function: int, random_lbas: bool, count: int) -> Path:
    src, out = folder / "guest.asm", folder / f"guest-{function:x}-{int(random_lbas)}.img"
    src.write_text(GUEST)
    subprocess.run(["nasm", "-f", "bin", f"-DCOUNT={count}", f"-DFUNCTION=0x{function:x}",
                    f"-DRANDOM={int(random_lbas)}", f"-DBLOCKS={DISK // 4096}", "-o",
                    str(out), str(src)], check=True)
    return out


def fill(path: Path) -> None:
    with Overlay.open(path) as ov:
        for offset in range(0, ov.size, ov.block_size):
            ov.write(offset, ov.read(offset, ov.block_size))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(__doc__.split("Run from")[0].strip())
    print(f"\nN = {n} int 13h calls of 8 sectors, median of {rounds} rounds\n")
    print(f"{'case':<34}{'raw us/call':>12}{'cow us/call':>12}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw, base, cow = folder / "raw.img", folder / "base.img", folder / "disk.cow"
        raw.write_bytes(random.Random(1).randbytes(DISK))
        shutil.copyfile(raw, base)
        for state, function, random_lbas in (
                ("empty", 0x42, False), ("empty", 0x42, True), ("full", 0x42, False),
                ("full", 0x42, True), ("empty", 0x43, False), ("empty", 0x43, True),
                ("full", 0x43, False), ("full", 0x43, True)):
            boot = assemble(folder, function, random_lbas, n)
            raw_t, cow_t, code = [], [], boot.read_bytes()
            for _ in range(rounds):
                raw_t.append(time_in_machine(code, 300, DiskImage.open(raw, kind="hdd")))
                cow.unlink(missing_ok=True)
                Overlay.create(cow, base).close()
                if state == "full":
                    fill(cow)
                cow_t.append(time_in_machine(code, 300,
                                             DiskImage.open_overlay(cow, kind="hdd")))
            r, c = statistics.median(raw_t) / n * 1e6, statistics.median(cow_t) / n * 1e6
            name = (f"{'random' if random_lbas else 'seq'} "
                    f"{'read' if function == 0x42 else 'write'}, {state} overlay")
            print(f"{name:<34}{r:>12.2f}{c:>12.2f}{c / r:>8.2f}")


if __name__ == "__main__":
    main()
