"""Qt key events -> scan code set 1: special sequences, E0 prefixes, sides, autorepeat."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent

from vmgui.core import events as ev
from vmgui.ui.console.keyboard import GuestKeyboard
from vmgui.ui.console.keymap import KeyTranslator

K, M = Qt.Key, Qt.KeyboardModifier
PRESS, RELEASE = QEvent.Type.KeyPress, QEvent.Type.KeyRelease


def codes(key, mods=M.NoModifier, native=0, virtual=0, platform="offscreen"):
    result = KeyTranslator(platform).translate(QKeyEvent(PRESS, key, mods, native, virtual, 0))
    return None if result is None else (result.make.hex(" "), result.brk.hex(" "))


def test_plain_and_extended_keys():
    assert codes(K.Key_A) == ("1e", "9e")
    assert codes(K.Key_Exclam, M.ShiftModifier) == ("02", "82")
    assert codes(K.Key_Return) == ("1c", "9c")
    assert codes(K.Key_Enter, M.KeypadModifier) == ("e0 1c", "e0 9c")
    assert codes(K.Key_Up) == ("e0 48", "e0 c8")
    assert codes(K.Key_Up, M.KeypadModifier) == ("48", "c8")
    assert codes(K.Key_F11) == ("57", "d7")
    assert codes(K.Key_AltGr) == ("e0 38", "e0 b8")


def test_pause_and_print_screen():
    assert codes(K.Key_Pause) == ("e1 1d 45 e1 9d c5", "")
    assert codes(K.Key_Pause, M.ControlModifier) == ("e0 46 e0 c6", "")
    assert codes(K.Key_Print) == ("e0 2a e0 37", "e0 b7 e0 aa")
    assert codes(K.Key_Print, M.AltModifier) == ("54", "d4")


def test_modifier_sides():
    assert codes(K.Key_Control) == ("1d", "9d")
    assert codes(K.Key_Control, virtual=0xFFE4) == ("e0 1d", "e0 9d")
    assert codes(K.Key_Shift, virtual=0xFFE2) == ("36", "b6")


def test_x11_native_scan_codes_are_layout_independent():
    # evdev KEY_Z (44) + 8 arrives as Qt Key_Y on a German layout: still the Z scan code.
    assert codes(K.Key_Y, native=44 + 8, platform="xcb") == ("2c", "ac")
    assert codes(K.Key_Left, M.KeypadModifier, native=105 + 8, platform="xcb") == \
        ("e0 4b", "e0 cb")
    assert codes(K.Key_Control, native=97 + 8, platform="xcb") == ("e0 1d", "e0 9d")
    assert codes(K.Key_Print, native=99 + 8, platform="xcb") == ("e0 2a e0 37", "e0 b7 e0 aa")


def test_autorepeat_sends_make_again_and_one_break(qapp):
    sent = []
    keyboard = GuestKeyboard(sent.append, KeyTranslator("offscreen"))
    keyboard.set_grabbed(True)
    keyboard.key_event(QKeyEvent(PRESS, K.Key_A, M.NoModifier))
    keyboard.key_event(QKeyEvent(RELEASE, K.Key_A, M.NoModifier, "", True))
    keyboard.key_event(QKeyEvent(PRESS, K.Key_A, M.NoModifier, "", True))
    keyboard.key_event(QKeyEvent(RELEASE, K.Key_A, M.NoModifier))
    assert sent == [ev.KeyScancodes(b"\x1e")] * 2 + [ev.KeyScancodes(b"\x9e")]


def test_ungrab_releases_held_keys(qapp):
    sent = []
    keyboard = GuestKeyboard(sent.append, KeyTranslator("offscreen"))
    keyboard.set_grabbed(True)
    keyboard.key_event(QKeyEvent(PRESS, K.Key_Shift, M.ShiftModifier))
    keyboard.key_event(QKeyEvent(PRESS, K.Key_Left, M.ShiftModifier))
    keyboard.set_grabbed(False)
    assert [c.data.hex() for c in sent] == ["2a", "e04b", "e0cb", "aa"]
    assert not keyboard.key_event(QKeyEvent(PRESS, K.Key_A, M.NoModifier))


# ---------------------------------------------------------------------- every key
# Independent reference tables (issue 12, "mutation check"): scan code set 1 from the IBM
# PC/AT Technical Reference (E0-prefixed grey keys of the 101/102-key keyboard), Linux
# evdev codes from linux/input-event-codes.h.  make/break are written out as hex here.

def plain(e0: bool, code: int) -> tuple[str, str]:
    prefix = "e0 " if e0 else ""
    return f"{prefix}{code:02x}", f"{prefix}{code | 0x80:02x}"


QT_NAMED = {  # Qt key without modifiers -> (E0?, set 1 make code)
    K.Key_Escape: (False, 0x01), K.Key_Backspace: (False, 0x0E), K.Key_Tab: (False, 0x0F),
    K.Key_Backtab: (False, 0x0F), K.Key_Return: (False, 0x1C), K.Key_Enter: (True, 0x1C),
    K.Key_Control: (False, 0x1D), K.Key_Shift: (False, 0x2A), K.Key_Alt: (False, 0x38),
    K.Key_AltGr: (True, 0x38), K.Key_Space: (False, 0x39), K.Key_CapsLock: (False, 0x3A),
    K.Key_F1: (False, 0x3B), K.Key_F2: (False, 0x3C), K.Key_F3: (False, 0x3D),
    K.Key_F4: (False, 0x3E), K.Key_F5: (False, 0x3F), K.Key_F6: (False, 0x40),
    K.Key_F7: (False, 0x41), K.Key_F8: (False, 0x42), K.Key_F9: (False, 0x43),
    K.Key_F10: (False, 0x44), K.Key_NumLock: (False, 0x45), K.Key_ScrollLock: (False, 0x46),
    K.Key_SysReq: (False, 0x54), K.Key_F11: (False, 0x57), K.Key_F12: (False, 0x58),
    K.Key_Home: (True, 0x47), K.Key_Up: (True, 0x48), K.Key_PageUp: (True, 0x49),
    K.Key_Left: (True, 0x4B), K.Key_Right: (True, 0x4D), K.Key_End: (True, 0x4F),
    K.Key_Down: (True, 0x50), K.Key_PageDown: (True, 0x51), K.Key_Insert: (True, 0x52),
    K.Key_Delete: (True, 0x53), K.Key_Meta: (True, 0x5B), K.Key_Super_L: (True, 0x5B),
    K.Key_Super_R: (True, 0x5C), K.Key_Menu: (True, 0x5D),
}
QT_KEYPAD = {  # Qt key with the keypad modifier -> (E0?, make code)
    K.Key_7: (False, 0x47), K.Key_8: (False, 0x48), K.Key_9: (False, 0x49),
    K.Key_Minus: (False, 0x4A), K.Key_4: (False, 0x4B), K.Key_5: (False, 0x4C),
    K.Key_6: (False, 0x4D), K.Key_Plus: (False, 0x4E), K.Key_1: (False, 0x4F),
    K.Key_2: (False, 0x50), K.Key_3: (False, 0x51), K.Key_0: (False, 0x52),
    K.Key_Period: (False, 0x53), K.Key_Comma: (False, 0x53), K.Key_Asterisk: (False, 0x37),
    K.Key_Slash: (True, 0x35), K.Key_Enter: (True, 0x1C),
    K.Key_Home: (False, 0x47), K.Key_Up: (False, 0x48), K.Key_PageUp: (False, 0x49),
    K.Key_Left: (False, 0x4B), K.Key_Clear: (False, 0x4C), K.Key_Right: (False, 0x4D),
    K.Key_End: (False, 0x4F), K.Key_Down: (False, 0x50), K.Key_PageDown: (False, 0x51),
    K.Key_Insert: (False, 0x52), K.Key_Delete: (False, 0x53),
}
# US layout characters (the Qt key is the character's code) -> make code
QT_CHARS = {
    "1": 0x02, "!": 0x02, "2": 0x03, "@": 0x03, "3": 0x04, "#": 0x04, "4": 0x05, "$": 0x05,
    "5": 0x06, "%": 0x06, "6": 0x07, "^": 0x07, "7": 0x08, "&": 0x08, "8": 0x09, "*": 0x09,
    "9": 0x0A, "(": 0x0A, "0": 0x0B, ")": 0x0B, "-": 0x0C, "_": 0x0C, "=": 0x0D, "+": 0x0D,
    "Q": 0x10, "W": 0x11, "E": 0x12, "R": 0x13, "T": 0x14, "Y": 0x15, "U": 0x16, "I": 0x17,
    "O": 0x18, "P": 0x19, "[": 0x1A, "{": 0x1A, "]": 0x1B, "}": 0x1B,
    "A": 0x1E, "S": 0x1F, "D": 0x20, "F": 0x21, "G": 0x22, "H": 0x23, "J": 0x24, "K": 0x25,
    "L": 0x26, ";": 0x27, ":": 0x27, "'": 0x28, '"': 0x28, "`": 0x29, "~": 0x29,
    "\\": 0x2B, "|": 0x2B, "Z": 0x2C, "X": 0x2D, "C": 0x2E, "V": 0x2F, "B": 0x30,
    "N": 0x31, "M": 0x32, ",": 0x33, "<": 0x33, ".": 0x34, ">": 0x34, "/": 0x35, "?": 0x35,
}
EVDEV_EXTENDED = {  # linux/input-event-codes.h above KEY_F12 (88) -> (E0?, make code)
    96: (True, 0x1C),  # KEY_KPENTER
    97: (True, 0x1D),  # KEY_RIGHTCTRL
    98: (True, 0x35),  # KEY_KPSLASH
    100: (True, 0x38),  # KEY_RIGHTALT
    102: (True, 0x47), 103: (True, 0x48), 104: (True, 0x49),  # HOME UP PAGEUP
    105: (True, 0x4B), 106: (True, 0x4D), 107: (True, 0x4F),  # LEFT RIGHT END
    108: (True, 0x50), 109: (True, 0x51),  # DOWN PAGEDOWN
    110: (True, 0x52), 111: (True, 0x53),  # INSERT DELETE
    125: (True, 0x5B), 126: (True, 0x5C), 127: (True, 0x5D),  # LEFTMETA RIGHTMETA COMPOSE
}


def test_every_named_qt_key():
    for key, (e0, code) in QT_NAMED.items():
        assert codes(key) == plain(e0, code), K(key).name


def test_every_keypad_key():
    for key, (e0, code) in QT_KEYPAD.items():
        assert codes(key, M.KeypadModifier) == plain(e0, code), K(key).name


def test_every_us_character_key():
    for char, code in QT_CHARS.items():
        assert codes(ord(char)) == plain(False, code), char
    assert codes(K.Key_Space) == plain(False, 0x39)


def test_right_modifiers_by_native_virtual_key():
    for key, virtual, expected in ((K.Key_Control, 0xFFE4, (True, 0x1D)),
                                   (K.Key_Alt, 0xFFEA, (True, 0x38)),
                                   (K.Key_Shift, 0xFFE2, (False, 0x36)),
                                   (K.Key_Meta, 0xFFEC, (True, 0x5C)),
                                   (K.Key_Control, 0xA3, (True, 0x1D)),  # Windows VK
                                   (K.Key_Control, 0xFFE3, (False, 0x1D))):  # left
        assert codes(key, virtual=virtual) == plain(*expected), (K(key).name, virtual)


def test_every_evdev_code_on_x11():
    for code in range(1, 89):  # KEY_ESC .. KEY_F12 are the set 1 make codes
        assert codes(K.Key_unknown, native=code + 8, platform="xcb") == plain(False, code)
    for code, expected in EVDEV_EXTENDED.items():
        assert codes(K.Key_unknown, native=code + 8, platform="wayland") == plain(*expected)
    assert codes(K.Key_Pause, native=119 + 8, platform="xcb") == ("e1 1d 45 e1 9d c5", "")
    assert codes(K.Key_Print, M.AltModifier, native=99 + 8, platform="xcb") == ("54", "d4")


def test_windows_native_codes_carry_e0_in_bit_8():
    for native, expected in ((0x01E, (False, 0x1E)), (0x148, (True, 0x48)),
                             (0x11D, (True, 0x1D)), (0x01D, (False, 0x1D)),
                             (0x135, (True, 0x35)), (0x153, (True, 0x53))):
        assert codes(K.Key_unknown, native=native, platform="windows") == plain(*expected)
