"""The console's screen: the guest framebuffer drawn into a Qt widget.

Owns: :class:`FramebufferView`, which renders the host's :class:`DisplayState` with
:func:`vmgui.devices.render.render` into a ``QImage`` and paints it scaled (1x, 2x, or fit
to the widget keeping the aspect ratio, optionally in whole multiples); the text blink and
cursor blink phases; the change detection that keeps an unchanged screen from being
rendered or repainted again; and the per-frame timing figures.

1x and 2x are what the view asks for where the screen has room; a frame that would not fit
(a 800x600 VBE desktop at 2x is 1600x1200) is drawn as large as fits, keeping its aspect,
so the console window never grows past the screen (``room``, given by the window).

Display aspect: the native frame is shown with square pixels, except that a frame wider
than twice its height (640x200) is doubled vertically and one taller than wide (40x25 text,
320x400) is doubled horizontally, so every mode appears at about 4:3 or 16:10.

Thread rule: GUI thread only.  :meth:`FramebufferView.refresh` is called from the
console's timer; it reads the host's read-only VRAM view and never blocks the machine.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from vmgui.devices.display import DisplayKind, DisplayState
from vmgui.devices.fonts import ROM_FONT_HEIGHTS, load_rom_font
from vmgui.devices.render import render

log = logging.getLogger(__name__)

TEXT_BLINK_HALF_PERIOD_S = 0.2667  # characters blink at ~1.875 Hz (VGA: 32 frames per phase)
CURSOR_BLINK_HALF_PERIOD_S = 0.1333  # the cursor at ~3.75 Hz (16 frames per phase)
MIN_FIT_SIZE = QSize(160, 100)


class ScaleMode(enum.Enum):
    X1 = "1x"
    X2 = "2x"
    FIT = "fit"


def blink_phases(now: float) -> tuple[bool, bool]:
    """(text blink on, cursor on) at monotonic time ``now``."""
    return (int(now / TEXT_BLINK_HALF_PERIOD_S) % 2 == 0,
            int(now / CURSOR_BLINK_HALF_PERIOD_S) % 2 == 0)


def font_for(state: DisplayState) -> bytes:
    height = state.char_height if state.char_height in ROM_FONT_HEIGHTS else 16
    return load_rom_font(height)


def frame_signature(state: DisplayState, blink_on: bool, cursor_on: bool) -> tuple:
    """Everything a rendered frame depends on, cheap to build and to compare (a copy of
    the video memory the frame shows -- at most 64 KiB in VGA modes, the visible part of
    the framebuffer in VBE modes -- and the registers that shape the picture)."""
    text = state.kind is DisplayKind.TEXT
    return (
        state.kind, state.width, state.height, state.cols, state.rows, state.char_height,
        state.base, state.start, state.pitch, state.palette, state.attr_palette,
        state.cursor_offset, state.cursor_start, state.cursor_end, state.cursor_visible,
        state.blink_enabled, state.cga_palette,
        text and state.blink_enabled and blink_on,
        text and state.cursor_visible and cursor_on,
        bytes(state.shown_bytes()),
    )


_PHASES = slice(-3, -1)  # the blink entries of a frame signature


def _content_of(signature: tuple) -> tuple:
    """A frame signature without its blink phases: what the picture shows."""
    return signature[:-3] + signature[-1:]


def display_size(width: int, height: int) -> QSize:
    """The frame's size at scale 1 on a square-pixel screen (see the module notes)."""
    if width > 2 * height:
        return QSize(width, height * 2)
    if height > width:
        return QSize(width * 2, height)
    return QSize(width, height)


