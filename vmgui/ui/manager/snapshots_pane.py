"""The Snapshots pane: the selected VM's snapshot tree, with Take, Restore, Delete, Clone.

Owns: :class:`SnapshotsPane` (a tree of the snapshots -- name, when taken -- with the
current state as "Current State" under the snapshot it grows from; the selected
snapshot's description and thumbnail; the actions on it), :class:`TakeSnapshotDialog`
(name and description), :func:`save_live_state` (a running VM's machine state to a
file, through its host) and :func:`tryout_ended` (a try-out VM powered off: its disk
changes are discarded, or kept as snapshots if the user says so).  The rules of the tree
are ``vmgui.config.snapshots``'s (``docs/snapshots.md``), as in VirtualBox's snapshot view.

Running VMs: Take sends the VM a SaveState carrying the paths of new disk layers; in
one pause the VM saves its machine state, freezes each writable disk and continues on a
new copy-on-write layer it creates itself, so RAM and disks are frozen at the same
instant.  Then the tree records the snapshot with those layers.  Try-out VMs are refused
(their changes are kept or discarded at power-off).  Restore on a running VM powers it
off, restores and starts it again (from the snapshot's state when it has one); Delete
saves its state, powers it off, merges and resumes it.  Clone reads frozen layers only.

``manager.confirm`` False (tests): no questions, errors in the status bar.

Thread rule: GUI thread only.
"""

from __future__ import annotations

import contextlib
import html
import logging
import secrets
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QDateTime, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vmgui.config import snapshots as snap_mod
from vmgui.config import tryout as tryout_mod
from vmgui.config.library import LibraryError, VmEntry
from vmgui.config.schema import ConfigError
from vmgui.core import events as ev
from vmgui.storage.overlay import OverlayError

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole + 1  # snapshot id; "" on the Current State row
SAVE_TIMEOUT_S = 15.0
THUMB_WIDTH = 256


class LiveSnapshotError(Exception):
    """A running VM's state could not be saved; the message says why."""


def save_live_state(host, path: Path, timeout: float = SAVE_TIMEOUT_S,
                    on_event=None, new_layers: tuple[tuple[int, str], ...] = (),
                    power_off: bool = False) -> float:
    """Have a running VM write its machine state to ``path``; returns the seconds from
    sending ``SaveState`` to its ``StateSaved`` (the guest is held for about that long).
    ``power_off``: the VM powers off in the same pause once saved (nothing runs after
    the saved instant).  Polls ``host.poll_events()`` (passing each event to
    ``on_event``, e.g. the console's handler, which would otherwise not see it) and reads
    ``host.state_files``, so it works whoever drains the events.  Raises
    :class:`LiveSnapshotError`."""
    target = str(path)
    seen = len(host.state_files)
    start = time.perf_counter()
    host.send(ev.SaveState(target, new_layers, power_off=power_off))
    deadline = time.monotonic() + timeout

    def pump() -> bool:
        events = host.poll_events()
        if on_event is not None:
            for event in events:
                on_event(event)
        return bool(events)

    while True:
        alive = host.alive  # read before the results: a power-off follows the answer
        for result in host.state_files[seen:]:
            if isinstance(result, ev.StateSaved) and result.path == target:
                elapsed = time.perf_counter() - start
                if result.error is not None:
                    raise LiveSnapshotError(result.error)
                return elapsed
        if not alive:
            if pump():
                continue  # the answer may have come with the last events
            raise LiveSnapshotError("the VM stopped before its state was saved")
        if time.monotonic() > deadline:
            raise LiveSnapshotError("saving the machine state did not finish in time")
        if not pump():
            time.sleep(0.002)


class TakeSnapshotDialog(QDialog):
    """Name and description of a new snapshot."""

    def __init__(self, vm_name: str, suggested: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Take a snapshot of {0}").format(vm_name))
        form = QFormLayout(self)
        self.name = QLineEdit(suggested, self)
        self.name.setAccessibleName(self.tr("Snapshot name"))
        self.name.selectAll()
        self.description = QPlainTextEdit(self)
        self.description.setAccessibleName(self.tr("Snapshot description"))
        self.description.setTabChangesFocus(True)
        self.description.setFixedHeight(90)
        form.addRow(self.tr("&Name:"), self.name)
        form.addRow(self.tr("&Description:"), self.description)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.name.textChanged.connect(lambda text: buttons.button(
            QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip())))
        form.addRow(buttons)

    def values(self) -> tuple[str, str]:
        return self.name.text().strip(), self.description.toPlainText().strip()


