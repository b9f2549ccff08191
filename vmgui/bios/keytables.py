"""Scan code set 1 -> BIOS key codes (scan << 8 | ASCII), as the IBM PC/AT BIOS delivers
them through int 16h.

Owns: the translation tables only.  Values follow the IBM PC/AT Technical Reference
keyboard tables (also tabulated in Ralf Brown's interrupt list, int 16h "keyboard scan
codes"); this is data, consulted by vmgui.bios.keyboard.
"""

from __future__ import annotations

from typing import NamedTuple


class KeyCodes(NamedTuple):
    normal: int
    shift: int
    ctrl: int  # 0: no code (the key is ignored with Ctrl)
    alt: int  # 0: no code


def _letters(row: str, first_scan: int) -> dict[int, KeyCodes]:
    out = {}
    for i, ch in enumerate(row):
        scan = first_scan + i
        low = ord(ch)
        out[scan] = KeyCodes(scan << 8 | low, scan << 8 | (low - 32), scan << 8 | (low - 0x60),
                             scan << 8)
    return out


def _pairs(entries: list[tuple[int, str, str, int, int]]) -> dict[int, KeyCodes]:
    out = {}
    for scan, normal, shifted, ctrl, alt in entries:
        out[scan] = KeyCodes(scan << 8 | ord(normal), scan << 8 | ord(shifted), ctrl, alt)
    return out


def _build() -> dict[int, KeyCodes]:
    table: dict[int, KeyCodes] = {}
    table.update(_pairs([
        (0x02, "1", "!", 0, 0x7800), (0x03, "2", "@", 0x0300, 0x7900),
        (0x04, "3", "#", 0, 0x7A00), (0x05, "4", "$", 0, 0x7B00),
        (0x06, "5", "%", 0, 0x7C00), (0x07, "6", "^", 0x071E, 0x7D00),
        (0x08, "7", "&", 0, 0x7E00), (0x09, "8", "*", 0, 0x7F00),
        (0x0A, "9", "(", 0, 0x8000), (0x0B, "0", ")", 0, 0x8100),
        (0x0C, "-", "_", 0x0C1F, 0x8200), (0x0D, "=", "+", 0, 0x8300),
        (0x1A, "[", "{", 0x1A1B, 0x1A00), (0x1B, "]", "}", 0x1B1D, 0x1B00),
        (0x27, ";", ":", 0, 0x2700), (0x28, "'", '"', 0, 0x2800),
        (0x29, "`", "~", 0, 0x2900), (0x2B, "\\", "|", 0x2B1C, 0x2B00),
        (0x33, ",", "<", 0, 0x3300), (0x34, ".", ">", 0, 0x3400),
        (0x35, "/", "?", 0, 0x3500), (0x56, "\\", "|", 0, 0),
    ]))
    table.update(_letters("qwertyuiop", 0x10))
    table.update(_letters("asdfghjkl", 0x1E))
    table.update(_letters("zxcvbnm", 0x2C))
    table[0x01] = KeyCodes(0x011B, 0x011B, 0x011B, 0x0100)
    table[0x0E] = KeyCodes(0x0E08, 0x0E08, 0x0E7F, 0x0E00)
    table[0x0F] = KeyCodes(0x0F09, 0x0F00, 0x9400, 0xA500)
    table[0x1C] = KeyCodes(0x1C0D, 0x1C0D, 0x1C0A, 0x1C00)
    table[0x39] = KeyCodes(0x3920, 0x3920, 0x3920, 0x3920)
    table[0x37] = KeyCodes(0x372A, 0x372A, 0x9600, 0x3700)
    table[0x4A] = KeyCodes(0x4A2D, 0x4A2D, 0x8E00, 0x4A00)
    table[0x4E] = KeyCodes(0x4E2B, 0x4E2B, 0x9000, 0x4E00)
    for i in range(10):  # F1-F10
        scan = 0x3B + i
        table[scan] = KeyCodes(scan << 8, (0x54 + i) << 8, (0x5E + i) << 8, (0x68 + i) << 8)
    table[0x57] = KeyCodes(0x8500, 0x8700, 0x8900, 0x8B00)  # F11
    table[0x58] = KeyCodes(0x8600, 0x8800, 0x8A00, 0x8C00)  # F12
    return table


MAIN_KEYS = _build()

# Keypad keys 47h-53h: (scan, digit/char with NumLock, code with Ctrl, code with Alt for the
# grey (E0-prefixed) twin).  Without NumLock they are cursor keys with ASCII 0.
KEYPAD = {
    0x47: ("7", 0x7700, 0x9700), 0x48: ("8", 0x8D00, 0x9800), 0x49: ("9", 0x8400, 0x9900),
    0x4B: ("4", 0x7300, 0x9B00), 0x4C: ("5", 0x8F00, 0), 0x4D: ("6", 0x7400, 0x9D00),
    0x4F: ("1", 0x7500, 0x9F00), 0x50: ("2", 0x9100, 0xA000), 0x51: ("3", 0x7600, 0xA100),
    0x52: ("0", 0x9200, 0xA200), 0x53: (".", 0x9300, 0xA300),
}

# Scan codes of modifier and lock keys (make codes; break = make | 0x80).
SC_LCTRL = 0x1D
SC_LSHIFT = 0x2A
SC_RSHIFT = 0x36
SC_LALT = 0x38
SC_CAPS = 0x3A
SC_NUM = 0x45
SC_SCROLL = 0x46
SC_INSERT = 0x52
SC_DELETE = 0x53
PREFIX_E0 = 0xE0
PREFIX_E1 = 0xE1
