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
