"""The manager window driven like a user would: demo VM, list, start/stop, drops, quit."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtWidgets import QMessageBox, QToolButton

from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig
from vmgui.core import events as ev
from vmgui.ui.manager.icons import DEMO_IMAGE
from vmgui.ui.manager.library_ops import DEMO_NAME
from vmgui.ui.manager.vmlist import SCREEN_ROLE, STATE_TEXT_ROLE


def add_demo_vm(library: Library, name: str) -> None:
    library.create(VmConfig(name, floppy_a=Attachment(str(DEMO_IMAGE), read_only=True)))


def wait_running(qtbot, host) -> None:
    def running() -> bool:
        host.poll_events()  # the console polls too: whoever drains, host.state follows
        return host.state is ev.RunState.RUNNING

    qtbot.waitUntil(running, timeout=8000)


def test_demo_vm_created_on_first_start(library, make_manager, qtbot):
    window = make_manager(create_demo=True)
    entry = library.get(DEMO_NAME)
    assert entry.accessible
    assert entry.config.floppy_a.path == "demo.img"
    assert (entry.folder / "demo.img").read_bytes() == DEMO_IMAGE.read_bytes()
    assert window.selected_name() == DEMO_NAME
    assert window.actions["start"].isEnabled()
    vm = window.start_vm()  # one click on Start boots it
    wait_running(qtbot, vm.host)
    qtbot.waitUntil(lambda: any("vmgui demo" in line for line in vm.host.text_lines()),
                    timeout=8000)


def test_demo_vm_not_recreated_after_removal(library, make_manager):
    window = make_manager(create_demo=True)
    assert window.remove_vm(DEMO_NAME, keep_files=False)
    assert library.entries() == []
    make_manager(create_demo=True)
    assert library.entries() == []


def test_inaccessible_vm_listed_with_reason_while_another_starts(library, make_manager, qtbot):
    add_demo_vm(library, "Broken")
    add_demo_vm(library, "Good")
    (library.root / "Broken" / "vm.toml").write_text("memory_mb = [oops\n")
    window = make_manager()
    row = window.model.row_of("Broken")
    text = window.model.index(row).data(STATE_TEXT_ROLE)
    assert text.startswith("Inaccessible") and "not valid TOML" in text
    assert window.select("Broken")
    assert not window.actions["start"].isEnabled()
    assert not window.actions["settings"].isEnabled()
    assert "not valid TOML" in window.details.error.text()
    assert window.start_vm("Broken") is None
    assert window.select("Good")
    window.actions["start"].trigger()
    vm = window.runner.get("Good")
    assert vm is not None
    wait_running(qtbot, vm.host)
    qtbot.waitUntil(lambda: "Running" in window.details.fields["state"].text(), timeout=3000)
    assert not window.actions["start"].isEnabled()
    assert window.actions["poweroff"].isEnabled()
    window.actions["poweroff"].trigger()
    assert not vm.host.alive
    assert window.runner.get("Good") is None
    assert window.actions["start"].isEnabled()


def test_running_vm_cannot_start_twice(library, make_manager, qtbot):
    add_demo_vm(library, "Once")
    window = make_manager()
    vm = window.start_vm("Once")
    wait_running(qtbot, vm.host)
    assert window.start_vm("Once") is None
    assert window.runner.get("Once") is vm
    assert window.runner.running_names() == ["Once"]


def test_several_vms_run_at_once_with_thumbnails(library, make_manager, qtbot):
    add_demo_vm(library, "One")
    add_demo_vm(library, "Two")
    window = make_manager()
    hosts = [window.start_vm(name).host for name in ("One", "Two")]
    for host in hosts:
        wait_running(qtbot, host)
    assert sorted(window.runner.running_names()) == ["One", "Two"]
    index = window.model.index(window.model.row_of("Two"))
    qtbot.waitUntil(lambda: index.data(SCREEN_ROLE) is not None, timeout=5000)
    assert index.data(SCREEN_ROLE).width() > 0
    window.toggle_pause("Two")
    qtbot.waitUntil(lambda: window.runner.state("Two") is ev.RunState.PAUSED, timeout=3000)
    assert window.select("Two")
    assert window.actions["pause"].text().replace("&", "") == "Resume"
    window.toggle_pause("Two")
    qtbot.waitUntil(lambda: window.runner.state("Two") is ev.RunState.RUNNING, timeout=3000)


def test_closing_the_console_updates_the_list(library, make_manager, qtbot):
    add_demo_vm(library, "Closer")
    window = make_manager()
    vm = window.start_vm("Closer")
    wait_running(qtbot, vm.host)
    vm.console.close()
    assert not vm.host.alive
    row = window.model.row_of("Closer")
    assert window.model.index(row).data(STATE_TEXT_ROLE) == "Powered off"
    assert not window.runner.is_running("Closer")


def test_drop_image_creates_vm(library, make_manager, tmp_path):
    window = make_manager()
    floppy = tmp_path / "my game.img"
    shutil.copyfile(DEMO_IMAGE, floppy)
    disk = tmp_path / "big-disk.img"
    disk.write_bytes(b"\0" * (4 * 1024 * 1024))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(floppy)), QUrl.fromLocalFile(str(disk))])
    made = window.handle_drop(mime)
    assert [e.name for e in made] == ["my game", "big-disk"]
    game = library.get("my game").config
    assert Path(game.floppy_a.path) == floppy and game.hard_disks == []
    big = library.get("big-disk").config
    assert big.floppy_a is None and Path(big.hard_disks[0].path) == disk
    assert big.boot_order[0] == "c"
    assert window.selected_name() == "big-disk"
    again = window.handle_drop(mime)  # same stems: fresh names
    assert [e.name for e in again] == ["my game 2", "big-disk 2"]


def test_add_existing_folder_copies_it(library, make_manager, tmp_path):
    other = Library(tmp_path / "elsewhere")
    add_demo_vm(other, "Visitor")
    window = make_manager()
    entry = window.add_existing(other.root / "Visitor")
    assert entry is not None and entry.accessible
    assert (library.root / "Visitor" / "vm.toml").is_file()
    assert (other.root / "Visitor" / "vm.toml").is_file()
    assert window.selected_name() == "Visitor"
    assert window.add_existing(tmp_path) is None  # no vm.toml
    assert "vm.toml" in window.last_error


def test_search_filters_the_list(library, make_manager, qtbot):
    for name in ("Alpha", "Beta", "Gamma"):
        add_demo_vm(library, name)
    window = make_manager()
    assert window.proxy.rowCount() == 3
    qtbot.keyClicks(window.search, "ET")
    assert window.proxy.rowCount() == 1
    assert window.selected_name() == "Beta"
    window.search.clear()
    assert window.proxy.rowCount() == 3


def test_clone_and_remove(library, make_manager):
    add_demo_vm(library, "Orig")
    window = make_manager()
    clone = window.clone_vm("Orig", "Copy")
    assert clone is not None and "Copy" in library
    assert window.selected_name() == "Copy"
    assert window.remove_vm("Copy", keep_files=True)
    assert "Copy" not in library
    assert any((library.root / ".removed").iterdir())
    assert window.remove_vm("Orig", keep_files=False)
    assert library.entries() == []
    assert window.model.rowCount() == 0
    assert not window.actions["settings"].isEnabled()


def test_quit_powers_off_running_vms(library, make_manager, qtbot):
    add_demo_vm(library, "Quitter")
    window = make_manager()
    vm = window.start_vm("Quitter")
    wait_running(qtbot, vm.host)
    window.actions["quit"].trigger()
    assert not window.isVisible()
    assert not vm.host.alive
    assert window.runner.running_names() == []


def test_quit_can_be_cancelled(library, make_manager, qtbot, monkeypatch):
    add_demo_vm(library, "Stayer")
    window = make_manager()
    window.confirm = True
    vm = window.start_vm("Stayer")
    wait_running(qtbot, vm.host)
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.StandardButton.Cancel)
    window.close()  # the question is "answered" without clicking Power off
    assert window.isVisible()
    assert vm.host.alive
    window.confirm = False
    window.close()
    assert not vm.host.alive


def test_every_action_has_a_shortcut_or_menu_and_accessible_buttons(library, make_manager):
    window = make_manager()
    menu_actions = {a for m in window.menuBar().actions() for a in m.menu().actions()}
    for key, action in window.actions.items():
        assert action in menu_actions, key
    for key in ("new", "settings", "start", "pause", "reset", "poweroff", "clone", "remove",
                "quit"):
        assert not window.actions[key].shortcut().isEmpty(), key
    assert window.actions["new"].shortcut().toString() == "Ctrl+N"
    for button in window.toolbar.findChildren(QToolButton):
        if button.defaultAction() is not None and button.isVisible():
            assert button.accessibleName(), button.defaultAction().text()
    assert not window.windowIcon().isNull()


def test_keyboard_start_from_the_list(library, make_manager, qtbot):
    add_demo_vm(library, "Keys")
    window = make_manager()
    window.list.setFocus()
    qtbot.keyClick(window.list, Qt.Key.Key_Return)
    vm = window.runner.get("Keys")
    assert vm is not None
    wait_running(qtbot, vm.host)


def test_settings_from_the_manager_rename_and_reselect(library, make_manager):
    add_demo_vm(library, "Before")
    window = make_manager()
    dialog = window.open_settings("Before")
    dialog.general.name.setText("After")
    dialog.save_button.click()
    assert "After" in library and "Before" not in library
    assert window.selected_name() == "After"


def test_killed_vm_process_is_shown_aborted_and_starts_again(library, make_manager, qtbot):
    """SIGKILL one of two running VMs: the other keeps running, the manager shows the
    first as aborted with the reason, and it can be started again."""
    import os
    import signal

    from vmgui.host.process import ProcessHost

    add_demo_vm(library, "Victim")
    add_demo_vm(library, "Survivor")
    window = make_manager()
    victim = window.start_vm("Victim").host
    survivor = window.start_vm("Survivor").host
    assert isinstance(victim, ProcessHost)  # VMs run in their own processes by default
    for host in (victim, survivor):
        wait_running(qtbot, host)
    os.kill(victim.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.runner.state("Victim") is ev.RunState.ABORTED, timeout=3000)
    index = window.model.index(window.model.row_of("Victim"))
    qtbot.waitUntil(lambda: "Aborted" in (index.data(STATE_TEXT_ROLE) or ""), timeout=3000)
    survivor.poll_events()
    assert survivor.alive and window.runner.state("Survivor") is ev.RunState.RUNNING
    again = window.start_vm("Victim").host
    wait_running(qtbot, again)
    qtbot.waitUntil(lambda: any("vmgui demo" in line for line in again.text_lines()),
                    timeout=8000)


def test_an_image_two_running_vms_would_write_is_refused(library, make_manager, qtbot,
                                                         tmp_path):
    image = tmp_path / "shared.img"
    shutil.copy(DEMO_IMAGE, image)
    library.create(VmConfig("First", floppy_a=Attachment(str(image))))
    library.create(VmConfig("Second", floppy_a=Attachment(str(image))))
    library.create(VmConfig("Reader", floppy_a=Attachment(str(image), read_only=True)))
    window = make_manager()
    wait_running(qtbot, window.start_vm("First").host)
    assert window.start_vm("Second") is None
    assert "already in use by the running VM First" in window.last_error
    assert not window.runner.is_running("Second")
    wait_running(qtbot, window.start_vm("Reader").host)  # a read-only attach is fine


def test_media_list_shows_images_sizes_and_users(library, make_manager, tmp_path):
    image = tmp_path / "data.img"
    image.write_bytes(bytes(737280))
    library.create(VmConfig("Alpha", floppy_a=Attachment(str(image))))
    library.create(VmConfig("Beta", floppy_b=Attachment(str(image))))
    library.create(VmConfig("Gone", floppy_a=Attachment(str(tmp_path / "missing.img"))))
    window = make_manager()
    window.actions["media"].trigger()
    table = window.media_dialog.table
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(1, 4)]
            for r in range(table.rowCount())}
    assert rows[str(image)] == ["720 KB", rows[str(image)][1], "Alpha, Beta"]
    assert "720K" in rows[str(image)][1]
    assert rows[str(tmp_path / "missing.img")][1].startswith("unusable")
    window.media_dialog.close()


def test_serial_tcp_server_on_loopback(library, make_manager, qtbot, tmp_path):
    import socket

    from vmgui.config.schema import SerialConfig

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    library.create(VmConfig("Talker", floppy_a=Attachment(str(DEMO_IMAGE), read_only=True),
                            serial=SerialConfig(mode="tcp", port=port)))
    window = make_manager()
    vm = window.start_vm("Talker")
    wait_running(qtbot, vm.host)
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.settimeout(0.05)
    received = bytearray()

    def got_banner() -> bool:
        try:
            received.extend(client.recv(4096))
        except TimeoutError:
            pass
        return b"vmgui demo booted" in received

    try:
        qtbot.waitUntil(got_banner, timeout=8000)
    finally:
        client.close()


def test_save_state_then_start_resumes_there(library, make_manager, qtbot, tmp_path):
    from vmgui.config.snapshots import saved_state_path

    image = tmp_path / "echo.img"
    shutil.copy(Path(__file__).resolve().parents[1] / "guests" / "echo.img", image)
    library.create(VmConfig("Saver", floppy_a=Attachment(str(image), read_only=True)))
    window = make_manager()
    vm = window.start_vm("Saver")
    qtbot.waitUntil(lambda: "READY" in "\n".join(_screen_lines(vm.host)), timeout=10000)
    from vmgui.core import keys

    for event in keys.text("q"):
        vm.host.send(ev.KeyScancodes(event))
    qtbot.waitUntil(lambda: "1071" in "\n".join(_screen_lines(vm.host)), timeout=10000)
    folder = library.get("Saver").folder
    assert vm.console.save_state_and_power_off()
    assert saved_state_path(folder).is_file()
    qtbot.waitUntil(lambda: not window.runner.is_running("Saver"), timeout=5000)
    again = window.start_vm("Saver")
    qtbot.waitUntil(lambda: "1071" in "\n".join(_screen_lines(again.host)), timeout=10000)
    qtbot.waitUntil(lambda: not saved_state_path(folder).exists(), timeout=5000)


def test_tryout_vm_runs_on_throwaway_overlays(library, make_manager, qtbot, tmp_path):
    import hashlib

    image = tmp_path / "demo.img"
    shutil.copy(DEMO_IMAGE, image)
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    library.create(VmConfig("Tryer", floppy_a=Attachment(str(image)), tryout=True))
    window = make_manager()
    vm = window.start_vm("Tryer")
    wait_running(qtbot, vm.host)
    # in the VM's folder (found again after a crash), owned by this process
    assert vm.tryout_dir == library.get("Tryer").folder / "tryout"
    assert any(vm.tryout_dir.glob("*.cow")) and (vm.tryout_dir / "owner").is_file()
    tryout_dir = vm.tryout_dir
    window.power_off_vm("Tryer")
    qtbot.waitUntil(lambda: not tryout_dir.exists(), timeout=5000)
    assert hashlib.sha256(image.read_bytes()).hexdigest() == digest


def _screen_lines(host):
    host.poll_events()
    try:
        return host.text_lines()
    except RuntimeError:
        return []
