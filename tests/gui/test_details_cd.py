"""The manager's details pane names the machine by its profile label, shows the CD/DVD
drive on machines with one and boot letter d as the machine means it (issue 10); an
ISO dropped on the manager becomes a VM booting it from the CD."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QUrl

from tests.isos import build_iso
from vmgui.config.schema import Attachment, VmConfig
from vmgui.core.profiles import get_profile


def cd_row_visible(window) -> bool:
    return window.details.form.isRowVisible(window.details.fields["cdrom"])


def test_pci_vm_with_a_cd(library, make_manager, tmp_path):
    iso = tmp_path / "debian.iso"
    iso.write_bytes(build_iso(volume_id="DEBIAN"))
    library.create(VmConfig("Linux", profile="pc-pci", boot_order=["d", "c", "a"],
                            cdrom=Attachment(str(iso), True)))
    window = make_manager()
    assert window.select("Linux")
    fields = window.details.fields
    assert fields["profile"].text() == get_profile("pc-pci").label
    assert fields["boot"].text() == "CD/DVD, Hard disk C:, Floppy A:"
    assert cd_row_visible(window)
    assert fields["cdrom"].text().startswith(f"{iso} (ISO 9660 CD image")
    assert "volume 'DEBIAN'" in fields["cdrom"].text()


def test_pci_vm_with_an_empty_cd_drive_and_a_bad_cd(library, make_manager, tmp_path):
    library.create(VmConfig("Empty", profile="pc-pci"))
    not_iso = tmp_path / "floppy.img"
    not_iso.write_bytes(bytes(1474560))
    library.create(VmConfig("Bad", profile="pc-pci", cdrom=Attachment(str(not_iso), True)))
    window = make_manager()
    assert window.select("Empty")
    assert cd_row_visible(window) and window.details.fields["cdrom"].text() == "empty"
    assert window.select("Bad")
    assert "unusable" in window.details.fields["cdrom"].text()
    assert "is not an ISO 9660 CD image" in window.details.fields["cdrom"].text()


def test_pc_at_vm_has_no_cd_line_and_d_is_a_hard_disk(library, make_manager):
    library.create(VmConfig("Dos", boot_order=["a", "c", "d"]))
    window = make_manager()
    assert window.select("Dos")
    fields = window.details.fields
    assert fields["profile"].text() == get_profile("pc-at").label
    assert fields["boot"].text() == "Floppy A:, Hard disk C:, Hard disk D:"
    assert not cd_row_visible(window)


def test_dropped_iso_becomes_a_vm_booting_the_cd(library, make_manager, tmp_path):
    iso = tmp_path / "live cd.iso"
    iso.write_bytes(build_iso(volume_id="LIVE"))
    window = make_manager()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(iso))])
    made = window.handle_drop(mime)
    assert [e.name for e in made] == ["live cd"]
    config = library.get("live cd").config
    assert config.profile == "pc-pci" and config.cdrom == Attachment(str(iso), True)
    assert config.boot_order == ["d", "c"] and config.hard_disks == []
    assert config.floppy_a is None and config.memory_mb == 256
    assert window.details.fields["boot"].text().startswith("CD/DVD")
