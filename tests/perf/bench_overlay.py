"""Copy-on-write overlay cost: 4 KiB sector transfers through an overlay vs the raw image.

Method: a 64 MiB raw image of random bytes (in the OS page cache, as a booted guest's disk
mostly is).  Each case does N 4 KiB (8-sector) ``read_sectors`` / ``write_sectors`` calls on
a :class:`DiskImage` -- the calls int 13h makes -- on the raw image and on an
:class:`OverlayDiskImage` (64 KiB blocks of 4 KiB chunks) over a copy of it, side by side,
median of R rounds.  Every round opens the disk afresh and makes two passes of the same
transfers: "cold" (first touch in the session: the overlay checks each chunk on its first
read, and writes a table entry for each chunk it allocates or each block it first rewrites
in place) and "warm" (the same transfers again).  Every pass starts after ``os.sync()``;
write passes end with a flush (fsync) on both sides; the overlay's flush also stores the
checks of chunks rewritten since the last one.  Overlay states: "empty" (fresh: reads fall
through to the base) and "full" (every chunk already in the overlay).  Target: <= 1.2.
This is the storage layer alone; ``bench_overlay_guest.py`` measures what a guest sees
through int 13h.

Run from the repository root: ``python tests/perf/bench_overlay.py [N] [R]``.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from vmgui.storage.image import DiskImage
from vmgui.storage.overlay import Overlay, discard

DISK = 64 << 20
SECTORS = DISK // 512
OP = 8  # sectors per transfer (4 KiB)


def offsets(pattern: str, n: int) -> list[int]:
    if pattern == "seq":
        return [(i * OP) % SECTORS for i in range(n)]
    rng = random.Random(42)
    return [rng.randrange(SECTORS // OP) * OP for _ in range(n)]


def run(img: DiskImage, op: str, lbas: list[int]) -> float:
    data = b"\xa5" * (OP * 512)
    os.sync()  # no dirty pages from earlier work land in this pass's flush
    t = time.perf_counter()
    if op == "read":
        for lba in lbas:
            img.read_sectors(lba, OP)
    else:
        for lba in lbas:
            img.write_sectors(lba, data)
        img.flush()
    return time.perf_counter() - t


def two_passes(img: DiskImage, op: str, lbas: list[int]) -> tuple[float, float]:
    """(cold, warm): the first pass in a fresh session, then the same pass again."""
    return run(img, op, lbas), run(img, op, lbas)


def fill(path: Path) -> None:
    with Overlay.open(path) as ov:
        for offset in range(0, ov.size, ov.block_size):
            ov.write(offset, ov.read(offset, ov.block_size))


def case(folder: Path, state: str, op: str, pattern: str, n: int, rounds: int
         ) -> list[tuple[float, float]]:
    """[(raw, overlay) cold, (raw, overlay) warm] median seconds per pass."""
    raw_img, cow_base, cow = folder / "raw.img", folder / "base.img", folder / "disk.cow"
    raw_t, cow_t = [], []
    lbas = offsets(pattern, n)
    for _ in range(rounds):
        discard(cow)
        Overlay.create(cow, cow_base).close()
        if state == "full":
            fill(cow)
        with DiskImage.open(raw_img, kind="hdd") as img:
            raw_t.append(two_passes(img, op, lbas))
        with DiskImage.open_overlay(cow, kind="hdd") as img:
            cow_t.append(two_passes(img, op, lbas))
    discard(cow)
    return [(statistics.median(r[i] for r in raw_t), statistics.median(c[i] for c in cow_t))
            for i in (0, 1)]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8192
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(__doc__.split("Run from")[0].strip())
    print(f"\nN = {n} transfers of 4 KiB, median of {rounds} rounds\n")
    print(f"{'case':<34}{'pass':>6}{'raw us/op':>11}{'cow us/op':>11}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "raw.img").write_bytes(random.Random(1).randbytes(DISK))
        shutil.copyfile(folder / "raw.img", folder / "base.img")
        for state, op, pattern in (("empty", "read", "seq"), ("empty", "read", "random"),
                                   ("full", "read", "seq"), ("full", "read", "random"),
                                   ("full", "write", "seq"), ("full", "write", "random"),
                                   ("empty", "write", "seq"), ("empty", "write", "random")):
            results = case(folder, state, op, pattern, n, rounds)
            for label, (raw, cow) in zip(("cold", "warm"), results, strict=True):
                name = f"{pattern} {op}, {state} overlay"
                print(f"{name:<34}{label:>6}{raw / n * 1e6:>11.2f}{cow / n * 1e6:>11.2f}"
                      f"{cow / raw:>8.2f}")


if __name__ == "__main__":
    main()
