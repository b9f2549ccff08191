"""The New-VM wizard's machine page and "Install from an ISO" (issue 10): profiles by their
labels, an ISO moving a default machine to one with a CD drive, a chosen PC/AT told it
has none, bad files named by the CD image's own reasons."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QWizard

from tests.isos import build_iso
from vmgui.config.schema import Attachment
from vmgui.core.profiles import all_profiles, get_profile
from vmgui.storage.image import DiskImageError


def next_button(wizard):
    return wizard.button(QWizard.WizardButton.NextButton)


@pytest.fixture
def iso(tmp_path):
    path = tmp_path / "install.iso"
    path.write_bytes(build_iso(volume_id="INSTALLER"))
    return path


def to_media_page(manager, name: str = "Installer", machine: str | None = None):
    wizard = manager.new_vm()
    wizard.name_page.edit.setText(name)
    next_button(wizard).click()
    if machine is not None:
        wizard.profile_page.buttons[machine].click()  # as the user picks it
    next_button(wizard).click()
    next_button(wizard).click()
    assert wizard.currentPage() is wizard.media_page
    return wizard


def test_machine_page_lists_every_profile_by_its_label(manager):
    wizard = manager.new_vm()
    page = wizard.profile_page
    assert [b.text() for b in page.buttons.values()] == [p.label for p in all_profiles()]
    assert "CD/DVD drive" in page.descriptions["pc-pci"].text()
    assert "PCI bus" in page.descriptions["pc-pci"].text()
    assert "no CD drive" in page.descriptions["pc-at"].text()
    assert "257 MB" in page.descriptions["pc-at"].text()
    assert page.profile_name() == "pc-at" and not page.explicit


def test_install_from_an_iso_with_a_new_disk(manager, library, iso):
    wizard = to_media_page(manager)
    page = wizard.media_page
    assert not page.machine_note.isVisible()
    page.set_iso(str(iso))
    assert page.iso.isChecked() and page.isComplete(), page.problem.text()
    # the default machine has no CD drive: the wizard moved to the one that has
    assert wizard.profile_page.profile_name() == "pc-pci"
    assert "has none" in page.machine_note.text() and page.machine_note.isVisible()
    assert page.iso_disk.isChecked() and page.iso_disk_mb.value() == 2048
    next_button(wizard).click()
    summary = wizard.summary_page.text.text()
    assert str(iso) in summary and "CD/DVD drive" in summary
    assert "CD/DVD, Hard disk C:" in summary
    assert get_profile("pc-pci").label in summary
    wizard.button(QWizard.WizardButton.FinishButton).click()
    entry = library.get("Installer")
    config = entry.config
    assert config.profile == "pc-pci"
    assert config.cdrom == Attachment(str(iso.resolve()), read_only=True)
    assert config.hard_disks == [Attachment("disk.img")]
    assert config.boot_order == ["d", "c"]
    assert (entry.folder / "disk.img").stat().st_size == 2048 * 1024 * 1024


def test_iso_without_a_disk(manager, library, iso):
    wizard = to_media_page(manager, "Live")
    wizard.media_page.set_iso(str(iso))
    wizard.media_page.iso_disk.setChecked(False)
    assert not wizard.media_page.iso_disk_mb.isEnabled()
    next_button(wizard).click()
    assert "hard disk" not in wizard.summary_page.text.text().split("Boot media")[1] \
        .split("Boot order")[0]
    wizard.accept()
    config = library.get("Live").config
    assert config.hard_disks == [] and config.cdrom is not None
    assert not (library.get("Live").folder / "disk.img").exists()


def test_a_chosen_pc_at_is_told_it_has_no_cd_drive(manager, library, iso):
    wizard = to_media_page(manager, "Old", machine="pc-at")
    page = wizard.media_page
    page.set_iso(str(iso))
    assert wizard.profile_page.profile_name() == "pc-at"  # the user's choice stays
    assert not page.isComplete() and not next_button(wizard).isEnabled()
    assert "has no CD drive" in page.problem.text()
    assert page.use_cd_machine.isVisible()
    page.use_cd_machine.click()
    assert wizard.profile_page.profile_name() == "pc-pci"
    assert page.isComplete() and page.problem.text() == ""
    assert not page.use_cd_machine.isVisible()
    next_button(wizard).click()
    wizard.accept()
    assert library.get("Old").config.profile == "pc-pci"


def test_a_chosen_pci_machine_stays_and_other_media_keep_the_pc_at(manager, iso):
    wizard = to_media_page(manager, "Pci", machine="pc-pci")
    wizard.media_page.set_iso(str(iso))
    assert not wizard.media_page.machine_note.isVisible()  # nothing was moved
    wizard.media_page.floppy.setChecked(True)
    assert wizard.profile_page.profile_name() == "pc-pci"
    other = to_media_page(manager, "Dos")
    other.media_page.floppy.setChecked(True)
    assert other.profile_page.profile_name() == "pc-at"


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_bytes(bytes(1474560)), "is not an ISO 9660 CD image"),
    (lambda p: p.write_bytes(build_iso(extra_sectors=8)[:40000]), "truncated"),
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory"),
])
def test_bad_files_as_iso_are_named(manager, tmp_path, make, expected):
    bad = tmp_path / "bad.iso"
    make(bad)
    wizard = to_media_page(manager)
    page = wizard.media_page
    page.set_iso(str(bad))
    assert not page.isComplete() and not next_button(wizard).isEnabled()
    assert expected in page.problem.text()


def test_browsing_an_iso_as_existing_image_puts_it_in_the_cd_drive(manager, iso,
                                                                    monkeypatch):
    wizard = to_media_page(manager)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(iso), "")))
    wizard.media_page.existing.setChecked(True)
    wizard.media_page.choose_image()
    assert wizard.media_page.iso.isChecked()
    assert wizard.media_page.iso_path.text() == str(iso)


def test_an_iso_gone_before_finish_creates_nothing(manager, library, iso):
    wizard = to_media_page(manager, "Gone")
    wizard.media_page.set_iso(str(iso))
    next_button(wizard).click()
    iso.unlink()
    with pytest.raises(DiskImageError, match="no such file"):
        wizard.create_vm()
    assert "Gone" not in library
