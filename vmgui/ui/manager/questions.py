"""The manager's questions to the user: yes/no on a VM, Remove (only / delete files),
Quit with running VMs.

Owns: :func:`ask_yes_no`, :func:`ask_remove` and :func:`ask_quit`.  Each takes the
:class:`~vmgui.ui.manager.window.ManagerWindow` (``manager``) and honours its
``confirm`` flag (False: no dialog, the default answer documented on each function).
Strings are translated in the window's context (``manager.tr``).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox

from vmgui.config.library import VmEntry

log = logging.getLogger(__name__)


def ask_yes_no(manager, title: str, question: str) -> bool:
    """Yes/No with No as the default; ``confirm=False``: yes."""
    if not manager.confirm:
        return True
    answer = QMessageBox.question(manager, title, question,
                                  QMessageBox.StandardButton.Yes
                                  | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def ask_remove(manager, entry: VmEntry) -> bool | None:
    """Remove only (True: keep the files), Delete all files (False) or Cancel (None);
    ``confirm=False``: remove only."""
    if not manager.confirm:
        return True
    tr = manager.tr
    box = QMessageBox(QMessageBox.Icon.Question, tr("Remove {0}").format(entry.name),
                      tr("Remove the virtual machine {0}?").format(entry.name),
                      QMessageBox.StandardButton.NoButton, manager)
    box.setInformativeText(tr(
        "Remove only: the VM leaves the list; its folder is moved to {0} and nothing is "
        "deleted.\nDelete all files: its folder and the disk images in it are deleted. "
        "Images attached from elsewhere are never deleted.")
        .format(manager.library.root / ".removed"))
    keep = box.addButton(tr("Remove only"), QMessageBox.ButtonRole.AcceptRole)
    delete = box.addButton(tr("Delete all files"), QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    if clicked is keep:
        return True
    if clicked is delete:
        return False
    return None


def ask_quit(manager, running: list[str]) -> bool:
    """Quit although ``running`` VMs run (they are powered off)?  ``confirm=False`` or
    nothing running: yes."""
    if not running or not manager.confirm:
        return True
    tr = manager.tr
    box = QMessageBox(QMessageBox.Icon.Question, tr("Quit vmgui"),
                      tr("%n virtual machine(s) still running: {0}", "",
                         len(running)).format(", ".join(running)),
                      QMessageBox.StandardButton.NoButton, manager)
    box.setInformativeText(tr("Power them off and quit? Unsaved work in the guests is lost."))
    power_off = box.addButton(tr("Power off all and quit"),
                              QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    return box.clickedButton() is power_off
