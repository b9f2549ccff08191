"""The console's mouse capture with tests/guests/mouse.asm, which prints every PS/2 packet
its int 15h C207h callback receives as "<status> <X> <Y>" on COM1."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QCursor, QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from vmgui.core import events as ev
from vmgui.ui.console.mouse import split_delta

from .conftest import wait_screen

XK_CONTROL_R = 0xFFE4


@pytest.fixture
def console(make_console, test_guests, qtbot):
    window = make_console(test_guests / "mouse.img")
    wait_screen(qtbot, window, "MOUSE READY", 5000)
    qtbot.waitUntil(lambda: window.view.frames > 0)
    qtbot.wait(50)  # the window has taken the frame's size
    return window


def packets(window) -> list[str]:
    text = window.host.serial.decode("ascii", "replace")
    return [p for p in text.split("MOUSE READY", 1)[-1].split("\r\n") if p]


def capture(window) -> None:
    QTest.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=window.view.rect().center())
    assert window.grabbed and window.mouse.captured


def release_by_host_key(window) -> None:
    for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
        mods = (Qt.KeyboardModifier.ControlModifier if kind == QEvent.Type.KeyPress
                else Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(window.view, QKeyEvent(kind, Qt.Key.Key_Control, mods, 0,
                                                      XK_CONTROL_R, 0))


def test_click_and_move_reach_guest(console, qtbot):
    capture(console)
    assert "captured keyboard and mouse" in console.grab_label.text()
    assert console.view.cursor().shape() == Qt.CursorShape.BlankCursor
    qtbot.wait(100)
    assert packets(console) == []  # the capturing click is not the guest's
    view = console.view
    centre = view.rect().center()
    QTest.mousePress(view, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: "09 00 00" in packets(console), timeout=3000)
    QTest.mouseMove(view, centre + QPoint(7, -4))  # right and up, left button held
    qtbot.waitUntil(lambda: "09 07 04" in packets(console), timeout=3000)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=centre + QPoint(7, -4))
    qtbot.waitUntil(lambda: packets(console)[-1:] == ["08 00 00"], timeout=3000)
    wait_screen(qtbot, console, "09 07 04")


def test_host_key_releases_mouse_and_held_buttons(console, qtbot):
    capture(console)
    sent: list[ev.Command] = []
    send = console.host.send
    console.mouse._send = lambda cmd: (sent.append(cmd), send(cmd))
    QTest.mousePress(console.view, Qt.MouseButton.RightButton,
                     pos=console.view.rect().center())
    release_by_host_key(console)
    assert not console.grabbed and not console.mouse.captured
    assert sent == [ev.MouseInput(0, 0, 2), ev.MouseInput(0, 0, 0)]
    assert "Click" in console.grab_label.text()
    assert console.view.cursor().shape() != Qt.CursorShape.BlankCursor
    QTest.mouseMove(console.view, console.view.rect().center() + QPoint(20, 20))
    qtbot.wait(100)
    assert len(sent) == 2  # no longer reaches the guest
    qtbot.waitUntil(lambda: packets(console)[-1:] == ["08 00 00"], timeout=3000)


def test_pointer_recentred_after_large_move(console, qtbot):
    capture(console)
    view = console.view
    centre = view.mapToGlobal(view.rect().center())
    QTest.mouseMove(view, view.rect().center() + QPoint(150, 0))
    qtbot.wait(20)
    assert QCursor.pos() == centre
    qtbot.waitUntil(lambda: any(p.endswith(" 00") and p.startswith("08") and p != "08 00 00"
                                for p in packets(console)), timeout=3000)


def test_split_delta():
    assert split_delta(0, 0) == [(0, 0)]
    assert split_delta(300, -10) == [(150, -5), (150, -5)]
    assert sum(x for x, _ in split_delta(1000, 3)) == 1000
    assert all(abs(x) <= 255 and abs(y) <= 255 for x, y in split_delta(-700, 511))


def test_idle_console_spares_the_host(console, qtbot):
    """A quiet screen: a fresh display state only every few ticks, the cursor blink from
    the frame cache; input makes the console ask every tick again."""
    calls = []
    display = console.view._display
    console.view._display = lambda: (calls.append(1), display())[1]
    qtbot.wait(1200)  # past the active period of the last change
    frames, ticks, calls[:] = console.view.frames, console._ticks, []
    qtbot.wait(600)
    idle_ticks = console._ticks - ticks
    assert idle_ticks >= 10
    assert len(calls) <= idle_ticks // 3 + 1
    assert console.timer.interval() > 16  # polling slowed down too
    assert console.view.frames == frames  # blink phases came from the cache
    capture(console)
    ticks, calls[:] = console._ticks, []
    QTest.mousePress(console.view, Qt.MouseButton.LeftButton, pos=console.view.rect().center())
    assert console.timer.interval() == 16
    qtbot.wait(200)
    assert len(calls) >= (console._ticks - ticks) - 1
    qtbot.waitUntil(lambda: "09 00 00" in packets(console), timeout=3000)
