"""Runs one soak: Xvfb and openbox on a free display, a temporary library made with the
CLI (``vmgui create``), the manager child (:mod:`tools.soak.child`), a watchdog, and the
summary.  Needs Xvfb, openbox and the X libraries
Qt's xcb plugin loads (Debian: ``xvfb openbox libxcb-cursor0 libxcb-icccm4
libxcb-keysyms1``).

Owns: :func:`run_mode` (one mode into ``OUT/soak`` or ``OUT/cycles``) and the helpers it
uses.  The manager runs in its own process so that an abort ("Fatal Python error",
SIGABRT, SIGSEGV) ends only it: this process sees the exit status, keeps the samples
written so far and reports.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO

from tools.soak import probe, summary

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
GUEST_13H = REPO / "tests" / "guests" / "bars13h.img"
FREEDOS = REPO.parent / "shared" / "guests" / "freedos722.img"
DEMO = REPO / "resources" / "guests" / "demo.img"
SCREEN = "1920x1200x24"
VM_NAMES = ("Bars13h", "FreeDOS")
POLL_S = 2.0
STALL_GRACE_S = 60.0  # after the stack dump, before a stalled manager is killed
MODE_13H = 0x13


class SoakError(Exception):
    """The soak cannot run here (no Xvfb, the library cannot be made...)."""


@dataclass
class Watch:
    """How long the child may take and may go without writing a sample."""

    total_s: float
    stall_s: float


def free_display() -> int:
    for number in range(90, 190):
        if not Path(f"/tmp/.X{number}-lock").exists() \
                and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    raise SoakError("no free X display number in :90-:189")


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate ``proc`` if it still runs; kill it if it does not end within 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def xvfb(screen: str, xlog: BinaryIO) -> Iterator[dict[str, str]]:
    """Xvfb with ``screen`` (WxHxD) on a free display, its output into the file ``xlog``;
    yields the environment for X clients (``DISPLAY`` set; Qt's platform, Wayland and the
    startup probe cleared).  Raises SoakError when it does not start within 10 s."""
    number = free_display()
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", screen,
                               "-nolisten", "tcp"], stdout=xlog, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SoakError(f"Xvfb :{number} did not start (see {xlog.name})")
            time.sleep(0.05)
        env = dict(os.environ, DISPLAY=f":{number}")
        for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "VMGUI_STARTUP_PROBE"):
            env.pop(name, None)
        yield env
    finally:
        stop_process(server)


@contextlib.contextmanager
def x_session(logs: Path) -> Iterator[dict[str, str]]:
    """Xvfb plus openbox on a free display; yields the environment to run clients in."""
    for tool in ("Xvfb", "openbox"):
        if shutil.which(tool) is None:
            raise SoakError(f"{tool} is not installed (Debian: apt-get install xvfb openbox "
                            "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1)")
    with (logs / "xvfb.log").open("wb") as xlog, xvfb(SCREEN, xlog) as env:
        wm = subprocess.Popen(["openbox", "--sm-disable"], env=env, stdout=xlog,
                              stderr=subprocess.STDOUT)
        try:
            time.sleep(1.0)  # let it take the screen before the first window maps
            yield env
        finally:
            stop_process(wm)


def make_library(root: Path, env: dict, second: Path) -> dict:
    """Two VMs in ``root/home`` made with ``vmgui create`` (copies of the images, so
    nothing shared is written); returns the environment with VMGUI_HOME set."""
    env = dict(env, VMGUI_HOME=str(root / "home"))
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name, image in zip(VM_NAMES, (GUEST_13H, second), strict=True):
        if not image.is_file():
            raise SoakError(f"guest image {image} not found")
        copy = images / image.name
        shutil.copyfile(image, copy)
        done = subprocess.run([sys.executable, "-m", "vmgui", "create", name, "--floppy",
                               str(copy)], env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0:
            raise SoakError(f"vmgui create {name} failed ({done.returncode}): "
                            f"{done.stderr.strip()}")
    return env


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("PySide6-Essentials", "shiboken6", "unicorn", "qasync"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                       capture_output=True, text=True, timeout=10).stdout.strip()
    return out


def _watch_child(child: subprocess.Popen, samples: Path, watch: Watch,
                 events: list[str]) -> int | None:
    """Wait for the manager; dump its stacks (SIGUSR1) when samples stop, kill it when
    they stay stopped or the run overstays.  Its exit status, None when it was killed."""
    start = time.monotonic()
    dumped_at = None
    known: set[int] = set()  # the VM processes it started: ended too if it is killed
    while child.poll() is None:
        time.sleep(POLL_S)
        known.update(probe.children(child.pid) or ())
        quiet = time.monotonic() - start
        with contextlib.suppress(FileNotFoundError):
            quiet = min(quiet, time.time() - samples.stat().st_mtime)
        if quiet <= watch.stall_s:
            dumped_at = None
        elif dumped_at is None:
            events.append(f"no sample for {quiet:.0f} s: stacks dumped to manager.log")
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGUSR1)
            dumped_at = time.monotonic()
        overdue = time.monotonic() - start > watch.total_s
        if overdue or (dumped_at is not None and quiet > watch.stall_s
                       and time.monotonic() - dumped_at > STALL_GRACE_S):
            events.append("the manager overstayed the run: killed" if overdue
                          else "the manager stalled: killed")
            stop_process(child)
            _end_leftovers(known)
            return None
    return child.returncode


def _end_leftovers(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _child_command(args, mode: str, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "tools.soak.child", "--mode", mode, "--out", str(out)]
    if mode == "soak":
        cmd += ["--vm", VM_NAMES[0], "--vm", VM_NAMES[1], "--minutes", str(args.minutes),
                "--interval", str(args.interval), "--warmup", str(args.warmup)]
    else:
        cmd += ["--vm", VM_NAMES[0], "--vm", VM_NAMES[1], "--cycles", str(args.cycles),
                "--warmup-cycles", str(args.warmup_cycles), "--expect-mode", str(MODE_13H)]
    if args.skip_binding_check:
        cmd.append("--skip-binding-check")
    if args.inject_none_leak:
        cmd += ["--inject-none-leak", str(args.inject_none_leak)]
    return cmd


def _watch_for(args, mode: str) -> Watch:
    if mode == "soak":
        return Watch(total_s=args.minutes * 60 + 300, stall_s=max(120.0, 4 * args.interval))
    return Watch(total_s=args.cycles * 120 + 300, stall_s=240.0)


def run_mode(args, mode: str) -> dict:
    """One soak mode into ``args.out/mode``; returns its summary (also written there)."""
    out = args.out / mode
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("samples.csv", "events.log"):
        (out / stale).unlink(missing_ok=True)
    events: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vmgui-soak-") as tmp, x_session(out) as env:
        env = make_library(Path(tmp), env, args.second)
        versions = _versions()  # the commit the run started on
        started = time.time()
        with (out / "manager.log").open("wb") as mlog:
            child = subprocess.Popen(_child_command(args, mode, out), cwd=REPO, env=env,
                                     stdout=mlog, stderr=subprocess.STDOUT)
            returncode = _watch_child(child, out / "samples.csv", _watch_for(args, mode),
                                      events)
    log_text = (out / "manager.log").read_text(errors="replace")
    verdict = summary.exit_verdict(returncode, log_text)
    rows = summary.read_samples(out / "samples.csv") if (out / "samples.csv").exists() else []
    if mode == "soak":
        result = summary.soak_summary(rows, verdict=verdict)
    else:
        result = summary.cycles_summary(rows, verdict=verdict, cycles=args.cycles)
    result.update(started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                  wall_s=round(time.time() - started), versions=versions,
                  second_vm=str(args.second), watchdog=events)
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    text = summary.format_summary(result)
    text += f"\nversions: {result['versions']}\nstarted {result['started']}, wall " \
            f"{result['wall_s']} s; VM 2 = {args.second.name}"
    text += "".join(f"\nwatchdog: {line}" for line in events)
    (out / "summary.txt").write_text(text + "\n")
    return result