class SnapshotsPane(QWidget):
    """The snapshots of one VM.  ``manager`` is the :class:`ManagerWindow` (its library,
    runner, messages and clone); call :meth:`show_entry` when the selection changes."""

    def __init__(self, manager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.entry: VmEntry | None = None
        self.last_pause_s: float | None = None  # the last live snapshot's save time
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._build_actions()
        layout.addWidget(self.toolbar)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels([self.tr("Name"), self.tr("Taken")])
        self.tree.setAccessibleName(self.tr("Snapshots"))
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.currentItemChanged.connect(lambda *_: self._on_current())
        self.tree.itemActivated.connect(lambda *_: self._on_activated())
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for action in self.actions.values():
            self.tree.addAction(action)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setAccessibleName(self.tr("Snapshot details"))
        self.thumbnail = QLabel(self)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setAccessibleName(self.tr("Snapshot screen"))
        bottom = QWidget(self)
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(6, 0, 6, 6)
        bottom_layout.addWidget(self.info)
        bottom_layout.addWidget(self.thumbnail)
        bottom_layout.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.tree)
        splitter.addWidget(bottom)
        splitter.setSizes([240, 260])
        splitter.setChildrenCollapsible(False)
        layout.addWidget(splitter)
        self.show_entry(None)

    def _build_actions(self) -> None:
        tr = self.tr
        self.toolbar = QToolBar(tr("Snapshot actions"), self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.actions: dict[str, QAction] = {}
        for key, text, slot, shortcut, tip in (
                ("take", tr("&Take…"), self.take_snapshot, None,  # the window's Ctrl+Shift+T
                 tr("Take a snapshot of the current state")),
                ("restore", tr("&Restore"), self.restore_snapshot, "Ctrl+Shift+R",
                 tr("Go back to the selected snapshot")),
                ("delete", tr("&Delete"), self.delete_snapshot, "Ctrl+Shift+Del",
                 tr("Delete the selected snapshot (the disks of the others are kept)")),
                ("clone", tr("&Clone…"), self.clone_snapshot, "Ctrl+Shift+O",
                 tr("A new virtual machine from the selected snapshot"))):
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
            action.setToolTip(tip)
            action.setStatusTip(tip)
            self.actions[key] = action
            self.addAction(action)
            self.toolbar.addAction(action)
            button = self.toolbar.widgetForAction(action)
            if button is not None:
                button.setAccessibleName(text.replace("&", "").rstrip("…"))

    # ------------------------------------------------------------------ showing
    def _snapshots(self) -> snap_mod.Snapshots | None:
        if self.entry is None or self.entry.config is None:
            return None
        try:
            return snap_mod.Snapshots(self.entry.folder)
        except snap_mod.SnapshotError as exc:
            self.info.setText(html.escape(str(exc)))
            return None

    def _running_vm(self):
        if self.entry is None:
            return None
        vm = self.manager.runner.get(self.entry.name)
        return vm if vm is not None and vm.host.alive else None

    def show_entry(self, entry: VmEntry | None) -> None:
        """Show ``entry``'s snapshots (None: nothing), keeping the selected row."""
        keep = self.selected_id() if entry is not None and self.entry is not None \
            and entry.name == self.entry.name else None
        self.entry = entry
        self.tree.clear()
        snaps = self._snapshots()
        items: dict[str, QTreeWidgetItem] = {}
        if snaps is not None:
            for node in snaps.list():
                s = node.snapshot
                parent = items.get(s.parent)
                item = QTreeWidgetItem([s.name, _when(s.created)])
                item.setData(0, ID_ROLE, s.id)
                item.setToolTip(0, s.description or s.name)
                (parent.addChild(item) if parent is not None
                 else self.tree.addTopLevelItem(item))
                items[s.id] = item
            current = QTreeWidgetItem([self.tr("Current State"), ""])
            current.setData(0, ID_ROLE, "")
            font = current.font(0)
            font.setBold(True)
            current.setFont(0, font)
            current.setToolTip(0, self.tr("The machine as it is now"))
            parent = items.get(snaps.current_id)
            (parent.addChild(current) if parent is not None
             else self.tree.addTopLevelItem(current))
            self.tree.expandAll()
            self.tree.resizeColumnToContents(0)
            self.tree.setCurrentItem(items.get(keep, current) if keep else current)
        self._on_current()

    def refresh(self) -> None:
        self.show_entry(self.entry)

    def selected_id(self) -> str | None:
        """The selected snapshot's id; "" for the Current State row; None for none."""
        item = self.tree.currentItem()
        return None if item is None else item.data(0, ID_ROLE)

    def item_texts(self) -> list[tuple[int, str]]:
        """(depth, name) of every row, depth-first (tests, accessibility checks)."""
        out: list[tuple[int, str]] = []

        def walk(item: QTreeWidgetItem, depth: int) -> None:
            out.append((depth, item.text(0)))
            for i in range(item.childCount()):
                walk(item.child(i), depth + 1)

        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i), 0)
        return out

    def _on_current(self) -> None:
        sid = self.selected_id()
        snaps = self._snapshots() if sid else None
        snap = None
        if snaps is not None:
            with contextlib.suppress(snap_mod.SnapshotError):
                snap = snaps.get(sid)
        self._show_details(snaps, snap)
        self._update_actions(snap is not None)

    def _show_details(self, snaps, snap) -> None:
        self.thumbnail.clear()
        if self.entry is None or self.entry.config is None:
            self.info.setText(self.tr("No virtual machine selected"))
            return
        if snap is None:
            self.info.setText(self.tr(
                "<b>Current State</b><br>The machine as it is now. Take a snapshot to be "
                "able to come back to it."))
            return
        state = (self.tr("Machine state saved (it resumes where it was)") if snap.state
                 else self.tr("Taken powered off"))
        self.info.setText("<b>{}</b><br>{}<br>{}<br><br>{}".format(
            html.escape(snap.name), html.escape(_when(snap.created)), html.escape(state),
            html.escape(snap.description or self.tr("No description")).replace("\n", "<br>")))
        if snap.thumbnail:
            pixmap = QPixmap(str(snaps.resolve(snap.thumbnail)))
            if not pixmap.isNull():
                self.thumbnail.setPixmap(pixmap.scaledToWidth(
                    min(THUMB_WIDTH, pixmap.width()),
                    Qt.TransformationMode.SmoothTransformation))

    def _update_actions(self, on_snapshot: bool) -> None:
        ok = self.entry is not None and self.entry.config is not None \
            and self.manager.model.folder_status(self.entry).other_pid is None  # its files
        running = ok and self._running_vm() is not None
        a = self.actions
        a["take"].setEnabled(ok)
        for key, verb in (("restore", self.tr("restore")), ("delete", self.tr("delete"))):
            a[key].setEnabled(ok and on_snapshot)
            if not on_snapshot:
                a[key].setToolTip(self.tr("Select a snapshot to {0} it").format(verb))
        if on_snapshot:
            a["restore"].setToolTip(
                self.tr("Go back to the selected snapshot (a running VM is powered off "
                        "and started again from it)") if running else
                self.tr("Go back to the selected snapshot"))
            a["delete"].setToolTip(
                self.tr("Delete the selected snapshot (a running VM is saved, and resumed "
                        "after the merge)") if running else
                self.tr("Delete the selected snapshot (the disks of the others are kept)"))
        a["clone"].setEnabled(ok and on_snapshot)

    def _on_activated(self) -> None:
        if self.actions["restore"].isEnabled():
            self.restore_snapshot()

    # ------------------------------------------------------------------ actions
    def _fail(self, title: str, exc: Exception | str) -> None:
        self.manager._error(title, str(exc))

    def _ask_take(self, snaps: snap_mod.Snapshots) -> tuple[str, str] | None:
        n = len(snaps.snapshots) + 1
        names = {s.name.casefold() for s in snaps.snapshots}
        while self.tr("Snapshot {0}").format(n).casefold() in names:
            n += 1
        suggested = self.tr("Snapshot {0}").format(n)
        if not self.manager.confirm:
            return suggested, ""
        dialog = TakeSnapshotDialog(self.entry.name, suggested, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()

    def take_snapshot(self, name: str | None = None, description: str | None = None):
        """Take a snapshot of the VM (asks the name and description when ``name`` is
        None); returns the new Snapshot, or None (refused, cancelled or failed)."""
        snaps = self._snapshots()
        if snaps is None:
            return None
        if name is None:
            asked = self._ask_take(snaps)
            if asked is None:
                return None
            name, description = asked
        vm = self._running_vm()
        title = self.tr("Cannot take a snapshot of {0}").format(self.entry.name)
        try:
            if vm is None:
                snap = snaps.take(name, description or "")
            else:
                snap = self._take_live(snaps, vm, name, description or "")
        except (snap_mod.SnapshotError, LiveSnapshotError, OSError) as exc:
            self._fail(title, exc)
            return None
        if snap is None:
            return None
        self.manager.statusBar().showMessage(
            self.tr("Snapshot {0} of {1} taken").format(snap.name, self.entry.name), 8000)
        self.manager.reload(select=self.entry.name)
        self.refresh()
        return snap

    def _take_live(self, snaps: snap_mod.Snapshots, vm, name: str, description: str):
        if vm.tryout_dir is not None:
            self._fail(self.tr("Cannot take a snapshot of {0}").format(self.entry.name),
                       self.tr("{0} runs in try-out mode: its changes are thrown away at "
                               "power-off (you can keep them as a snapshot then).").format(
                           self.entry.name))
            return None
        # The VM freezes its writable disks in the same pause as its machine state and
        # goes on writing to new layers it creates at these paths.
        layers = snaps.new_layer_paths()
        numbers = {slot: number for number, slot in snap_mod.DRIVE_SLOTS.items()}
        new_layers = tuple((numbers[slot], str(path)) for slot, path in layers.items())
        token = secrets.token_hex(6)
        with tempfile.TemporaryDirectory(prefix="vmgui-snapshot-") as tmp:
            state = Path(tmp) / f"{token}.state"
            on_event = getattr(vm.console, "_on_event", None)
            self.last_pause_s = save_live_state(vm.host, state, on_event=on_event,
                                                new_layers=new_layers)
            log.info("%s: live state saved in %.1f ms", vm.name, self.last_pause_s * 1000)
            thumb = self._thumbnail(vm, Path(tmp) / f"{token}.png")
            snap = snaps.take(name, description, state_from=state, thumbnail=thumb,
                              created_layers=layers)
        vm.writable = frozenset(p.resolve() for p in layers.values())
        return snap

    @staticmethod
    def _thumbnail(vm, path: Path) -> Path | None:
        from vmgui.ui.manager.running import screen_image

        image = screen_image(vm.host) or vm.screen
        if image is None or image.isNull() or not image.save(str(path), "PNG"):
            return None
        return path

    def _confirm(self, question: str) -> bool:
        if not self.manager.confirm:
            return True
        answer = QMessageBox.question(self, self.tr("Snapshots"), question,
                                      QMessageBox.StandardButton.Yes
                                      | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _target(self, sid: str | None) -> tuple[snap_mod.Snapshots, snap_mod.Snapshot] | None:
        snaps = self._snapshots()
        sid = sid if sid is not None else self.selected_id()
        if snaps is None or not sid:
            return None
        try:
            return snaps, snaps.get(sid)
        except snap_mod.SnapshotError as exc:
            self._fail(self.tr("Snapshots"), exc)
            return None

    def _stop_running(self, keep_state: bool) -> bool | None:
        """Before restoring or deleting on a running VM: power it off (after saving its
        state when ``keep_state``, so that it resumes where it was).  Returns True when
        it must be started again afterwards, False when it was not running, None when
        the user declined or the state could not be saved (nothing changed then)."""
        vm = self._running_vm()
        if vm is None:
            return False
        name = self.entry.name
        if vm.tryout_dir is not None:
            self._fail(self.tr("Snapshots"), self.tr("{0} runs in try-out mode: power it off "
                                                     "first").format(name))
            return None
        question = (self.tr("{0} is saved, powered off while the snapshot is merged, and "
                            "resumed.  Continue?") if keep_state else
                    self.tr("Restoring powers {0} off first: its current state is lost.  "
                            "Continue?")).format(name)
        if not self._confirm(question):
            return None
        if keep_state:
            try:
                save_live_state(vm.host, snap_mod.saved_state_path(self.entry.folder),
                                on_event=getattr(vm.console, "_on_event", None),
                                power_off=True)
            except LiveSnapshotError as exc:
                self._fail(self.tr("Cannot save the state of {0}").format(name), exc)
                return None
        self.manager.runner.power_off(name)
        return True

    def _start_again(self, restart: bool | None) -> None:
        if restart:
            self.manager.start_vm(self.entry.name)

    def restore_snapshot(self, sid: str | None = None) -> bool:
        """Go back to snapshot ``sid`` (default: the selected one); VM powered off."""
        target = self._target(sid)
        if target is None:
            return False
        snaps, snap = target
        if not self._confirm(self.tr("Restore {0}? The changes to the disks since the last "
                                     "snapshot are lost.").format(snap.name)):
            return False
        restart = self._stop_running(keep_state=False)
        if restart is None:
            return False
        try:
            snaps.restore(snap.id)
        except (snap_mod.SnapshotError, OSError) as exc:
            self._fail(self.tr("Cannot restore {0}").format(snap.name), exc)
            return False
        self._start_again(restart)  # resumes from the snapshot's machine state, if any
        self.manager.statusBar().showMessage(
            self.tr("{0} restored to snapshot {1}").format(self.entry.name, snap.name), 8000)
        self.manager.reload(select=self.entry.name)
        self.refresh()
        return True

    def delete_snapshot(self, sid: str | None = None) -> bool:
        """Delete snapshot ``sid`` (default: the selected one); VM powered off."""
        target = self._target(sid)
        if target is None:
            return False
        snaps, snap = target
        if not self._confirm(self.tr("Delete snapshot {0}? Its disk changes are merged into "
                                     "the next layer; the other snapshots stay as they are.")
                             .format(snap.name)):
            return False
        restart = self._stop_running(keep_state=True)
        if restart is None:
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            snaps.delete(snap.id)
        except (snap_mod.SnapshotError, OSError) as exc:
            self._fail(self.tr("Cannot delete {0}").format(snap.name), exc)
            self._start_again(restart)
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self._start_again(restart)  # resumes where it was saved
        self.manager.statusBar().showMessage(
            self.tr("Snapshot {0} deleted").format(snap.name), 8000)
        self.refresh()
        return True

    def clone_snapshot(self, sid: str | None = None, new_name: str | None = None):
        """A new VM from snapshot ``sid`` (default: the selected one): the manager's
        clone with that snapshot chosen; returns the new entry or None."""
        target = self._target(sid)
        if target is None:
            return None
        return self.manager.clone_vm(self.entry.name, new_name, snapshot=target[1].id)


# ---------------------------------------------------------------------- try-out
def tryout_ended(manager, vm) -> None:
    """A try-out VM powered off, its overlays still there: discard them (said in the
    status bar) or, if the user wants, keep them as a snapshot.  A keep that fails
    part-way leaves the session folder for :func:`vmgui.config.tryout.recover_tryout`
    (the next start of the VM, or the next manager) to finish."""
    try:
        changed = bool(tryout_mod.tryout_overlays(vm.folder, vm.tryout_dir))
    except (ConfigError, snap_mod.SnapshotError, OSError):
        changed = False
    keep = changed and _ask_keep_tryout(manager, vm.name)
    if keep:
        stamp = QDateTime.currentDateTime().toString("yyyy-MM-dd HH:mm:ss")
        try:
            snap = tryout_mod.keep_tryout(vm.folder, vm.tryout_dir,
                                          manager.tr("Before try-out {0}").format(stamp),
                                          manager.tr("Try-out {0}").format(stamp))
        except (snap_mod.SnapshotError, tryout_mod.TryoutError, OverlayError, LibraryError,
                OSError) as exc:
            if tryout_mod.keep_pending(vm.tryout_dir):
                tail = manager.tr(" (the changes stay in {0}; keeping them is tried again "
                                  "when {1} starts)").format(vm.tryout_dir, vm.name)
            else:
                tail = manager.tr(" (the changes were discarded)")
            manager._error(manager.tr("Cannot keep the try-out changes of {0}")
                           .format(vm.name), str(exc) + tail)
            return
        if snap is not None:
            manager.statusBar().showMessage(manager.tr(
                "{0}: the try-out changes were kept as snapshot {1}").format(
                vm.name, snap.name), 15000)
            QTimer.singleShot(0, manager.reload)
            return
    manager.statusBar().showMessage(manager.tr(
        "{0} ran in try-out mode: the changes to its disks were discarded").format(vm.name),
        15000)


def _ask_keep_tryout(manager, name: str) -> bool:
    if not manager.confirm:
        return manager.keep_tryout_default
    box = QMessageBox(QMessageBox.Icon.Question, manager.tr("Try-out mode"),
                      manager.tr("{0} ran in try-out mode. Discard the changes to its "
                                 "disks?").format(name), QMessageBox.StandardButton.NoButton,
                      manager)
    box.setInformativeText(manager.tr("Keep them as a snapshot: a snapshot of the state "
                                      "before the session and one with its changes are "
                                      "taken; the VM goes on from the changes."))
    discard = box.addButton(manager.tr("&Discard changes"),
                            QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton(manager.tr("&Keep them as a snapshot"),
                         QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(discard)
    box.exec()
    return box.clickedButton() is keep


def _when(created: str) -> str:
    """An ISO 8601 UTC time as local date and time (as stored when it cannot be read)."""
    import datetime as dt

    try:
        stamp = dt.datetime.fromisoformat(created)
    except ValueError:
        return created
    return stamp.astimezone().strftime("%Y-%m-%d %H:%M:%S")
