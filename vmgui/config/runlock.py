"""Which process runs a library VM: a lock file in the VM's folder.

Owns: :func:`pid_alive` and :func:`process_token` (is a process alive, and is it the same
one: also used by try-out sessions' owner files), :class:`RunLock` (an exclusive
``flock`` on ``<vm folder>/running.lock``, with the holder's pid and start token written
inside) and :func:`running_pid` (who holds it, read without locking). Two processes
running one VM would write its disks at the same time and corrupt them; every way of
running a library VM takes this lock first: the manager (for each VM it starts; its VM
processes end with it), ``vmgui start`` (the headless VM process, or the process showing
the console window) and ``vmgui run NAME``.

The kernel drops the lock when its holder exits, however it exits, so a crash leaves no
stale lock; the pid in the file is only for messages and for :func:`running_pid`, which
also checks that the process is alive (and is the same process: start token).

Thread rules: a :class:`RunLock` belongs to the code that acquired it; :func:`running_pid`
may be called from anywhere.  Nothing here keeps module state.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: the pid file alone (no kernel lock)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_FILE = "running.lock"
MAX_LOCK_BYTES = 4096  # what vmgui writes there is under 100 bytes


def _proc_stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from the state field on (Linux); None when not readable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def process_token(pid: int) -> str | None:
    """Tells one process from a later one with the same pid (this boot's id and the
    process's start time; Linux only, else None)."""
    fields = _proc_stat(pid)
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    if fields is None or len(fields) < 20:
        return None
    return f"{boot}/{fields[19]}"


def _alive_windows(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        return not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value == 259
    finally:
        kernel32.CloseHandle(handle)


def pid_alive(pid: int, token: str | None = None) -> bool:
    """Is process ``pid`` running (not a zombie)?  With ``token`` (see
    :func:`process_token`) a different process that got the same pid counts as dead."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    except OSError:
        return False
    fields = _proc_stat(pid)
    if fields and fields[0] in ("Z", "X"):
        return False
    if token:
        now = process_token(pid)
        if now is not None and now != token:
            return False
    return True


class VmBusyError(Exception):
    """The VM already runs in another process; the message names it and its pid."""


def _read(path: Path) -> tuple[int, str] | None:
    """(pid, token) in the lock file; None when it is empty, missing or not one vmgui
    wrote (a link, a FIFO, garbage: never followed, waited on or trusted)."""
    try:
        fd = _open_lock(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        raw = os.read(fd, MAX_LOCK_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        data = json.loads(raw or b"{}") if len(raw) <= MAX_LOCK_BYTES else None
        return int(data["pid"]), str(data.get("token", ""))
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def _open_lock(path: Path, flags: int) -> int:
    """Open the lock file without following a link at its place (ELOOP: refused, so
    nothing is written through one) or blocking on a FIFO; only a regular file."""
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and os.path.islink(path)):
            raise OSError(exc.errno, f"{path} is a symbolic link, which vmgui does not "
                                     "follow; remove it") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file; remove it")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def running_pid(folder: Path) -> int | None:
    """The pid of the live process running the VM in ``folder``, else None."""
    found = _read(Path(folder) / LOCK_FILE)
    if found is None:
        return None
    pid, token = found
    return pid if pid_alive(pid, token) else None


class RunLock:
    """Held while this process runs the VM in ``folder``; :meth:`release` (or exiting)
    gives it up.  Use :meth:`acquire`."""

    def __init__(self, folder: Path, fd: int) -> None:
        self.folder = Path(folder)
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, folder: Path, name: str) -> RunLock:
        """Take the VM's lock or raise :class:`VmBusyError` ("NAME is already running
        (process N)"); OSError when the folder cannot hold the file or something other
        than a regular file is at its place (a symbolic link is never written through)."""
        path = Path(folder) / LOCK_FILE
        fd = _open_lock(path, os.O_RDWR | os.O_CREAT)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise VmBusyError(_busy(name, _read(path))) from None
            else:
                pid = running_pid(folder)
                if pid is not None and pid != os.getpid():
                    raise VmBusyError(_busy(name, (pid, "")))
            data = json.dumps({"pid": os.getpid(), "token": process_token(os.getpid()) or ""})
            os.ftruncate(fd, 0)
            os.pwrite(fd, data.encode("utf-8"), 0)
        except BaseException:
            os.close(fd)
            raise
        log.debug("%s: run lock taken by process %d", name, os.getpid())
        return cls(folder, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (the file stays, emptied: a later reader finds no pid)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _busy(name: str, found: tuple[int, str] | None) -> str:
    who = f" (process {found[0]})" if found is not None else ""
    return (f"{name} is already running{who}; two processes running one VM would corrupt "
            "its disks")
