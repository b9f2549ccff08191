"""Console window over a VM process: GUI CPU while the guest idles, and key latency.

Method (offscreen Qt platform unless QT_QPA_PLATFORM says otherwise; the VM runs in its
own process through ``vmgui.host.process.ProcessHost``, as the app does):

1. Idle: FreeDOS (../shared/guests/freedos722.img) booted to ``A:\\>`` in a shown console;
   after 2 s of settling, the Qt event loop runs for N s (default 10) and the CPU time
   (user + system, all threads) of the GUI process is read from ``getrusage`` before and
   after; the VM process's CPU over the same span is read from /proc.  Target: GUI
   <= 3% of one core.
2. Key latency: tests/guests/echo.img with the keyboard captured; 50 times:
   QTest.keyClick('a'), then process Qt events until the console has rendered a frame
   whose VRAM holds one more "1E61" echo.  Includes the console timer's phase, the pipe to
   the VM process and back.  Target: median <= 30 ms.

Run from the repository root: ``python tests/perf/bench_console_idle.py [seconds]``.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from vmgui.core.machine import MachineConfig  # noqa: E402
from vmgui.host.process import ProcessHost  # noqa: E402
from vmgui.ui.console import ConsoleWindow  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "guests" / "echo.img"
FREEDOS = ROOT.parent / "shared" / "guests" / "freedos722.img"
PRESSES = 50


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_console(image: Path, shots: Path) -> ConsoleWindow:
    host = ProcessHost(MachineConfig(floppies=(image,), read_only=True))
    window = ConsoleWindow(host, image.stem, screenshots_dir=shots, confirm=False)
    window.show()
    host.start()
    return window


def pump_until(app: QApplication, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        app.processEvents()
        time.sleep(0.0005)


def on_screen(window: ConsoleWindow, text: str) -> bool:
    try:
        return any(text in line for line in window.host.text_lines())
    except RuntimeError:  # nothing drawn yet
        return False


def run_loop(app: QApplication, seconds: float) -> None:
    QTimer.singleShot(round(seconds * 1000), lambda: app.exit(0))  # quit() closes windows
    app.exec()


def idle_cost(app: QApplication, shots: Path, seconds: float) -> None:
    window = open_console(FREEDOS, shots)
    pump_until(app, lambda: on_screen(window, "A:\\>"))
    run_loop(app, 2.0)
    pid = window.host.pid
    frames0 = window.view.frames
    gui0, vm0, wall0 = cpu_self(), cpu_of(pid), time.perf_counter()
    run_loop(app, seconds)
    gui, vm = cpu_self() - gui0, cpu_of(pid) - vm0
    wall = time.perf_counter() - wall0
    print(f"FreeDOS idle at A:\\> in a console for {wall:.1f} s "
          f"({window.view.frames - frames0} frames rendered):")
    print(f"  GUI process: {gui:.3f} s CPU = {100 * gui / wall:.2f}% of one core "
          "(target <= 3%)")
    print(f"  VM process:  {vm:.3f} s CPU = {100 * vm / wall:.2f}% of one core")
    window.shut_down()
    window.deleteLater()


def echo_count(window: ConsoleWindow) -> int:
    signature = window.view._signature
    return 0 if signature is None else signature[-1][0::2].count(b"1E61")


def key_latency(app: QApplication, shots: Path) -> list[float]:
    window = open_console(ECHO, shots)
    pump_until(app, lambda: on_screen(window, "READY"))
    window.set_keyboard_grab(True)
    rng = random.Random(1)
    out = []
    for _ in range(PRESSES):
        before = echo_count(window)
        start = time.perf_counter()
        QTest.keyClick(window.view, Qt.Key.Key_A)
        pump_until(app, lambda b=before: echo_count(window) > b)
        out.append((time.perf_counter() - start) * 1000)
        end = time.monotonic() + rng.uniform(0.02, 0.06)  # decorrelate from the timer
        pump_until(app, lambda e=end: time.monotonic() > e)
    window.shut_down()
    window.deleteLater()
    return out


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    app = QApplication.instance() or QApplication([])
    shots = Path(tempfile.mkdtemp(prefix="vmgui-bench-"))
    print(f"Qt platform: {app.platformName()}")
    if FREEDOS.exists():
        idle_cost(app, shots, seconds)
    else:
        print(f"skipped the idle case: {FREEDOS} not found")
    latency = key_latency(app, shots)
    print(f"key press -> changed screen (echo.img in a VM process, {PRESSES} presses): "
          f"median {statistics.median(latency):.1f} ms, min {min(latency):.1f}, "
          f"max {max(latency):.1f} (target median <= 30 ms)")
    app.processEvents()
    gc.collect()


if __name__ == "__main__":
    main()
