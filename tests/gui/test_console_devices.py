"""The console's Devices menu on a running machine (issue 10): inserting and ejecting the
CD and floppies with ChangeMedia, the machine's refusals shown in a message box, the
menu following what is in the drives; a guest's triple fault said in the status line."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtWidgets import QApplication, QFileDialog

from tests.isos import build_iso
from vmgui.core import events as ev
from vmgui.core.machine import MachineConfig
from vmgui.host.thread import ThreadHost
from vmgui.storage import media
from vmgui.ui.console import ConsoleWindow
from vmgui.ui.machines import media_of_machine

from .conftest import wait_screen

CD = 0xE0
FLOPPY_BYTES = 1_474_560


@pytest.fixture
def make_pci_console(qtbot, tmp_path):
    """``make(image, tryout=False)``: a console on a running pc-pci machine booting the
    floppy ``image`` (read-only)."""
    made = []

    def make(image, tryout: bool = False) -> ConsoleWindow:
        config = MachineConfig(profile="pc-pci", floppies=(image,), read_only=True)
        host = ThreadHost(config)
        window = ConsoleWindow(host, "pci", screenshots_dir=tmp_path / "shots",
                               confirm=False, media=media_of_machine(config), tryout=tryout)
        made.append((window, host))
        qtbot.addWidget(window)
        window.show()
        host.start()
        wait_screen(qtbot, window, "READY", 8000)
        return window

    yield make
    for window, host in made:
        window.shut_down()
        host.power_off()


@pytest.fixture
def iso(tmp_path):
    path = tmp_path / "tools.iso"
    path.write_bytes(build_iso(volume_id="TOOLS"))
    return path


def choose_file(monkeypatch, path) -> None:
    """The file dialog answers ``path`` (as a user picking it would)."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))


def menu_texts(window) -> list[str]:
    return [a.text() for a in window.devices_menu.actions() if not a.isSeparator()]


def test_devices_menu_lists_the_machines_drives(make_pci_console, test_guests):
    window = make_pci_console(test_guests / "echo.img")
    devices = window.devices
    assert window.devices_menu.title() == "&Devices"
    texts = menu_texts(window)
    for text in ("Insert CD…", "Eject CD", "Insert floppy A:…", "Eject floppy A:",
                 "Insert floppy B:…", "Eject floppy B:"):
        assert text in texts
    assert devices.info["cdrom"].text() == "CD/DVD: empty"
    assert devices.info["floppy-a"].text() == "Floppy A: echo.img"
    assert devices.info["floppy-b"].text() == "Floppy B: no drive"
    assert devices.insert_actions["cdrom"].isEnabled()
    assert not devices.eject_actions["cdrom"].isEnabled()  # nothing to eject
    assert devices.eject_actions["floppy-a"].isEnabled()
    assert not devices.insert_actions["floppy-b"].isEnabled()
    assert "settings" in devices.insert_actions["floppy-b"].toolTip()


def test_insert_and_eject_a_cd_while_running(make_pci_console, test_guests, iso, qtbot,
                                             monkeypatch):
    window = make_pci_console(test_guests / "echo.img")
    devices, machine = window.devices, window.host.machine
    choose_file(monkeypatch, iso)
    devices.insert_actions["cdrom"].trigger()
    qtbot.waitUntil(lambda: devices.info["cdrom"].text() == "CD/DVD: tools.iso", timeout=5000)
    assert machine.drives[CD] is not None and str(machine.drives[CD].path) == str(iso)
    assert machine.drives[CD].volume_id == "TOOLS"
    assert devices.eject_actions["cdrom"].isEnabled()
    assert "CD inserted" in window.statusBar().currentMessage()
    assert window.host.media_changes[-1] == ev.MediaChanged("cdrom", str(iso), None)
    devices.eject_actions["cdrom"].trigger()
    qtbot.waitUntil(lambda: devices.info["cdrom"].text() == "CD/DVD: empty", timeout=5000)
    assert machine.drives[CD] is None
    assert not devices.eject_actions["cdrom"].isEnabled()
    assert devices.error_box is None


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_bytes(bytes(FLOPPY_BYTES)), "is not an ISO 9660 CD image"),
    (lambda p: None, "no such file"),
])
def test_a_bad_cd_is_refused_in_a_message_box(make_pci_console, test_guests, tmp_path,
                                              qtbot, monkeypatch, caplog, make, expected):
    window = make_pci_console(test_guests / "echo.img")
    bad = tmp_path / "bad.iso"
    make(bad)
    choose_file(monkeypatch, bad)
    with caplog.at_level(logging.WARNING):
        window.devices.insert_actions["cdrom"].trigger()
        qtbot.waitUntil(lambda: window.devices.error_box is not None, timeout=5000)
    box = window.devices.error_box
    assert box.isVisible() and not box.isModal()
    assert expected in box.text() and "Cannot insert the CD" in box.windowTitle()
    assert window.devices.info["cdrom"].text() == "CD/DVD: empty"
    assert window.host.machine.drives[CD] is None
    assert window.devices.insert_actions["cdrom"].isEnabled()  # ready for another try
    assert any(expected in r.getMessage() for r in caplog.records)
    box.close()


