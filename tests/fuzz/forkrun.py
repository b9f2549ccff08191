"""Run a boot sector in a forked child and classify what happened to the host.

Owns: :func:`start` / :func:`poll` / :func:`run` (one child per sector, forked from a parent
that has already imported vmgui, so a sector costs a fork and a machine, not an
interpreter start) and the outcome classes shared by the fuzz tests and
``tools/fuzz_boot.py``.  The child writes the sector to a 1.44 MB floppy image, boots it
for a bounded time and powers the machine off, and reports back through a pipe; its
stdout/stderr go to ``output.txt`` in its work folder.  Whatever the guest does, the
parent survives: a child killed by a signal (an engine SIGSEGV) or one that does not
finish within ``seconds + grace`` is an outcome, not a crash of the caller.

Two ways to run: ``deterministic`` (a LockstepHost: guest time from executed code, the
same sector gives the same outcome every time; what the suite uses) and threaded (a
ThreadHost on the host clock, stopped with PowerOff from another thread: what ``vmgui
run`` does, and the long run's default).
"""

from __future__ import annotations

import faulthandler
import json
import os
import select
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

FLOPPY_BYTES = 1474560

OK = "ok"  # the guest ran until the time limit
GUEST_CRASH = "guest-crash"  # vmgui stopped the guest and reported why (vmgui run: exit 4)
INTERNAL = "internal-error"  # a crash report saying vmgui's own code raised an exception
TRACEBACK = "traceback"  # an exception escaped to the host
HOST_CRASH = "host-crash"  # the process died (a signal, or exited without a result)
HANG = "hang"  # no result within seconds + grace
STOP_HANG = "stop-hang"  # the machine did not power off when told
ENGINE_CRASH = "engine-crash"  # the engine faulted; vmgui caught it and reported it
BAD = frozenset({INTERNAL, TRACEBACK, HOST_CRASH, HANG, STOP_HANG})
INTERNAL_PREFIXES = ("internal error", "device error")
ENGINE_PREFIX = "the CPU engine crashed"


@dataclass
class Outcome:
    kind: str
    detail: str = ""
    output: str = ""
    seconds: float = 0.0

    @property
    def bad(self) -> bool:
        return self.kind in BAD


@dataclass
class Child:
    pid: int
    fd: int
    workdir: Path
    deadline: float
    started: float
    data: bytearray = field(default_factory=bytearray)


def write_image(sector: bytes, path: Path) -> None:
    """The sector as the first of a (sparse) 1.44 MB floppy image."""
    with open(path, "wb") as f:
        f.write(sector)
        f.truncate(FLOPPY_BYTES)


def start(sector: bytes, workdir: Path, seconds: float, deterministic: bool = True,
          grace: float = 5.0) -> Child:
    """Fork a child that boots ``sector`` for ``seconds`` (guest seconds when
    ``deterministic``); the parent gives it ``seconds + grace`` of host time."""
    import vmgui.host.lockstep  # noqa: F401 - warm the parent: children only fork
    import vmgui.host.thread  # noqa: F401

    workdir.mkdir(parents=True, exist_ok=True)
    image = workdir / "sector.img"
    write_image(sector, image)
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():  # 3.12+: fork with other threads alive; the child
        warnings.simplefilter("ignore", DeprecationWarning)  # only uses its own objects
        pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(read_fd)
        _child(image, workdir / "output.txt", seconds, deterministic, grace, write_fd)
    os.close(write_fd)
    now = time.monotonic()
    return Child(pid, read_fd, workdir, now + seconds + grace, now)


def poll(child: Child, timeout: float = 0.0) -> Outcome | None:
    """The child's outcome once it has finished (or run out of time); None while it runs."""
    ready, _, _ = select.select([child.fd], [], [], max(0.0, timeout))
    if ready:
        chunk = os.read(child.fd, 65536)
        if chunk:
            child.data += chunk
            return None
        return _finish(child)
    if time.monotonic() > child.deadline:
        _stop_hung(child.pid)
        os.close(child.fd)
        return Outcome(HANG, f"no result after {child.deadline - child.started:.1f} s",
                       _output(child.workdir), time.monotonic() - child.started)
    return None


