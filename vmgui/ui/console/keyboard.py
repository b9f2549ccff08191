"""The console's keyboard: capture ("grab"), the host key, and key events into the guest.

Owns: :class:`GuestKeyboard`, which decides what a key event in the display means while
the keyboard is captured: the host key (Right Ctrl by default) releases the capture and
never reaches the guest; every other key goes to the guest as scan code set 1 bytes (a
make code on each press, autorepeat included, as a real keyboard does; a break code on
release).  Keys still held when the capture ends are released in the guest, so nothing
stays stuck down.

Thread rule: GUI thread only; the machine is reached only through ``send``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent

from vmgui.core import events as ev
from vmgui.ui.console.keymap import KeyCodes, KeyTranslator, is_left_modifier, is_right_modifier

log = logging.getLogger(__name__)

HOST_KEY_SIDES = ("right", "left", "any")


class GuestKeyboard(QObject):
    """Forwards key events to the guest while :attr:`grabbed`.

    ``send`` receives each command (``host.send``).  ``host_key`` is a ``Qt.Key``;
    ``host_key_side`` ("right", "left" or "any") picks one key of a modifier pair.
    Emits :attr:`grab_changed` when the capture starts or ends."""

    grab_changed = Signal(bool)

    def __init__(self, send: Callable[[ev.Command], None], translator: KeyTranslator,
                 host_key: int = Qt.Key.Key_Control, host_key_side: str = "right",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        if host_key_side not in HOST_KEY_SIDES:
            raise ValueError(f"host_key_side must be one of {HOST_KEY_SIDES}")
        self._send = send
        self.translator = translator
        self.host_key = int(host_key)
        self.host_key_side = host_key_side
        self.grabbed = False
        self._held: dict[bytes, KeyCodes] = {}  # make bytes -> codes of keys down in the guest

    # ------------------------------------------------------------------ capture
    def set_grabbed(self, grabbed: bool) -> None:
        if grabbed == self.grabbed:
            return
        self.grabbed = grabbed
        if not grabbed:
            self.release_all()
        log.info("keyboard %s", "captured" if grabbed else "released")
        self.grab_changed.emit(grabbed)

    def release_all(self) -> None:
        """Send break codes for every key the guest still sees held down."""
        for codes in reversed(list(self._held.values())):
            if codes.brk:
                self._send(ev.KeyScancodes(codes.brk))
        self._held.clear()

    # ------------------------------------------------------------------ events
    def is_host_key(self, event: QKeyEvent, codes: KeyCodes | None) -> bool:
        if event.key() != self.host_key:
            return False
        if self.host_key_side == "any" or codes is None:
            return True
        if self.host_key_side == "right":
            return is_right_modifier(codes) or not is_left_modifier(codes)
        return not is_right_modifier(codes)

    def key_event(self, event: QKeyEvent) -> bool:
        """Handle a KeyPress/KeyRelease; True when consumed (only while grabbed)."""
        if not self.grabbed:
            return False
        press = event.type() == QEvent.Type.KeyPress
        codes = self.translator.translate(event)
        if self.is_host_key(event, codes):
            if press and not event.isAutoRepeat():
                self.set_grabbed(False)
            return True
        if codes is None:
            return True
        if press:
            self._held[codes.make] = codes
            self._send(ev.KeyScancodes(codes.make))
        elif not event.isAutoRepeat():  # X11 autorepeat comes as release+press pairs
            self._held.pop(codes.make, None)
            if codes.brk:
                self._send(ev.KeyScancodes(codes.brk))
        return True
