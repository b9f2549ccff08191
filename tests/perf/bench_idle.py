"""Host CPU used by an idle guest: FreeDOS sitting at its ``A:\\>`` prompt.

DOS busy-polls the keyboard through int 16h AH=11h; vmgui recognises a tight poll loop
and sleeps until the next interrupt.  Method: boot to the prompt, wait 2 s, then measure
this process's CPU time (user + system, all threads) over 10 s of wall time.
Target: <= 2% of one core.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig

IMAGE = Path(__file__).resolve().parents[3] / "shared" / "guests" / "freedos722.img"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    machine = Machine(MachineConfig(floppies=(IMAGE,), read_only=True))
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    while not any("A:\\>" in line for line in machine.text_lines()):
        time.sleep(0.05)
    time.sleep(2)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    machine.send(ev.PowerOff())
    thread.join(5)
    print(f"FreeDOS idle at A:\\> for {wall:.1f} s: {cpu:.3f} s CPU = "
          f"{100 * cpu / wall:.2f}% of one core (target <= 2%)")


if __name__ == "__main__":
    main()
