"""Linux from power-on to the shell prompt: vmgui versus qemu-system-i386 (TCG), the same
kernel, initramfs and command line (issue 11, "What it must show" 7: ratio <= 2.0), and
where vmgui's boot time goes.

Method: Debian's i386 -686 kernel and the tests' busybox initramfs (tests/linux_images.py),
command line ``console=tty0 console=ttyS0 noapic nolapic`` (the tests' one), 128 MB.
vmgui: the pc-at machine in-process (real time, as a user runs it), from creating the
Machine to the prompt ``vmgui-linux# `` on COM1; QEMU: ``-M isapc -cpu pentium3 -m 128``,
from starting the process to the same prompt on its serial port.  Wall time and host CPU
time of the emulator's process (the steadier figure on a loaded machine).  "vmgui-before":
the same with a memory hook over all addresses added, as vmgui had it before the open
bus was bounded (every guest store on the engine's slow path).  Alternating, ROUNDS
times, medians.  The profile run (one more vmgui boot) wraps every engine hook and the
engine runs with timers (tests/perf/linuxguest.HookProfile; +~0.3 us a hook call): guest
code in the engine = time inside engine runs minus time in the Python hooks they called;
the run loop = the rest of the wall time (interrupt delivery, device deadlines, waits).
Milestones on the console (kernel timestamps are guest time) are printed with host times.

Run from the repository root: ``python -m tests.perf.bench_linux_boot [ROUNDS]``
(needs qemu-system-i386 and the Debian i386 packages tests/linux_images.py fetches).
"""

from __future__ import annotations

import statistics
import sys

from tests import linux_images
from tests.perf import linuxguest

PROMPT = linux_images.PROMPT
APPEND = linux_images.SERIAL_APPEND
TIMEOUT_S = 600
TARGET = 2.0
MILESTONES = ("Linux version", "Freeing unused kernel image", linux_images.INIT_MARKER,
              PROMPT)


def hook_everywhere(machine) -> None:
    """vmgui before the open-bus fix: a memory hook over all addresses (every guest
    store on the engine's slow path; see bench_guest_stores)."""
    machine.engine.hook_mem_invalid(lambda access, address, size, value: False)


def boot(kind: str, kernel, initrd, markers=(PROMPT,)) -> dict:
    if kind == "qemu":
        return linuxguest.run_qemu(kernel, initrd, markers, TIMEOUT_S, append=APPEND)
    return linuxguest.run_vmgui(kernel, initrd, markers, TIMEOUT_S, append=APPEND,
                                setup=hook_everywhere if kind == "vmgui-before" else None)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    kernel, initrd = linux_images.images()
    wall: dict[str, list[float]] = {"vmgui": [], "vmgui-before": [], "qemu": []}
    cpu: dict[str, list[float]] = {kind: [] for kind in wall}
    for round_no in range(rounds):
        for kind in wall:
            seen = boot(kind, kernel, initrd)
            wall[kind].append(seen[PROMPT])
            cpu[kind].append(seen["cpu", PROMPT])
            print(f"round {round_no + 1} {kind:12s} prompt at {seen[PROMPT]:6.2f} s wall, "
                  f"{seen['cpu', PROMPT]:6.2f} s host CPU", flush=True)
    for label, table in (("wall", wall), ("host CPU", cpu)):
        vm, before, qemu = (statistics.median(table[k])
                            for k in ("vmgui", "vmgui-before", "qemu"))
        print(f"{label} medians: vmgui {vm:.2f} s, before the open-bus fix {before:.2f} s, "
              f"QEMU {qemu:.2f} s -> ratio {vm / qemu:.2f} (target <= {TARGET}; "
              f"before: {before / qemu:.2f})", flush=True)

    profile = linuxguest.HookProfile()
    profile.install()
    try:
        seen = boot("vmgui", kernel, initrd, MILESTONES)
    finally:
        profile.uninstall()
    print("\nprofiled vmgui boot (host seconds at each milestone on COM1):")
    for marker in MILESTONES:
        print(f"  {seen[marker]:7.2f} s  {marker.strip()}")
    print(profile.report(seen[PROMPT]))


if __name__ == "__main__":
    main()
