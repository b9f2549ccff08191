"""The manager under soak: :func:`vmgui.app.run_gui` as a user starts it, plus a Qt timer
(:class:`Driver`) that works it from inside the same process and samples it.

Run by :mod:`tools.soak.supervisor` as ``python -m tools.soak.child --mode soak|cycles
--out DIR --vm NAME --vm NAME ...`` with ``VMGUI_HOME`` on the soak library and
``DISPLAY`` on the Xvfb server.  Writes ``DIR/samples.csv`` (one row per sample, flushed:
it survives an abort) and ``DIR/events.log``; SIGUSR1 dumps every thread's stack to stderr
(the supervisor sends it when samples stop coming).

- soak: start every ``--vm`` from the manager, sample every ``--interval`` s, move the
  list's selection to the next VM every minute, power everything off after ``--minutes``.
- cycles: ``--cycles`` times start the first ``--vm``, wait until it runs and its console
  has drawn a frame (in BIOS mode ``--expect-mode`` if given), power it off as the
  manager's Power off does, sample once the event loop has run again (after a
  ``gc.collect()``: the comparison is of two single samples, and VM hosts wait in reference
  cycles for the collector).

Exit status: 0 the run finished; 3 the driver gave up (a VM would not start or never drew
a frame three times in a row; see events.log).  Anything else is the manager's own exit
(a negative status from the supervisor's view: killed by a signal, e.g. SIGABRT).
"""

from __future__ import annotations

import argparse
import csv
import faulthandler
import gc
import signal
import sys
import time
from pathlib import Path

from tools.soak import probe

TICK_MS = 250
BOOT_TIMEOUT_S = 60.0
SELECT_EVERY_S = 60.0
MAX_FAILURES_IN_A_ROW = 3


def _drop_none_refs(count: int) -> None:
    """The PySide6 6.12.0 bug on purpose (``--inject-none-leak``): ``count`` references to
    None released that nobody took."""
    import ctypes

    release = ctypes.pythonapi.Py_DecRef
    release.argtypes = [ctypes.py_object]
    for _ in range(count):
        release(None)


