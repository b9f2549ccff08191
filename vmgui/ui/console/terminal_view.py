"""The serial console's terminal widget: draws a :class:`vmgui.core.terminal.Terminal`
and turns key presses into the bytes a VT100 sends.

Owns: :class:`TerminalView` -- a fixed grid of character cells in a monospaced font
(the terminal's columns x rows; the widget does not reflow), the colours (the 16 ANSI
colours as a VGA shows them, xterm's 256-colour cube and greys, 24-bit colours), the
cursor (a block; hollow while the widget has no focus), scrolling back through the lines
that left the top with the mouse wheel or Shift+Page Up/Down, and the keyboard.  A widget
smaller than the grid shows as many whole rows as fit, ending with the cursor's row (the
line being typed stays in sight; columns beyond the right edge are cut).  Keys: named
keys through :func:`vmgui.core.terminal_keys.key_bytes`, text and Ctrl/Alt combinations
through :func:`~vmgui.core.terminal_keys.text_bytes`, Ctrl+Shift+V and Shift+Insert
paste (line ends as CR).  Tab stays in the widget: it goes to the guest.

Thread rule: GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from vmgui.core.terminal import DEFAULT_COLOUR, TRUE_COLOUR, Attr, Line, Terminal
from vmgui.core.terminal_keys import DEL, key_bytes, text_bytes

log = logging.getLogger(__name__)

MARGIN = 3
MIN_COLUMNS, MIN_ROWS = 20, 3  # the smallest the widget gets in a squeezed dock
WHEEL_LINES = 3
# the 16 ANSI colours as a VGA text mode shows them (its default palette)
ANSI_COLOURS = [
    (0x00, 0x00, 0x00), (0xAA, 0x00, 0x00), (0x00, 0xAA, 0x00), (0xAA, 0x55, 0x00),
    (0x00, 0x00, 0xAA), (0xAA, 0x00, 0xAA), (0x00, 0xAA, 0xAA), (0xAA, 0xAA, 0xAA),
    (0x55, 0x55, 0x55), (0xFF, 0x55, 0x55), (0x55, 0xFF, 0x55), (0xFF, 0xFF, 0x55),
    (0x55, 0x55, 0xFF), (0xFF, 0x55, 0xFF), (0x55, 0xFF, 0xFF), (0xFF, 0xFF, 0xFF)]
DEFAULT_FG, DEFAULT_BG = 7, 0

_NAMED_KEYS: dict[int, str] = {int(k): name for k, name in {
    Qt.Key.Key_Return: "enter", Qt.Key.Key_Enter: "enter", Qt.Key.Key_Backspace: "backspace",
    Qt.Key.Key_Tab: "tab", Qt.Key.Key_Backtab: "backtab", Qt.Key.Key_Escape: "escape",
    Qt.Key.Key_Up: "up", Qt.Key.Key_Down: "down", Qt.Key.Key_Left: "left",
    Qt.Key.Key_Right: "right", Qt.Key.Key_Home: "home", Qt.Key.Key_End: "end",
    Qt.Key.Key_Insert: "insert", Qt.Key.Key_Delete: "delete",
    Qt.Key.Key_PageUp: "pageup", Qt.Key.Key_PageDown: "pagedown",
    **{getattr(Qt.Key, f"Key_F{n}"): f"f{n}" for n in range(1, 13)},
}.items()}


def palette_rgb(index: int) -> tuple[int, int, int]:
    """An xterm 256-colour palette entry: 0-15 ANSI, 16-231 a 6x6x6 cube, 232-255 greys."""
    if index < 16:
        return ANSI_COLOURS[index]
    if index < 232:
        index -= 16
        steps = [0 if v == 0 else 55 + 40 * v for v in range(6)]
        return steps[index // 36], steps[index // 6 % 6], steps[index % 6]
    grey = 8 + 10 * (index - 232)
    return grey, grey, grey


def colour(value: int, default: int, bold: bool = False) -> QColor:
    """The QColor of a cell colour (bold brightens the 8 basic colours, as a VGA does)."""
    if value == DEFAULT_COLOUR:
        value = default
    if value & TRUE_COLOUR:
        return QColor((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF)
    if bold and value < 8:
        value += 8
    return QColor(*palette_rgb(value))


class TerminalView(QWidget):
    """Shows ``terminal``'s grid; keys go to ``send`` as bytes.  ``backspace``: what the
    Backspace key sends (DEL, as a Linux tty expects by default)."""

    def __init__(self, terminal: Terminal, send: Callable[[bytes], None],
                 parent: QWidget | None = None, backspace: bytes = DEL) -> None:
        super().__init__(parent)
        self.terminal, self._send, self.backspace = terminal, send, backspace
        self.scroll_offset = 0  # lines scrolled back (0: the live screen)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAccessibleName(self.tr("Serial terminal"))
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self._bold = QFont(font)
        self._bold.setBold(True)
        metrics = QFontMetrics(font)
        self.cell = QSize(max(1, metrics.horizontalAdvance("M")), max(1, metrics.height()))
        self._ascent = metrics.ascent()
        self.setMinimumSize(self.minimumSizeHint())
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(self.terminal.columns * self.cell.width() + 2 * MARGIN,
                     self.terminal.rows * self.cell.height() + 2 * MARGIN)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(MIN_COLUMNS * self.cell.width() + 2 * MARGIN,
                     MIN_ROWS * self.cell.height() + 2 * MARGIN)

    def rows_shown(self) -> int:
        """How many rows the widget shows: the grid's, or as many as fit."""
        fit = (self.height() - 2 * MARGIN) // self.cell.height()
        return max(1, min(self.terminal.rows, fit))

    # ------------------------------------------------------------------ output
    def feed(self, data: bytes) -> None:
        """Guest output: to the terminal, and the view back to the live screen."""
        self.terminal.feed(data)
        self.scroll_offset = 0
        self.update()

    def _live_end(self) -> int:
        """One past the last line shown live, counted from the oldest scroll-back line:
        the screen's last row, or the cursor's when not all rows fit."""
        t = self.terminal
        return len(t.scrollback) + max(t.row + 1, self.rows_shown())

    def visible_lines(self) -> list[Line]:
        """The lines shown now (:meth:`rows_shown` of them)."""
        t = self.terminal
        end = self._live_end() - self.scroll_offset
        return (t.scrollback + t.lines)[end - self.rows_shown():end]

    def cursor_row_shown(self) -> int | None:
        """The row of the widget the cursor is on; None when scrolled back."""
        if self.scroll_offset:
            return None
        t = self.terminal
        return len(t.scrollback) + t.row - (self._live_end() - self.rows_shown())

    def scroll_back(self, lines: int) -> None:
        """Scroll ``lines`` further back (negative: towards the live screen)."""
        most = self._live_end() - self.rows_shown()
        self.scroll_offset = min(most, max(0, self.scroll_offset + lines))
        self.update()

    # ------------------------------------------------------------------ painting
    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.fillRect(self.rect(), colour(DEFAULT_COLOUR, DEFAULT_BG))
        for row, line in enumerate(self.visible_lines()):
            self._paint_line(painter, row, line)
        row = self.cursor_row_shown()
        if self.terminal.cursor_visible and row is not None:
            self._paint_cursor(painter, row)
        painter.end()

    def _cell_rect(self, row: int, col: int, width: int = 1) -> QRect:
        w, h = self.cell.width(), self.cell.height()
        return QRect(MARGIN + col * w, MARGIN + row * h, width * w, h)

    def _paint_line(self, painter: QPainter, row: int, line: Line) -> None:
        start = 0
        while start < len(line):
            attr = line[start].attr
            end = start + 1
            while end < len(line) and line[end].attr == attr:
                end += 1
            text = "".join(cell.char for cell in line[start:end])
            self._paint_run(painter, row, start, text, attr)
            start = end

    def _paint_run(self, painter: QPainter, row: int, col: int, text: str,
                   attr: Attr) -> None:
        fg = colour(attr.fg, DEFAULT_FG, attr.bold)
        bg = colour(attr.bg, DEFAULT_BG)
        if attr.reverse:
            fg, bg = bg, fg
        if attr.bg != DEFAULT_COLOUR or attr.reverse:
            painter.fillRect(self._cell_rect(row, col, len(text)), bg)
        if not text.strip() and not attr.underline:
            return
        painter.setFont(self._bold if attr.bold else self.font())
        painter.setPen(fg)
        y = MARGIN + row * self.cell.height() + self._ascent
        x = MARGIN + col * self.cell.width()
        metrics = QFontMetrics(painter.font())
        if text.isascii() and metrics.horizontalAdvance(text) == len(text) * self.cell.width():
            painter.drawText(x, y, text)  # the font keeps to the grid: the run at once
        else:
            for i, char in enumerate(text):  # one cell each: no glyph width moves the others
                if char != " ":
                    painter.drawText(x + i * self.cell.width(), y, char)
        self._underline(painter, row, col, text, attr)

    def _underline(self, painter: QPainter, row: int, col: int, text: str,
                   attr: Attr) -> None:
        if attr.underline:
            rect = self._cell_rect(row, col, len(text))
            painter.drawLine(rect.left(), rect.bottom() - 1, rect.right(), rect.bottom() - 1)

    def _paint_cursor(self, painter: QPainter, row: int) -> None:
        t = self.terminal
        rect = self._cell_rect(row, t.col)
        cell = t.lines[t.row][t.col]
        if self.hasFocus():
            painter.fillRect(rect, colour(DEFAULT_COLOUR, DEFAULT_FG))
            painter.setPen(colour(DEFAULT_COLOUR, DEFAULT_BG))
            painter.setFont(self._bold if cell.attr.bold else self.font())
            painter.drawText(rect.left(), rect.top() + self._ascent, cell.char)
        else:
            painter.setPen(colour(DEFAULT_COLOUR, DEFAULT_FG))
            painter.drawRect(rect.adjusted(0, 0, -1, -1))

    # ------------------------------------------------------------------ keyboard
    def key_data(self, event: QKeyEvent) -> bytes:
        """The bytes a key press sends (empty: none, e.g. a lone Shift)."""
        mods = event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        alt = bool(mods & Qt.KeyboardModifier.AltModifier)
        key = int(event.key())
        name = _NAMED_KEYS.get(key)
        if name is not None:
            return key_bytes(name, app_cursor=self.terminal.app_cursor_keys,
                             backspace=self.backspace, alt=alt)
        if ctrl and Qt.Key.Key_A <= key <= Qt.Key.Key_Z:
            return text_bytes(chr(key), ctrl=True, alt=alt)
        if ctrl and key in (Qt.Key.Key_Space, Qt.Key.Key_BracketLeft,
                            Qt.Key.Key_Backslash, Qt.Key.Key_BracketRight):
            return text_bytes(chr(key), ctrl=True, alt=alt)
        return text_bytes(event.text(), alt=alt)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        mods = event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if (ctrl and shift and event.key() == Qt.Key.Key_V) or \
                (shift and event.key() == Qt.Key.Key_Insert):
            self.paste(QGuiApplication.clipboard().text())
            return
        if shift and event.key() in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            page = self.terminal.rows // 2
            self.scroll_back(page if event.key() == Qt.Key.Key_PageUp else -page)
            return
        data = self.key_data(event)
        if data:
            self._to_guest(data)
        else:
            super().keyPressEvent(event)

    def paste(self, text: str) -> None:
        """Send ``text`` as typed, line ends as CR (what Enter sends)."""
        text = text.replace("\r\n", "\r").replace("\n", "\r")
        if text:
            self._to_guest(text_bytes(text))

    def _to_guest(self, data: bytes) -> None:
        if self.scroll_offset:
            self.scroll_offset = 0
            self.update()
        log.debug("serial input %r", data)
        self._send(data)

    def focusNextPrevChild(self, _next: bool) -> bool:  # noqa: N802 - Qt API
        return False  # Tab and Shift+Tab go to the guest

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        steps = event.angleDelta().y() // 120
        if steps:
            self.scroll_back(steps * WHEEL_LINES)
        event.accept()
