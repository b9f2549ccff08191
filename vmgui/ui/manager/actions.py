"""The manager window's actions: building them, their menus, toolbar and context menu,
and enabling them from the selected VM's state.

Owns: :func:`build_actions`, :func:`build_menus`, :func:`build_toolbar`,
:func:`context_menu` and :func:`update_actions`.  Each takes the
:class:`~vmgui.ui.manager.window.ManagerWindow` (``manager``): its slots, runner, list
model and ``actions`` dict.  Strings are translated in the window's context
(``manager.tr``).

A VM another process runs (``vmgui start``: :mod:`vmgui.config.runlock`) is treated as
running for everything that would touch its files: no Start, Remove, Export, Clone,
Snapshot or Discard Saved State.  A VM whose images cannot be used (a FIFO or device as a
disk, a damaged snapshot layer: :meth:`VmListModel.reason`) keeps Settings (to attach
another image), Clone (from a snapshot) and Remove, not Start, Export or Take Snapshot.

Thread rule: GUI thread only.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from vmgui.core import events as ev
from vmgui.ui.manager.icons import FALLBACKS, app_icon, icon
from vmgui.ui.manager.vmstatus import NOTHING

log = logging.getLogger(__name__)

MACHINE_MENU = ("settings", None, "start", "pause", "reset", "poweroff", "discard", None,
                "snapshot", "clone", "remove", None, "folder")
CONTEXT_MENU = ("start", "pause", "reset", "poweroff", "discard", None, "settings", "clone",
                "remove", None, "folder")
TOOLBAR = ("new", "add", "settings", None, "start", "pause", "reset", "poweroff", "discard")


def _action(manager, key: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    action = QAction(icon(key) if key in FALLBACKS else QIcon(), text, manager)
    action.triggered.connect(lambda _checked=False: slot())
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setToolTip(tip or text.replace("&", "").replace("...", "").replace("…", ""))
    action.setStatusTip(action.toolTip())
    manager.addAction(action)
    manager.actions[key] = action
    return action


def build_actions(manager) -> None:
    """Fill ``manager.actions`` (key -> QAction)."""
    manager.actions = {}
    tr = manager.tr
    m = manager
    for key, text, slot, shortcut, tip in (
            ("new", tr("&New…"), m.new_vm, "Ctrl+N", tr("Create a new virtual machine")),
            ("add", tr("&Add…"), m.add_existing_dialog, "Ctrl+A",
             tr("Add an existing virtual machine folder")),
            ("settings", tr("&Settings…"), m.open_settings, "Ctrl+S",
             tr("Change the selected virtual machine's settings")),
            ("start", tr("S&tart"), m.start_vm, "Ctrl+Return",
             tr("Start the selected virtual machine")),
            ("pause", tr("&Pause"), m.toggle_pause, "Ctrl+P",
             tr("Pause or resume the selected virtual machine")),
            ("reset", tr("&Reset"), m.reset_vm, "Ctrl+T",
             tr("Reset the selected virtual machine")),
            ("poweroff", tr("Power &off"), m.power_off_vm, "Ctrl+H",
             tr("Power off the selected virtual machine")),
            ("discard", tr("&Discard Saved State…"), m.discard_saved_state, "Ctrl+J",
             tr("Delete the selected virtual machine's saved state: it boots afresh next "
                "time")),
            ("clone", tr("&Clone…"), m.clone_vm, "Ctrl+O",
             tr("Make a full copy of the selected virtual machine, from its current state "
                "or a snapshot")),
            ("remove", tr("Re&move…"), m.remove_vm, "Del",
             tr("Remove the selected virtual machine")),
            ("folder", tr("Show in &file manager"), m.show_in_file_manager, "Ctrl+Shift+F",
             tr("Open the virtual machine's folder")),
            ("import", tr("&Import…"), m.import_vm, "Ctrl+I",
             tr("Add a virtual machine from an exported archive (.tar)")),
            ("export", tr("&Export…"), m.export_vm, "Ctrl+E",
             tr("Write the selected virtual machine to an archive (.tar)")),
            ("show_details", tr("&Details"), lambda: m.show_tab(0), "Ctrl+1",
             tr("Show the selected virtual machine's details")),
            ("show_snapshots", tr("&Snapshots"), lambda: m.show_tab(1), "Ctrl+2",
             tr("Show the selected virtual machine's snapshots")),
            ("snapshot", tr("Take S&napshot…"), m.take_snapshot, "Ctrl+Shift+T",
             tr("Take a snapshot of the selected virtual machine")),
            ("media", tr("Virtual &Media…"), m.show_media, "Ctrl+D",
             tr("The disk images the virtual machines use")),
            ("refresh", tr("&Refresh"), m.reload, "F5", tr("Read the library from disk again")),
            ("find", tr("&Find"), m.focus_search, "Ctrl+F", tr("Search the virtual machines")),
            ("quit", tr("&Quit"), m.close, "Ctrl+Q", tr("Quit vmgui")),
            ("about", tr("&About vmgui"), m.about, None, "")):
        _action(manager, key, text, slot, shortcut, tip)
    manager.actions["discard"].setIconText(tr("Discard"))  # the toolbar's short label
    manager.actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)
    manager.actions["about"].setMenuRole(QAction.MenuRole.AboutRole)
    manager.actions["about"].setIcon(app_icon())


def build_menus(manager) -> None:
    bar = manager.menuBar()
    groups = ((manager.tr("&File"), ("new", "add", None, "import", "export", None, "media",
                                     "refresh", None, "quit")),
              (manager.tr("&Machine"), MACHINE_MENU),
              (manager.tr("&View"), ("show_details", "show_snapshots", None, "find")),
              (manager.tr("&Help"), ("about",)))
    for title, keys in groups:
        menu = bar.addMenu(title)
        for key in keys:
            menu.addSeparator() if key is None else menu.addAction(manager.actions[key])


def build_toolbar(manager) -> QToolBar:
    bar = QToolBar(manager.tr("Main toolbar"), manager)
    bar.setObjectName("main-toolbar")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
    for key in TOOLBAR:
        bar.addSeparator() if key is None else bar.addAction(manager.actions[key])
    for action in bar.actions():
        button = bar.widgetForAction(action)
        if button is not None:
            button.setAccessibleName(action.text().replace("&", "").rstrip("…."))
    manager.addToolBar(bar)
    return bar


def context_menu(manager, pos) -> QMenu:
    menu = QMenu(manager)
    for key in CONTEXT_MENU:
        menu.addSeparator() if key is None else menu.addAction(manager.actions[key])
    menu.popup(manager.list.viewport().mapToGlobal(pos))
    return menu


def update_actions(manager) -> None:
    """Enable the actions that make sense for the selected VM, with tooltips saying why
    Start is not offered."""
    tr = manager.tr
    entry = manager.selected_entry()
    ok = entry is not None and entry.config is not None
    runner = manager.runner
    running = ok and runner.is_running(entry.name)
    status = manager.model.folder_status(entry) if ok else NOTHING
    elsewhere = status.other_pid is not None
    busy = running or elsewhere
    paused = running and runner.state(entry.name) is ev.RunState.PAUSED
    broken = ok and manager.model.reason(entry) is not None  # its images cannot be used
    a = manager.actions
    a["settings"].setEnabled(ok)
    a["start"].setEnabled(ok and not busy and not broken)
    if broken:
        tip = tr("{0} is inaccessible: {1}").format(entry.name, manager.model.reason(entry))
    elif running:
        tip = tr("{0} is already running").format(entry.name)
    elif elsewhere:
        tip = tr("{0} is running in another process ({1})").format(entry.name,
                                                                    status.other_pid)
    elif status.saved:
        tip = tr("Start the selected virtual machine where its state was saved")
    else:
        tip = tr("Start the selected virtual machine")
    a["start"].setToolTip(tip)
    for key in ("pause", "reset", "poweroff"):
        a[key].setEnabled(running)
    a["pause"].setText(tr("Res&ume") if paused else tr("&Pause"))
    a["pause"].setIcon(icon("start" if paused else "pause"))
    a["discard"].setEnabled(ok and status.saved and not busy)
    a["clone"].setEnabled(ok and not elsewhere)
    a["snapshot"].setEnabled(ok and not elsewhere and not broken)
    a["export"].setEnabled(ok and not busy and not broken)
    a["remove"].setEnabled(entry is not None and not busy)
    a["folder"].setEnabled(entry is not None)
