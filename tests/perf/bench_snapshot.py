"""Saving and restoring the complete state of a 64 MB FreeDOS machine.

Method: FreeDOS (freedos722.img, a copy) boots to ``A:\\>`` in a 64 MB machine driven
from this thread (``Machine._step``, the run loop's body).  Save = ``snapshot.save``:
capture between engine runs + ``statefile.write_state`` (compress, sha256, write, fsync,
rename), five times over the same path.  Restore = ``snapshot.load``: ``read_state``
(read, verify, decompress) + ``restore`` into a fresh machine that is already built and
powered on (building one is reported apart), five fresh machines.  Medians, with the
split between the steps.  Then the same with extended memory filled with incompressible
bytes (the worst case: every page used).  Target: save and restore <= 0.5 s each.
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core import snapshot, statefile
from vmgui.core.machine import Machine, MachineConfig

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT.parent / "shared" / "guests" / "freedos722.img"
MEMORY_MB = 64
ROUNDS = 5
TARGET_S = 0.5


def booted(image: Path) -> Machine:
    machine = Machine(MachineConfig(floppies=(image,), memory_mb=MEMORY_MB))
    machine.power_on()
    machine._set_state(ev.RunState.RUNNING)
    end = time.monotonic() + 60
    while not any("A:\\>" in line for line in machine.text_lines()):
        if time.monotonic() > end:
            raise RuntimeError("FreeDOS did not reach its prompt")
        machine._step()
    return machine


def fresh(image: Path) -> Machine:
    machine = Machine(MachineConfig(floppies=(image,), memory_mb=MEMORY_MB))
    machine.power_on()
    return machine


def time_save(machine: Machine, path: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    meta, parts = snapshot.capture(machine)
    t1 = time.perf_counter()
    statefile.write_state(path, parts, meta)
    t2 = time.perf_counter()
    return {"capture": t1 - t0, "write": t2 - t1, "total": t2 - t0}


def time_restore(image: Path, path: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    machine = fresh(image)
    t1 = time.perf_counter()
    meta, parts = statefile.read_state(path)
    t2 = time.perf_counter()
    snapshot.restore(machine, meta, parts)
    t3 = time.perf_counter()
    machine.close()
    del machine
    gc.collect()
    return {"build": t1 - t0, "read": t2 - t1, "restore": t3 - t2, "total": t3 - t1}


def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def fmt(figures: dict[str, float]) -> str:
    return "  ".join(f"{key} {value * 1000:7.1f} ms" for key, value in figures.items())


def run_case(label: str, machine: Machine, image: Path, path: Path) -> bool:
    saves = [time_save(machine, path) for _ in range(ROUNDS)]
    restores = [time_restore(image, path) for _ in range(ROUNDS)]
    save, restore = medians(saves), medians(restores)
    print(f"{label}: file {path.stat().st_size / 1e6:.2f} MB")
    print(f"  save    (median of {ROUNDS}): {fmt(save)}")
    print(f"  restore (median of {ROUNDS}): {fmt(restore)}   (build = new machine, apart)")
    ok = save["total"] <= TARGET_S and restore["total"] <= TARGET_S
    print(f"  target <= {TARGET_S} s each: {'met' if ok else 'MISSED'}")
    return ok


def main() -> int:
    if not IMAGE.is_file():
        print(f"needs {IMAGE}")
        return 2
    print(__doc__.strip().splitlines()[0])
    print(f"cpus: {os.cpu_count()}, zlib level {statefile.LEVEL}, "
          f"{statefile.WORKERS} compression threads, chunk {statefile.CHUNK >> 20} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "freedos.img"
        shutil.copyfile(IMAGE, image)
        image.chmod(0o644)
        path = Path(tmp) / "freedos.vmstate"
        machine = booted(image)
        try:
            ok = run_case("FreeDOS at its prompt, 64 MB", machine, image, path)
            extended = machine.memory.ram[0x110000:]
            machine.memory.ram[0x110000:] = os.urandom(len(extended))  # above DOS and HMA
            run_case("worst case: extended memory full of random bytes (informational)",
                     machine, image, path)
        finally:
            machine.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
