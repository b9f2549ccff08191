"""Protected-mode interrupt cost: an IRQ delivered through the IDT and returned with
IRETD, and an ``int n`` + IRETD round trip, in microseconds of host CPU (issue 10,
"What it must show" 8: <= 15 us).

Method: one boot sector (assembled with nasm at run time) enters 32-bit protected mode
(flat ring 0, no paging), loads an IDT with an interrupt gate for IRQ0 (vector 20h) and
one for ``int 30h``, and runs one of these cases, marking its start and end on port E9h:

* ``irq``: the PIT ticks at PIT_HZ and the guest spins on a register-only loop
  (``inc ebx`` ... until the handler's count reaches N); the handler counts, sends the
  EOI (``out 20h``) and returns with IRETD.  Host CPU time of the whole process (every
  thread: the deadline timer's too) between the marks, minus the spin loop's own cost
  (iterations x the cost of one iteration measured by ``spin``), divided by the IRQs
  taken, is the cost of one IRQ: engine stop, run loop, delivery, the handler's EOI
  port write and its IRETD.
* ``spin``: the same loop with IRQ0 masked, for a fixed number of iterations (also
  comparing with a value in memory, so that an iteration costs what one of ``irq``'s
  does).
* ``halt``: the PIT ticks and the guest waits in ``sti; hlt`` between IRQs: host CPU per
  IRQ of an idle protected-mode guest (wake-up included).
* ``int``: N x ``int 30h`` whose handler is a bare IRETD, minus ``noint`` (the same loop
  with two NOPs): host CPU per round trip.

Each case runs ROUNDS times on the pc-pci machine in real time (the product's default)
and the medians are compared; the deterministic mode's figures follow (there IRQs come
at block deadlines, with no timer thread).  Host CPU, not wall time: the machine this
runs on is shared, and a waiting VM thread costs nothing.

Run from the repository root: ``python -m tests.perf.bench_pm_irq [N] [ROUNDS] [PIT_HZ]``
(needs nasm).  The spin loop's cost is measured apart and subtracted; at 10 kHz it is
~85% of the CPU time, so a few percent of drift in it swings the result by several
microseconds (even below zero).  With PIT_HZ above what the machine can deliver
(200000) the IRQs come back to back, the spinning between them is small, and the
figure is steady: use that to compare trees.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig

PIT_HZ = 10_000
PIT_DIVISOR = round(1_193_182 / PIT_HZ)
RESULT = 0x7E00  # the guest leaves its spin count (EBX) here
TARGET_US = 15.0

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
        mov esp, 0x90000
        mov edi, 0x10000 + 0x20 * 8     ; IDT at 10000h: 20h (IRQ0) and 30h (int 30h)
        mov eax, irq0
        call gate
        mov edi, 0x10000 + 0x30 * 8
        mov eax, soft
        call gate
        lidt [idtr]
        mov al, 0x11                    ; PIC: IRQ0-7 -> vectors 20h-27h
        out 0x20, al
        mov al, 0x20
        out 0x21, al
        mov al, 4
        out 0x21, al
        mov al, 1
        out 0x21, al
        mov al, {mask}                  ; FEh: IRQ0 only; FFh: none
        out 0x21, al
        mov al, 0x34                    ; PIT channel 0, mode 2, divisor {divisor}
        out 0x43, al
        mov al, {divisor} & 0xff
        out 0x40, al
        mov al, {divisor} >> 8
        out 0x40, al
        xor ebx, ebx
        mov al, 'S'
        out 0xe9, al
{body}
        mov [{result}], ebx
        mov al, 'E'
        out 0xe9, al
        cli
        hlt
gate:   mov [edi], ax                   ; 32-bit interrupt gate, selector 08h, DPL 0
        mov word [edi + 2], 0x08
        mov word [edi + 4], 0x8e00
        shr eax, 16
        mov [edi + 6], ax
        ret
irq0:   inc dword [count]
        push eax
        mov al, 0x20
        out 0x20, al
        pop eax
        iretd
soft:   iretd
count:  dd 0
        align 8
gdt:    dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
gdtr:   dw 23
        dd gdt
idtr:   dw 0x30 * 8 + 7
        dd 0x10000
        times 510-($-$$) db 0
        dw 0xaa55
"""
BODIES = {
    # spin until the handler has counted N IRQs
    "irq": ("0xfe", "        sti\nl:      inc ebx\n        cmp dword [count], {n}\n"
                    "        jb l\n        cli"),
    # the same loop, IRQ0 masked, a fixed number of iterations: like the IRQ loop it
    # compares with a value in memory (a register-only loop costs half as much an
    # iteration, and subtracting that counted ~30 us of spinning as IRQ cost)
    "spin": ("0xff", "l:      inc ebx\n        cmp ebx, [limit]\n        jb l\n"
                     "        jmp spun\nlimit:  dd {n}\nspun:"),
    # idle between IRQs
    "halt": ("0xfe", "        sti\nl:      hlt\n        cmp dword [count], {n}\n        jb l\n"
                     "        cli"),
    "int": ("0xff", "        mov ecx, {n}\nl:      int 0x30\n        dec ecx\n        jnz l"),
    "noint": ("0xff", "        mov ecx, {n}\nl:      nop\n        nop\n        dec ecx\n"
                      "        jnz l"),
}


