"""ATA sequential read inside Linux: ``dd if=/dev/sda of=/dev/null bs=1M count=64`` by PIO
(issue 11, "What it must show" 7: vmgui / QEMU <= 2.0), vmgui with its bulk string-I/O
path (vmgui.core.stringio) and without it (every element of ``rep insw`` through the port
hook, as before), and qemu-system-i386, side by side in one run.

Method: Debian's i386 -686 kernel (tests/linux_images.py) with a benchmark initramfs
(tests/perf/linuxguest.py): /init loads libata, pata_legacy and sd_mod (the kernel has no
built-in ATA driver; pata_legacy drives the ISA machine's legacy ports 1F0h/IRQ 14 by PIO,
READ MULTIPLE, as on QEMU's ``-M isapc``), waits for /dev/sda, prints a start marker,
runs dd, prints an end marker (with dd's exit status) and powers off.  The markers go
through /dev/kmsg, so the kernel prints them on the serial console at once (a shell's
``echo`` to ttyS0 waits for the UART's interrupt, which vmgui delivered only after dd had
finished: IRQ 14 outranks IRQ 4 and was pending all the time).  The disk is a sparse
80 MB raw image (vmgui: read-only; QEMU: -snapshot).  The figures are host wall time
and host CPU time of the emulator's process between the two markers on COM1 (CPU time is
the steadier one on a loaded machine; the guest's own uptime difference is printed too).
vmgui: pc-at machine, in-process, real time; QEMU: ``-M isapc -cpu pentium3 -m 128``,
TCG.  Each setup runs ROUNDS times, alternating; medians.

Run from the repository root: ``python -m tests.perf.bench_ata_read [ROUNDS]``
(needs qemu-system-i386 and the Debian i386 packages tests/linux_images.py fetches).
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
from pathlib import Path

from tests import linux_images
from tests.perf import linuxguest

MB = 64
START, END = "BENCH-DD-START", "BENCH-DD-END"
TIMEOUT_S = 900
TARGET = 2.0
INIT = f"""#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
{linuxguest.INSMOD_ATA}
i=0
while [ ! -b /dev/sda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
echo "{START} $(cut -d' ' -f1 /proc/uptime)" > /dev/kmsg
dd if=/dev/sda of=/dev/null bs=1M count={MB} 2>&1
rc=$?
echo "{END} $(cut -d' ' -f1 /proc/uptime) rc=$rc" > /dev/kmsg
poweroff -f
"""
GUEST_TIME = re.compile(rb"BENCH-DD-START ([0-9.]+).*BENCH-DD-END ([0-9.]+)", re.S)


def one(kind: str, kernel: Path, initrd: Path, disk: Path) -> tuple[float, float, str]:
    if kind == "qemu":
        seen = linuxguest.run_qemu(kernel, initrd, (START, END), TIMEOUT_S, disk)
    else:
        def setup(machine) -> None:
            machine.string_io.enabled = kind == "vmgui"

        seen = linuxguest.run_vmgui(kernel, initrd, (START, END), TIMEOUT_S, disk,
                                    setup=setup)
    serial = seen["serial"]
    if not re.search(rb"BENCH-DD-END \S+ rc=0", serial):
        raise RuntimeError(f"{kind}: dd failed: {serial[-800:]!r}")
    guest = GUEST_TIME.search(serial)
    guest_s = float(guest.group(2)) - float(guest.group(1)) if guest else float("nan")
    return (seen[END] - seen[START], seen["cpu", END] - seen["cpu", START],
            f"guest uptime {guest_s:.2f} s")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    kernel = linux_images.kernel()
    with tempfile.TemporaryDirectory(prefix="bench-ata-") as tmp:
        initrd = linuxguest.build_initramfs(Path(tmp) / "initrd.cpio.gz", INIT, with_ata=True)
        disk = Path(tmp) / "disk.img"
        with disk.open("wb") as f:
            f.truncate((MB + 16) << 20)
        wall: dict[str, list[float]] = {"vmgui": [], "vmgui-per-element": [], "qemu": []}
        cpu: dict[str, list[float]] = {kind: [] for kind in wall}
        for round_no in range(rounds):
            for kind in wall:
                seconds, cpu_s, guest = one(kind, kernel, initrd, disk)
                wall[kind].append(seconds)
                cpu[kind].append(cpu_s)
                print(f"round {round_no + 1} {kind:18s} wall {seconds:7.2f} s "
                      f"({MB / seconds:6.2f} MB/s), host CPU {cpu_s:7.2f} s "
                      f"({MB / cpu_s:6.2f} MB per CPU second); {guest}", flush=True)
    for label, table in (("wall", wall), ("host CPU", cpu)):
        med = {kind: statistics.median(values) for kind, values in table.items()}
        print(f"\n{label} medians: " + ", ".join(f"{k} {v:.2f} s ({MB / v:.2f} MB/s)"
                                                for k, v in med.items()))
        print(f"  vmgui / QEMU = {med['vmgui'] / med['qemu']:.2f} (target <= {TARGET}); "
              f"per-element / bulk = {med['vmgui-per-element'] / med['vmgui']:.1f}x")


if __name__ == "__main__":
    main()
