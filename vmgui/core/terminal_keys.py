"""What a VT100-style terminal sends down the serial line for a key.

Owns: :func:`key_bytes` (named keys: Enter, Backspace, the arrows, Home/End, the editing
keys, F1-F12) and :func:`text_bytes` (typed text, with Ctrl and Alt).  Enter sends CR,
as a terminal's Return key does (the guest's tty turns it into a newline: ICRNL);
Backspace sends DEL (7Fh), the erase character a Linux tty has by default (``stty
erase ^?``; agetty also takes BS), or BS for guests that want that; arrows send ESC [ A-D,
or ESC O A-D once the guest has switched the cursor keys to application mode (DECCKM,
:attr:`vmgui.core.terminal.Terminal.app_cursor_keys`).  No Qt: the console's terminal
widget maps its key events to these names.

References: the VT100 User Guide (DEC EK-VT100-UG) tables 3-6 and 3-7 (cursor keys in
ANSI and application mode, PF1-PF4 as F1-F4); xterm's ctlseqs for the keys a VT100
lacks (Home/End, Insert/Delete, Page Up/Down, F5-F12 as ESC [ n ~), which is what
Linux's terminfo for ``vt102``/``linux``/``xterm`` expects.
"""

from __future__ import annotations

DEL, BS = b"\x7f", b"\x08"

_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D"}
_FIXED = {
    "enter": b"\r", "return": b"\r", "tab": b"\t", "backtab": b"\x1b[Z", "escape": b"\x1b",
    "home": b"\x1b[H", "end": b"\x1b[F", "insert": b"\x1b[2~", "delete": b"\x1b[3~",
    "pageup": b"\x1b[5~", "pagedown": b"\x1b[6~",
    "f1": b"\x1bOP", "f2": b"\x1bOQ", "f3": b"\x1bOR", "f4": b"\x1bOS",
    "f5": b"\x1b[15~", "f6": b"\x1b[17~", "f7": b"\x1b[18~", "f8": b"\x1b[19~",
    "f9": b"\x1b[20~", "f10": b"\x1b[21~", "f11": b"\x1b[23~", "f12": b"\x1b[24~",
}
KEY_NAMES = frozenset(_FIXED) | frozenset(_CURSOR) | {"backspace"}


def key_bytes(name: str, *, app_cursor: bool = False, backspace: bytes = DEL,
              alt: bool = False) -> bytes:
    """The bytes for the named key (one of :data:`KEY_NAMES`); ``alt`` prefixes ESC, as
    xterm's metaSendsEscape.  KeyError for an unknown name."""
    if name in _CURSOR:
        data = (b"\x1bO" if app_cursor else b"\x1b[") + _CURSOR[name].encode()
    elif name == "backspace":
        data = backspace
    else:
        data = _FIXED[name]
    return b"\x1b" + data if alt else data


def text_bytes(text: str, *, ctrl: bool = False, alt: bool = False) -> bytes:
    """Typed ``text`` as UTF-8; with ``ctrl`` a letter or one of ``@[\\]^_`` (and ``?``:
    DEL, space: NUL) becomes its control character (Ctrl+C: 03h); ``alt`` prefixes ESC.
    Empty bytes for Ctrl with a character that has no control form."""
    if ctrl:
        text = "".join(_control(char) for char in text)
    data = text.encode("utf-8")
    return b"\x1b" + data if alt and data else data


def _control(char: str) -> str:
    upper = char.upper()
    if "@" <= upper <= "_":
        return chr(ord(upper) - 0x40)
    if char == "?":
        return "\x7f"
    if char in " 2":
        return "\x00"
    return ""