def test_swap_floppy_a_and_write_protect_in_try_out_mode(make_pci_console, test_guests,
                                                        tmp_path, qtbot, monkeypatch):
    window = make_pci_console(test_guests / "echo.img", tryout=True)
    devices, machine = window.devices, window.host.machine
    devices.eject_actions["floppy-a"].trigger()
    qtbot.waitUntil(lambda: devices.info["floppy-a"].text() == "Floppy A: empty", timeout=5000)
    assert machine.drives[0] is None
    blank = media.create_floppy(tmp_path / "data.img", "1.44M")
    choose_file(monkeypatch, blank)
    devices.insert_actions["floppy-a"].trigger()
    qtbot.waitUntil(lambda: devices.info["floppy-a"].text() == "Floppy A: data.img",
                    timeout=5000)
    assert str(machine.drives[0].path) == str(blank)
    assert machine.drives[0].read_only  # try-out mode: the image stays as it is


def test_a_writable_floppy_goes_in_writable(make_pci_console, test_guests, tmp_path, qtbot):
    window = make_pci_console(test_guests / "echo.img")
    blank = media.create_floppy(tmp_path / "rw.img", "1.44M")
    window.devices.insert("floppy-a", str(blank))
    qtbot.waitUntil(lambda: window.devices.info["floppy-a"].text() == "Floppy A: rw.img",
                    timeout=5000)
    assert not window.host.machine.drives[0].read_only


def test_a_drive_the_machine_lacks_is_refused_by_the_machine(make_pci_console, test_guests,
                                                             tmp_path, qtbot):
    window = make_pci_console(test_guests / "echo.img")
    blank = media.create_floppy(tmp_path / "b.img", "1.44M")
    window.devices.insert("floppy-b", str(blank))  # the action is disabled; asked anyway
    qtbot.waitUntil(lambda: window.devices.error_box is not None, timeout=5000)
    assert "no floppy drive B:" in window.devices.error_box.text()
    assert window.devices.info["floppy-b"].text() == "Floppy B: no drive"
    window.devices.error_box.close()


def test_changes_made_elsewhere_show_in_the_menu_without_a_box(make_pci_console, test_guests,
                                                               iso, tmp_path, qtbot):
    """``vmgui control NAME media`` reaches the machine beside the console."""
    window = make_pci_console(test_guests / "echo.img")
    window.host.send(ev.ChangeMedia("cdrom", str(iso)))
    qtbot.waitUntil(lambda: window.devices.info["cdrom"].text() == "CD/DVD: tools.iso",
                    timeout=5000)
    window.host.send(ev.ChangeMedia("cdrom", str(tmp_path / "missing.iso")))
    qtbot.waitUntil(lambda: "no such file" in window.statusBar().currentMessage(),
                    timeout=5000)
    assert window.devices.error_box is None  # not asked here: the status line says it
    assert window.devices.info["cdrom"].text() == "CD/DVD: tools.iso"


def test_pc_at_console_offers_no_cd_drive(make_console, test_guests, qtbot):
    window = make_console(test_guests / "echo.img")
    texts = menu_texts(window)
    assert "No CD/DVD drive on this machine" in texts
    assert not any("CD…" in t or t == "Eject CD" for t in texts)
    assert "cdrom" not in window.devices.insert_actions
    assert window.devices.insert_actions["floppy-a"].isEnabled()


def test_menu_disabled_once_powered_off(make_pci_console, test_guests):
    window = make_pci_console(test_guests / "echo.img")
    window.shut_down()
    assert not window.devices.insert_actions["cdrom"].isEnabled()
    assert not window.devices.eject_actions["floppy-a"].isEnabled()


def test_triple_fault_reset_is_shown_in_the_status_line(make_console, tmp_path, test_guests,
                                                        qtbot, caplog):
    image = tmp_path / "pmint.img"
    image.write_bytes((test_guests / "pmint.img").read_bytes().ljust(FLOPPY_BYTES, b"\0"))
    with caplog.at_level(logging.WARNING):
        window = make_console(image)
        qtbot.waitUntil(lambda: window.last_guest_reset is not None, timeout=15000)
    message = window.statusBar().currentMessage()
    assert message.startswith("Reset by the guest: triple fault (")
    assert message == window.last_guest_reset
    assert QApplication.activeModalWidget() is None
    assert window.state_label.text() == "Running"  # the machine goes on
    assert any(r.name == "vmgui.ui.console.window" and "Reset by the guest" in r.getMessage()
               for r in caplog.records)


def test_manager_console_starts_with_the_vms_media(library, make_manager, iso, qtbot):
    """Started from the manager (a VM process): the menu shows the VM's CD, and ejecting
    it goes through the process and back."""
    from tests.gui.test_manager import DEMO_IMAGE, wait_running
    from vmgui.config.schema import Attachment, VmConfig

    library.create(VmConfig("Pci", profile="pc-pci", cdrom=Attachment(str(iso), True),
                            floppy_a=Attachment(str(DEMO_IMAGE), read_only=True),
                            boot_order=["a", "d"]))
    window = make_manager()
    vm = window.start_vm("Pci")
    wait_running(qtbot, vm.host)
    devices = vm.console.devices
    assert devices.info["cdrom"].text() == "CD/DVD: tools.iso"
    assert devices.info["floppy-a"].text() == f"Floppy A: {DEMO_IMAGE.name}"
    assert devices.info["floppy-b"].text() == "Floppy B: no drive"
    devices.eject_actions["cdrom"].trigger()
    qtbot.waitUntil(lambda: devices.info["cdrom"].text() == "CD/DVD: empty", timeout=8000)
    assert vm.host.media_changes[-1] == ev.MediaChanged("cdrom", None, None)
    assert library.get("Pci").config.cdrom is not None  # the settings keep their CD
