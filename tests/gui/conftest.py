"""GUI test fixtures: the offscreen Qt platform, manager windows, consoles on booted guests,
key helpers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402 - the platform must be chosen before Qt loads

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from vmgui.config.library import Library  # noqa: E402
from vmgui.core import keys  # noqa: E402
from vmgui.core.machine import MachineConfig  # noqa: E402
from vmgui.host.thread import ThreadHost  # noqa: E402
from vmgui.ui.console import ConsoleWindow  # noqa: E402
from vmgui.ui.machines import media_of_machine  # noqa: E402
from vmgui.ui.manager import ManagerWindow  # noqa: E402


@pytest.fixture
def library(tmp_path, monkeypatch) -> Library:
    """An empty VM library in the test's folder (``VMGUI_HOME`` points there)."""
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path / "home"))
    return Library()


@pytest.fixture
def make_manager(qtbot, tmp_path):
    """Factory: ``make_manager(library, create_demo=False)`` -> a shown ManagerWindow that
    asks no questions.  Every VM it runs is powered off at teardown."""
    made: list[ManagerWindow] = []

    def make(library: Library | None = None, create_demo: bool = False) -> ManagerWindow:
        window = ManagerWindow(library, confirm=False, create_demo=create_demo,
                               screenshots_dir=tmp_path / "shots")
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.runner.power_off_all()


@pytest.fixture
def manager(make_manager, library) -> ManagerWindow:
    """A shown ManagerWindow on ``library`` (see ``make_manager``)."""
    return make_manager(library)


@pytest.fixture
def make_console(qtbot, tmp_path):
    """Factory: ``make_console(image)`` -> a shown ConsoleWindow on a started ThreadHost
    (floppy, read-only, no questions).  Every host is powered off at teardown."""
    made: list[tuple[ConsoleWindow, ThreadHost]] = []

    def make(image: Path) -> ConsoleWindow:
        config = MachineConfig(floppies=(image,), read_only=True)
        host = ThreadHost(config)
        window = ConsoleWindow(host, image.stem, screenshots_dir=tmp_path / "shots",
                               confirm=False, media=media_of_machine(config))
        made.append((window, host))
        qtbot.addWidget(window)
        window.show()
        host.start()
        return window

    yield make
    for window, host in made:
        window.shut_down()
        host.power_off()
        assert not host.alive


def screen_has(window: ConsoleWindow, text: str) -> bool:
    return any(text in line for line in window.host.text_lines())


def wait_screen(qtbot, window: ConsoleWindow, text: str, timeout_ms: int = 8000) -> None:
    try:
        qtbot.waitUntil(lambda: screen_has(window, text), timeout=timeout_ms)
    except AssertionError:
        screen = "\n".join(window.host.text_lines())
        raise AssertionError(f"{text!r} not on screen after {timeout_ms} ms:\n{screen}") from None


def type_keys(widget, text: str) -> None:
    """Type ``text`` as a user would on a US keyboard: Shift held around shifted keys."""
    for ch in text:
        if ch == "\n":
            QTest.keyClick(widget, Qt.Key.Key_Return)
            continue
        shifted, _code = keys.CHARS[ch]
        key = Qt.Key(ord(ch.upper()) if ch.isalpha() else ord(ch))
        if shifted:
            QTest.keyPress(widget, Qt.Key.Key_Shift, Qt.KeyboardModifier.ShiftModifier)
            QTest.keyClick(widget, key, Qt.KeyboardModifier.ShiftModifier)
            QTest.keyRelease(widget, Qt.Key.Key_Shift)
        else:
            QTest.keyClick(widget, key)
