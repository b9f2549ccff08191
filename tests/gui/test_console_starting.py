"""Before a VM process has drawn its first screen, the host says so with NoScreenYet: the
console and the manager's thumbnails show "Starting..." instead of raising, and a
screenshot asked for then is answered in the status bar."""

from __future__ import annotations

import logging

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from vmgui.core import events as ev
from vmgui.host.base import EventRecord, NoScreenYet
from vmgui.host.process import ProcessHost
from vmgui.ui.console import ConsoleWindow
from vmgui.ui.manager.running import screen_image
from vmgui.ui.manager.vmlist import ENTRY_ROLE, SCREEN_ROLE, STATE_ROLE, VmItemDelegate


class StartingHost(EventRecord):
    """A host whose VM reports RUNNING but has no screen yet (a loaded machine)."""

    def __init__(self) -> None:
        self._init_record()
        self.state = ev.RunState.RUNNING
        self.alive = True
        self.sent: list = []
        self._events: list = []

    def poll_events(self) -> list:
        out, self._events = self._events, []
        for event in out:
            self._apply(event)
        return out

    def send(self, command) -> None:
        self.sent.append(command)

    def display(self):
        raise NoScreenYet()

    def text_lines(self) -> list[str]:
        return []

    def pending_keys(self) -> int:
        return 0

    def power_off(self, timeout: float = 5.0) -> None:
        self.alive = False
        self._events.append(ev.StateChanged(ev.RunState.POWERED_OFF))


def test_console_says_starting_and_refuses_a_screenshot_politely(qtbot, tmp_path):
    host = StartingHost()
    window = ConsoleWindow(host, "vm", screenshots_dir=tmp_path / "shots", confirm=False)
    qtbot.addWidget(window)
    window.show()
    window.tick()  # no exception out of the timer slot
    assert window.view.image is None
    assert window.view.placeholder == "Starting..."
    window.view.grab()  # paints the placeholder
    window._on_screenshot()
    assert "still starting" in window.statusBar().currentMessage()
    assert not (tmp_path / "shots").exists()
    window.shut_down()
    assert window.view.placeholder == "Powered off"


def test_console_on_a_process_host_right_after_start(qtbot, tmp_path, test_guests):
    from vmgui.core.machine import MachineConfig

    host = ProcessHost(MachineConfig(floppies=(test_guests / "echo.img",), read_only=True))
    window = ConsoleWindow(host, "echo", screenshots_dir=tmp_path / "shots", confirm=False)
    qtbot.addWidget(window)
    window.show()
    host.start()
    try:
        window.tick()  # the VM process is still coming up: no screen, no exception
        assert window.view.image is None and window.view.placeholder == "Starting..."
        qtbot.waitUntil(lambda: (window.tick(), window.view.image is not None)[1],
                        timeout=20000)
    finally:
        window.shut_down()


def test_thumbnail_of_a_starting_vm_says_starting(qtbot, caplog):
    host = StartingHost()
    with caplog.at_level(logging.DEBUG, logger="vmgui"):
        assert screen_image(host) is None
    assert not [r for r in caplog.records if r.exc_info]  # expected, not an error

    class Index:
        def __init__(self, state) -> None:
            self.roles = {SCREEN_ROLE: None, STATE_ROLE: state, ENTRY_ROLE: None}

        def data(self, role):
            return self.roles.get(role)

    def painted(state) -> QImage:
        image = QImage(96, 72, QImage.Format.Format_RGB32)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        VmItemDelegate._paint_picture(painter, QRect(0, 0, 96, 72), Index(state))
        painter.end()
        return image

    starting = painted(ev.RunState.RUNNING)
    assert starting.pixelColor(1, 1) == QColor(Qt.GlobalColor.black)  # a dark screen...
    colours = {starting.pixel(x, y) for x in range(96) for y in range(72)}
    assert len(colours) > 2  # ...with words on it
    stopped = painted(ev.RunState.POWERED_OFF)  # the VM icon on the row's background
    assert stopped.pixelColor(1, 1) == QColor(Qt.GlobalColor.white)
