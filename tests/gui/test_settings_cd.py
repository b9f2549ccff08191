"""Settings: the machine on the System page, the CD/DVD drive on the Storage page (issue
10).  The drive is there on machines that have one; bad files are named with the CD
image's own reasons and block Save; boot letter d is the CD/DVD on the PCI machine."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.isos import build_iso
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.ui.settings import SettingsDialog


@pytest.fixture
def library(tmp_path, monkeypatch) -> Library:
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path / "home"))
    lib = Library()
    lib.create(VmConfig("Dos"))
    lib.create(VmConfig("Linux", profile="pc-pci", memory_mb=512, boot_order=["d", "c"]))
    return lib


@pytest.fixture
def iso(tmp_path):
    path = tmp_path / "debian.iso"
    path.write_bytes(build_iso(volume_id="DEBIAN"))
    return path


@pytest.fixture
def make_dialog(qtbot, library):
    def make(name: str, running: bool = False) -> SettingsDialog:
        dialog = SettingsDialog(library, library.get(name), running=running)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return make


def boot_names(dialog) -> dict[str, str]:
    boot = dialog.system.boot
    return {boot.item(i).data(Qt.ItemDataRole.UserRole): boot.item(i).text()
            for i in range(boot.count())}


def test_cd_drive_on_the_pci_machine(make_dialog, library, iso):
    dialog = make_dialog("Linux")
    storage = dialog.storage
    assert not storage.cdrom.path.isHidden() and storage.no_cd.isHidden()
    assert storage.cdrom.new.isHidden() and storage.cdrom.read_only.isHidden()
    assert boot_names(dialog)["d"] == "CD/DVD"
    assert dialog.system.machine.currentData() == "pc-pci"
    storage.cdrom.set_image(iso)
    assert dialog.save_button.isEnabled(), dialog.problem.text()
    dialog.save_button.click()
    config = Library().get("Linux").config
    assert config.cdrom == Attachment(str(iso), read_only=True)
    assert (config.profile, config.boot_order) == ("pc-pci", ["d", "c"])
    again = make_dialog("Linux")
    assert again.storage.cdrom.path.text() == str(iso)
    again.storage.cdrom.eject.click()
    again.save_button.click()
    assert Library().get("Linux").config.cdrom is None


def test_an_iso_in_the_vm_folder_is_stored_relative(make_dialog, library):
    folder = library.get("Linux").folder
    (folder / "inside.iso").write_bytes(build_iso())
    dialog = make_dialog("Linux")
    dialog.storage.cdrom.set_image(folder / "inside.iso")
    dialog.save_button.click()
    assert Library().get("Linux").config.cdrom.path == "inside.iso"


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_bytes(bytes(1474560)), "is not an ISO 9660 CD image"),
    (lambda p: p.write_bytes(build_iso(extra_sectors=8)[:40000]), "truncated"),
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "is a directory"),
])
def test_bad_cd_images_block_save_with_the_reason(make_dialog, library, tmp_path, make,
                                                  expected):
    bad = tmp_path / "bad.iso"
    make(bad)
    before = (library.get("Linux").folder / "vm.toml").read_bytes()
    dialog = make_dialog("Linux")
    dialog.storage.cdrom.set_image(bad)
    assert expected in dialog.storage.problem.text()
    assert not dialog.save_button.isEnabled()
    assert expected in dialog.problem.text()
    dialog.accept()  # refused
    assert (library.get("Linux").folder / "vm.toml").read_bytes() == before


def test_the_pc_at_offers_no_cd_drive(make_dialog):
    dialog = make_dialog("Dos")
    storage = dialog.storage
    assert storage.cdrom.path.isHidden() and storage.cdrom.choose.isHidden()
    assert not storage.no_cd.isHidden()
    assert "has no CD drive" in storage.no_cd.text()
    assert "System page" in storage.no_cd.text()
    assert boot_names(dialog)["d"] == "Hard disk D:"


def test_choosing_the_pci_machine_brings_the_cd_drive(make_dialog, library, iso):
    dialog = make_dialog("Dos")
    machine = dialog.system.machine
    machine.setCurrentIndex(machine.findData("pc-pci"))
    assert "CD/DVD drive" in dialog.system.machine_about.text()
    assert not dialog.storage.cdrom.path.isHidden() and dialog.storage.no_cd.isHidden()
    assert boot_names(dialog)["d"] == "CD/DVD"
    assert dialog.system.slider.maximum() == 2048
    dialog.storage.cdrom.set_image(iso)
    dialog.save_button.click()
    config = Library().get("Dos").config
    assert config.profile == "pc-pci" and config.cdrom.path == str(iso)


def test_back_to_the_pc_at_with_a_cd_asks_to_eject_it(make_dialog, library, iso):
    dialog = make_dialog("Linux")
    dialog.storage.cdrom.set_image(iso)
    dialog.system.memory.setValue(200)
    machine = dialog.system.machine
    machine.setCurrentIndex(machine.findData("pc-at"))
    assert boot_names(dialog)["d"] == "Hard disk D:"
    assert not dialog.storage.cdrom.path.isHidden()  # still there, to be ejected
    assert dialog.storage.no_cd.isHidden()  # the problem says it
    assert "Eject the CD" in dialog.storage.problem.text()
    assert not dialog.save_button.isEnabled()
    dialog.storage.cdrom.eject.click()
    assert dialog.storage.cdrom.path.isHidden() and not dialog.storage.no_cd.isHidden()
    assert dialog.storage.problem.text() == ""
    assert dialog.save_button.isEnabled(), dialog.problem.text()
    dialog.save_button.click()
    config = Library().get("Linux").config
    assert (config.profile, config.cdrom, config.memory_mb) == ("pc-at", None, 200)


def test_memory_beyond_the_pc_at_is_refused_after_switching(make_dialog):
    dialog = make_dialog("Linux")  # 512 MB
    machine = dialog.system.machine
    machine.setCurrentIndex(machine.findData("pc-at"))
    assert "2-257 MB" in dialog.system.problem.text()
    assert not dialog.save_button.isEnabled()


def test_running_vm_cannot_change_machine_or_cd(make_dialog):
    dialog = make_dialog("Linux", running=True)
    for widget in (dialog.system.machine, dialog.storage.cdrom.choose,
                   dialog.storage.cdrom.eject):
        assert not widget.isEnabled() and "Power off" in widget.toolTip()
