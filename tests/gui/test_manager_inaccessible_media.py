"""A VM whose images cannot be used is shown inaccessible in the manager, with the reason.

A FIFO or a device attached as a disk, or a damaged snapshot layer: ``vmgui list`` marked
such a VM inaccessible (vmgui.config.library.media_problems) while the manager's list and
details showed it as "Powered off", and only Start said what was wrong.  The manager now
shows the reason as it does for a VM whose vm.toml cannot be used (row, tooltip, details,
state icon), keeps Settings (to attach another image) and refuses Start, Export and Take
Snapshot.  The FIFOs here always have a writer waiting (tests/fifo.py), so nothing hangs
even if some code wrongly opened one.
"""

from __future__ import annotations

import html
import os
import shutil

import pytest
from PySide6.QtCore import Qt

from tests.fifo import fifo_with_writer
from vmgui.config.library import Library, VmEntry
from vmgui.config.schema import Attachment, VmConfig
from vmgui.ui.manager import ManagerWindow
from vmgui.ui.manager.icons import DEMO_IMAGE
from vmgui.ui.manager.vmlist import INACCESSIBLE_ROLE, STATE_TEXT_ROLE, state_icon_name
from vmgui.ui.manager.vmstatus import NOTHING

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture
def fifo(tmp_path):
    with fifo_with_writer(tmp_path / "fifo.img") as path:
        yield path


@pytest.fixture
def library(tmp_path, monkeypatch, fifo) -> Library:
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path / "home"))
    library = Library()
    good = library.create(VmConfig("Good", floppy_a=Attachment("demo.img")))
    shutil.copyfile(DEMO_IMAGE, good.folder / "demo.img")
    library.create(VmConfig("Fifo", hard_disks=[Attachment(str(fifo))]))
    library.create(VmConfig("Zero", floppy_a=Attachment("/dev/zero")))
    layer = library.create(VmConfig("Layer", floppy_a=Attachment("disk.cow")))
    (layer.folder / "disk.cow").write_bytes(b"garbage!" * 1024)  # a damaged layer
    return library


def row_data(window: ManagerWindow, name: str, role: int):
    assert window.select(name)
    return window.list.currentIndex().data(role)


@pytest.mark.parametrize(("name", "reason"), [
    ("Fifo", "is not a regular file (FIFO)"),
    ("Zero", "disk '/dev/zero' is not a regular file (character device)"),
    ("Layer", "/disk.cow' is damaged: bad magic b'garbage!'"),
])
def test_unusable_images_make_the_vm_inaccessible(library, make_manager, name, reason):
    window = make_manager(library)
    state = row_data(window, name, STATE_TEXT_ROLE)
    assert state.startswith("Inaccessible: ") and reason in state
    assert row_data(window, name, INACCESSIBLE_ROLE) is True
    assert reason in row_data(window, name, Qt.ItemDataRole.ToolTipRole)
    assert reason in row_data(window, name, Qt.ItemDataRole.AccessibleTextRole)
    details = window.details
    assert not details.error.isHidden() and reason in html.unescape(details.error.text())
    assert "inaccessible" in details.error.text()
    assert details.fields["state"].text() == state
    assert not details.fields["folder"].isHidden()  # the form stays: what to fix is there
    actions = window.actions
    assert not actions["start"].isEnabled() and reason in actions["start"].toolTip()
    assert not actions["export"].isEnabled() and not actions["snapshot"].isEnabled()
    assert actions["settings"].isEnabled() and actions["remove"].isEnabled()
    window.list.viewport().grab()  # the delegate paints the row as inaccessible
    assert window.start_vm(name) is None  # a stale shortcut, a script: refused, named
    assert window.runner.running_names() == []
    assert window.last_error and ("regular file" in window.last_error
                                  or "disk.cow" in window.last_error)


def test_other_vms_stay_accessible(library, make_manager):
    window = make_manager(library)
    assert row_data(window, "Good", STATE_TEXT_ROLE) == "Powered off"
    assert row_data(window, "Good", INACCESSIBLE_ROLE) is False
    assert window.details.error.isHidden()
    assert window.actions["start"].isEnabled() and window.actions["export"].isEnabled()
    assert [e.name for e in window.model.entries()] == ["Fifo", "Good", "Layer", "Zero"]


def test_state_icon_of_an_inaccessible_vm(tmp_path):
    entry = VmEntry("X", tmp_path, VmConfig("X"))
    assert state_icon_name(entry, None, NOTHING, inaccessible=True) == "state-error"
    assert state_icon_name(entry, None, NOTHING) == "state-off"


def test_an_image_replaced_while_listed_is_noticed(library, make_manager, qtbot, tmp_path):
    """A disk swapped for a FIFO in the VM folder, then back: the watcher's refresh
    checks the images again (the vm.toml did not change)."""
    folder = library.get("Good").folder
    window = make_manager(library)
    window.select("Good")
    saved = tmp_path / "demo.saved"
    os.replace(folder / "demo.img", saved)
    with fifo_with_writer(folder / "demo.img"):
        qtbot.waitUntil(lambda: row_data(window, "Good", INACCESSIBLE_ROLE), timeout=5000)
        assert "(FIFO)" in window.details.error.text()
        assert not window.actions["start"].isEnabled()
    os.replace(saved, folder / "demo.img")  # over the FIFO, whose writer is gone
    qtbot.waitUntil(lambda: not row_data(window, "Good", INACCESSIBLE_ROLE), timeout=5000)
    assert window.details.error.isHidden()
    assert window.actions["start"].isEnabled()
