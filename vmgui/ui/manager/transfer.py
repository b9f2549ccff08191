"""Copies of VMs behind the manager's actions: clone (from the current state or a
snapshot), export to a tar archive, import one.

Owns: :class:`CloneDialog` (the new name and where to copy from), :func:`clone`,
:func:`export`, :func:`import_archive`, and :func:`archive_name` (the VM name an archive
carries, to ask for another before importing when it is taken).  The library work is
``vmgui.config.snapshots.clone_vm`` / ``Library.clone`` and ``vmgui.config.archive``
(``docs/snapshots.md``); here only the choosing, asking and reporting.

Each function takes the :class:`~vmgui.ui.manager.window.ManagerWindow` (``manager``):
its library, its ``confirm`` flag (False: no dialogs, the defaults given are used) and
its error reporting.  Thread rule: GUI thread only.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QWidget,
)

from vmgui.config import archive, safefile
from vmgui.config import snapshots as snap_mod
from vmgui.config.library import LibraryError, VmEntry
from vmgui.config.schema import ConfigError
from vmgui.storage.image import DiskImageError
from vmgui.storage.overlay import OverlayError
from vmgui.ui.manager import library_ops

ERRORS = (LibraryError, ConfigError, DiskImageError, OSError, OverlayError,
          snap_mod.SnapshotError, archive.ArchiveError)


class CloneDialog(QDialog):
    """The name of the copy and its source: the current state or one of the snapshots."""

    def __init__(self, entry: VmEntry, suggested: str, snapshot: str | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Clone {0}").format(entry.name))
        form = QFormLayout(self)
        self.name = QLineEdit(suggested, self)
        self.name.setAccessibleName(self.tr("Name of the copy"))
        self.source = QComboBox(self)
        self.source.setAccessibleName(self.tr("Copy from"))
        self.source.addItem(self.tr("Current state"), None)
        try:
            nodes = snap_mod.Snapshots(entry.folder).list()
        except snap_mod.SnapshotError:
            nodes = []
        for node in nodes:
            self.source.addItem("  " * node.depth + self.tr("Snapshot {0}").format(
                node.snapshot.name), node.snapshot.id)
            if node.snapshot.id == snapshot:
                self.source.setCurrentIndex(self.source.count() - 1)
        form.addRow(self.tr("&Name:"), self.name)
        form.addRow(self.tr("Copy &from:"), self.source)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> tuple[str, str | None]:
        return self.name.text().strip(), self.source.currentData()


def clone(manager, entry: VmEntry, new_name: str | None,
          snapshot: str | None) -> VmEntry | None:
    """Clone ``entry`` as ``new_name`` (None: ask, or a free name without questions) at
    ``snapshot`` (None: the current state)."""
    tr = manager.tr
    if new_name is None:
        suggested = library_ops.free_name(manager.library, tr("{0} Clone").format(entry.name))
        if manager.confirm:
            dialog = CloneDialog(entry, suggested, snapshot, manager)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            new_name, snapshot = dialog.values()
        else:
            new_name = suggested
    if snapshot is None and manager.runner.is_running(entry.name):
        manager._error(tr("Cannot clone {0}").format(entry.name),
                       tr("Power off {0} to copy its current state, or clone one of its "
                          "snapshots").format(entry.name))
        return None
    try:
        snaps = snap_mod.Snapshots(entry.folder)
        if snapshot is not None or snaps.snapshots:  # chains get flattened
            return snap_mod.clone_vm(manager.library, entry.name, new_name.strip(), snapshot)
        return manager.library.clone(entry.name, new_name.strip())
    except ERRORS as exc:
        manager._error(tr("Cannot clone {0}").format(entry.name), str(exc))
        return None


def export(manager, entry: VmEntry, target: Path | None) -> Path | None:
    """Export ``entry`` to the tar ``target`` (None: ask where).  An existing file is
    replaced only when the user chose it in the Save dialog, which asked about it first,
    and only if it is a regular file (export_vm refuses a device, FIFO, socket or
    folder whatever the dialog said); a ``target`` given by the caller never replaces
    anything."""
    tr = manager.tr
    if manager.runner.is_running(entry.name):
        manager._error(tr("Cannot export {0}").format(entry.name),
                       tr("Power off {0} first: its disks are in use").format(entry.name))
        return None
    confirmed = False
    if target is None:
        chosen, _filter = QFileDialog.getSaveFileName(
            manager, tr("Export {0}").format(entry.name),
            str(Path.home() / f"{entry.name}.tar"), tr("VM archives (*.tar)"))
        if not chosen:
            return None
        target, confirmed = Path(chosen), True  # the dialog asked before replacing
    try:
        written = archive.export_vm(manager.library, entry.name, Path(target),
                                    force=confirmed and _regular_file(Path(target)))
    except ERRORS as exc:
        manager._error(tr("Cannot export {0}").format(entry.name), str(exc))
        return None
    manager.statusBar().showMessage(tr("{0} exported to {1}").format(entry.name, written), 8000)
    return written


def _regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (following a link), the only kind of file
    an export may replace."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def archive_name(source: Path) -> str | None:
    """The VM name in an archive's manifest (None when it cannot be read: the import
    itself then says what is wrong).  Only a regular file is opened: a FIFO picked in
    the Open dialog would block the manager."""
    try:
        with archive.open_archive(source) as fh, tarfile.open(fileobj=fh) as tar:
            member = tar.extractfile(archive.MANIFEST)
            raw = member.read(archive.MAX_MANIFEST_BYTES) if member is not None else b"{}"
            data = safefile.parse_json(raw)  # deep nesting: ValueError, not a crash
    except (OSError, KeyError, ValueError, tarfile.TarError, archive.ArchiveError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def import_archive(manager, source: Path | None, new_name: str | None) -> VmEntry | None:
    """Import the archive ``source`` (None: ask which); when its VM name is taken, ask
    for another (without questions: a free name)."""
    tr = manager.tr
    if source is None:
        chosen, _filter = QFileDialog.getOpenFileName(
            manager, tr("Import a virtual machine"), str(Path.home()),
            tr("VM archives (*.tar);;All files (*)"))
        if not chosen:
            return None
        source = Path(chosen)
    name = new_name or archive_name(Path(source))
    if name is not None and name in manager.library:
        suggested = library_ops.free_name(manager.library, name)
        if manager.confirm:
            name, ok = QInputDialog.getText(
                manager, tr("Import a virtual machine"),
                tr("A VM called {0} already exists. Name of the imported VM:").format(name),
                QLineEdit.EchoMode.Normal, suggested)
            if not ok:
                return None
        else:
            name = suggested
    try:
        entry = archive.import_vm(manager.library, Path(source), name.strip() if name else None)
    except ERRORS as exc:
        manager._error(tr("Cannot import {0}").format(Path(source).name), str(exc))
        return None
    manager.statusBar().showMessage(tr("{0} imported").format(entry.name), 8000)
    return entry
