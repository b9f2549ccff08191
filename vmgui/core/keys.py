"""PC keyboard scan codes (set 1) for named keys, key combinations and typed text.

Owns: the US-layout mapping from characters and key names ("enter", "f1", "up",
"ctrl+alt+del") to the make/break byte sequences an i8042 delivers with translation on.
Front ends (the headless runner, the console, automation) turn user input into these
bytes and send them to the machine as :class:`vmgui.core.events.KeyScancodes`.
Reference: IBM PC/AT Technical Reference (keyboard scan codes, set 1).
"""

from __future__ import annotations

import re
from types import MappingProxyType

BREAK = 0x80
E0 = 0xE0

# name -> (extended, make code)
_NAMED = {
    "esc": (False, 0x01), "escape": (False, 0x01), "backspace": (False, 0x0E),
    "tab": (False, 0x0F), "enter": (False, 0x1C), "return": (False, 0x1C),
    "ctrl": (False, 0x1D), "lctrl": (False, 0x1D), "rctrl": (True, 0x1D),
    "shift": (False, 0x2A), "lshift": (False, 0x2A), "rshift": (False, 0x36),
    "alt": (False, 0x38), "lalt": (False, 0x38), "ralt": (True, 0x38),
    "space": (False, 0x39), "capslock": (False, 0x3A), "numlock": (False, 0x45),
    "scrolllock": (False, 0x46), "home": (True, 0x47), "up": (True, 0x48),
    "pageup": (True, 0x49), "pgup": (True, 0x49), "left": (True, 0x4B),
    "right": (True, 0x4D), "end": (True, 0x4F), "down": (True, 0x50),
    "pagedown": (True, 0x51), "pgdn": (True, 0x51), "insert": (True, 0x52),
    "ins": (True, 0x52), "delete": (True, 0x53), "del": (True, 0x53),
    "kpenter": (True, 0x1C), "kp/": (True, 0x35), "kp*": (False, 0x37), "kp-": (False, 0x4A),
    "kp+": (False, 0x4E), "kp.": (False, 0x53), "kp0": (False, 0x52), "kp1": (False, 0x4F),
    "kp2": (False, 0x50), "kp3": (False, 0x51), "kp4": (False, 0x4B), "kp5": (False, 0x4C),
    "kp6": (False, 0x4D), "kp7": (False, 0x47), "kp8": (False, 0x48), "kp9": (False, 0x49),
    "lwin": (True, 0x5B), "rwin": (True, 0x5C), "menu": (True, 0x5D),
    "f11": (False, 0x57), "f12": (False, 0x58),
}
for _i in range(10):
    _NAMED[f"f{_i + 1}"] = (False, 0x3B + _i)

_UNSHIFTED = "1234567890-=qwertyuiop[]asdfghjkl;'`\\zxcvbnm,./"
_SHIFTED = '!@#$%^&*()_+QWERTYUIOP{}ASDFGHJKL:"~|ZXCVBNM<>?'
_CODES = (list(range(0x02, 0x0E)) + list(range(0x10, 0x1C)) + list(range(0x1E, 0x2A))
          + [0x2B] + list(range(0x2C, 0x36)))


def _char_table() -> dict[str, tuple[bool, int]]:
    table: dict[str, tuple[bool, int]] = {}
    for plain, shifted, code in zip(_UNSHIFTED, _SHIFTED, _CODES, strict=True):
        table[plain] = (False, code)
        table[shifted] = (True, code)
    table[" "] = (False, 0x39)
    table["\n"] = (False, 0x1C)
    table["\r"] = (False, 0x1C)
    table["\t"] = (False, 0x0F)
    table["\b"] = (False, 0x0E)
    return table


CHARS = MappingProxyType(_char_table())  # char -> (needs shift, make code)
NAMED_KEYS = MappingProxyType(_NAMED)
SHIFT_MAKE = 0x2A


class KeyError_(ValueError):
    """An unknown key name or a character the US layout cannot type."""


def make(extended: bool, code: int) -> bytes:
    return bytes((E0, code)) if extended else bytes((code,))


def brk(extended: bool, code: int) -> bytes:
    return bytes((E0, code | BREAK)) if extended else bytes((code | BREAK,))


def key_name(name: str) -> tuple[bool, int]:
    lowered = name.strip().lower()
    if lowered in NAMED_KEYS:
        return NAMED_KEYS[lowered]
    char = name.strip() or name  # " " itself is a key
    if len(char) == 1 and char in CHARS:
        return (False, CHARS[char][1])
    raise KeyError_(f"unknown key name {name!r} (try enter, esc, f1-f12, up, ctrl+alt+del)")


_SPLIT = re.compile(r"(?<![kK][pP])\+")  # "+" joins keys, except in the key name "kp+"


def _parts(spec: str) -> list[str]:
    """The key names of ``spec``: 'ctrl+kp+' -> ['ctrl', 'kp+']."""
    return [p for p in _SPLIT.split(spec) if p.strip()]


def combo(spec: str) -> list[bytes]:
    """'ctrl+alt+del' -> press each key in order, release in reverse: one byte string per
    key event, so a consumer can pace them."""
    parts = _parts(spec)
    if not parts:
        raise KeyError_(f"empty key combination {spec!r}")
    keys = [key_name(p) for p in parts]
    return [make(*k) for k in keys] + [brk(*k) for k in reversed(keys)]


def press(spec: str) -> list[bytes]:
    """Make codes only: hold the keys of ``spec`` down (until :func:`release`)."""
    return [make(*key_name(p)) for p in _parts(spec)]


def release(spec: str) -> list[bytes]:
    """Break codes for the keys of ``spec``, in reverse order."""
    return [brk(*key_name(p)) for p in reversed(_parts(spec))]


def text(s: str) -> list[bytes]:
    """Key events (press, release) that type ``s`` on a US keyboard; shifted characters
    are wrapped in Shift press/release."""
    events: list[bytes] = []
    for ch in s:
        if ch not in CHARS:
            raise KeyError_(f"cannot type {ch!r} on a US keyboard layout")
        shifted, code = CHARS[ch]
        if shifted:
            events.append(make(False, SHIFT_MAKE))
        events.append(make(False, code))
        events.append(brk(False, code))
        if shifted:
            events.append(brk(False, SHIFT_MAKE))
    return events
