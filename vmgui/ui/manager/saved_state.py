"""Saved states in the manager: discarding one, a resume that failed, and the details
pane's note on a saved or elsewhere-running VM.

Owns: :func:`discard_saved_state` (asks, then deletes ``<vm folder>/saved.state``:
:func:`vmgui.config.snapshots.saved_state_path`), :func:`report_resume_failed` (the VM
booted afresh because its saved state could not be loaded: the file is kept; says so and
how to discard it) and :func:`state_notice` (the text the details pane shows under the
state).  Each takes the :class:`~vmgui.ui.manager.window.ManagerWindow` (``manager``)
and honours its ``confirm`` flag (False: no dialogs; messages go to the status bar and
``manager.last_error``).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox

from vmgui.config.library import VmEntry
from vmgui.config.snapshots import saved_state_path
from vmgui.ui.manager.questions import ask_yes_no

log = logging.getLogger(__name__)


def discard_saved_state(manager, name: str | None = None) -> bool:
    """Delete the saved state of ``name`` (default: the selected VM) after asking; only
    for a powered-off VM that no process runs.  True when it was deleted."""
    entry = manager._target(name)
    if entry is None or entry.config is None:
        return False
    tr = manager.tr
    path = saved_state_path(entry.folder)
    title = tr("Discard the saved state of {0}").format(entry.name)
    status = manager.model.folder_status(entry)
    if manager.runner.is_running(entry.name) or status.other_pid is not None:
        manager._error(title, tr("{0} is running: power it off first.").format(entry.name))
        return False
    if not path.is_file():
        manager.statusBar().showMessage(tr("{0} has no saved state").format(entry.name), 5000)
        manager.reload(select=entry.name)
        return False
    if not ask_yes_no(manager, title, tr(
            "Discard the saved state of {0}? It boots afresh next time: whatever was "
            "running in it and not saved inside the guest is lost.").format(entry.name)):
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        manager._error(title, tr("Cannot delete {0}: {1}").format(
            path, exc.strerror or exc))
        return False
    log.info("%s: saved state discarded", entry.name)
    manager.resume_failures.pop(entry.name, None)
    manager.statusBar().showMessage(tr("The saved state of {0} was discarded").format(
        entry.name), 8000)
    manager.reload(select=entry.name)
    return True


def resume_failed_text(manager, name: str, reason: str) -> str:
    return manager.tr(
        "{0} could not resume from its saved state ({1}), so it booted afresh. The saved "
        "state file is kept; to delete it, power {0} off and choose Machine > Discard "
        "Saved State.").format(name, reason)


def report_resume_failed(manager, name: str, reason: str) -> None:
    """The runner's ``resume_failed``: tell the user (without stopping the VM)."""
    manager.resume_failures[name] = reason
    text = resume_failed_text(manager, name, reason)
    title = manager.tr("{0}: saved state not loaded").format(name)
    manager.last_error = text
    log.warning("%s: %s", title, text)
    manager.statusBar().showMessage(text, 30000)
    if manager.confirm:  # not modal: the VM runs on
        box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                          QMessageBox.StandardButton.Ok, manager)
        box.setModal(False)
        box.show()
    if manager.selected_name() == name:
        manager.refresh_selection()


def state_notice(manager, entry: VmEntry | None) -> str:
    """A line for the details pane under the state ("" when there is nothing to add)."""
    if entry is None or entry.config is None:
        return ""
    tr = manager.tr
    status = manager.model.folder_status(entry)
    if status.other_pid is not None:
        return tr("{0} is running in another vmgui process (process {1}), for example "
                  "one started with 'vmgui start'. Control it from there or with "
                  "'vmgui control'.").format(entry.name, status.other_pid)
    reason = manager.resume_failures.get(entry.name)
    if reason is not None and saved_state_path(entry.folder).is_file():
        return resume_failed_text(manager, entry.name, reason)
    if status.saved and entry.config.tryout:
        return tr("A machine state was saved, but try-out mode does not resume it: Start "
                  "boots afresh. Machine > Discard Saved State deletes it.")
    if status.saved:
        return tr("The machine state was saved: Start resumes it there. Machine > Discard "
                  "Saved State deletes it (it then boots afresh).")
    return ""
