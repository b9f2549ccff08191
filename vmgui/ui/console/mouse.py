"""The console's mouse: pointer capture and relative motion into the guest's PS/2 mouse.

Owns: :class:`GuestMouse`, which, while the pointer is captured, hides the host cursor,
grabs the mouse, turns pointer motion into relative movements (re-centring the pointer
when it strays from the middle of the screen, so it never hits the edge of the host
display) and button presses/releases into :class:`vmgui.core.events.MouseInput` commands.
Qt's y axis points down, as MouseInput's does; the 8042 model turns it into PS/2's
"up is positive".  A movement larger than a PS/2 packet can carry (+-255) is split over
several packets.  Buttons still held when the capture ends are released in the guest.

Thread rule: GUI thread only; the machine is reached only through ``send``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QCursor, QMouseEvent
from PySide6.QtWidgets import QWidget

from vmgui.core import events as ev

log = logging.getLogger(__name__)

BUTTON_BITS = {Qt.MouseButton.LeftButton: 0x01, Qt.MouseButton.RightButton: 0x02,
               Qt.MouseButton.MiddleButton: 0x04}
MAX_PACKET_DELTA = 255
RECENTRE_FRACTION = 4  # re-centre once the pointer is a quarter of the view from the middle


def split_delta(dx: int, dy: int) -> list[tuple[int, int]]:
    """``(dx, dy)`` as steps that each fit a PS/2 packet (at least one step)."""
    steps = max(1, -(-max(abs(dx), abs(dy)) // MAX_PACKET_DELTA))
    out = []
    done_x = done_y = 0
    for i in range(1, steps + 1):
        x, y = dx * i // steps, dy * i // steps
        out.append((x - done_x, y - done_y))
        done_x, done_y = x, y
    return out


class GuestMouse(QObject):
    """Forwards mouse events of ``widget`` to the guest while :attr:`captured`."""

    def __init__(self, send: Callable[[ev.Command], None], widget: QWidget) -> None:
        super().__init__(widget)
        self._send = send
        self.widget = widget
        self.captured = False
        self.buttons = 0
        self._last: QPoint | None = None
        self.moves_sent = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if self.captured and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._recentre()  # the middle moved
        return False

    # ------------------------------------------------------------------ capture
    def set_captured(self, captured: bool) -> None:
        if captured == self.captured:
            return
        self.captured = captured
        w = self.widget
        if captured:
            w.setCursor(Qt.CursorShape.BlankCursor)
            w.setMouseTracking(True)
            w.grabMouse()
            self._recentre()
        else:
            if self.buttons:
                self.buttons = 0
                self._send(ev.MouseInput(0, 0, 0))
            w.releaseMouse()
            w.setMouseTracking(False)
            w.unsetCursor()
            self._last = None
        log.info("mouse %s", "captured" if captured else "released")

    def _centre(self) -> QPoint:
        return self.widget.mapToGlobal(self.widget.rect().center())

    def _recentre(self) -> None:
        centre = self._centre()
        self._last = centre
        QCursor.setPos(centre)  # the motion event this may cause has a zero delta

    # ------------------------------------------------------------------ events
    def mouse_event(self, event: QMouseEvent) -> bool:
        """Handle a press/release/move/double-click of the widget; True when consumed
        (only while captured)."""
        if not self.captured:
            return False
        kind = event.type()
        if kind == QMouseEvent.Type.MouseMove:
            self._motion(event.globalPosition().toPoint())
            return True
        bit = BUTTON_BITS.get(event.button(), 0)
        if kind in (QMouseEvent.Type.MouseButtonPress, QMouseEvent.Type.MouseButtonDblClick):
            buttons = self.buttons | bit
        elif kind == QMouseEvent.Type.MouseButtonRelease:
            buttons = self.buttons & ~bit
        else:
            return False
        if buttons != self.buttons:  # a release of a press the guest never saw is dropped
            self.buttons = buttons
            self._send(ev.MouseInput(0, 0, buttons))
        return True

    def _motion(self, pos: QPoint) -> None:
        if self._last is None:
            self._last = pos
            return
        dx, dy = pos.x() - self._last.x(), pos.y() - self._last.y()
        self._last = pos
        if dx or dy:
            for sx, sy in split_delta(dx, dy):
                self._send(ev.MouseInput(sx, sy, self.buttons))
                self.moves_sent += 1
        size = self.widget.size()
        limit = max(1, min(size.width(), size.height()) // RECENTRE_FRACTION)
        off = pos - self._centre()
        if abs(off.x()) > limit or abs(off.y()) > limit:
            self._recentre()
