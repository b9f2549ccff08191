"""Memory of a guest that keeps running new code: the VM's RSS with unicorn's default
1 GiB translation buffer against vmgui's bounded one, side by side.

    python -m tests.perf.bench_code_cache [SECONDS]

Each configuration runs in its own child process for SECONDS (default 30): every round
writes 60 KiB of fresh straight-line code and runs it, so translations pile up until
the buffer is full and the engine flushes it.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time

from vmgui.bios.api import Reg
from vmgui.core.engine import Engine


def _rss_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return -1


def child(cache_mb: int, seconds: float) -> None:
    eng = Engine(code_cache_mb=cache_mb)
    ram = bytearray(1 << 20)
    eng.map_buffer(0, ram, 0, len(ram))
    rng = random.Random(1)
    start, rounds = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        body = bytes(rng.choice((0x40, 0x41, 0x43, 0x90)) for _ in range(4096)) * 15
        eng.mem_write(0x10000, body + b"\xf4")
        eng.write(Reg.CS, 0x1000)
        eng.write(Reg.EIP, 0)
        eng.run()
        rounds += 1
    print(f"cache {cache_mb:5d} MiB: RSS {_rss_mb():5d} MB after {rounds} rounds "
          f"({rounds / seconds:.0f} rounds/s)")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), float(sys.argv[3]))
        return
    seconds = sys.argv[1] if len(sys.argv) > 1 else "30"
    for cache_mb in (1023, Engine().code_cache_bytes() >> 20):
        subprocess.run([sys.executable, "-m", "tests.perf.bench_code_cache", "--child",
                        str(cache_mb), seconds], check=True)


if __name__ == "__main__":
    main()
