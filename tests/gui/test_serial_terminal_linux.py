"""The serial dock as a terminal on a real busybox shell: Debian's i386 kernel and the
busybox initramfs of tests/linux_images.py booted directly with console=ttyS0, driven only
by key presses in the dock (no SerialInput sent by the test): commands run, Backspace
erases (DEL, the tty's erase character), the Up arrow recalls the last command from the
shell's history, and the shell's colours and cursor queries come out as cells, not as
escape-sequence garbage.  One boot, ~35-90 s: slow."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests import linux_images
from vmgui.core.machine import MachineConfig
from vmgui.core.terminal import Attr
from vmgui.host.thread import ThreadHost
from vmgui.ui.console import ConsoleWindow
from vmgui.ui.machines import media_of_machine

pytestmark = pytest.mark.slow

PROMPT = linux_images.PROMPT.strip()
BOOT_TIMEOUT_MS = 400_000
COMMAND_TIMEOUT_MS = 60_000


@pytest.fixture
def linux_console(qtbot):
    try:
        kernel, initrd = linux_images.images()
    except linux_images.MissingInput as exc:
        pytest.skip(str(exc))
    config = MachineConfig(memory_mb=128, kernel=kernel, initrd=initrd,
                           append=linux_images.SERIAL_APPEND)
    host = ThreadHost(config)
    window = ConsoleWindow(host, "Linux", confirm=False, media=media_of_machine(config))
    qtbot.addWidget(window)
    window.show()
    window.serial.show()
    host.start()
    try:
        qtbot.waitUntil(lambda: PROMPT in window.serial.text(), timeout=BOOT_TIMEOUT_MS)
        yield window
    finally:
        window.shut_down()
        host.power_off()


def prompts(window) -> int:
    return window.serial.text().count(PROMPT)


def typed(qtbot, window, *keys: str | Qt.Key) -> None:
    """Press ``keys`` (text or named keys) in the dock, then wait for the next prompt."""
    view, before = window.serial.view, prompts(window)
    for key in keys:
        if isinstance(key, str):
            QTest.keyClicks(view, key)
        else:
            QTest.keyClick(view, key)
    qtbot.waitUntil(lambda: prompts(window) > before, timeout=COMMAND_TIMEOUT_MS)


def test_a_busybox_shell_is_usable_in_the_dock(qtbot, linux_console):
    window = linux_console
    terminal = window.serial.terminal
    typed(qtbot, window, "echo $((6*7))", Qt.Key.Key_Return)
    assert "\n42\n" in window.serial.text()
    typed(qtbot, window, "echo abX", Qt.Key.Key_Backspace, "c", Qt.Key.Key_Return)
    assert "\nabc\n" in window.serial.text()
    typed(qtbot, window, Qt.Key.Key_Up, Qt.Key.Key_Return)  # history: echo abc again
    assert window.serial.text().count("\nabc\n") == 2
    typed(qtbot, window, r"printf '\033[1;31mRED\033[0m\n'", Qt.Key.Key_Return)
    row = next(line for line in terminal.lines
               if "".join(c.char for c in line).startswith("RED"))
    assert row[0].attr == Attr(fg=1, bold=True) and row[3].attr == Attr()
    assert "\x1b" not in window.serial.text() and "[6n" not in window.serial.text()
