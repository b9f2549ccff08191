"""Console window costs: render + paint per frame, and key press to changed screen.

Method (offscreen Qt platform unless QT_QPA_PLATFORM says otherwise; one ThreadHost each):

1. Frame cost: with the guest on screen, force a full re-render N times and time
   ``FramebufferView.refresh()`` (display() + change check + render() + QImage) plus a
   synchronous ``repaint()`` with ``time.perf_counter``.  Cases: 80x25 text (echo.img) at
   1x and 2x, 320x200 mode 13h (cubicdoom.img) at 2x.  Target: <= 4 ms per frame.
2. Key latency: echo.img with the keyboard captured; 50 times: QTest.keyClick('a'), then
   process Qt events until the console has rendered a frame whose VRAM holds one more
   "1E61" echo.  The console's own 16 ms timer does the polling, so this includes its
   phase.  Target: median <= 30 ms.

Run from the repository root: ``python tests/perf/bench_console.py [frames]``.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from vmgui.core.machine import MachineConfig  # noqa: E402
from vmgui.host.thread import ThreadHost  # noqa: E402
from vmgui.ui.console import ConsoleWindow, ScaleMode  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "guests" / "echo.img"
CUBICDOOM = ROOT.parent / "shared" / "guests" / "cubicdoom.img"
PRESSES = 50


def open_console(image: Path, shots: Path) -> ConsoleWindow:
    host = ThreadHost(MachineConfig(floppies=(image,), read_only=True))
    window = ConsoleWindow(host, image.stem, screenshots_dir=shots, confirm=False)
    window.show()
    host.start()
    return window


def pump_until(app: QApplication, predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        app.processEvents()
        time.sleep(0.0005)


def frame_cost(app: QApplication, window: ConsoleWindow, frames: int) -> dict[str, float]:
    view = window.view
    app.processEvents()
    totals, renders, paints = [], [], []
    for _ in range(frames):
        view._signature = None  # force a full render, as if every byte had changed
        start = time.perf_counter()
        view.refresh()
        view.repaint()
        totals.append((time.perf_counter() - start) * 1000)
        renders.append(view.render_ms)
        paints.append(view.paint_ms)
    totals.sort()
    return {"median": statistics.median(totals), "p95": totals[int(len(totals) * 0.95)],
            "render": statistics.median(renders), "paint": statistics.median(paints)}


def echo_count(window: ConsoleWindow) -> int:
    signature = window.view._signature
    return 0 if signature is None else signature[-1][0::2].count(b"1E61")


def key_latency(app: QApplication, window: ConsoleWindow) -> list[float]:
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
    return out


def report(name: str, result: dict[str, float]) -> None:
    print(f"{name:28s} median {result['median']:6.2f} ms  p95 {result['p95']:6.2f} ms  "
          f"(render {result['render']:.2f} ms, paint {result['paint']:.2f} ms)")


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    app = QApplication.instance() or QApplication([])
    shots = Path(tempfile.mkdtemp(prefix="vmgui-bench-"))
    print(f"Qt platform: {app.platformName()}; {frames} forced frames per case")
    echo = open_console(ECHO, shots)
    pump_until(app, lambda: any("READY" in line for line in echo.host.text_lines()))
    report("80x25 text, 1x (640x400)", frame_cost(app, echo, frames))
    echo.set_scale_mode(ScaleMode.X2)
    report("80x25 text, 2x (1280x800)", frame_cost(app, echo, frames))
    echo.set_scale_mode(ScaleMode.X1)
    app.processEvents()
    latency = key_latency(app, echo)
    print(f"key press -> changed screen (echo.img, {PRESSES} presses): median "
          f"{statistics.median(latency):.1f} ms, min {min(latency):.1f}, max {max(latency):.1f}")
    echo.shut_down()
    if CUBICDOOM.exists():
        doom = open_console(CUBICDOOM, shots)
        pump_until(app, lambda: doom.view.state is not None and doom.view.state.width == 320)
        doom.set_scale_mode(ScaleMode.X2)
        report("320x200 mode 13h, 2x", frame_cost(app, doom, frames))
        doom.shut_down()
        doom.deleteLater()
    else:
        print(f"skipped mode 13h: {CUBICDOOM} not found")
    echo.deleteLater()
    app.processEvents()
    gc.collect()  # free the engines now: the cyclic GC at interpreter exit is too late


if __name__ == "__main__":
    main()