def run(sector: bytes, workdir: Path, seconds: float, deterministic: bool = True,
        grace: float = 5.0) -> Outcome:
    child = start(sector, workdir, seconds, deterministic, grace)
    while True:
        outcome = poll(child, 0.05)
        if outcome is not None:
            return outcome


def _stop_hung(pid: int) -> None:
    """SIGABRT first (the child's faulthandler writes every thread's stack to its
    output), SIGKILL if it is still there a second later."""
    os.kill(pid, signal.SIGABRT)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _finish(child: Child) -> Outcome:
    os.close(child.fd)
    _, status = os.waitpid(child.pid, 0)
    elapsed = time.monotonic() - child.started
    code = os.waitstatus_to_exitcode(status)
    output = _output(child.workdir)
    if code < 0:
        name = signal.Signals(-code).name
        return Outcome(HOST_CRASH, f"killed by {name}", output, elapsed)
    try:
        result = json.loads(child.data.decode())
    except ValueError:
        return Outcome(HOST_CRASH, f"exit status {code} without a result", output, elapsed)
    return Outcome(result["kind"], result["detail"], output, elapsed)


def _output(workdir: Path) -> str:
    try:
        return (workdir / "output.txt").read_text(errors="replace")[-20000:]
    except OSError:
        return ""


# ------------------------------------------------------------------------------ child
def _child(image: Path, output: Path, seconds: float, deterministic: bool, grace: float,
           result_fd: int) -> None:
    code = 0
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        # the parent's sys.stdout/stderr may be a test runner's capture objects
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives until _exit
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        faulthandler.enable(file=sys.stderr)  # a crash's Python stack goes to output.txt
        import logging

        logging.basicConfig(level=logging.WARNING, force=True)
        try:
            result = (_boot_lockstep if deterministic else _boot_threaded)(image, seconds, grace)
        except BaseException as exc:  # noqa: BLE001 - the outcome is the point
            traceback.print_exc()
            result = {"kind": TRACEBACK, "detail": repr(exc)}
            code = 1
        os.write(result_fd, json.dumps(result).encode())
    finally:
        os._exit(code)


def _crash_result(crash) -> dict[str, str]:
    kind = GUEST_CRASH
    if crash.reason.startswith(INTERNAL_PREFIXES):
        kind = INTERNAL
    elif crash.reason.startswith(ENGINE_PREFIX):
        kind = ENGINE_CRASH
    return {"kind": kind, "detail": f"{crash.reason}\n{crash.report}"}


def _boot_lockstep(image: Path, seconds: float, grace: float) -> dict[str, str]:
    from vmgui.core.machine import MachineConfig
    from vmgui.host.lockstep import LockstepHost

    host = LockstepHost(MachineConfig(floppies=(image,), memory_mb=16))
    host.start()
    host.wait(seconds)
    host.poll_events()
    host.power_off()
    if host.crash is not None:
        return _crash_result(host.crash)
    return {"kind": OK, "detail": ""}


def _boot_threaded(image: Path, seconds: float, grace: float) -> dict[str, str]:
    from vmgui.core.machine import MachineConfig
    from vmgui.host.thread import ThreadHost

    host = ThreadHost(MachineConfig(floppies=(image,), memory_mb=16))
    host.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        host.poll_events()
        if host.crash is not None:
            break
        host.wait(0.01)
    told = time.monotonic()
    host.power_off(timeout=grace / 2)
    if host.alive:
        return {"kind": STOP_HANG,
                "detail": f"still running {time.monotonic() - told:.1f} s after PowerOff"}
    if host.error is not None:
        return {"kind": TRACEBACK, "detail": repr(host.error)}
    if host.crash is not None:
        return _crash_result(host.crash)
    return {"kind": OK, "detail": ""}