def fit_rect(frame: QSize, area: QSize, integer: bool) -> QRect:
    """The largest rectangle of ``frame``'s aspect ratio inside ``area``, centred;
    with ``integer``, the largest whole multiple of ``frame`` that fits (if any does)."""
    if frame.isEmpty() or area.isEmpty():
        return QRect()
    scale = min(area.width() / frame.width(), area.height() / frame.height())
    if integer and scale >= 1:
        scale = int(scale)
    w = max(1, round(frame.width() * scale))
    h = max(1, round(frame.height() * scale))
    return QRect((area.width() - w) // 2, (area.height() - h) // 2, w, h)


class FramebufferView(QWidget):
    """Paints the guest screen.  ``display`` is a callable returning the current
    :class:`DisplayState` (``host.display``).  Key events go to :attr:`key_handler`
    (a callable ``QKeyEvent -> bool`` that says whether it consumed them) while
    :attr:`captures_keys` is True; mouse events go to :attr:`mouse_handler` (``QMouseEvent
    -> bool``) while :attr:`captures_mouse` is True, else a left click emits
    :attr:`clicked`."""

    clicked = Signal()
    frame_changed = Signal()
    size_hint_changed = Signal()

    def __init__(self, display, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._display = display
        self.key_handler = None
        self.captures_keys = False
        self.mouse_handler = None
        self.captures_mouse = False
        self.scale_mode = ScaleMode.X1
        self.integer_scaling = False
        self.image: QImage | None = None
        self.placeholder = ""  # drawn while there is no frame yet ("Starting...")
        # the most the view may ask for (the screen less the window around the view);
        # None: no limit
        self.room: Callable[[], QSize] | None = None
        self._rgb = b""  # keeps the QImage's pixel buffer alive
        self._signature: tuple | None = None
        self._cache: dict[tuple, tuple[bytes, QImage]] = {}  # blink phases -> frame
        self.state: DisplayState | None = None
        self.frames = 0  # frames rendered (changed frames only, blink-cache hits excluded)
        self.content_changes = 0  # frames that differ in more than the blink phases
        self.render_ms = 0.0  # last refresh that rendered: display() + render + QImage
        self.paint_ms = 0.0  # last paintEvent
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(MIN_FIT_SIZE)

    # ------------------------------------------------------------------ frames
    def refresh(self, now: float | None = None, ask: bool = True) -> bool:
        """Render the current frame if it differs from the last one; True if it did.

        With ``ask`` False the last display state's registers are reused and only its
        (live) video memory is compared, which spares the host a request; a change there
        asks for fresh registers before rendering.  Frames that differ only in the blink
        phases come from a small cache instead of being rendered again."""
        start = time.perf_counter()
        blink_on, cursor_on = blink_phases(time.monotonic() if now is None else now)
        reuse = not ask and self.state is not None and self._signature is not None
        try:
            state = self.state if reuse else self._display()
            signature = frame_signature(state, blink_on, cursor_on)
        except ValueError:  # the host released the video memory view: ask again
            reuse = False
            state = self._display()
            signature = frame_signature(state, blink_on, cursor_on)
        if signature == self._signature:
            return False
        content = _content_of(signature)
        if reuse and content != _content_of(self._signature):
            state = self._display()  # the picture changed: the registers may have too
            signature = frame_signature(state, blink_on, cursor_on)
            content = _content_of(signature)
        if self._signature is None or content != _content_of(self._signature):
            self._cache.clear()
            self.content_changes += 1
        old_size = self.frame_size()
        phases = signature[_PHASES]
        cached = self._cache.get(phases)
        if cached is None:
            width, height, rgb = render(state, font_for(state), blink_on=blink_on,
                                        cursor_on=cursor_on)
            image = QImage(rgb, width, height, width * 3, QImage.Format.Format_RGB888)
            cached = self._cache[phases] = (rgb, image)
            self.frames += 1
        self._rgb, self.image = cached
        self._signature = signature
        self.state = state
        self.render_ms = (time.perf_counter() - start) * 1000
        if self.frame_size() != old_size:
            self._update_size_hint()
        self.update()
        self.frame_changed.emit()
        return True

    def frame_bytes(self) -> bytes:
        """The RGB24 bytes of the frame on screen (native resolution)."""
        return self._rgb

    def frame_size(self) -> QSize:
        if self.image is None:
            return QSize()
        return display_size(self.image.width(), self.image.height())

    # ------------------------------------------------------------------ scaling
    def set_scale_mode(self, mode: ScaleMode, integer: bool | None = None) -> None:
        self.scale_mode = mode
        if integer is not None:
            self.integer_scaling = integer
        self._update_size_hint()
        self.update()

    def _update_size_hint(self) -> None:
        if self.scale_mode is ScaleMode.FIT or self.image is None:
            self.setMinimumSize(MIN_FIT_SIZE)
        else:
            self.setMinimumSize(self.sizeHint())
        self.updateGeometry()
        self.size_hint_changed.emit()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        size = self.frame_size()
        if size.isEmpty():
            return QSize(640, 400)
        wanted = size * 2 if self.scale_mode is ScaleMode.X2 else size
        room = self.room() if self.room is not None else None
        if room is None or room.isEmpty() or (wanted.width() <= room.width()
                                              and wanted.height() <= room.height()):
            return wanted
        return fit_rect(size, room, False).size()  # as large as fits

    def target_rect(self) -> QRect:
        """Where the frame is drawn in widget coordinates."""
        frame = self.frame_size()
        if self.scale_mode is ScaleMode.FIT:
            return fit_rect(frame, self.size(), self.integer_scaling)
        scaled = frame * 2 if self.scale_mode is ScaleMode.X2 else frame
        if scaled.width() > self.width() or scaled.height() > self.height():
            return fit_rect(frame, self.size(), False)  # no room for it: as large as fits
        return QRect((self.width() - scaled.width()) // 2,
                     (self.height() - scaled.height()) // 2, scaled.width(), scaled.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        start = time.perf_counter()
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self.image is not None:
            target = self.target_rect()
            smooth = (self.scale_mode is ScaleMode.FIT and not self.integer_scaling) or \
                target.size() not in (self.frame_size(), self.frame_size() * 2)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            painter.drawImage(target, self.image)
        elif self.placeholder:
            painter.setPen(Qt.GlobalColor.lightGray)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        painter.end()
        self.paint_ms = (time.perf_counter() - start) * 1000

    # ------------------------------------------------------------------ input
    def _mouse(self, event: QMouseEvent) -> bool:
        if self.captures_mouse and self.mouse_handler is not None and self.mouse_handler(event):
            event.accept()
            return True
        return False

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._mouse(event):
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if not self._mouse(event):
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if not self._mouse(event):
            super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if not self._mouse(event):
            super().mouseMoveEvent(event)

    def event(self, event) -> bool:
        kind = event.type()
        if self.captures_keys and kind == event.Type.ShortcutOverride:
            event.accept()  # window shortcuts stay quiet: the key goes to the guest
            return True
        if kind in (event.Type.KeyPress, event.Type.KeyRelease) and self._keys(event):
            return True
        return super().event(event)

    def _keys(self, event: QKeyEvent) -> bool:
        if not self.captures_keys or self.key_handler is None:
            return False
        if self.key_handler(event):
            event.accept()
            return True
        return False

    def focusNextPrevChild(self, next_: bool) -> bool:  # noqa: N802 - Qt override
        return False if self.captures_keys else super().focusNextPrevChild(next_)
