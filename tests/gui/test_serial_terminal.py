"""The serial dock's terminal widget: what it draws for the terminal's cells (colours,
reverse, the cursor, scroll-back) and what the keyboard sends to COM1 (Enter CR,
Backspace DEL, arrows ESC [ A-D or ESC O A-D, Ctrl+letters, Tab kept, paste); the dock
on a running machine sends SerialInput commands.  A real busybox shell over COM1:
test_serial_terminal_linux.py."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from vmgui.core import events as ev
from vmgui.core.terminal import Terminal
from vmgui.ui.console.serial_dock import SerialDock
from vmgui.ui.console.terminal_view import (
    ANSI_COLOURS,
    MARGIN,
    TerminalView,
    palette_rgb,
)


@pytest.fixture
def view(qtbot):
    sent: list[bytes] = []
    terminal = Terminal(20, 5, reply=sent.append)
    widget = TerminalView(terminal, sent.append)
    widget.sent = sent
    qtbot.addWidget(widget)
    widget.show()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=2000)
    return widget


def cell_pixels(widget: TerminalView, row: int, col: int) -> set[tuple[int, int, int]]:
    image = widget.grab().toImage()
    w, h = widget.cell.width(), widget.cell.height()
    found = set()
    for y in range(MARGIN + row * h, MARGIN + (row + 1) * h):
        for x in range(MARGIN + col * w, MARGIN + (col + 1) * w):
            c = QColor(image.pixel(x, y))
            found.add((c.red(), c.green(), c.blue()))
    return found


def test_the_grid_has_the_terminals_size(view):
    hint = view.sizeHint()
    assert hint.width() == 20 * view.cell.width() + 2 * MARGIN
    assert hint.height() == 5 * view.cell.height() + 2 * MARGIN


def test_colours_bold_and_reverse_are_drawn(view):
    view.feed(b"\x1b[41m  \x1b[0m\x1b[1;32mG\x1b[0m\x1b[7m \x1b[0mX")
    assert cell_pixels(view, 0, 0) == {ANSI_COLOURS[1]}  # red background, no text
    green = cell_pixels(view, 0, 2)
    assert ANSI_COLOURS[10] in green  # bold green is bright green, on black
    assert cell_pixels(view, 0, 3) == {ANSI_COLOURS[7]}  # reverse blank: the fg colour
    assert cell_pixels(view, 0, 6) == {ANSI_COLOURS[0]}  # nothing there


def test_the_cursor_is_a_block_where_the_terminal_has_it(view):
    view.feed(b"ab\x1b[2;4H")
    assert cell_pixels(view, 1, 3) == {ANSI_COLOURS[7]}
    view.feed(b"\x1b[?25l")
    assert cell_pixels(view, 1, 3) == {ANSI_COLOURS[0]}


def test_garbage_sequences_draw_nothing(view):
    view.feed(b"\x1b]0;title\x07\x1b[?2004h\x1b[>c\x1b(B")
    assert view.terminal.text() == ""
    assert all(cell_pixels(view, 0, col) == {ANSI_COLOURS[0]} for col in range(1, 5))


def test_palette():
    assert palette_rgb(1) == (0xAA, 0, 0) and palette_rgb(196) == (255, 0, 0)
    assert palette_rgb(16) == (0, 0, 0) and palette_rgb(255) == (238, 238, 238)


@pytest.mark.parametrize(("key", "mods", "data"), [
    (Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier, b"\r"),
    (Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier, b"\r"),
    (Qt.Key.Key_Backspace, Qt.KeyboardModifier.NoModifier, b"\x7f"),
    (Qt.Key.Key_Up, Qt.KeyboardModifier.NoModifier, b"\x1b[A"),
    (Qt.Key.Key_Down, Qt.KeyboardModifier.NoModifier, b"\x1b[B"),
    (Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, b"\x1b[C"),
    (Qt.Key.Key_Left, Qt.KeyboardModifier.NoModifier, b"\x1b[D"),
    (Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier, b"\x1b[3~"),
    (Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier, b"\x03"),
    (Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier, b"\x04"),
    (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier, b"\x1b"),
    (Qt.Key.Key_F1, Qt.KeyboardModifier.NoModifier, b"\x1bOP"),
])
def test_keys_send_what_a_vt100_sends(view, key, mods, data):
    QTest.keyClick(view, key, mods)
    assert view.sent == [data]


def test_typed_text_and_tab_stay_in_the_terminal(qtbot):
    sent: list[bytes] = []
    box = QWidget()
    qtbot.addWidget(box)
    layout = QVBoxLayout(box)
    view = TerminalView(Terminal(20, 5), sent.append, box)
    other = QLineEdit(box)
    layout.addWidget(view)
    layout.addWidget(other)
    box.show()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=2000)
    QTest.keyClicks(view, "ls -l")
    QTest.keyClick(view, Qt.Key.Key_Tab)
    assert b"".join(sent) == b"ls -l\t"
    assert view.hasFocus()  # Tab completed in the guest, not a focus change


def test_arrows_follow_the_guests_cursor_key_mode(view):
    view.feed(b"\x1b[?1h")
    QTest.keyClick(view, Qt.Key.Key_Up)
    view.feed(b"\x1b[?1l")
    QTest.keyClick(view, Qt.Key.Key_Up)
    assert view.sent == [b"\x1bOA", b"\x1b[A"]


def test_a_backspace_that_sends_bs(qtbot):
    sent: list[bytes] = []
    view = TerminalView(Terminal(20, 5), sent.append, backspace=b"\x08")
    qtbot.addWidget(view)
    QTest.keyClick(view, Qt.Key.Key_Backspace)
    assert sent == [b"\x08"]


def test_answers_to_the_guests_queries_go_back(view):
    view.feed(b"\x1b[3;4H\x1b[6n")
    assert view.sent == [b"\x1b[3;4R"]


def test_paste_sends_lines_ending_in_cr(view):
    QGuiApplication.clipboard().setText("echo a\necho b\n")
    QTest.keyClick(view, Qt.Key.Key_Insert, Qt.KeyboardModifier.ShiftModifier)
    assert view.sent == [b"echo a\recho b\r"]


def test_scrolling_back_shows_older_lines_and_output_returns(view):
    view.feed(b"".join(b"line %d\r\n" % i for i in range(10)))
    assert view.visible_lines()[0][5].char == "6"
    QTest.keyClick(view, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ShiftModifier)
    assert view.scroll_offset == 2 and view.visible_lines()[0][5].char == "4"
    view.scroll_back(100)
    assert view.visible_lines()[0][5].char == "0"
    view.feed(b"x")
    assert view.scroll_offset == 0


def test_the_dock_sends_serial_input_commands(qtbot):
    commands: list[ev.Command] = []
    dock = SerialDock(commands.append)
    qtbot.addWidget(dock)
    dock.show()
    dock.append_output(b"login: \x1b[6n")
    QTest.keyClicks(dock.view, "root")
    QTest.keyClick(dock.view, Qt.Key.Key_Return)
    assert commands == [ev.SerialInput(b"\x1b[1;8R")] + [
        ev.SerialInput(bytes([c])) for c in b"root"] + [ev.SerialInput(b"\r")]
    assert dock.text() == "login:"


def test_a_squeezed_view_shows_the_rows_up_to_the_cursor(view):
    view.setMinimumSize(view.minimumSizeHint())
    view.resize(view.width(), 3 * view.cell.height() + 2 * MARGIN)
    assert view.rows_shown() == 3
    view.feed(b"one\r\ntwo\r\nthree\r\n$ ")
    assert ["".join(c.char for c in line).strip() for line in view.visible_lines()] == \
        ["two", "three", "$"]
    assert view.cursor_row_shown() == 2
    assert cell_pixels(view, 2, 2) == {ANSI_COLOURS[7]}  # the cursor, after "$ "
    view.scroll_back(1)
    assert view.visible_lines()[0][0].char == "o" and view.cursor_row_shown() is None


def test_the_dock_asks_for_the_whole_grid_when_shown(qtbot):
    from PySide6.QtWidgets import QLabel, QMainWindow

    window = QMainWindow()
    qtbot.addWidget(window)
    window.setCentralWidget(QLabel("screen"))
    dock = SerialDock(lambda command: None, window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    window.resize(700, 200)
    window.show()
    dock.show()
    qtbot.waitUntil(lambda: dock.view.height() >= min(
        dock.view.sizeHint().height(), window.screen().availableGeometry().height() // 2),
        timeout=2000)
