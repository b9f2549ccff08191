"""Debian's i386 kernel + busybox initramfs from power-on to the shell prompt on COM1,
booted three ways -- directly (``--kernel/--initrd/--append``), by GRUB 2 from the ext2
ATA disk ``linux-grub-hdd`` and by ISOLINUX from the CD ``linux-isolinux-iso``
(tests/linux_loader_images.py) -- on vmgui and on qemu-system-i386, side by side in one
run (issue 11, "What it must show", 2 and 7).

vmgui: the pc-pci machine, 128 MB, real time, in this process (ThreadHost), from creating
the host to ``vmgui-linux# `` in the serial output (polled every 50 ms).  Milestones on
the way: ``loader`` (the loader's last words on the screen: GRUB's echo, ISOLINUX's
"Loading /boot/initrd.gz...ok", for the direct boot the setup code's "Probing EDD"),
``kernel`` (the first timestamped kernel line on COM1: the serial console registered, the
kernel unpacked and running), ``init`` (the initramfs' /init marker) and ``prompt``.
QEMU: ``-M pc -cpu pentium3 -m 128``, TCG, no display, COM1 to a file; the same milestones
but ``loader`` (its screen is not read) from process start.  Rounds alternate vmgui and
QEMU; medians are printed with the vmgui/QEMU ratio of the time to the prompt.  Each
milestone also gets the CPU time used so far (vmgui: this process, getrusage; QEMU: its
process, /proc/PID/stat), which a loaded machine (cores shared with other work) disturbs
far less than the wall clock.

Run from the repository root: ``python -m tests.perf.bench_linux_loaders_vs_qemu
[--rounds N] [--only direct,grub,isolinux] [--limit SECONDS] [--logs DIR]`` (``--logs``
keeps each run's COM1 output as ``DIR/<case>-<vmgui|qemu>-<round>.log``).  Needs qemu-system-i386
(qemu-system-x86) and what tests/linux_images.py and tests/linux_loader_images.py need.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests import linux_images, linux_loader_images
from vmgui.core.machine import MachineConfig
from vmgui.host.thread import ThreadHost

MEMORY_MB = 128
POLL_S = 0.05
MILESTONES = ("loader", "kernel", "init", "prompt")
SERIAL_MARKS = {"kernel": b"[    0.", "init": linux_images.INIT_MARKER.encode(),
                "prompt": linux_images.PROMPT.encode()}


@dataclass(frozen=True)
class Case:
    name: str
    on_screen: str  # the loader's milestone on vmgui's screen
    vmgui_config: Callable[[], MachineConfig]
    qemu_args: Callable[[], list[str]]


def direct_config() -> MachineConfig:
    kernel, initrd = linux_images.images()
    return MachineConfig(memory_mb=MEMORY_MB, profile="pc-pci", kernel=kernel, initrd=initrd,
                         append=linux_images.SERIAL_APPEND)


def direct_qemu() -> list[str]:
    kernel, initrd = linux_images.images()
    return ["-kernel", str(kernel), "-initrd", str(initrd),
            "-append", linux_images.SERIAL_APPEND]


def cases() -> dict[str, Case]:
    grub, iso = linux_loader_images.grub_hdd, linux_loader_images.isolinux_iso
    return {
        "direct": Case("direct boot", "Probing EDD", direct_config, direct_qemu),
        "grub": Case("GRUB 2, ext2 ATA disk",
                     linux_loader_images.LOADER_MARKER.format(loader="GRUB"),
                     lambda: MachineConfig(memory_mb=MEMORY_MB, profile="pc-pci",
                                           hard_disks=(grub(),), boot_order=("c",),
                                           read_only=True),
                     lambda: ["-drive", f"file={grub()},format=raw,if=ide,snapshot=on",
                              "-boot", "c"]),
        "isolinux": Case("ISOLINUX, El Torito CD",
                         f"Loading {linux_loader_images.INITRD_PATH}...ok",
                         lambda: MachineConfig(memory_mb=MEMORY_MB, profile="pc-pci",
                                               cdrom=iso(), boot_order=("d",),
                                               read_only=True),
                         lambda: ["-cdrom", str(iso()), "-boot", "d"]),
    }


Times = dict[str, tuple[float, float]]  # milestone -> (wall, CPU) seconds


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (fields 14 and 15 of its stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def note_serial(times: Times, serial: bytes, now: tuple[float, float]) -> None:
    for name, mark in SERIAL_MARKS.items():
        if name not in times and mark in serial:
            times[name] = now


def run_vmgui(case: Case, limit: float, log: Path | None) -> Times:
    config = case.vmgui_config()
    start, cpu0 = time.perf_counter(), own_cpu()
    host = ThreadHost(config)
    host.start()
    times: Times = {}
    try:
        while "prompt" not in times and time.perf_counter() - start < limit:
            host.poll_events()
            now = (time.perf_counter() - start, own_cpu() - cpu0)
            if "loader" not in times and case.on_screen in "\n".join(host.text_lines()):
                times["loader"] = now
            note_serial(times, bytes(host.serial), now)
            time.sleep(POLL_S)
    finally:
        host.power_off()
        if log is not None:
            log.write_bytes(bytes(host.serial))
    return times


def run_qemu(case: Case, limit: float, keep: Path | None) -> Times:
    args = case.qemu_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "com1.log"
        start = time.perf_counter()
        proc = subprocess.Popen(
            ["qemu-system-i386", "-M", "pc", "-cpu", "pentium3", "-m", str(MEMORY_MB),
             "-accel", "tcg", "-display", "none", "-monitor", "none",
             "-serial", f"file:{log}", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times: Times = {}
        try:
            while "prompt" not in times and time.perf_counter() - start < limit:
                if proc.poll() is not None:
                    raise RuntimeError(f"qemu-system-i386 exited ({proc.returncode}) for "
                                       f"{case.name}")
                if log.exists():
                    now = (time.perf_counter() - start, process_cpu(proc.pid))
                    note_serial(times, log.read_bytes(), now)
                time.sleep(POLL_S)
        finally:
            proc.kill()
            proc.wait()
            if keep is not None and log.exists():
                keep.write_bytes(log.read_bytes())
    return times


def summarize(case: Case, results: dict[str, list[Times]]) -> None:
    print(f"{case.name}, {len(results['vmgui'])} round(s), seconds from power-on "
          f"(wall / CPU):")
    medians: dict[str, dict[str, tuple[float, float]]] = {}
    for who, rounds in results.items():
        medians[who] = {}
        cells = []
        for milestone in MILESTONES:
            seen = [r[milestone] for r in rounds if milestone in r]
            if seen and len(seen) == len(rounds):
                wall = statistics.median(t[0] for t in seen)
                cpu = statistics.median(t[1] for t in seen)
                medians[who][milestone] = (wall, cpu)
                cells.append(f"{milestone} {wall:6.2f}/{cpu:6.2f}")
            else:
                cells.append(f"{milestone} (not seen)")
        print(f"  {who:6s} " + "  ".join(cells))
    vm, qemu = medians["vmgui"].get("prompt"), medians["qemu"].get("prompt")
    if vm and qemu:
        print(f"  prompt: vmgui / QEMU = {vm[0] / qemu[0]:.2f} (wall), "
              f"{vm[1] / qemu[1]:.2f} (CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default="direct,grub,isolinux")
    parser.add_argument("--limit", type=float, default=300.0,
                        help="seconds a boot may take before it counts as not reaching "
                             "the prompt")
    parser.add_argument("--logs", type=Path, help="folder for each run's COM1 output")
    options = parser.parse_args()
    if options.logs is not None:
        options.logs.mkdir(parents=True, exist_ok=True)
    table = cases()
    chosen = [table[name] for name in options.only.split(",")]
    for case in chosen:
        case.vmgui_config()  # build the images before timing anything
    for name, case in zip(options.only.split(","), chosen, strict=True):
        results: dict[str, list[Times]] = {"vmgui": [], "qemu": []}
        for n in range(options.rounds):
            for who, run in (("vmgui", run_vmgui), ("qemu", run_qemu)):
                log = options.logs / f"{name}-{who}-{n + 1}.log" if options.logs else None
                results[who].append(run(case, options.limit, log))
        summarize(case, results)


if __name__ == "__main__":
    main()
