"""Noticing changes made to the library outside this manager (``vmgui create``, an editor
on a ``vm.toml``, ``vmgui start`` saving a state).

Owns: :class:`LibraryWatcher`, a :class:`QFileSystemWatcher` on the library root (or,
while it does not exist, the nearest folder above it), each VM folder and each
``vm.toml``.  Changes are gathered for :data:`SETTLE_MS` and then reported once through
:attr:`LibraryWatcher.changed`; the owner reads the library again and calls
:meth:`LibraryWatcher.watch` with the new entries (``vm.toml`` is replaced atomically,
which drops its watch).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from vmgui.config.library import VmEntry

log = logging.getLogger(__name__)

SETTLE_MS = 300  # a CLI command writes several files: one refresh for them all


def _existing_ancestor(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return None


class LibraryWatcher(QObject):
    """Watches ``root`` and the VMs given to :meth:`watch`; ``changed()`` after a
    change settled."""

    changed = Signal()

    def __init__(self, root: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = Path(root)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_change)
        self._watcher.fileChanged.connect(self._on_change)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.changed)

    def watch(self, entries: list[VmEntry]) -> None:
        """Watch the root and these VMs (instead of whatever was watched before)."""
        wanted: set[str] = set()
        top = _existing_ancestor(self.root)
        if top is not None:
            wanted.add(str(top))
        for entry in entries:
            for path in (entry.folder, entry.config_path):
                if path.exists():
                    wanted.add(str(path))
        watched = set(self._watcher.files()) | set(self._watcher.directories())
        gone = sorted(watched - wanted)
        new = sorted(wanted - watched)
        if gone:
            self._watcher.removePaths(gone)
        if new:
            failed = self._watcher.addPaths(new)
            if failed:
                log.debug("cannot watch %s", ", ".join(failed))

    def watched(self) -> list[str]:
        return sorted(set(self._watcher.files()) | set(self._watcher.directories()))

    def _on_change(self, path: str) -> None:
        log.debug("library changed: %s", path)
        self._settle.start()
