"""Helpers of the Linux benchmarks (bench_ata_read, bench_linux_boot): Debian's i386
kernel (tests/linux_images.py) with a benchmark initramfs, run to serial-console markers
in vmgui (in-process Machine) and in qemu-system-i386 (TCG, ``-M isapc``), and a
where-does-the-time-go profile of vmgui's run (time in each kind of engine hook versus
time the engine spends running guest code).

The benchmark initramfs is the tests' busybox one (same busybox, same layout) plus, when
asked, the kernel modules the ATA disk needs on an ISA machine (libata, pata_legacy,
scsi and sd with what they depend on) taken from the kernel package, and an ``/init``
script of the benchmark's own.  Built in a temporary folder, never cached or committed.

Run from the repository root as modules (``python -m tests.perf.bench_...``).
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tarfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from tests import linux_images
from tests.linux_images import S_IFREG, deb, deb_member, kernel_package, newc_archive
from vmgui.core import events as ev
from vmgui.core.engine import Engine
from vmgui.core.machine import Machine, MachineConfig

APPEND = "console=ttyS0 noapic nolapic"
MEMORY_MB = 128
# insmod order: dependencies first (modinfo "depends" of the 6.1 -686 modules)
ATA_MODULES = ("drivers/scsi/scsi_common.ko", "drivers/scsi/scsi_mod.ko",
               "drivers/ata/libata.ko", "drivers/ata/pata_legacy.ko",
               "crypto/crct10dif_common.ko", "crypto/crct10dif_generic.ko",
               "lib/crc-t10dif.ko", "lib/crc64.ko", "lib/crc64-rocksoft.ko",
               "crypto/crc64_rocksoft_generic.ko", "block/t10-pi.ko",
               "drivers/scsi/sd_mod.ko")


def modules(wanted: tuple[str, ...]) -> dict[str, bytes]:
    """The kernel package's modules by their path under kernel/ (one pass over it)."""
    package = deb(kernel_package(), linux_images.KERNEL_PACKAGE)
    found: dict[str, bytes] = {}
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(package)],
                          stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                tail = member.name.split("/kernel/", 1)[-1]
                if member.isfile() and "/lib/modules/" in member.name and tail in wanted:
                    data = tar.extractfile(member)
                    assert data is not None
                    found[tail] = data.read()
                    if len(found) == len(wanted):
                        break
        proc.kill()
    missing = set(wanted) - set(found)
    if missing:
        raise RuntimeError(f"the kernel package has no {sorted(missing)}")
    return found


def build_initramfs(out: Path, init: str, with_ata: bool) -> Path:
    """A busybox initramfs whose /init is ``init`` (a shell script); with the ATA
    modules in /lib/ata/ (``insmod`` them in order: see :data:`ATA_MODULES`)."""
    busybox_deb = deb(linux_images.busybox_package(), linux_images.BUSYBOX_PACKAGE)
    busybox = deb_member(busybox_deb, lambda name: name == "./bin/busybox", "/bin/busybox")
    members = [m for m in linux_images.initramfs_members(busybox) if m[0] != "init"]
    members.append(("init", S_IFREG | 0o755, init.encode(), (0, 0)))
    if with_ata:
        members.append(("lib", 0o040755, b"", (0, 0)))
        members.append(("lib/ata", 0o040755, b"", (0, 0)))
        for path, data in modules(ATA_MODULES).items():
            name = f"lib/ata/{ATA_MODULES.index(path):02d}-{Path(path).name}"
            members.append((name, S_IFREG | 0o644, data, (0, 0)))
    out.write_bytes(gzip.compress(newc_archive(members), compresslevel=6, mtime=0))
    return out


INSMOD_ATA = "for m in /lib/ata/*.ko; do insmod $m || echo \"insmod $m failed\"; done\n"


