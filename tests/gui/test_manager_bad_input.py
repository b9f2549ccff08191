"""Bad input in the manager: each case gives a clear message in the UI and loses nothing.

Unreadable library or VM folders, a VM folder removed while it is listed, a disk image
deleted between runs, an unusable image picked in the New-VM wizard.
"""

from __future__ import annotations

import pathlib
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QWizard

from vmgui.config import safefile
from vmgui.config.library import Library, LibraryError
from vmgui.config.schema import Attachment, VmConfig
from vmgui.core import events as ev
from vmgui.ui.manager import ManagerWindow
from vmgui.ui.manager.icons import DEMO_IMAGE
from vmgui.ui.manager.vmlist import STATE_TEXT_ROLE


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    """Message boxes of dialogs (the settings dialog and the wizard always ask Qt)."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda _parent, title, text, *a: shown.append(f"{title}: {text}"))
    return shown


def add_vm(library: Library, name: str) -> Path:
    """A VM with its own copy of the demo floppy; returns its folder."""
    entry = library.create(VmConfig(name, floppy_a=Attachment("demo.img")))
    shutil.copyfile(DEMO_IMAGE, entry.folder / "demo.img")
    return entry.folder


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: what "nothing lost" compares."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def listed(window: ManagerWindow) -> list[str]:
    return [entry.name for entry in window.model.entries()]


def status(window: ManagerWindow) -> str:
    return window.statusBar().currentMessage()


# Tests run as root in CI, and root reads through chmod 000: a chmod'ed folder would read
# fine.  So the unreadable cases patch the listing / the read to raise PermissionError,
# which is what a chmod 000 folder gives a normal user.

def test_unreadable_library_folder(library, make_manager, monkeypatch):
    add_vm(library, "Alpha")
    add_vm(library, "Beta")
    before = snapshot(library.root)
    real_iterdir = pathlib.Path.iterdir

    def iterdir(self):
        if self == library.root:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(pathlib.Path, "iterdir", iterdir)
    window = make_manager(library, create_demo=True)  # first start: must not add Demo
    assert listed(window) == []
    assert "Cannot read the library" in status(window)
    assert str(library.root) in window.last_error
    assert "Permission denied" in window.last_error
    assert not window.actions["start"].isEnabled()
    monkeypatch.setattr(pathlib.Path, "iterdir", real_iterdir)
    window.actions["refresh"].trigger()  # F5 once the folder is readable again
    assert listed(window) == ["Alpha", "Beta"]
    assert snapshot(library.root) == before


def test_unreadable_vm_folder_is_listed_inaccessible_with_the_reason(library, make_manager,
                                                                     monkeypatch):
    add_vm(library, "Good")
    locked = add_vm(library, "Locked")
    before = snapshot(library.root)
    real_read_small = safefile.read_small  # how vm.toml is read

    def read_small(path, limit, **kwargs):
        if Path(path).parent == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_small(path, limit, **kwargs)

    monkeypatch.setattr(safefile, "read_small", read_small)
    window = make_manager(library)
    assert listed(window) == ["Good", "Locked"]
    window.select("Locked")
    state = window.list.currentIndex().data(STATE_TEXT_ROLE)
    assert state.startswith("Inaccessible") and "Permission denied" in state
    assert "Permission denied" in window.details.error.text()
    assert not window.actions["start"].isEnabled()
    assert not window.actions["settings"].isEnabled()
    assert window.start_vm("Locked") is None  # e.g. from a script or a stale shortcut
    assert "cannot read (Permission denied)" in window.last_error
    window.select("Good")
    assert window.actions["start"].isEnabled()
    monkeypatch.setattr(safefile, "read_small", real_read_small)
    assert snapshot(library.root) == before


def test_selecting_a_vm_whose_folder_was_removed(library, make_manager, qtbot):
    add_vm(library, "Keep")
    gone = add_vm(library, "Gone")
    window = make_manager(library)
    window.select("Keep")
    shutil.rmtree(gone)
    window.select("Gone")
    assert "no longer exists" in status(window) and str(gone) in status(window)
    qtbot.waitUntil(lambda: listed(window) == ["Keep"], timeout=2000)
    assert window.selected_name() == "Keep"


@pytest.mark.parametrize("action", ["start", "settings", "clone", "remove"])
def test_acting_on_a_vm_whose_folder_was_removed(library, make_manager, action):
    add_vm(library, "Keep")
    gone = add_vm(library, "Gone")
    window = make_manager(library)
    window.select("Gone")
    shutil.rmtree(gone)
    if action == "clone":
        assert window.clone_vm(new_name="Copy") is None
    elif action == "remove":
        assert window.remove_vm(keep_files=True) is False
    else:
        window.actions[action].trigger()  # the toolbar button / the shortcut
    assert window.last_error.startswith("The folder of Gone")
    assert str(gone) in window.last_error and "The list was refreshed" in window.last_error
    assert "Gone is gone" in status(window)
    assert listed(window) == ["Keep"]
    assert window.runner.running_names() == []
    assert window.settings_dialog is None
    assert [e.name for e in library.entries()] == ["Keep"]


def test_settings_saved_after_the_folder_was_removed(library, make_manager, warnings):
    gone = add_vm(library, "Gone")
    window = make_manager(library)
    dialog = window.open_settings("Gone")
    shutil.rmtree(gone)
    dialog.accept()  # Save
    assert dialog.isVisible()  # stays open: the user can copy the settings elsewhere
    assert dialog.problem.text().startswith("Cannot save: the folder of Gone")
    assert "no longer exists" in dialog.problem.text() and str(gone) in dialog.problem.text()
    assert not dialog.save_button.isEnabled()
    with pytest.raises(LibraryError, match="no longer exists"):
        dialog.save()  # even when called directly
    assert not gone.exists()  # nothing half-written in its place


def test_media_deleted_between_runs(library, make_manager, qtbot):
    folder = add_vm(library, "Floppy")
    window = make_manager(library)
    vm = window.start_vm("Floppy")
    assert vm is not None

    def running() -> bool:
        vm.host.poll_events()
        return vm.host.state is ev.RunState.RUNNING

    qtbot.waitUntil(running, timeout=8000)
    window.power_off_vm("Floppy")
    assert window.runner.running_names() == []
    config_before = (folder / "vm.toml").read_bytes()
    (folder / "demo.img").unlink()
    window.select("Floppy")
    window.actions["start"].trigger()
    assert window.runner.running_names() == []
    image = str(folder / "demo.img")
    assert window.last_error == f"{image}: no such file"
    assert status(window).startswith("Cannot start Floppy: ") and image in status(window)
    assert "no such file" in window.details.fields["floppy_a"].text()
    assert (folder / "vm.toml").read_bytes() == config_before
    assert library.get("Floppy").config.floppy_a.path == "demo.img"
    assert listed(window) == ["Floppy"]


@pytest.mark.parametrize(("size", "kind", "why"), [
    (0, 0, "the file is empty (0 bytes)"),
    (1000, 1, "1000 bytes is not a floppy size"),
])
def test_wizard_refuses_an_unusable_image(library, make_manager, tmp_path, warnings,
                                          size, kind, why):
    image = tmp_path / "bad.img"
    image.write_bytes(b"\xf6" * size)
    window = make_manager(library)
    wizard = window.new_vm()
    wizard.name_page.edit.setText("Bad")
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    for _ in range(3):
        next_button.click()
    page = wizard.media_page
    assert wizard.currentPage() is page
    page.existing.setChecked(True)
    page.path.setText(str(image))
    page.kind.setCurrentIndex(kind)
    assert page.problem.text().startswith(f"{image}: {why}")  # DiskImage.open's reason
    assert not page.isComplete()
    assert not next_button.isEnabled()
    assert not (finish.isVisible() and finish.isEnabled())
    wizard.accept()  # even if forced, Finish creates nothing
    assert len(warnings) == 1 and why in warnings[0]
    assert wizard.isVisible()
    assert library.entries() == []
    assert not library.root.exists() or list(library.root.iterdir()) == []
    assert image.read_bytes() == b"\xf6" * size
