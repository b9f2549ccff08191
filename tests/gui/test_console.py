"""The console window driven like a user would: clicks, key events, menus."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QSize, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from vmgui.devices.render import render
from vmgui.ui.console import ScaleMode
from vmgui.ui.console.framebuffer import font_for

from .conftest import type_keys, wait_screen

XK_CONTROL_L, XK_CONTROL_R = 0xFFE3, 0xFFE4


@pytest.fixture
def echo(make_console, test_guests, qtbot):
    window = make_console(test_guests / "echo.img")
    wait_screen(qtbot, window, "READY", 5000)
    return window


def grab(qtbot, window) -> None:
    QTest.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert window.grabbed


def ctrl_event(kind: QEvent.Type, keysym: int) -> QKeyEvent:
    mods = Qt.KeyboardModifier.ControlModifier if kind == QEvent.Type.KeyPress else \
        Qt.KeyboardModifier.NoModifier
    return QKeyEvent(kind, Qt.Key.Key_Control, mods, 0, keysym, 0)


def test_key_press_reaches_guest_as_scancodes(echo, qtbot):
    grab(qtbot, echo)
    QTest.keyClick(echo.view, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: b"1E61" in echo.host.serial, timeout=3000)
    QTest.keyClick(echo.view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: b"1C0D" in echo.host.serial, timeout=3000)
    wait_screen(qtbot, echo, "1E61 1C0D")


def test_keys_go_to_shortcuts_when_not_grabbed(echo, qtbot):
    assert not echo.grabbed
    QTest.keyClick(echo.view, Qt.Key.Key_A)
    qtbot.wait(200)
    assert b"1E61" not in echo.host.serial
    QTest.keyClick(echo, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # Scale 2x
    assert echo.view.scale_mode is ScaleMode.X2


def test_grab_released_by_host_key(echo, qtbot):
    grab(qtbot, echo)
    assert "captured" in echo.grab_label.text()
    for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):  # left Ctrl: a guest key
        QApplication.sendEvent(echo.view, ctrl_event(kind, XK_CONTROL_L))
    assert echo.grabbed
    QApplication.sendEvent(echo.view, ctrl_event(QEvent.Type.KeyPress, XK_CONTROL_R))
    assert not echo.grabbed
    assert "Click" in echo.grab_label.text()
    QApplication.sendEvent(echo.view, ctrl_event(QEvent.Type.KeyRelease, XK_CONTROL_R))
    QTest.keyClick(echo.view, Qt.Key.Key_B)  # no longer reaches the guest
    qtbot.wait(200)
    assert echo.host.machine.pending_keys() == 0
    assert b"3062" not in echo.host.serial


def test_screenshot_equals_framebuffer(echo, qtbot):
    path = echo.take_screenshot()
    assert path.parent == echo.screenshots_dir and path.suffix == ".png"
    state = echo.host.display()
    width, height, rgb = render(state, font_for(state))
    with Image.open(path) as png:
        assert png.size == (width, height) == (640, 400)
        assert png.convert("RGB").tobytes() == rgb
    clip = QGuiApplication.clipboard().image()
    assert (clip.width(), clip.height()) == (640, 400)


def test_scale_modes_keep_aspect_ratio(echo, qtbot):
    qtbot.waitUntil(lambda: echo.view.image is not None, timeout=2000)
    echo.view.room = lambda: QSize(4000, 3000)
    echo.set_scale_mode(ScaleMode.X2)
    assert echo.view.sizeHint() == QSize(1280, 800)
    echo.set_scale_mode(ScaleMode.FIT)
    echo.resize(1000, 420)
    qtbot.waitUntil(lambda: echo.view.height() < 420, timeout=2000)
    rect = echo.view.target_rect()
    assert rect.height() == echo.view.height()
    assert abs(rect.width() / rect.height() - 640 / 400) < 0.01
    assert rect.center().x() in range(echo.view.width() // 2 - 1, echo.view.width() // 2 + 2)
    echo.view.set_scale_mode(ScaleMode.FIT, integer=True)
    echo.resize(1500, 900)
    qtbot.waitUntil(lambda: echo.view.height() > 800, timeout=2000)
    assert echo.view.target_rect().size() == QSize(1280, 800)


def test_a_frame_too_big_for_the_screen_is_drawn_as_large_as_fits(echo, qtbot):
    """2x of a VBE desktop would be larger than most screens: the window stays on the
    screen and the picture keeps its aspect (the window computes the room)."""
    qtbot.waitUntil(lambda: echo.view.image is not None, timeout=2000)
    room = echo._room_for_view()
    screen = echo.screen().availableGeometry()
    assert 0 < room.width() <= screen.width() and 0 < room.height() <= screen.height()
    echo.view.room = lambda: QSize(1000, 700)
    echo.set_scale_mode(ScaleMode.X2)  # 640x400 text: 1280x800 does not fit
    assert echo.view.sizeHint() == QSize(1000, 625)
    echo.set_scale_mode(ScaleMode.X1)
    assert echo.view.sizeHint() == QSize(640, 400)  # fits: as it is
    echo.set_scale_mode(ScaleMode.X2)
    qtbot.waitUntil(lambda: echo.view.width() >= 1000, timeout=2000)
    rect = echo.view.target_rect()
    assert echo.view.rect().contains(rect)
    assert abs(rect.width() / rect.height() - 640 / 400) < 0.01
    echo.view.room = echo._room_for_view
    echo.set_scale_mode(ScaleMode.X2)  # the offscreen screen is 800 wide: no room for 2x
    hint = echo.view.sizeHint()
    assert hint.width() <= echo._room_for_view().width() and hint.width() < 1280


def test_status_bar_and_serial_dock(echo, qtbot):
    qtbot.waitUntil(lambda: "80x25" in echo.mode_label.text(), timeout=2000)
    assert "03h" in echo.mode_label.text()
    assert echo.state_label.text() == "Running"
    qtbot.waitUntil(lambda: "READY" in echo.serial.text(), timeout=2000)
    echo.send_combo("a")
    qtbot.waitUntil(lambda: "1E61" in echo.serial.text(), timeout=2000)


def test_type_text_reports_untypable_characters(echo, qtbot):
    assert echo.type_text("a\u00e9") == "\u00e9"
    qtbot.waitUntil(lambda: b"1E61" in echo.host.serial, timeout=3000)


def test_pause_and_resume(echo, qtbot):
    echo.pause_action.trigger()
    qtbot.waitUntil(lambda: echo.state_label.text() == "Paused", timeout=2000)
    echo.pause_action.trigger()
    qtbot.waitUntil(lambda: echo.state_label.text() == "Running", timeout=2000)


def test_freedos_dir(make_console, shared_guests, qtbot):
    window = make_console(shared_guests / "freedos722.img")
    wait_screen(qtbot, window, "A:\\>")
    grab(qtbot, window)
    type_keys(window.view, "dir\n")
    wait_screen(qtbot, window, "bytes free")


def test_bootbasic_arithmetic(make_console, shared_guests, qtbot):
    window = make_console(shared_guests / "bootbasic.img")
    wait_screen(qtbot, window, ">")
    grab(qtbot, window)
    type_keys(window.view, "10 print 6*7\nrun\n")
    qtbot.waitUntil(lambda: any(line.strip() == "42" for line in window.host.text_lines()),
                    timeout=5000)


def hold(qtbot, widget, key, modifier, ms: int) -> None:
    QTest.keyPress(widget, key, modifier)
    qtbot.wait(ms)
    QTest.keyRelease(widget, key)


def test_cubicdoom_holding_alt_changes_frame(make_console, shared_guests, qtbot):
    """cubicDoom reads the BIOS shift flags: holding Alt moves the player, redrawing the
    view many times (idle, the game redraws about once in 1.7 s).  Against a wall Alt
    changes nothing, so after a failed hold Ctrl is held briefly and Alt tried again."""
    window = make_console(shared_guests / "cubicdoom.img")
    qtbot.waitUntil(lambda: window.view.state is not None
                    and window.view.state.width == 320, timeout=5000)
    qtbot.wait(300)
    grab(qtbot, window)
    counts = []
    for _attempt in range(3):
        before, frames = window.view.frame_bytes(), window.view.frames
        hold(qtbot, window.view, Qt.Key.Key_Alt, Qt.KeyboardModifier.AltModifier, 500)
        qtbot.wait(100)
        counts.append(window.view.frames - frames)
        if counts[-1] >= 4 and window.view.frame_bytes() != before:
            return
        hold(qtbot, window.view, Qt.Key.Key_Control, Qt.KeyboardModifier.ControlModifier, 300)
    raise AssertionError(f"holding Alt redrew too few frames: {counts}")


def test_console_drives_a_vm_process(qtbot, test_guests):
    """The same console on a VM in its own process (the default hosting)."""
    from vmgui.core.machine import MachineConfig
    from vmgui.host.process import ProcessHost
    from vmgui.ui.console.window import ConsoleWindow

    host = ProcessHost(MachineConfig(floppies=(test_guests / "echo.img",), read_only=True))
    window = ConsoleWindow(host, "echo", confirm=False)
    qtbot.addWidget(window)
    window.show()
    host.start()
    try:
        qtbot.waitUntil(lambda: "READY" in "\n".join(_lines(host)), timeout=15000)
        grab(qtbot, window)
        QTest.keyClick(window.view, Qt.Key.Key_A)
        qtbot.waitUntil(lambda: (host.poll_events() or True) and b"1E61" in host.serial,
                        timeout=10000)
    finally:
        window.shut_down()


def _lines(host):
    host.poll_events()
    try:
        return host.text_lines()
    except RuntimeError:
        return []


def test_save_state_on_close_then_resume(qtbot, test_guests, tmp_path):
    """Close -> Save state writes the machine; a new machine loaded from it shows the
    same screen."""
    from vmgui.core import events as ev
    from vmgui.core import snapshot
    from vmgui.core.machine import Machine, MachineConfig
    from vmgui.host.process import ProcessHost
    from vmgui.ui.console.window import ConsoleWindow

    config = MachineConfig(floppies=(test_guests / "echo.img",), read_only=True)
    state = tmp_path / "saved.state"
    host = ProcessHost(config)
    window = ConsoleWindow(host, "echo", confirm=False, saved_state=state)
    qtbot.addWidget(window)
    window.show()
    host.start()
    qtbot.waitUntil(lambda: "READY" in "\n".join(_lines(host)), timeout=15000)
    host.send(ev.KeyScancodes(b"\x10"))  # 'q' make
    host.send(ev.KeyScancodes(b"\x90"))
    qtbot.waitUntil(lambda: "1071" in "\n".join(_lines(host)), timeout=10000)
    assert window.save_state_and_power_off()
    assert state.is_file() and not host.alive
    machine = Machine(config)
    try:
        machine.power_on()
        snapshot.load(machine, state)
        assert "1071" in "\n".join(machine.text_lines())
    finally:
        machine.close()


def test_status_bar_shows_disk_activity(make_console, shared_guests, qtbot):
    window = make_console(shared_guests / "freedos722.img")
    # FreeDOS reads its floppy while booting: A: lights up
    qtbot.waitUntil(lambda: "A:●" in window.disk_label.text(), timeout=10000)
    assert not hasattr(window, "speed_label")  # "M blocks/s" was jargon, and always 0.0
