"""The console's serial terminal: a dock with a VT100 terminal on COM1.

Owns: :class:`SerialDock`, which holds a :class:`vmgui.core.terminal.Terminal` (80x24,
what a Linux getty on a serial line assumes) fed with the guest's COM1 output and shown
by a :class:`vmgui.ui.console.terminal_view.TerminalView`; what the user types there (and
the terminal's answers to the guest's queries) goes to the guest as
:class:`vmgui.core.events.SerialInput`.  Shown docked, it asks its main window for the
height of the whole grid (the window grows as far as the screen allows).

Thread rule: GUI thread only; output arrives through :meth:`SerialDock.append_output`,
called by the console for each polled :class:`SerialOutput` event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from vmgui.core import events as ev
from vmgui.core.terminal import DEFAULT_COLUMNS, DEFAULT_ROWS, Terminal
from vmgui.ui.console.terminal_view import TerminalView

log = logging.getLogger(__name__)


class SerialDock(QDockWidget):
    def __init__(self, send: Callable[[ev.Command], None], parent: QWidget | None = None,
                 columns: int = DEFAULT_COLUMNS, rows: int = DEFAULT_ROWS):
        super().__init__(self.tr("Serial console (COM1)"), parent)
        self.setObjectName("serialDock")
        self._send = send
        self.terminal = Terminal(columns, rows, reply=self._to_guest)
        self.view = TerminalView(self.terminal, self._to_guest, self)
        self.setWidget(self.view)
        self.setFocusProxy(self.view)
        self.visibilityChanged.connect(self._on_visible)

    def append_output(self, data: bytes) -> None:
        self.view.feed(data)

    def text(self) -> str:
        """Everything still held: the scroll-back and the screen, as text."""
        return self.terminal.all_text()

    def _on_visible(self, visible: bool) -> None:
        """Docked and shown: make room for the whole grid (the window grows as far as
        the screen allows; what does not fit, the view scrolls to the cursor)."""
        window = self.parentWidget()
        if not visible or self.isFloating() or not isinstance(window, QMainWindow):
            return
        wanted = self.view.sizeHint().height()
        missing = wanted - self.view.height()
        if missing <= 0:
            return
        screen = window.screen()
        if screen is not None and not window.isMaximized() and not window.isFullScreen():
            free = screen.availableGeometry().height() - window.frameGeometry().height()
            grow = max(0, min(missing, free))
            window.resize(window.width(), window.height() + grow)
        title = self.height() - self.view.height()
        window.resizeDocks([self], [wanted + max(0, title)], Qt.Orientation.Vertical)

    def _to_guest(self, data: bytes) -> None:
        self._send(ev.SerialInput(data))
