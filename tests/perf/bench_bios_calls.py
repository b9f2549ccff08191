"""BIOS call cost, end to end: a guest loop calling int 10h AH=0Eh (teletype) and int 16h
AH=02h (shift flags) through ``int n``, versus the same loop with the ``int`` replaced by
two NOPs; the difference per iteration is the cost of one BIOS call as the guest sees it
(interrupt hook, register reads/writes, the Python service, return).

int 16h AH=02h is used rather than AH=01h because an empty-buffer AH=01h poll loop is
recognised as an idle guest and slept (that is the point of bench_idle.py).
Target: <= 5 us per call.
"""

from __future__ import annotations

import statistics
import sys

from tests.perf.guestcode import call_loop
from tests.perf.timing import time_in_machine

MOV_AX = b"\xb8"
INT = {0x10: b"\xcd\x10", 0x16: b"\xcd\x16"}
NOPS = b"\x90\x90"
# teletype a carriage return: moves the cursor, never scrolls, so every call costs the same
TELETYPE_CR = MOV_AX + (0x0E0D).to_bytes(2, "little") + b"\xbb\x07\x00"  # mov ax,0E0Dh; mov bx,7
SHIFT_FLAGS = MOV_AX + (0x0200).to_bytes(2, "little")  # mov ax, 0200h
CASES = {"int 10h AH=0Eh teletype": (TELETYPE_CR, 0x10), "int 16h AH=02h": (SHIFT_FLAGS, 0x16)}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for label, (setup, vector) in CASES.items():
        with_int, without = [], []
        for _ in range(rounds):
            with_int.append(time_in_machine(call_loop(n, setup, INT[vector])))
            without.append(time_in_machine(call_loop(n, setup, NOPS)))
        per_call = (statistics.median(with_int) - statistics.median(without)) / n
        print(f"{label}: {n} calls, median {statistics.median(with_int):.3f} s "
              f"(loop alone {statistics.median(without):.3f} s)")
        print(f"  {1 / per_call:,.0f} calls/s, {per_call * 1e6:.2f} us per call (target <= 5)")


if __name__ == "__main__":
    main()
