"""A page fault from ring 3, delivered and returned: microseconds of host CPU per fault
(issue 11, "What it must show" 7: <= 20 us).

Method: one boot sector (assembled with nasm at run time) enters 32-bit protected mode
with paging (0-4 MiB identity-mapped, user-accessible, by 4 KiB pages or -- as Linux maps
its own memory -- one 4 MiB page; 400000h-7FFFFFh through a page table of its own),
loads a TSS (ring-0 stack) and an IDT whose vector 14 is an interrupt gate, and drops to
ring 3 with IRETD.  Ring 3 writes one dword to each of N pages in turn (400000h +
(i mod 1024) x 4 KiB).  Case ``fault``: only the page touched last is
present, so every write faults: the #PF handler (ring 0) reads CR2, maps that page (to
one shared frame, user, writable), unmaps the previous one (INVLPG), pops the error code
and returns with IRETD, and the write runs again.  Case ``nofault``: every page is
present from the start, the same loop never faults.  The guest marks the loop's start
and end on port E9h; host CPU of the process between the marks, (fault - nofault) / N,
is the cost of one fault: the engine raising it, vmgui delivering it (IDT, TSS stack
switch, frame), the handler's own instructions and the IRETD back to ring 3.

Run from the repository root: ``python -m tests.perf.bench_page_fault [N] [ROUNDS]``
(needs nasm).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.perf.bench_pm_irq import run_case

TARGET_US = 20.0
PT0, PT1, PD, FRAME = 0x81000, 0x82000, 0x80000, 0x300000
GUEST = """bits 16
org 0x7c00
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm
bits 32
pm:     mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x9f000
        mov edi, {pt0}                  ; 0-4 MiB identity, user, writable
        mov eax, 7
        mov ecx, 1024
.id:    stosd
        add eax, 0x1000
        loop .id
        mov edi, {pt1}                  ; 4-8 MiB: all at FRAME (nofault) or absent
        mov eax, {pt1_fill}
        mov ecx, 1024
        rep stosd
        mov edi, {pd}
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov dword [{pd}], {pde0}
        mov dword [{pd} + 4], {pt1} | 7
        mov eax, cr4                    ; PSE (for a 4 MiB page at 0, as Linux maps itself)
        or eax, 0x10
        mov cr4, eax
        mov edi, idt                    ; IDT: vector 14 only, an interrupt gate, DPL 0
        xor eax, eax
        mov ecx, 30
        rep stosd
        mov [{result}], eax
        mov eax, pf
        mov [idt + 14 * 8], ax
        mov word [idt + 14 * 8 + 2], 0x08
        mov word [idt + 14 * 8 + 4], 0x8e00
        shr eax, 16
        mov [idt + 14 * 8 + 6], ax
        lidt [idtr]
        mov eax, tss                    ; TSS base into its descriptor
        mov [gdt + 0x28 + 2], ax
        shr eax, 16
        mov [gdt + 0x28 + 4], al
        mov [gdt + 0x28 + 7], ah
        mov ax, 0x28
        ltr ax
        mov eax, {pd}
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        push dword 0x23                 ; to ring 3: SS, ESP, EFLAGS (IOPL 3), CS, EIP
        push dword 0x7000
        push dword 0x3002
        push dword 0x1b
        push dword user
        iretd
user:   mov ax, 0x23
        mov ds, ax
        mov es, ax
        mov al, 'S'
        out 0xe9, al
        xor ecx, ecx
.touch: mov eax, ecx
        and eax, 1023
        shl eax, 12
        mov [0x400000 + eax], ecx
        inc ecx
        cmp ecx, {n}
        jb .touch
        mov al, 'E'
        out 0xe9, al
        jmp $
pf:     push eax
        push ebx
        mov eax, cr2
        shr eax, 12
        and eax, 1023
        mov ebx, [ss:last]
        mov dword [ss:{pt1} + ebx * 4], 0
        shl ebx, 12
        invlpg [ebx + 0x400000]
        mov dword [ss:{pt1} + eax * 4], {frame} | 7
        mov [ss:last], eax
        inc dword [ss:{result}]
        pop ebx
        pop eax
        add esp, 4                      ; the error code
        iretd
last:   dd 0
        align 8
gdt:    dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
        dq 0x00cffa000000ffff, 0x00cff2000000ffff   ; 18h/20h: ring-3 code and data
        dq 0x0000890000000067           ; 28h: 32-bit TSS (base filled in)
gdtr:   dw 6 * 8 - 1
        dd gdt
idtr:   dw 15 * 8 - 1
        dd idt
tss:    dd 0, 0x9f000, 0x10             ; link, ESP0, SS0 (the rest: unused)
idt     equ 0x6000
        times 510-($-$$) db 0
        dw 0xaa55
"""
RESULT = 0x7E00  # the handler counts its faults here (as bench_pm_irq's RESULT)


def assemble(case: str, n: int, folder: Path, big: bool = False) -> bytes:
    """``big``: 0-4 MiB is one 4 MiB page (PSE), else 1024 pages of 4 KiB."""
    fill = FRAME | 7 if case == "nofault" else 0
    source = GUEST.format(pt0=PT0, pt1=PT1, pd=PD, frame=FRAME, n=n, result=RESULT,
                          pt1_fill=fill, pde0=0x87 if big else f"{PT0} | 7")
    asm, out = folder / f"{case}.asm", folder / f"{case}.img"
    asm.write_text(source)
    subprocess.run(["nasm", "-f", "bin", "-o", str(out), str(asm)], check=True)
    return out.read_bytes().ljust(1_474_560, b"\0")


def measure(n: int, rounds: int, deterministic: bool, big: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cpu: dict[str, list[float]] = {"fault": [], "nofault": []}
        images = {case: assemble(case, n, folder, big) for case in cpu}
        for _ in range(rounds):
            for case, image in images.items():
                run = run_case(image, folder, deterministic)
                faults = run.spins  # run_case reads RESULT: the handler's count
                expected = n if case == "fault" else 0
                if faults != expected:
                    raise RuntimeError(f"{case}: {faults} page faults counted, not {expected}")
                cpu[case].append(run.cpu)
    fault, plain = statistics.median(cpu["fault"]), statistics.median(cpu["nofault"])
    per_fault = (fault - plain) / n * 1e6
    mode = ("deterministic" if deterministic else "real time") + (
        ", kernel in a 4 MiB page" if big else ", kernel in 4 KiB pages")
    print(f"{mode}: {n} faults, medians of {rounds}: {fault:.3f} s CPU with faults, "
          f"{plain:.3f} s without -> {per_fault:.2f} us per ring-3 page fault delivered "
          f"and returned (target <= {TARGET_US:g})", flush=True)
    return per_fault


def main() -> None:
    if shutil.which("nasm") is None:
        sys.exit("needs nasm (Debian package nasm)")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    for big in (False, True):
        measure(n, rounds, deterministic=False, big=big)
        measure(n, rounds, deterministic=True, big=big)


if __name__ == "__main__":
    main()
