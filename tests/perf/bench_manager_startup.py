"""Manager start-up time with a 50-VM library: process start to the window on screen.

Method: make a temporary ``VMGUI_HOME`` with 50 VMs (``vmgui.config.library.Library``;
each with a floppy image in its folder, every tenth one inaccessible -- a corrupt
vm.toml -- as a real library may have), then spawn ``python main.py`` with
``QT_QPA_PLATFORM=offscreen`` and ``VMGUI_STARTUP_PROBE=1``, which makes the manager write
``vmgui: manager shown`` to stdout once its event loop runs with the window shown.  Time
from just before the spawn to reading that line; kill the process; median of 5 (after
one unmeasured warm-up run that fills the OS file cache).
Target: median <= 1.0 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.ui.manager.window import STARTUP_MARKER, STARTUP_PROBE_ENV

REPO = Path(__file__).resolve().parents[2]
VMS = 50
RUNS = 5
TARGET_S = 1.0


def make_library(root: Path, count: int = VMS) -> None:
    library = Library(root)
    for n in range(count):
        entry = library.create(VmConfig(f"VM {n:02d}", notes=f"benchmark VM {n}",
                                        floppy_a=Attachment("floppy.img")))
        (entry.folder / "floppy.img").write_bytes(b"\0" * 1_474_560)
        if n % 10 == 9:
            (entry.folder / "vm.toml").write_text("this is [not toml")
    (root / ".demo-created").touch()


def time_start(home: Path, timeout: float = 30.0) -> float:
    env = dict(os.environ, VMGUI_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    env[STARTUP_PROBE_ENV] = "1"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(REPO / "main.py")], env=env, cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = start + timeout
        for line in proc.stdout:
            if line.strip() == STARTUP_MARKER:
                return time.perf_counter() - start
            if time.perf_counter() > deadline:
                break
        raise RuntimeError("the manager never reported being shown")
    finally:
        proc.kill()
        proc.wait(5)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        make_library(home)
        print(f"library: {len(Library(home).entries())} VMs in {home} "
              f"({sum(1 for e in Library(home).entries() if not e.accessible)} inaccessible)")
        time_start(home)  # warm-up: OS file cache, .pyc files
        times = [time_start(home) for _ in range(RUNS)]
    median = statistics.median(times)
    print("method: spawn `python main.py` (offscreen Qt, VMGUI_STARTUP_PROBE=1) -> "
          f"'{STARTUP_MARKER}' on stdout; median of {RUNS} after a warm-up")
    print("runs: " + ", ".join(f"{t:.3f}" for t in times) + " s")
    print(f"median: {median:.3f} s (target <= {TARGET_S:.1f} s): "
          + ("OK" if median <= TARGET_S else "OVER"))


if __name__ == "__main__":
    main()