@dataclass(frozen=True)
class Run:
    wall: float  # seconds between the marks
    cpu: float  # host CPU seconds of the process between the marks (all threads)
    spins: int  # EBX: loop iterations
    irqs: int  # IRQs the handler counted


def assemble(case: str, n: int, folder: Path) -> bytes:
    mask, body = BODIES[case]
    source = GUEST.format(mask=mask, divisor=PIT_DIVISOR, result=RESULT,
                          body=body.format(n=n))
    asm, out = folder / f"{case}.asm", folder / f"{case}.img"
    asm.write_text(source)
    subprocess.run(["nasm", "-f", "bin", "-o", str(out), str(asm)], check=True)
    return out.read_bytes().ljust(1_474_560, b"\0")


def run_case(image: bytes, folder: Path, deterministic: bool, timeout: float = 120) -> Run:
    """Boot ``image`` from A: on pc-pci and time its 'S' .. 'E' section."""
    path = folder / "guest.img"
    path.write_bytes(image)
    marks: dict[str, tuple[float, float]] = {}
    done = threading.Event()

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.DebugOutput):
            for ch in event.data.decode("ascii", "replace"):
                marks[ch] = (time.perf_counter(), time.process_time())
            if "E" in marks:
                done.set()
        elif isinstance(event, ev.GuestCrashed):
            done.set()

    machine = Machine(MachineConfig(floppies=(path,), read_only=True, profile="pc-pci",
                                    deterministic=deterministic), on_event=on_event)
    if deterministic:
        machine.power_on()
        while not done.is_set() and machine.state is not ev.RunState.CRASHED:
            machine.advance(0.05)
        finished = done.is_set()
    else:
        thread = threading.Thread(target=machine.run, daemon=True)
        thread.start()
        finished = done.wait(timeout)
        machine.send(ev.PowerOff())
        thread.join(10)
    spins = machine.memory.read_u32(RESULT)
    machine.close()
    if not finished or "E" not in marks:
        raise RuntimeError("the guest did not finish (crashed or timed out)")
    (w0, c0), (w1, c1) = marks["S"], marks["E"]
    return Run(w1 - w0, c1 - c0, spins, 0)


def median_run(case: str, n: int, folder: Path, rounds: int, deterministic: bool) -> Run:
    image = assemble(case, n, folder)
    runs = [run_case(image, folder, deterministic) for _ in range(rounds)]
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
               round(statistics.median(r.spins for r in runs)),
               n if case in ("irq", "halt") else 0)


def report(label: str, n: int, rounds: int, deterministic: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        irq = median_run("irq", n, folder, rounds, deterministic)
        spin = median_run("spin", max(irq.spins, 1_000_000), folder, rounds, deterministic)
        halt = median_run("halt", n, folder, rounds, deterministic)
        calls = 20 * n
        soft = median_run("int", calls, folder, rounds, deterministic)
        loop = median_run("noint", calls, folder, rounds, deterministic)
    per_spin = spin.cpu / spin.spins
    irq_us = (irq.cpu - irq.spins * per_spin) / n * 1e6
    halt_us = halt.cpu / n * 1e6
    int_us = (soft.cpu - loop.cpu) / calls * 1e6
    print(f"{label}: medians of {rounds}")
    print(f"  IRQ0 at {PIT_HZ} Hz into a spinning guest: {n} IRQs in {irq.wall:.2f} s "
          f"({n / irq.wall:,.0f}/s), {irq.cpu:.3f} s CPU, {irq.spins:,} spins "
          f"x {per_spin * 1e9:.1f} ns")
    print(f"    -> {irq_us:.2f} us of host CPU per IRQ delivered and returned "
          f"(target <= {TARGET_US:g})")
    print(f"  IRQ0 into a halted guest: {halt_us:.2f} us of host CPU per IRQ "
          f"({n / halt.wall:,.0f} IRQs/s)")
    print(f"  int 30h + IRETD: {calls} calls {soft.cpu:.3f} s CPU, loop alone {loop.cpu:.3f} s "
          f"-> {int_us:.2f} us per round trip (target <= {TARGET_US:g})")
    return {"irq": irq_us, "halt": halt_us, "int": int_us}


def main() -> None:
    if shutil.which("nasm") is None:
        sys.exit("needs nasm (Debian package nasm)")
    global PIT_HZ, PIT_DIVISOR
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if len(sys.argv) > 3:
        PIT_HZ = int(sys.argv[3])
        PIT_DIVISOR = max(2, round(1_193_182 / PIT_HZ))
    report("real time (pc-pci)", n, rounds, deterministic=False)
    report("deterministic (pc-pci)", n, rounds, deterministic=True)


if __name__ == "__main__":
    main()