class Recorder:
    """samples.csv and events.log; tracks the lowest None refcount between samples."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self._csv = (out / "samples.csv").open("w", newline="")
        self._writer = csv.DictWriter(self._csv, fieldnames=probe.FIELDS)
        self._writer.writeheader()
        self._csv.flush()
        self._events = (out / "events.log").open("a")
        self.t0 = time.monotonic()
        self.none_min = sys.getrefcount(None)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def event(self, text: str) -> None:
        self._events.write(f"{self.elapsed():9.1f}  {text}\n")
        self._events.flush()

    def watch_none(self) -> None:
        self.none_min = min(self.none_min, sys.getrefcount(None))

    def sample(self, phase: str, cycle: int, vms: list[tuple], collect: bool = False) -> None:
        """One row; ``vms``: (pid or None, state text, frames or None) per VM column.
        ``collect``: run the cyclic garbage collector first, so that garbage it has not
        reached yet does not read as growth (the cycles compare two single samples)."""
        if collect:
            gc.collect()
        now = sys.getrefcount(None)
        row = {"t_s": round(self.elapsed(), 1), "phase": phase, "cycle": cycle,
               "none_refcount": now, "none_refcount_min": min(self.none_min, now),
               "gc_objects": len(gc.get_objects())}
        self.none_min = now
        row.update(probe.process_row())
        for index, (pid, state, frames) in enumerate(vms[:probe.VM_COLUMNS], 1):
            row.update(probe.vm_row(index, pid, state, frames))
        self._writer.writerow(row)
        self._csv.flush()

    def close(self) -> None:
        self._csv.close()
        self._events.close()


class Driver:
    """Finds the manager window, then runs one step function per timer tick."""

    def __init__(self, args: argparse.Namespace, rec: Recorder) -> None:
        from PySide6.QtCore import QTimer

        self.args = args
        self.rec = rec
        self.window = None
        self.exit_code = 0
        self.cycle = 0
        self.failures = 0
        self._busy = False
        self._step = self._find_window
        self._next_sample = 0.0
        self._next_select = SELECT_EVERY_S
        self._cycle_started = 0.0
        self._states: dict[str, str] = {}
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def begin(self) -> None:
        self.rec.event(f"soak child up: mode {self.args.mode}, VMs {self.args.vm}")
        self.timer.start()

    def _tick(self) -> None:
        if self._busy:  # a nested event loop (a dialog) ticked us again
            return
        self._busy = True
        try:
            if self.args.inject_none_leak:
                _drop_none_refs(self.args.inject_none_leak)
            self.rec.watch_none()
            self._step()
        except Exception as exc:  # noqa: BLE001 - the soak must report, not hang
            self._fail(f"driver error: {exc!r}")
        finally:
            self._busy = False

    # ------------------------------------------------------------------ shared steps
    def _find_window(self) -> None:
        from PySide6.QtWidgets import QApplication, QMessageBox

        from vmgui.ui.manager import ManagerWindow

        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.isVisible():
                self._fail(f"a message box instead of the manager: {widget.text()}")
                return
            if isinstance(widget, ManagerWindow) and widget.isVisible():
                self.window = widget
                # errors go to the status bar: a modal message box would stop the driver
                widget.confirm = False
                self.rec.event("manager window found")
                self._step = self._start_all if self.args.mode == "soak" else self._sample_first
                return

    def _vm_columns(self) -> list[tuple]:
        rows = []
        for name in self.args.vm:
            vm = self.window.runner.get(name)
            state = self.window.runner.state(name)
            alive = vm is not None and vm.host.alive
            view = getattr(vm.console, "view", None) if vm is not None else None
            rows.append((vm.host.pid if alive else None,
                         "off" if state is None else state.value,
                         getattr(view, "frames", None)))
        return rows

    def _watch_states(self) -> None:
        for name in self.args.vm:
            state = self.window.runner.state(name)
            text = "off" if state is None else state.value
            if self._states.get(name) != text:
                self._states[name] = text
                self.rec.event(f"{name}: {text}")

    def _fail(self, why: str) -> None:
        self.rec.event(f"FAILED: {why}")
        self.exit_code = 3
        self._finish()

    def _finish(self) -> None:
        self.timer.stop()
        if self.window is None:
            from PySide6.QtWidgets import QApplication

            QApplication.closeAllWindows()
            return
        self.window.runner.power_off_all()
        self.rec.event("all VMs powered off; closing the manager")
        self.window.close()

    # ------------------------------------------------------------------ soak
    def _start_all(self) -> None:
        for name in self.args.vm:
            if self.window.start_vm(name) is None:
                self._fail(f"cannot start {name}: {self.window.last_error}")
                return
        self.window.select(self.args.vm[0])
        self._step = self._soak
        self._next_sample = self.rec.elapsed()

    def _soak(self) -> None:
        now = self.rec.elapsed()
        self._watch_states()
        if now >= self._next_sample:
            phase = "warmup" if now < self.args.warmup else "measure"
            self.rec.sample(phase, 0, self._vm_columns())
            self._next_sample += self.args.interval
        if now >= self._next_select:  # a user looking at one VM, then the other
            self._next_select += SELECT_EVERY_S
            index = int(now // SELECT_EVERY_S) % len(self.args.vm)
            self.window.select(self.args.vm[index])
        if now >= self.args.minutes * 60:
            self.rec.sample("end", 0, self._vm_columns())
            self.rec.event(f"soak over after {now:.0f} s")
            self._finish()

    # ------------------------------------------------------------------ cycles
    def _sample_first(self) -> None:
        self.rec.sample("warmup", 0, self._vm_columns(), collect=True)
        self._step = self._cycle_start

    def _cycle_start(self) -> None:
        name = self.args.vm[0]
        self.cycle += 1
        self._cycle_started = self.rec.elapsed()
        if self.window.start_vm(name) is None:
            self._cycle_failed(f"cannot start {name}: {self.window.last_error}")
            return
        self._step = self._cycle_wait

    def _drawn(self, vm) -> bool:
        view = getattr(vm.console, "view", None)
        if view is None or not view.frames or view.state is None:
            return False
        return self.args.expect_mode is None or view.state.mode == self.args.expect_mode

    def _cycle_wait(self) -> None:
        from vmgui.core import events as ev

        name = self.args.vm[0]
        vm = self.window.runner.get(name)
        if vm is not None and vm.state is ev.RunState.RUNNING and self._drawn(vm):
            self._power_off(name)
            self.failures = 0
            self.rec.event(f"cycle {self.cycle}: up and drawn in "
                           f"{self.rec.elapsed() - self._cycle_started:.2f} s")
            self._step = self._cycle_sample
        elif self.rec.elapsed() - self._cycle_started > BOOT_TIMEOUT_S:
            state = None if vm is None else vm.state
            self._power_off(name)
            self._cycle_failed(f"{name} did not run and draw in {BOOT_TIMEOUT_S:.0f} s "
                               f"(state {state})")

    def _power_off(self, name: str) -> None:
        """What the manager's Power off does once the user said yes."""
        host = self.window.runner.get(name)
        self.window.runner.power_off(name)
        self.window.refresh_selection()
        if host is not None and host.host.alive:
            self.rec.event(f"{name}: VM process {host.host.pid} still alive after power off")

    def _cycle_failed(self, why: str) -> None:
        self.failures += 1
        self.rec.event(f"cycle {self.cycle} failed: {why}")
        if self.failures >= MAX_FAILURES_IN_A_ROW:
            self._fail(f"{self.failures} cycles in a row failed")
            return
        self._step = self._cycle_sample

    def _cycle_sample(self) -> None:
        """One tick after the power-off: the console's deleteLater has run."""
        phase = "warmup" if self.cycle <= self.args.warmup_cycles else "measure"
        self.rec.sample(phase, self.cycle, self._vm_columns(), collect=True)
        if self.cycle in (self.args.warmup_cycles, self.args.cycles):
            self.rec.event(f"open descriptors after cycle {self.cycle}: {probe.fd_kinds()}")
        if self.cycle >= self.args.cycles:
            self.rec.event(f"{self.cycle} cycles done")
            self._finish()
        else:
            self._step = self._cycle_start


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.soak.child")
    parser.add_argument("--mode", choices=("soak", "cycles"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--vm", action="append", required=True, help="VM name (repeat)")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds per sample")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds (soak)")
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--warmup-cycles", type=int, default=10)
    parser.add_argument("--inject-none-leak", type=int, default=0, metavar="N",
                        help="self-check: drop None's refcount N times per tick, as "
                             "PySide6 6.12.0 did, so the run must end in none_dealloc")
    parser.add_argument("--skip-binding-check", action="store_true",
                        help="self-check with a broken PySide6 (6.12.0): start the manager "
                             "although vmgui's start-up check refuses that binding")
    parser.add_argument("--expect-mode", type=lambda s: int(s, 0), default=None,
                        help="BIOS video mode the first VM's frame must be in (cycles)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    faulthandler.enable()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from vmgui import app as vmgui_app

    qapp = QApplication.instance() or QApplication([vmgui_app.APP_NAME])  # noqa: F841 - kept
    if args.skip_binding_check:
        from vmgui.ui import binding_check

        binding_check.binding_problem = lambda: None
    rec = Recorder(args.out)
    driver = Driver(args, rec)
    QTimer.singleShot(0, driver.begin)
    try:
        code = vmgui_app.run_gui([vmgui_app.APP_NAME])
    finally:
        rec.event(f"run_gui returned; driver exit code {driver.exit_code}")
        rec.close()
    return driver.exit_code or code


if __name__ == "__main__":
    sys.exit(main())
