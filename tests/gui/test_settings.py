"""The settings dialog: edits persist through Library.save/rename; invalid values block
Save; settings a running VM cannot change are disabled with a reason."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from vmgui.config.library import Library
from vmgui.config.schema import Attachment, SerialConfig, VmConfig
from vmgui.storage import media
from vmgui.ui.settings import SettingsDialog


@pytest.fixture
def library(tmp_path, monkeypatch) -> Library:
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path / "home"))
    lib = Library()
    entry = lib.create(VmConfig("Box", floppy_a=Attachment("boot.img"), memory_mb=16))
    media.create_floppy(entry.folder / "boot.img", "1.44M")
    lib.create(VmConfig("Other"))
    return lib


@pytest.fixture
def make_dialog(qtbot, library):
    def make(name: str = "Box", running: bool = False) -> SettingsDialog:
        dialog = SettingsDialog(library, library.get(name), running=running)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return make


def test_settings_persist(make_dialog, library, qtbot):
    dialog = make_dialog()
    saved = []
    dialog.saved.connect(saved.append)
    dialog.general.name.setText("Renamed")
    dialog.general.notes.setPlainText("my notes")
    dialog.system.memory.setValue(64)
    assert dialog.system.slider.value() == 64
    dialog.system.boot.setCurrentRow(1)  # Hard disk C: to the top
    dialog.system.up.click()
    dialog.system.limited.setChecked(True)
    dialog.system.cpu.setValue(40)
    dialog.storage.floppy_a.read_only.setChecked(True)
    dialog.display.scale.setCurrentIndex(dialog.display.scale.findData("fit"))
    dialog.serial.tcp.setChecked(True)
    dialog.serial.port.setValue(5555)
    assert dialog.save_button.isEnabled()
    dialog.save_button.click()
    assert saved == ["Renamed"]
    reloaded = Library()
    assert "Box" not in reloaded
    config = reloaded.get("Renamed").config
    assert config.notes == "my notes"
    assert config.memory_mb == 64
    assert config.boot_order == ["c", "a"]
    assert config.cpu_limit_percent == 40
    assert config.floppy_a == Attachment("boot.img", read_only=True)
    assert config.display_scale == "fit"
    assert config.serial == SerialConfig("tcp", "", 5555)


def test_eject_and_serial_file(make_dialog, library):
    dialog = make_dialog()
    dialog.storage.floppy_a.eject.click()
    dialog.serial.file.setChecked(True)
    dialog.serial.path.setText("com1.log")
    dialog.save_button.click()
    config = Library().get("Box").config
    assert config.floppy_a is None
    assert config.serial == SerialConfig("file", "com1.log", 0)


@pytest.mark.parametrize("edit, text", [
    (lambda d: d.system.memory.setValue(1000), "Memory"),
    (lambda d: d.system.memory.setValue(1), "Memory"),
    (lambda d: d.general.name.setText(""), "empty"),
    (lambda d: d.general.name.setText("a:b"), "contains"),
    (lambda d: d.general.name.setText("other"), "already exists"),
    (lambda d: d.storage.disk_c.path.setText("nowhere.img"), "does not exist"),
    (lambda d: d.serial.tcp.setChecked(True) or d.serial.port.setValue(80), "port"),
    (lambda d: [d.system.boot.item(i).setCheckState(Qt.CheckState.Unchecked)
                for i in range(d.system.boot.count())], "boot"),
])
def test_invalid_values_disable_save(make_dialog, library, edit, text):
    dialog = make_dialog()
    assert dialog.save_button.isEnabled()
    before = (library.root / "Box" / "vm.toml").read_bytes()
    edit(dialog)
    assert not dialog.save_button.isEnabled()
    assert text.casefold() in dialog.problem.text().casefold()
    dialog.accept()  # refused
    assert (library.root / "Box" / "vm.toml").read_bytes() == before


def test_invalid_value_shown_on_its_page(make_dialog):
    dialog = make_dialog()
    dialog.system.memory.setValue(1000)
    assert "Memory" in dialog.system.problem.text()
    dialog.system.memory.setValue(128)
    assert dialog.system.problem.text() == ""
    assert dialog.save_button.isEnabled()


def test_case_only_rename_allowed(make_dialog, library):
    dialog = make_dialog()
    dialog.general.name.setText("BOX")
    assert dialog.save_button.isEnabled()
    dialog.save_button.click()
    assert Library().get("BOX").name == "BOX"


def test_running_vm_locks_what_cannot_change(make_dialog, library):
    dialog = make_dialog(running=True)
    for widget in (dialog.general.name, dialog.system.memory, dialog.system.boot,
                   dialog.storage.floppy_a.eject, dialog.serial.tcp):
        assert not widget.isEnabled()
        assert "Power off" in widget.toolTip()
    assert dialog.general.notes.isEnabled() and dialog.display.scale.isEnabled()
    assert dialog.running_note.isVisible()
    dialog.general.notes.setPlainText("while running")
    dialog.save_button.click()
    assert Library().get("Box").config.notes == "while running"


def test_tryout_mode_set_on_the_general_page(make_dialog, library):
    dialog = make_dialog()
    general = dialog.general
    assert not general.tryout.isChecked()
    assert "thrown away at power-off" in general.tryout_note.text()
    general.tryout.setChecked(True)
    dialog.save_button.click()
    assert library.get("Box").config.tryout
    again = make_dialog()
    assert again.general.tryout.isChecked()  # loaded back
    again.general.tryout.setChecked(False)
    again.save_button.click()
    assert not library.get("Box").config.tryout


def test_tryout_mode_cannot_change_while_the_vm_runs(make_dialog):
    dialog = make_dialog(running=True)
    assert not dialog.general.tryout.isEnabled()
    assert "power it off" in dialog.general.tryout.toolTip()


def test_memory_range_is_the_machines(make_dialog, library):
    """pc-at takes up to 257 MB; a pc-pci VM up to 2048 MB (issue 10)."""
    dialog = make_dialog()
    assert dialog.system.slider.maximum() == 257
    dialog.system.memory.setValue(258)
    assert "2-257 MB" in dialog.system.problem.text()
    library.create(VmConfig("Linux", profile="pc-pci", memory_mb=512))
    dialog = make_dialog("Linux")
    assert dialog.system.slider.maximum() == 2048 and dialog.system.slider.value() == 512
    dialog.system.memory.setValue(2048)
    assert dialog.system.slider.value() == 2048 and dialog.save_button.isEnabled()
    dialog.system.memory.setValue(3000)
    assert "2-2048 MB" in dialog.system.problem.text() and not dialog.save_button.isEnabled()
    dialog.system.memory.setValue(2048)
    dialog.save_button.click()
    assert Library().get("Linux").config.memory_mb == 2048
