"""The console's "Show log" window and the logging handler that feeds it.

Owns: :class:`RecentLogHandler`, a logging handler that keeps the last few hundred
formatted records of the ``vmgui`` loggers (whatever their levels let through), and
:class:`LogDialog`, a simple read-only view of them with a refresh button.

Thread rule: the handler may receive records from any thread (the emulation thread logs
too); it only appends to a bounded deque.  The dialog lives on the GUI thread.
"""

from __future__ import annotations

import collections
import logging

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 500
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class RecentLogHandler(logging.Handler):
    """Keeps the last ``capacity`` formatted records."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(logging.DEBUG)
        self.lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)

    def text(self) -> str:
        return "\n".join(list(self.lines))


class LogDialog(QDialog):
    def __init__(self, handler: RecentLogHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._handler = handler
        self.setWindowTitle(self.tr("Log"))
        self.resize(800, 400)
        layout = QVBoxLayout(self)
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setPlaceholderText(self.tr("Nothing has been logged yet."))
        layout.addWidget(self.view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        refresh = QPushButton(self.tr("Refresh"), self)
        buttons.addButton(refresh, QDialogButtonBox.ButtonRole.ActionRole)
        refresh.clicked.connect(self.reload)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        self.view.setPlainText(self._handler.text())
        bar = self.view.verticalScrollBar()
        bar.setValue(bar.maximum())
