"""The console's Devices menu: insert and eject the CD and the floppies while the VM runs.

Owns: :class:`DevicesMenu` and what the machine's removable drives hold as the console
knows it (:func:`vmgui.ui.machines.media_of_machine` and ``media_of_vm`` for the start;
then every
:class:`~vmgui.core.events.MediaChanged` the machine answers with -- also those of
``vmgui control NAME media``, which reach the console the same way).  Inserting sends
:class:`~vmgui.core.events.ChangeMedia`; the machine opens and checks the image, so a
file that is not an ISO 9660 image, a missing file or a machine without that drive is
refused there, and the answer's error is shown in a (non-modal) message box.

Drives: "cdrom" on machines whose profile has a CD drive (always present, maybe empty);
"floppy-a"/"floppy-b" when the machine was started with that floppy drive (an image
attached to it in the settings); a drive the machine lacks is named in the menu, its
actions disabled.  A floppy goes in write-protected when the VM runs in try-out mode
(its throw-away overlays cover only the drives it started with: ``vmgui control`` does
the same) or when the file cannot be written.  The VM's settings are not changed.

Thread rule: GUI thread only; the machine is reached through ``send`` (``host.send``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from vmgui.core import events as ev
from vmgui.ui.media_files import FLOPPY_FILTER, ISO_FILTER

log = logging.getLogger(__name__)

#: drive -> (the drive as menu items say it, as the info line says it)
DRIVES = {"cdrom": ("CD", "CD/DVD:"), "floppy-a": ("floppy A:", "Floppy A:"),
          "floppy-b": ("floppy B:", "Floppy B:")}
NO_DRIVE = "This machine has no floppy drive {0}: attach a floppy image to it in the VM's " \
           "settings to have one."


def _sentence(item: str) -> str:
    """``floppy A:`` -> ``Floppy A:`` (``CD`` stays)."""
    return item[:1].upper() + item[1:]


class DevicesMenu(QObject):
    """Fills ``menu``; ``media``: drive -> image path or None, for the drives the machine
    has.  :meth:`on_media_changed` takes the machine's answers."""

    def __init__(self, window: QWidget, menu: QMenu, send: Callable[[ev.Command], None],
                 media: Mapping[str, str | None], *, tryout: bool = False) -> None:
        super().__init__(window)
        self.window, self.menu, self._send = window, menu, send
        self.media: dict[str, str | None] = dict(media)
        self.tryout = tryout
        self.pending: dict[str, str | None] = {}  # drive -> what this menu asked for
        self.error_box: QMessageBox | None = None
        known = [Path(p).parent for p in self.media.values() if p]
        self.last_dir = known[0] if known else Path.home()  # where file dialogs open
        self.enabled = True
        self.info: dict[str, QAction] = {}
        self.insert_actions: dict[str, QAction] = {}
        self.eject_actions: dict[str, QAction] = {}
        menu.setToolTipsVisible(True)
        for drive in DRIVES:
            if drive == "cdrom" and drive not in self.media:
                continue  # a machine without a CD drive: named once below
            self._add_drive(drive)
        if "cdrom" not in self.media:
            menu.addSeparator()
            none = menu.addAction(self.tr("No CD/DVD drive on this machine"))
            none.setEnabled(False)
        self.refresh()

    def _add_drive(self, drive: str) -> None:
        if self.info:
            self.menu.addSeparator()
        item, _title = DRIVES[drive]
        self.info[drive] = self.menu.addAction("")
        self.info[drive].setEnabled(False)
        insert = self.menu.addAction(self.tr("Insert {0}…").format(item))
        insert.triggered.connect(lambda _=False, d=drive: self.choose(d))
        eject = self.menu.addAction(self.tr("Eject {0}").format(item))
        eject.triggered.connect(lambda _=False, d=drive: self.eject(d))
        self.insert_actions[drive], self.eject_actions[drive] = insert, eject

    # ------------------------------------------------------------------ state
    def refresh(self) -> None:
        """Menu texts and enabled states from :attr:`media`."""
        for drive, info in self.info.items():
            _item, title = DRIVES[drive]
            present = drive in self.media
            path = self.media.get(drive)
            if not present:
                info.setText(self.tr("{0} no drive").format(title))
                why = self.tr(NO_DRIVE).format(title.split()[-1].rstrip(":"))
            elif path is None:
                info.setText(self.tr("{0} empty").format(title))
                why = ""
            else:
                info.setText(self.tr("{0} {1}").format(title, Path(path).name))
                why = path
            info.setToolTip(why)
            busy = drive in self.pending
            self.insert_actions[drive].setEnabled(self.enabled and present and not busy)
            self.eject_actions[drive].setEnabled(self.enabled and present and not busy
                                                 and path is not None)
            self.insert_actions[drive].setToolTip(why if not present else "")

    def set_enabled(self, enabled: bool) -> None:
        """Media change only while the machine runs (or is paused)."""
        self.enabled = enabled
        self.refresh()

    # ------------------------------------------------------------------ asking
    def choose(self, drive: str) -> None:
        """Ask for an image (file dialog), then insert it."""
        item, _title = DRIVES[drive]
        current = self.media.get(drive)
        start = Path(current).parent if current else self.last_dir
        path, _filter = QFileDialog.getOpenFileName(
            self.window, self.tr("Insert {0}").format(item), str(start),
            self.tr(ISO_FILTER if drive == "cdrom" else FLOPPY_FILTER))
        if path:
            self.last_dir = Path(path).parent
            self.insert(drive, path)

    def insert(self, drive: str, path: str) -> None:
        read_only = drive != "cdrom" and (self.tryout or not os.access(path, os.W_OK))
        self.pending[drive] = path
        log.info("%s: inserting %s%s", drive, path, " (write-protected)" if read_only else "")
        self._send(ev.ChangeMedia(drive, path, read_only))
        self.refresh()

    def eject(self, drive: str) -> None:
        self.pending[drive] = None
        log.info("%s: ejecting", drive)
        self._send(ev.ChangeMedia(drive, None))
        self.refresh()

    # ------------------------------------------------------------------ answers
    def on_media_changed(self, event: ev.MediaChanged) -> str:
        """Apply the machine's answer; returns the status-bar text for it."""
        asked = event.drive in self.pending
        self.pending.pop(event.drive, None)
        item, _title = DRIVES.get(event.drive, (event.drive, event.drive))
        if event.error is None:
            self.media[event.drive] = event.path
            self.refresh()
            if event.path is None:
                return self.tr("{0} ejected").format(_sentence(item))
            return self.tr("{0} inserted: {1}").format(_sentence(item), event.path)
        self.refresh()
        log.warning("%s: media change refused: %s", event.drive, event.error)
        if asked:
            self._show_error(item, event)
        return self.tr("{0}: {1}").format(_sentence(item), event.error)

    def _show_error(self, item: str, event: ev.MediaChanged) -> None:
        title = (self.tr("Cannot insert the {0}").format(item) if event.path is not None
                 else self.tr("Cannot eject the {0}").format(item))
        if self.error_box is not None:
            self.error_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, event.error,
                          QMessageBox.StandardButton.Close, self.window)
        box.setModal(False)
        box.show()
        self.error_box = box
