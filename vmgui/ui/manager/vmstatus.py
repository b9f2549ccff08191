"""What a VM's folder says about a VM this manager does not run: runs in another
process, or has a saved state waiting to be resumed.

Owns: :class:`FolderStatus` and :func:`probe` (a few ``stat`` calls and the small run
lock file: cheap enough for the list's periodic refresh).  The run lock is
:mod:`vmgui.config.runlock`'s; the saved state is ``vmgui.config.snapshots.saved_state_path``.
No Qt.

Thread rule: any thread; nothing here keeps state.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from vmgui.config.runlock import running_pid
from vmgui.config.snapshots import saved_state_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderStatus:
    """``other_pid``: the live process (not this one) running the VM, else None;
    ``saved``: a saved state is waiting to be resumed."""

    other_pid: int | None = None
    saved: bool = False


NOTHING = FolderStatus()


def probe(folder: Path) -> FolderStatus:
    """The VM in ``folder`` as its files show it (never raises)."""
    try:
        pid = running_pid(folder)
    except OSError:
        log.debug("%s: cannot read the run lock", folder, exc_info=True)
        pid = None
    if pid == os.getpid():
        pid = None  # this manager runs it: the runner knows better
    try:
        saved = saved_state_path(folder).is_file()
    except OSError:
        saved = False
    return FolderStatus(pid, saved)