# ---------------------------------------------------------------------------- vmgui
class HookProfile:
    """Host time spent in each kind of engine hook, and in the engine's runs, while
    installed (it wraps Engine's hook registration and run; one machine at a time)."""

    KINDS = ("hook_interrupt", "hook_code", "hook_invalid_insn", "hook_port_in",
             "hook_port_out", "hook_cpuid", "hook_rdtsc", "hook_rdtscp", "hook_sysenter",
             "hook_mem_invalid")

    def __init__(self) -> None:
        self.ns: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)
        self._saved: dict[str, Callable] = {}

    def install(self) -> None:
        for kind in self.KINDS:
            original = getattr(Engine, kind)
            self._saved[kind] = original
            setattr(Engine, kind, self._wrap_registration(kind, original))
        run = Engine.run
        self._saved["run"] = run
        profile = self

        def timed_run(engine, **kwargs):
            start = time.perf_counter_ns()
            try:
                return run(engine, **kwargs)
            finally:
                profile.ns["engine.run"] += time.perf_counter_ns() - start
                profile.calls["engine.run"] += 1

        Engine.run = timed_run

    def uninstall(self) -> None:
        for name, original in self._saved.items():
            setattr(Engine, name, original)
        self._saved.clear()

    def _wrap_registration(self, kind: str, original: Callable) -> Callable:
        profile = self

        def register(engine, fn, *args, **kwargs):
            def timed(*hook_args):
                start = time.perf_counter_ns()
                try:
                    return fn(*hook_args)
                finally:
                    profile.ns[kind] += time.perf_counter_ns() - start
                    profile.calls[kind] += 1

            return original(engine, timed, *args, **kwargs)

        return register

    def report(self, wall_s: float) -> str:
        hooks = sum(ns for kind, ns in self.ns.items() if kind != "engine.run")
        run = self.ns["engine.run"]
        lines = [f"  wall {wall_s:7.2f} s; inside engine runs {run / 1e9:7.2f} s "
                 f"({self.calls['engine.run']} runs); run loop outside them "
                 f"{wall_s - run / 1e9:7.2f} s",
                 f"  guest code in the engine (runs minus hooks) {(run - hooks) / 1e9:7.2f} s; "
                 f"Python hooks {hooks / 1e9:7.2f} s:"]
        for kind, ns in sorted(self.ns.items(), key=lambda item: -item[1]):
            if kind != "engine.run":
                calls = self.calls[kind]
                lines.append(f"    {kind:18s} {ns / 1e9:7.2f} s  {calls:9d} calls  "
                             f"{ns / max(1, calls) / 1e3:6.1f} us each")
        return "\n".join(lines)


def run_vmgui(kernel: Path, initrd: Path, markers: tuple[str, ...], timeout: float,
              disk: Path | None = None, profile: str = "pc-at", append: str = APPEND,
              setup: Callable[[Machine], None] | None = None) -> dict:
    """Seconds from creating the machine to each marker's first appearance on COM1."""
    serial = bytearray()
    lock = threading.Lock()

    def on_event(event) -> None:
        if isinstance(event, ev.SerialOutput):
            with lock:
                serial.extend(event.data)

    start = time.perf_counter()
    config = MachineConfig(memory_mb=MEMORY_MB, profile=profile, kernel=kernel, initrd=initrd,
                           append=append, hard_disks=(disk,) if disk else (), read_only=True)
    machine = Machine(config, on_event=on_event)
    if setup is not None:
        setup(machine)
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    try:
        return _wait_markers(lambda: bytes(serial), markers, start, timeout, "vmgui",
                             time.process_time)
    finally:
        machine.send(ev.PowerOff())
        thread.join(10)


def run_qemu(kernel: Path, initrd: Path, markers: tuple[str, ...], timeout: float,
             disk: Path | None = None, append: str = APPEND) -> dict:
    qemu = shutil.which("qemu-system-i386")
    if qemu is None:
        raise RuntimeError("qemu-system-i386 is not installed (Debian: qemu-system-x86)")
    args = [qemu, "-M", "isapc", "-cpu", "pentium3", "-m", str(MEMORY_MB), "-accel", "tcg",
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-kernel", str(kernel),
            "-initrd", str(initrd), "-append", append, "-no-reboot"]
    if disk is not None:
        args += ["-drive", f"file={disk},format=raw,if=ide,index=0,media=disk", "-snapshot"]
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    serial = bytearray()

    def pump() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(4096):
            serial.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        return _wait_markers(lambda: bytes(serial), markers, start, timeout, "QEMU",
                             lambda: process_cpu(proc.pid))
    finally:
        proc.kill()
        proc.wait()


def process_cpu(pid: int) -> float:
    """Host CPU seconds (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_markers(serial: Callable[[], bytes], markers: tuple[str, ...], start: float,
                  timeout: float, who: str, cpu: Callable[[], float]) -> dict:
    """{marker: wall seconds} for every marker, {("cpu", marker): host CPU seconds of
    the emulator process then}, and "serial": the whole output.  (A loaded machine
    stretches wall time; CPU time much less.)"""
    seen: dict = {}
    found = 0
    while found < len(markers):
        data = serial()
        now = time.perf_counter() - start
        for marker in markers:
            if marker not in seen and marker.encode() in data:
                seen[marker] = now
                seen["cpu", marker] = cpu()
                found += 1
        if b"Kernel panic" in data:
            raise RuntimeError(f"{who}: Linux panicked: "
                               f"{data[data.rfind(b'Kernel panic'):][:300]!r}")
        if now > timeout:
            raise RuntimeError(f"{who}: no {[m for m in markers if m not in seen]} after "
                               f"{timeout} s; serial tail: {data[-600:]!r}")
        time.sleep(0.01)
    seen["serial"] = serial()  # type: ignore[assignment]
    return seen
