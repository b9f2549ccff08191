"""The console's serial terminal: a dock showing what the guest writes to COM1.

Owns: :class:`SerialDock`, a read-only log of COM1 output (decoded as code page 437, CR LF
folded to line breaks) and a line edit whose text, ended by CR, goes to the guest as
:class:`vmgui.core.events.SerialInput`.

Thread rule: GUI thread only; output arrives through :meth:`SerialDock.append_output`,
called by the console for each polled :class:`SerialOutput` event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import QDockWidget, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from vmgui.core import events as ev

log = logging.getLogger(__name__)

MAX_LINES = 5000
LINE_END = b"\r"


def decode_serial(data: bytes) -> str:
    """COM1 bytes -> text for the terminal (CP437; CR LF and lone CR dropped to LF)."""
    text = data.decode("cp437", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "")


class SerialDock(QDockWidget):
    def __init__(self, send: Callable[[ev.Command], None], parent: QWidget | None = None):
        super().__init__(self.tr("Serial console (COM1)"), parent)
        self.setObjectName("serialDock")
        self._send = send
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.output = QPlainTextEdit(body)
        self.output.setReadOnly(True)
        self.output.setMaximumBlockCount(MAX_LINES)
        self.output.setFont(fixed)
        self.input = QLineEdit(body)
        self.input.setFont(fixed)
        self.input.setPlaceholderText(self.tr("Type a line for the guest and press Enter"))
        self.input.returnPressed.connect(self._send_line)
        layout.addWidget(self.output)
        layout.addWidget(self.input)
        self.setWidget(body)

    def append_output(self, data: bytes) -> None:
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(decode_serial(data))
        self.output.setTextCursor(cursor)
        self.output.ensureCursorVisible()

    def text(self) -> str:
        return self.output.toPlainText()

    def _send_line(self) -> None:
        line = self.input.text()
        self.input.clear()
        data = line.encode("cp437", errors="replace") + LINE_END
        log.debug("serial input %r", data)
        self._send(ev.SerialInput(data))
