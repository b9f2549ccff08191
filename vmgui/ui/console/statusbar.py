"""The console's status bar labels, which stay readable in a narrow window.

Owns: :class:`ElidedLabel` -- a label that cuts its text at the end ("…") to the width it
gets instead of clipping it mid-letter, shows the whole text as its tooltip, and never
gets narrower than a given start of its text (``keep``: e.g. the key that releases the
captured keyboard, which the console puts first).

Thread rule: GUI thread only.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

log = logging.getLogger(__name__)

ELLIPSIS = "…"
SLACK_PX = 4  # rounding in elidedText: a little room so ``keep`` is never cut


class ElidedLabel(QLabel):
    """A one-line label eliding at the end.  :meth:`text` is the whole text; use
    :meth:`set_text` to give the part that must stay visible too."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._keep = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def set_text(self, text: str, keep: str = "") -> None:
        """Show ``text``; the label never gets narrower than ``keep`` (its start) needs."""
        self._keep = keep
        if text != self.text():
            self.setText(text)
        self.setToolTip(text)
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        full = super().minimumSizeHint()
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        width = metrics.horizontalAdvance(self._keep + ELLIPSIS) + SLACK_PX \
            + margins.left() + margins.right() + 2 * self.margin()
        return QSize(min(width, full.width()), full.height())

    def displayed_text(self) -> str:
        """What is drawn: the text, cut to the label's width."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight,
                                             self.contentsRect().width() - 2 * self.margin())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        rect = self.contentsRect().adjusted(self.margin(), self.margin(), -self.margin(),
                                            -self.margin())
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(),
                                  self.isEnabled(), self.displayed_text(),
                                  self.foregroundRole())
