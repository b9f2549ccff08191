"""Guest stores to RAM: nanoseconds per store in a 32-bit guest, paging off and on, with
the open bus watching only unmapped memory (now) and with a memory hook over all of it
(as vmgui had it from 5721f21: unicorn 2.1.4 then keeps every store on its slow path),
side by side in one run.

Method: one boot sector (nasm at run time) enters flat 32-bit protected mode, optionally
turns paging on (identity, two 4 MiB pages), and runs N iterations of 16 dword stores
to a 64 KiB buffer at 200000h (add, and, dec, jnz around them), between marks on port
E9h; host CPU of the process between the marks / (16 N).  The "hook everywhere" runs add
an extra UC_HOOK_MEM_INVALID over all addresses to the machine (what the open bus had).
Loads measured the same way cost ~1.5-2 ns either way.

Run from the repository root: ``python -m tests.perf.bench_guest_stores [N]`` (needs nasm).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig

STORES = "\n".join(f"        mov [edi + {4 * i}], eax" for i in range(16))
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
%if PAGING
        mov edi, 0x80000
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov dword [0x80000], 0x87       ; 0-8 MiB: two 4 MiB pages
        mov dword [0x80004], 0x400087
        mov eax, cr4
        or eax, 0x10
        mov cr4, eax
        mov eax, 0x80000
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp $+2
%endif
        mov al, 'S'
        out 0xe9, al
        mov ecx, N
        mov edi, 0x200000
l:
STORES
        add edi, 64
        and edi, 0x20ffff
        dec ecx
        jnz l
        mov al, 'E'
        out 0xe9, al
        cli
        hlt
        align 8
gdt:    dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
gdtr:   dw 23
        dd gdt
        times 510-($-$$) db 0
        dw 0xaa55
""".replace("STORES", STORES)


def image(folder: Path, paging: bool, n: int) -> Path:
    src, out = folder / "stores.asm", folder / f"stores{int(paging)}.img"
    src.write_text(f"%define PAGING {int(paging)}\n%define N {n}\n" + GUEST)
    subprocess.run(["nasm", "-f", "bin", "-o", str(out), str(src)], check=True)
    out.write_bytes(out.read_bytes().ljust(1_474_560, b"\0"))
    return out


def run(path: Path, hook_everywhere: bool) -> float:
    """Host CPU seconds between the guest's marks."""
    marks: dict[str, float] = {}
    done = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, ev.DebugOutput):
            for ch in event.data.decode("ascii", "replace"):
                marks[ch] = time.process_time()
            if "E" in marks:
                done.set()

    machine = Machine(MachineConfig(floppies=(path,), read_only=True), on_event=on_event)
    if hook_everywhere:
        machine.engine.hook_mem_invalid(lambda access, address, size, value: False)
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    finished = done.wait(120)
    machine.send(ev.PowerOff())
    thread.join(10)
    if not finished:
        raise RuntimeError("the guest did not finish")
    return marks["E"] - marks["S"]


def main() -> None:
    if shutil.which("nasm") is None:
        sys.exit("needs nasm (Debian package nasm)")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for paging in (False, True):
            path = image(folder, paging, n)
            for everywhere in (False, True):
                cpu = statistics.median(run(path, everywhere) for _ in range(3))
                print(f"paging {'on ' if paging else 'off'}, memory hook "
                      f"{'everywhere (before)' if everywhere else 'unmapped only (now)'}: "
                      f"{cpu * 1e9 / (16 * n):5.1f} ns per store", flush=True)


if __name__ == "__main__":
    main()
