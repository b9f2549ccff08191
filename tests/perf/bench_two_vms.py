"""Two VMs side by side: each runs a compute loop in its own VM process.

Method: the compute-kernel boot sector of bench_machine_overhead (timed between its own
'S' and 'E' marks on port E9h, received as events by the parent) runs alone in one VM
process, then in two VM processes at once (this machine has 2 cores).  Reports each
VM's throughput relative to the solo run.  Target: each >= 85% of solo.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.perf.guestcode import alu_loop
from vmgui.core import events as ev
from vmgui.core.machine import MachineConfig
from vmgui.host.process import ProcessHost


def run_vms(image: Path, count: int) -> list[float]:
    hosts = [ProcessHost(MachineConfig(floppies=(image,), read_only=True)) for _ in range(count)]
    marks: list[dict[bytes, float]] = [{} for _ in hosts]
    for host in hosts:
        host.start()
    try:
        while not all(b"E" in m for m in marks):
            for host, m in zip(hosts, marks, strict=True):
                for event in host.poll_events():
                    if isinstance(event, ev.DebugOutput):
                        for ch in event.data:
                            m.setdefault(bytes((ch,)), time.perf_counter())
            time.sleep(0.002)
    finally:
        for host in hosts:
            host.power_off()
    return [m[b"E"] - m[b"S"] for m in marks]


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "loop.img"
        image.write_bytes(alu_loop(int((1 << 27) * scale), unroll=4))
        solo, pair = [], []
        for _ in range(rounds):
            solo += run_vms(image, 1)
            pair += run_vms(image, 2)
    s = statistics.median(solo)
    print(f"solo: median {s:.3f} s {[round(x, 3) for x in solo]}")
    print(f"two at once: {[round(x, 3) for x in pair]}")
    worst = max(pair)
    print(f"throughput of each VM vs solo: worst {s / worst:.0%}, median "
          f"{s / statistics.median(pair):.0%} (target >= 85%)")


if __name__ == "__main__":
    main()
