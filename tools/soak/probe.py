"""What the soak reads about a process from ``/proc`` (Linux): resident memory, threads,
open file descriptors, memory mappings, child processes.  Every reader returns None when
the process has gone (it may exit between two reads).

Owns: the readers and :data:`FIELDS`, the column layout of ``samples.csv``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")

# columns of samples.csv: the manager, then each VM (vmN_...: N = 1, 2 in library order)
MANAGER_FIELDS = ("t_s", "phase", "cycle", "mgr_rss_kb", "mgr_hwm_kb", "mgr_threads",
                  "mgr_fds", "mgr_maps", "mgr_children", "none_refcount",
                  "none_refcount_min", "gc_objects")
VM_FIELDS = ("pid", "rss_kb", "threads", "state", "frames")
VM_COLUMNS = 2


def vm_fields(index: int) -> tuple[str, ...]:
    return tuple(f"vm{index}_{name}" for name in VM_FIELDS)


FIELDS = MANAGER_FIELDS + tuple(f for i in range(1, VM_COLUMNS + 1) for f in vm_fields(i))


def status(pid: int | str = "self") -> dict[str, int] | None:
    """VmRSS, VmHWM (kB) and Threads from ``/proc/PID/status``."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def count_entries(pid: int | str, what: str) -> int | None:
    """Entries of ``/proc/PID/fd`` (``what="fd"``) or lines of ``/proc/PID/maps``."""
    path = PROC / str(pid) / what
    try:
        if what == "maps":
            with path.open("rb") as fh:
                return sum(1 for _ in fh)
        return sum(1 for _ in path.iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return None


def fd_kinds(pid: int | str = "self") -> dict[str, int] | None:
    """Open descriptors by kind (pipe, socket, anon_inode:[eventfd], or the file's path)."""
    kinds: dict[str, int] = {}
    try:
        fds = list((PROC / str(pid) / "fd").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return None
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        kind = target.split(":[")[0] if target.startswith(("pipe:", "socket:")) else target
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def children(pid: int | str = "self") -> list[int] | None:
    """Process ids of ``pid``'s children (all its threads' children)."""
    task = PROC / str(pid) / "task"
    try:
        threads = list(task.iterdir())
    except FileNotFoundError:
        return None
    found: list[int] = []
    for thread in threads:
        try:
            found += [int(p) for p in (thread / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return sorted(set(found))


def process_row(pid: int | str = "self") -> dict[str, int | None]:
    """The manager's columns that come from /proc (``mgr_...``)."""
    st = status(pid) or {}
    kids = children(pid)
    return {"mgr_rss_kb": st.get("VmRSS"), "mgr_hwm_kb": st.get("VmHWM"),
            "mgr_threads": st.get("Threads"), "mgr_fds": count_entries(pid, "fd"),
            "mgr_maps": count_entries(pid, "maps"),
            "mgr_children": None if kids is None else len(kids)}


def vm_row(index: int, pid: int | None, state: str, frames: int | None) -> dict:
    """VM ``index``'s columns (``vmN_...``); pid None: not running."""
    st = status(pid) if pid else None
    values = (pid, None if st is None else st.get("VmRSS"),
              None if st is None else st.get("Threads"), state, frames)
    return dict(zip(vm_fields(index), values, strict=True))
