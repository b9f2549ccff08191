"""The New-VM wizard driven end to end: fields, Next, Finish, and the VM on disk."""

from __future__ import annotations

import tomllib

import pytest
from PySide6.QtWidgets import QWizard

from vmgui.config.schema import VmConfig


def next_button(wizard):
    return wizard.button(QWizard.WizardButton.NextButton)


def go_to_end(wizard) -> None:
    for _ in range(4):
        assert next_button(wizard).isEnabled(), wizard.currentPage().title()
        next_button(wizard).click()
    assert wizard.currentPage() is wizard.summary_page


def test_wizard_creates_vm_with_new_floppy(manager, library):
    wizard = manager.new_vm()
    assert wizard.currentPage() is wizard.name_page
    wizard.name_page.edit.setText("DOS Box")
    next_button(wizard).click()
    assert wizard.profile_page.profile_name() == "pc-at"
    assert "PC/AT" in wizard.profile_page.buttons["pc-at"].text()
    next_button(wizard).click()
    wizard.memory_page.slider.setValue(32)
    assert wizard.memory_page.spin.value() == 32
    next_button(wizard).click()
    wizard.media_page.floppy.setChecked(True)
    wizard.media_page.floppy_size.setCurrentText("720K")
    next_button(wizard).click()
    summary = wizard.summary_page.text.text()
    assert "DOS Box" in summary and "32 MB" in summary and "720K" in summary
    wizard.button(QWizard.WizardButton.FinishButton).click()
    folder = library.root / "DOS Box"
    data = tomllib.loads((folder / "vm.toml").read_text())
    assert data["name"] == "DOS Box" and data["memory_mb"] == 32
    assert data["floppy_a"]["path"] == "floppy.img"
    assert (folder / "floppy.img").stat().st_size == 737280
    assert manager.selected_name() == "DOS Box"
    assert not wizard.isVisible()


def test_wizard_new_hard_disk(manager, library):
    wizard = manager.new_vm()
    wizard.setField("name", "Disky")
    wizard.setField("memory", 8)
    wizard.setField("media_disk", True)
    wizard.setField("disk_mb", 5)
    go_to_end(wizard)
    wizard.accept()
    config = library.get("Disky").config
    assert config.memory_mb == 8
    assert config.hard_disks[0].path == "disk.img" and config.boot_order == ["c", "a"]
    assert (library.root / "Disky" / "disk.img").stat().st_size == 5 * 1024 * 1024


def test_wizard_existing_image_kind_follows_size(manager, library, tmp_path):
    image = tmp_path / "hd.img"
    image.write_bytes(bytes(3 * 1024 * 1024))
    wizard = manager.new_vm()
    wizard.setField("name", "Existing")
    wizard.setField("media_existing", True)
    page = wizard.media_page
    assert not page.isComplete()  # no path yet
    wizard.setField("image_path", str(tmp_path / "missing.img"))
    assert not page.isComplete() and "not a file" in page.problem.text()
    wizard.setField("image_path", str(image))
    assert page.isComplete()
    assert page.kind.currentIndex() == 1  # bigger than any floppy: a hard disk
    go_to_end(wizard)
    wizard.accept()
    config = library.get("Existing").config
    assert config.hard_disks[0].path == str(image.resolve()) and config.floppy_a is None


def test_wizard_no_media(manager, library):
    wizard = manager.new_vm()
    wizard.setField("name", "Empty")
    wizard.setField("media_none", True)
    go_to_end(wizard)
    wizard.accept()
    config = library.get("Empty").config
    assert config.floppy_a is None and config.hard_disks == []


@pytest.mark.parametrize("name, why", [("", ""), ("a/b", "contains"), ("CON", "reserved"),
                                       ("taken", "already exists"), (" pad", "space")])
def test_wizard_name_validation_inline(manager, library, name, why):
    library.create(VmConfig("Taken"))
    wizard = manager.new_vm()
    wizard.name_page.edit.setText(name)
    assert not wizard.name_page.isComplete()
    assert not next_button(wizard).isEnabled()
    assert why in wizard.name_page.problem.text()
    wizard.name_page.edit.setText("Fine name")
    assert next_button(wizard).isEnabled()
    assert wizard.name_page.problem.text() == ""


def test_wizard_can_create_a_tryout_vm(manager, library):
    wizard = manager.new_vm()
    wizard.name_page.edit.setText("Scratch")
    for _ in range(3):
        next_button(wizard).click()
    assert wizard.currentPage() is wizard.media_page
    assert not wizard.media_page.tryout.isChecked()  # off unless asked for
    wizard.media_page.tryout.setChecked(True)
    next_button(wizard).click()
    assert "Try-out mode" in wizard.summary_page.text.text()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert library.get("Scratch").config.tryout
    assert manager.selected_name() == "Scratch"
    assert "(try-out)" in manager.details.title.text()
    assert manager.details.fields["tryout"].text().startswith("On")


def test_wizard_memory_range_follows_the_machine(manager, library):
    """The PCI machine takes up to 2048 MB, the PC/AT 257 MB (issue 10)."""
    wizard = manager.new_vm()
    wizard.setField("name", "Linux")
    next_button(wizard).click()
    wizard.profile_page.buttons["pc-pci"].click()
    assert "2 GB" in wizard.profile_page.descriptions["pc-pci"].text()
    next_button(wizard).click()
    page = wizard.memory_page
    assert page.spin.maximum() == page.slider.maximum() == 2048
    assert page.max_label.text() == "2048 MB"
    page.spin.setValue(2048)
    assert page.slider.value() == 2048
    for _ in range(3):
        next_button(wizard).click()
    assert "2048 MB" in wizard.summary_page.text.text()
    wizard.accept()
    config = library.get("Linux").config
    assert (config.profile, config.memory_mb) == ("pc-pci", 2048)


def test_wizard_clamps_memory_to_the_pc_at(manager):
    wizard = manager.new_vm()
    wizard.setField("name", "Back")
    next_button(wizard).click()
    wizard.profile_page.buttons["pc-pci"].click()
    next_button(wizard).click()
    assert wizard.memory_page.spin.maximum() == 2048
    wizard.back()
    wizard.profile_page.buttons["pc-at"].click()
    wizard.setField("memory", 1024)  # set while the PCI machine's range was in force
    next_button(wizard).click()
    assert wizard.memory_page.spin.maximum() == 257
    assert wizard.memory_page.spin.value() == 257
