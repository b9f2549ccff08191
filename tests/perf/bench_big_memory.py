"""A 2 GB machine next to a 16 MB one, FreeDOS idle at ``A:\\>``: host memory, and the time
and file size of saving and loading their state.

Method: each machine lives in a child process of its own, so that the RSS read is its own
(``python -m tests.perf.bench_big_memory``; the children run this module with
``--child``).  A child boots FreeDOS (a copy of freedos722.img) driving the run loop from
its main thread (``Machine._step``) to ``A:\\>``, lets it idle 3 s, then reads VmRSS and
RssAnon from /proc/self/status and how much of guest RAM the host holds (pages
/proc/self/pagemap calls present).  Save = ``snapshot.save`` (capture + write_state:
compress, sha256, fsync, rename) five times over one path; load = ``snapshot.load`` into a
fresh machine of the same configuration, built and powered on apart, five times.  Medians.
Last, informational: the same save once more with every page scanned for zeros (no page
map), which maps the zero page into every untouched page (time, page tables after).
The 16 MB machine is the ISA pc-at, the 2 GB one the pc-pci; the two children run one
after the other in one run.

Targets: the 2 GB machine saves and loads within 2x the 16 MB figures (+ 0.1 s), its file
is within 64 KiB of the 16 MB one (the page map is one bit a page: 64 KiB for 2 GB), and
its idle RSS within 16 MB of the 16 MB machine's.
Run: ``.venv/bin/python -m tests.perf.bench_big_memory [--image freedos722.img]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT.parent / "shared" / "guests" / "freedos722.img"
ROUNDS = 5
IDLE_S = 3.0
CASES = ((16, "pc-at"), (2048, "pc-pci"))


def status_kb() -> dict[str, int]:
    fields = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "VmPTE"):
                fields[key] = int(value.split()[0])
    return fields


def child(memory_mb: int, profile: str, image: Path) -> dict:
    from vmgui.core import events as ev
    from vmgui.core import snapshot, statefile
    from vmgui.core.machine import Machine, MachineConfig

    config = MachineConfig(floppies=(image,), memory_mb=memory_mb, profile=profile)
    machine = Machine(config)
    machine.power_on()
    machine._set_state(ev.RunState.RUNNING)
    end = time.monotonic() + 60
    while not any("A:\\>" in line for line in machine.text_lines()):
        if time.monotonic() > end:
            raise RuntimeError("FreeDOS did not reach its prompt")
        machine._step()
    idle_end = time.monotonic() + IDLE_S
    while time.monotonic() < idle_end:
        machine._step()
    out: dict = {"idle": status_kb(),
                 "ram_held_kb": int(machine.memory.maybe_used_pages().sum()) * 4}
    path = image.with_name("state.vmstate")
    saves = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        snapshot.save(machine, path)
        saves.append(time.perf_counter() - t0)
    out["after_save"] = status_kb()
    out["file_bytes"] = path.stat().st_size
    loads, builds = [], []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fresh = Machine(config)
        fresh.power_on()
        t1 = time.perf_counter()
        snapshot.load(fresh, path)
        loads.append(time.perf_counter() - t1)
        builds.append(t1 - t0)
        out["after_load"] = status_kb()
        fresh.close()
        del fresh
        gc.collect()
    out.update(save_s=statistics.median(saves), load_s=statistics.median(loads),
               build_s=statistics.median(builds))
    meta, parts = snapshot.capture(machine)  # informational: no page map, every page read
    parts["ram"] = statefile.PageSource(parts["ram"].data, None)
    t0 = time.perf_counter()
    statefile.write_state(path, parts, meta)
    out["full_scan_s"] = time.perf_counter() - t0
    out["after_full_scan"] = status_kb()
    machine.close()
    return out


def run_child(memory_mb: int, profile: str, image: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "freedos.img"
        shutil.copyfile(image, copy)
        copy.chmod(0o644)
        result = subprocess.run(
            [sys.executable, "-m", "tests.perf.bench_big_memory", "--child", str(memory_mb),
             profile, str(copy)], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(results: dict[int, dict]) -> bool:
    print(f"{'':24}" + "".join(f"{f'{mb} MB ({p})':>20}" for mb, p in CASES))
    rows = [
        ("idle RSS (MB)", lambda r: r["idle"]["VmRSS"] / 1024),
        ("idle RssAnon (MB)", lambda r: r["idle"]["RssAnon"] / 1024),
        ("guest RAM held (MB)", lambda r: r["ram_held_kb"] / 1024),
        ("page tables (KB)", lambda r: r["idle"]["VmPTE"]),
        ("state file (KB)", lambda r: r["file_bytes"] / 1024),
        ("save, median (ms)", lambda r: r["save_s"] * 1000),
        ("load, median (ms)", lambda r: r["load_s"] * 1000),
        ("  build apart (ms)", lambda r: r["build_s"] * 1000),
        ("RSS after saves (MB)", lambda r: r["after_save"]["VmRSS"] / 1024),
        ("RSS after loads (MB)", lambda r: r["after_load"]["VmRSS"] / 1024),
        ("no page map: save (ms)", lambda r: r["full_scan_s"] * 1000),
        ("  then page tables (KB)", lambda r: r["after_full_scan"]["VmPTE"]),
        ("  then RSS (MB)", lambda r: r["after_full_scan"]["VmRSS"] / 1024),
    ]
    for label, value in rows:
        print(f"{label:24}" + "".join(f"{value(results[mb]):20.1f}" for mb, _ in CASES))
    small, big = results[16], results[2048]
    checks = {
        "save": big["save_s"] <= 2 * small["save_s"] + 0.1,
        "load": big["load_s"] <= 2 * small["load_s"] + 0.1,
        "file": abs(big["file_bytes"] - small["file_bytes"]) <= 64 << 10,
        "idle RSS": big["idle"]["VmRSS"] - small["idle"]["VmRSS"] <= 16 << 10,
    }
    print("targets: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in checks.items()))
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=IMAGE, help="FreeDOS floppy image")
    parser.add_argument("--child", nargs=3, metavar=("MB", "PROFILE", "IMAGE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1], Path(args.child[2]))))
        return 0
    if not args.image.is_file():
        print(f"needs {args.image} (or --image)")
        return 2
    print(__doc__.strip().splitlines()[0])
    results = {mb: run_child(mb, profile, args.image) for mb, profile in CASES}
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
