"""Qt key events -> PC keyboard scan codes (set 1, as an i8042 with translation delivers).

Owns: :class:`KeyTranslator`, which turns one ``QKeyEvent`` into the make and break byte
strings of the physical key it came from, and the table of special sequences (Pause,
Print Screen, Ctrl+Break).  Reference: IBM PC/AT Technical Reference, keyboard scan codes
set 1; the Linux input event codes (``linux/input-event-codes.h``) for X11/Wayland.

Two ways to find the physical key:

* by native scan code, when the platform gives a usable one: on X11 and Wayland it is the
  evdev code + 8, and evdev codes 1-88 *are* set 1 make codes; the rest are in a table.
  This is layout independent (a German user's Z key sends the US Y scan code, as on a real
  PC with a German DOS keyboard driver).
* by ``Qt::Key`` (and the keypad modifier), assuming a US layout: used where no native code
  exists (the offscreen platform, tests, macOS) or the native code is unknown.

Left and right modifiers share a ``Qt::Key``; without a native scan code the side comes
from the native virtual key (X11 keysym, Windows VK or macOS kVK) when there is one, else
the left key is assumed.

Thread rule: pure; used on the GUI thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from vmgui.core import keys

log = logging.getLogger(__name__)

EVDEV_OFFSET = 8  # X11/Wayland keycode = evdev code + 8
EVDEV_SAME_AS_SET1 = 0x58  # evdev codes 1..88 equal set 1 make codes (F12 = 88)

PAUSE_MAKE = bytes((0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5))  # no break code
CTRL_BREAK_MAKE = bytes((0xE0, 0x46, 0xE0, 0xC6))  # Pause with Ctrl held; no break code
PRINT_MAKE = bytes((0xE0, 0x2A, 0xE0, 0x37))
PRINT_BREAK = bytes((0xE0, 0xB7, 0xE0, 0xAA))
SYSRQ_CODE = 0x54  # Print Screen with Alt held


@dataclass(frozen=True)
class KeyCodes:
    """The bytes one physical key sends: ``make`` on press (and on autorepeat), ``brk`` on
    release (empty for Pause and Ctrl+Break, which send everything on press)."""

    make: bytes
    brk: bytes

    @classmethod
    def plain(cls, extended: bool, code: int) -> KeyCodes:
        return cls(keys.make(extended, code), keys.brk(extended, code))


PAUSE = KeyCodes(PAUSE_MAKE, b"")
CTRL_BREAK = KeyCodes(CTRL_BREAK_MAKE, b"")
PRINT_SCREEN = KeyCodes(PRINT_MAKE, PRINT_BREAK)
SYSRQ = KeyCodes.plain(False, SYSRQ_CODE)

RIGHT_CTRL = KeyCodes.plain(True, 0x1D)
RIGHT_ALT = KeyCodes.plain(True, 0x38)
RIGHT_SHIFT = KeyCodes.plain(False, 0x36)
RIGHT_WIN = KeyCodes.plain(True, 0x5C)
LEFT_CTRL = KeyCodes.plain(False, 0x1D)
LEFT_ALT = KeyCodes.plain(False, 0x38)
LEFT_SHIFT = KeyCodes.plain(False, 0x2A)
LEFT_WIN = KeyCodes.plain(True, 0x5B)

# evdev code -> (extended, set 1 code) for codes above 88 that a PC keyboard has.
_EVDEV_EXTENDED = {
    96: (True, 0x1C),  # KP Enter
    97: (True, 0x1D),  # Right Ctrl
    98: (True, 0x35),  # KP /
    100: (True, 0x38),  # Right Alt / AltGr
    102: (True, 0x47), 103: (True, 0x48), 104: (True, 0x49),  # Home, Up, PgUp
    105: (True, 0x4B), 106: (True, 0x4D), 107: (True, 0x4F),  # Left, Right, End
    108: (True, 0x50), 109: (True, 0x51), 110: (True, 0x52), 111: (True, 0x53),
    125: (True, 0x5B), 126: (True, 0x5C), 127: (True, 0x5D),  # Win L/R, Menu
}
_EVDEV_SYSRQ, _EVDEV_PAUSE = 99, 119

K = Qt.Key
_QT_NAMED: dict[int, tuple[bool, int]] = {
    K.Key_Escape: (False, 0x01), K.Key_Tab: (False, 0x0F), K.Key_Backtab: (False, 0x0F),
    K.Key_Backspace: (False, 0x0E), K.Key_Return: (False, 0x1C), K.Key_Enter: (True, 0x1C),
    K.Key_Insert: (True, 0x52), K.Key_Delete: (True, 0x53), K.Key_Home: (True, 0x47),
    K.Key_End: (True, 0x4F), K.Key_PageUp: (True, 0x49), K.Key_PageDown: (True, 0x51),
    K.Key_Left: (True, 0x4B), K.Key_Up: (True, 0x48), K.Key_Right: (True, 0x4D),
    K.Key_Down: (True, 0x50), K.Key_Shift: (False, 0x2A), K.Key_Control: (False, 0x1D),
    K.Key_Alt: (False, 0x38), K.Key_AltGr: (True, 0x38), K.Key_Meta: (True, 0x5B),
    K.Key_Super_L: (True, 0x5B), K.Key_Super_R: (True, 0x5C), K.Key_Menu: (True, 0x5D),
    K.Key_CapsLock: (False, 0x3A), K.Key_NumLock: (False, 0x45),
    K.Key_ScrollLock: (False, 0x46), K.Key_F11: (False, 0x57), K.Key_F12: (False, 0x58),
    K.Key_SysReq: (False, SYSRQ_CODE),
}
for _i in range(10):
    _QT_NAMED[int(K.Key_F1) + _i] = (False, 0x3B + _i)

# Keys that carry Qt's keypad modifier -> keypad scan codes (NumLock on or off).
_QT_KEYPAD: dict[int, str] = {
    K.Key_Asterisk: "kp*", K.Key_Minus: "kp-", K.Key_Plus: "kp+", K.Key_Period: "kp.",
    K.Key_Comma: "kp.", K.Key_Slash: "kp/", K.Key_Enter: "kpenter", K.Key_Home: "kp7",
    K.Key_Up: "kp8", K.Key_PageUp: "kp9", K.Key_Left: "kp4", K.Key_Clear: "kp5",
    K.Key_Right: "kp6", K.Key_End: "kp1", K.Key_Down: "kp2", K.Key_PageDown: "kp3",
    K.Key_Insert: "kp0", K.Key_Delete: "kp.",
}
for _i in range(10):
    _QT_KEYPAD[int(K.Key_0) + _i] = f"kp{_i}"

# Native virtual keys that mean "the right one" of a modifier pair:
# X11 keysyms, Windows VK_R* codes, macOS kVK_Right* codes.
_RIGHT_VIRTUAL = {
    K.Key_Control: ({0xFFE4, 0xA3, 0x3E}, RIGHT_CTRL),
    K.Key_Shift: ({0xFFE2, 0xA1, 0x3C}, RIGHT_SHIFT),
    K.Key_Alt: ({0xFFEA, 0xA5, 0x3D}, RIGHT_ALT),
    K.Key_Meta: ({0xFFEC, 0x5C}, RIGHT_WIN),
}


def _native_mode(platform: str) -> str | None:
    if platform in ("xcb", "wayland"):
        return "evdev"
    if platform == "windows":
        return "windows"
    return None


class KeyTranslator:
    """Turns key events into :class:`KeyCodes`; ``platform`` is Qt's platform name
    (``QGuiApplication.platformName()``), which says what native scan codes mean."""

    def __init__(self, platform: str = "") -> None:
        self.native = _native_mode(platform)

    def translate(self, event: QKeyEvent) -> KeyCodes | None:
        """The physical key of ``event``, or None when it has no PC equivalent."""
        key = event.key()
        mods = event.modifiers()
        if key in (K.Key_Pause, K.Key_Cancel):
            return CTRL_BREAK if mods & Qt.KeyboardModifier.ControlModifier else PAUSE
        codes = self._by_native(event)
        if codes is None:
            codes = self._by_qt_key(key, mods, event.nativeVirtualKey())
        if codes is None:
            log.debug("no scan code for Qt key %#x (native %#x)", key, event.nativeScanCode())
        return codes

    # ------------------------------------------------------------------ native codes
    def _by_native(self, event: QKeyEvent) -> KeyCodes | None:
        native = event.nativeScanCode()
        if not native or self.native is None:
            return None
        if self.native == "windows":
            return self._by_windows_code(event.key(), native)
        return self._by_evdev(native - EVDEV_OFFSET, event.modifiers())

    @staticmethod
    def _by_evdev(code: int, mods: Qt.KeyboardModifier) -> KeyCodes | None:
        if 0 < code <= EVDEV_SAME_AS_SET1:
            return KeyCodes.plain(False, code)
        if code == _EVDEV_SYSRQ:
            return SYSRQ if mods & Qt.KeyboardModifier.AltModifier else PRINT_SCREEN
        if code == _EVDEV_PAUSE:
            return CTRL_BREAK if mods & Qt.KeyboardModifier.ControlModifier else PAUSE
        found = _EVDEV_EXTENDED.get(code)
        return KeyCodes.plain(*found) if found else None

    @staticmethod
    def _by_windows_code(key: int, native: int) -> KeyCodes | None:
        # Windows reports set 1 codes with bit 8 for E0; NumLock/Pause/Print are odd there.
        if key in (K.Key_NumLock, K.Key_Print, K.Key_SysReq):
            return None
        return KeyCodes.plain(bool(native & 0x100), native & 0x7F)

    # ------------------------------------------------------------------ Qt keys
    @staticmethod
    def _by_qt_key(key: int, mods: Qt.KeyboardModifier, virtual: int) -> KeyCodes | None:
        if key == K.Key_Print:
            return SYSRQ if mods & Qt.KeyboardModifier.AltModifier else PRINT_SCREEN
        if mods & Qt.KeyboardModifier.KeypadModifier and key in _QT_KEYPAD:
            return KeyCodes.plain(*keys.NAMED_KEYS[_QT_KEYPAD[key]])
        right = _RIGHT_VIRTUAL.get(key)
        if right is not None and virtual in right[0]:
            return right[1]
        if key in _QT_NAMED:
            return KeyCodes.plain(*_QT_NAMED[key])
        if 0x20 <= key <= 0x7E:
            char = chr(key).lower()
            if char in keys.CHARS:
                return KeyCodes.plain(False, keys.CHARS[char][1])
        return None


def is_right_modifier(codes: KeyCodes) -> bool:
    return codes in (RIGHT_CTRL, RIGHT_ALT, RIGHT_SHIFT, RIGHT_WIN)


def is_left_modifier(codes: KeyCodes) -> bool:
    return codes in (LEFT_CTRL, LEFT_ALT, LEFT_SHIFT, LEFT_WIN)
