"""Machine overhead: an ALU loop in the full machine vs on a bare Unicorn engine.

Method: the same real-mode loop (a compute kernel of add/xor/rol/imul, unrolled so one
translation block holds 18 instructions, and the tightest possible loop of 4) runs
(a) on a bare unicorn engine set up for real mode with nothing else attached, timed
around emu_start, and (b) as a boot sector in a full vmgui machine (BIOS, PIT ticking at
18.2 Hz with its IRQ0 handler, native stop hook, deadline thread), timed between the
guest's own start/end marks on port E9h.  Runs alternate; medians are compared.
Target: bare/machine >= 0.97.
"""

from __future__ import annotations

import statistics
import sys
import time

from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn import x86_const as x86

from tests.perf.guestcode import alu_loop
from tests.perf.timing import time_in_machine


def time_bare(code: bytes) -> float:
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x100000)
    uc.reg_write(x86.UC_X86_REG_CR0, uc.reg_read(x86.UC_X86_REG_CR0) & ~1)
    for seg in (x86.UC_X86_REG_CS, x86.UC_X86_REG_DS, x86.UC_X86_REG_ES, x86.UC_X86_REG_SS,
                x86.UC_X86_REG_FS, x86.UC_X86_REG_GS):
        uc.reg_write(seg, 0)
    loop = code[1 + 4 : code.index(b"\xb0E")]  # from "mov ecx" to before the 'E' mark
    uc.mem_write(0x7C00, loop + b"\xf4")
    start = time.perf_counter()
    uc.emu_start(0x7C00, 0xFFFFFFFFFFFFFFFF)
    return time.perf_counter() - start


def measure(label: str, image: bytes, rounds: int) -> None:
    bare, machine = [], []
    for _ in range(rounds):
        bare.append(time_bare(image))
        machine.append(time_in_machine(image))
    b, m = statistics.median(bare), statistics.median(machine)
    print(f"{label}")
    print(f"  bare unicorn : median {b:.3f} s  {[round(x, 3) for x in bare]}")
    print(f"  full machine : median {m:.3f} s  {[round(x, 3) for x in machine]}")
    print(f"  ratio bare/machine: {b / m:.3f} (target >= 0.97)")


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    n = int((1 << 27) * scale)
    measure(f"compute kernel, 18 instructions per block, {n} iterations",
            alu_loop(n, unroll=4), rounds)
    measure(f"tightest loop, 4 instructions per block, {4 * n} iterations",
            alu_loop(4 * n, unroll=0), rounds)


if __name__ == "__main__":
    main()
