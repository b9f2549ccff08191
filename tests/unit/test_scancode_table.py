"""Every key's scan codes and BIOS key codes against independent reference tables
(issue 12, "mutation check": the whole scan-code table, with and without E0).

The tables below are written out from the references, not derived from vmgui's code:

* scan code set 1 (what an i8042 with translation delivers): IBM PC/AT Technical
  Reference, keyboard scan codes, and the "Keyboard scancodes" tables of Andries
  Brouwer (set 1 make codes; break = make | 80h; grey keys of the 101/102-key keyboard
  prefixed with E0h, make and break);
* int 16h key codes (scan code << 8 | ASCII) for Normal / Shift / Ctrl / Alt: Ralf
  Brown's interrupt list, INT 16h, table "keyboard scan codes" (IBM PC/AT enhanced BIOS).

Checked: :mod:`vmgui.core.keys` (named keys, typed characters, make/break bytes), and
the keyboard BIOS fed the raw bytes through int 09h, read back with int 16h AH=10h (and
AH=00h for what the old functions must see).
"""

from __future__ import annotations

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.keyboard import KeyboardBios
from vmgui.core import keys

# ---------------------------------------------------------------------- set 1 reference

# Named keys: name -> (E0-prefixed?, make code).  Every name vmgui accepts is here.
NAMED = {
    "esc": (0, 0x01), "escape": (0, 0x01), "backspace": (0, 0x0E), "tab": (0, 0x0F),
    "enter": (0, 0x1C), "return": (0, 0x1C), "kpenter": (1, 0x1C),
    "ctrl": (0, 0x1D), "lctrl": (0, 0x1D), "rctrl": (1, 0x1D),
    "shift": (0, 0x2A), "lshift": (0, 0x2A), "rshift": (0, 0x36),
    "alt": (0, 0x38), "lalt": (0, 0x38), "ralt": (1, 0x38),
    "space": (0, 0x39), "capslock": (0, 0x3A), "numlock": (0, 0x45),
    "scrolllock": (0, 0x46),
    "f1": (0, 0x3B), "f2": (0, 0x3C), "f3": (0, 0x3D), "f4": (0, 0x3E), "f5": (0, 0x3F),
    "f6": (0, 0x40), "f7": (0, 0x41), "f8": (0, 0x42), "f9": (0, 0x43), "f10": (0, 0x44),
    "f11": (0, 0x57), "f12": (0, 0x58),
    "kp7": (0, 0x47), "kp8": (0, 0x48), "kp9": (0, 0x49), "kp-": (0, 0x4A),
    "kp4": (0, 0x4B), "kp5": (0, 0x4C), "kp6": (0, 0x4D), "kp+": (0, 0x4E),
    "kp1": (0, 0x4F), "kp2": (0, 0x50), "kp3": (0, 0x51), "kp0": (0, 0x52),
    "kp.": (0, 0x53), "kp*": (0, 0x37), "kp/": (1, 0x35),
    "home": (1, 0x47), "up": (1, 0x48), "pageup": (1, 0x49), "pgup": (1, 0x49),
    "left": (1, 0x4B), "right": (1, 0x4D), "end": (1, 0x4F), "down": (1, 0x50),
    "pagedown": (1, 0x51), "pgdn": (1, 0x51), "insert": (1, 0x52), "ins": (1, 0x52),
    "delete": (1, 0x53), "del": (1, 0x53),
    "lwin": (1, 0x5B), "rwin": (1, 0x5C), "menu": (1, 0x5D),
}

# The typing keys of the US layout: (make code, unshifted character, shifted character).
TYPING = [
    (0x02, "1", "!"), (0x03, "2", "@"), (0x04, "3", "#"), (0x05, "4", "$"),
    (0x06, "5", "%"), (0x07, "6", "^"), (0x08, "7", "&"), (0x09, "8", "*"),
    (0x0A, "9", "("), (0x0B, "0", ")"), (0x0C, "-", "_"), (0x0D, "=", "+"),
    (0x10, "q", "Q"), (0x11, "w", "W"), (0x12, "e", "E"), (0x13, "r", "R"),
    (0x14, "t", "T"), (0x15, "y", "Y"), (0x16, "u", "U"), (0x17, "i", "I"),
    (0x18, "o", "O"), (0x19, "p", "P"), (0x1A, "[", "{"), (0x1B, "]", "}"),
    (0x1E, "a", "A"), (0x1F, "s", "S"), (0x20, "d", "D"), (0x21, "f", "F"),
    (0x22, "g", "G"), (0x23, "h", "H"), (0x24, "j", "J"), (0x25, "k", "K"),
    (0x26, "l", "L"), (0x27, ";", ":"), (0x28, "'", '"'), (0x29, "`", "~"),
    (0x2B, "\\", "|"), (0x2C, "z", "Z"), (0x2D, "x", "X"), (0x2E, "c", "C"),
    (0x2F, "v", "V"), (0x30, "b", "B"), (0x31, "n", "N"), (0x32, "m", "M"),
    (0x33, ",", "<"), (0x34, ".", ">"), (0x35, "/", "?"),
]
CONTROL_CHARS = {" ": 0x39, "\n": 0x1C, "\r": 0x1C, "\t": 0x0F, "\b": 0x0E}
LSHIFT_MAKE, LSHIFT_BREAK = b"\x2a", b"\xaa"


def make_bytes(e0: int, code: int) -> bytes:
    return (b"\xe0" if e0 else b"") + bytes((code,))


def break_bytes(e0: int, code: int) -> bytes:
    return (b"\xe0" if e0 else b"") + bytes((code + 0x80,))


def test_the_reference_covers_every_named_key():
    assert set(keys.NAMED_KEYS) == set(NAMED)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_key_make_and_break(name):
    e0, code = NAMED[name]
    assert keys.key_name(name) == (bool(e0), code)
    assert keys.key_name(name.upper()) == (bool(e0), code)
    assert keys.combo(name) == [make_bytes(e0, code), break_bytes(e0, code)]
    assert keys.press(name) == [make_bytes(e0, code)]
    assert keys.release(name) == [break_bytes(e0, code)]


def test_every_e0_key_has_a_plain_twin_with_another_meaning():
    """Grey keys share their make code with a plain key: only the E0 tells them apart."""
    plain = {code: name for name, (e0, code) in NAMED.items() if not e0}
    plain.update({code: char for code, char, _shifted in TYPING})
    for name, (e0, code) in NAMED.items():
        if e0 and code not in (0x5B, 0x5C, 0x5D):  # the Windows keys have no twin
            assert keys.key_name(plain[code]) == (False, code), name
            assert keys.combo(name) != keys.combo(plain[code]), name


@pytest.mark.parametrize(("code", "plain", "shifted"), TYPING)
def test_typed_characters(code, plain, shifted):
    assert keys.CHARS[plain] == (False, code)
    assert keys.CHARS[shifted] == (True, code)
    assert keys.text(plain) == [bytes((code,)), bytes((code | 0x80,))]
    assert keys.text(shifted) == [LSHIFT_MAKE, bytes((code,)), bytes((code | 0x80,)),
                                  LSHIFT_BREAK]
    assert keys.key_name(plain) == (False, code)


def test_the_reference_covers_every_typeable_character():
    expected = {c for _code, p, s in TYPING for c in (p, s)} | set(CONTROL_CHARS)
    assert set(keys.CHARS) == expected


@pytest.mark.parametrize("char", sorted(CONTROL_CHARS))
def test_control_characters(char):
    code = CONTROL_CHARS[char]
    assert keys.text(char) == [bytes((code,)), bytes((code | 0x80,))]


def test_combo_presses_in_order_and_releases_in_reverse():
    assert b"".join(keys.combo("rctrl+ralt+del")) == bytes.fromhex("e01de038e053e0d3e0b8e09d")
    assert b"".join(keys.combo("shift+f12")) == bytes.fromhex("2a58d8aa")
    assert b"".join(keys.combo("ctrl+kp+")) == bytes.fromhex("1d4ece9d")  # '+' in a name
    assert b"".join(keys.combo("KP++alt")) == bytes.fromhex("4e38b8ce")
    assert keys.press("lshift+kp+") == [b"\x2a", b"\x4e"]
    assert keys.release("lshift+kp+") == [b"\xce", b"\xaa"]


# ---------------------------------------------------------------------- int 16h reference

# scan: (normal, shift, ctrl, alt) as scan << 8 | ASCII; None: the BIOS stores nothing.
# Ralf Brown's interrupt list, INT 16h, "keyboard scan codes" (enhanced keyboard BIOS).
INT16 = {
    0x01: (0x011B, 0x011B, 0x011B, 0x0100),  # Esc
    0x02: (0x0231, 0x0221, None, 0x7800),  # 1 !
    0x03: (0x0332, 0x0340, 0x0300, 0x7900),  # 2 @  (Ctrl-2: NUL)
    0x04: (0x0433, 0x0423, None, 0x7A00),  # 3 #
    0x05: (0x0534, 0x0524, None, 0x7B00),  # 4 $
    0x06: (0x0635, 0x0625, None, 0x7C00),  # 5 %
    0x07: (0x0736, 0x075E, 0x071E, 0x7D00),  # 6 ^  (Ctrl-6: RS)
    0x08: (0x0837, 0x0826, None, 0x7E00),  # 7 &
    0x09: (0x0938, 0x092A, None, 0x7F00),  # 8 *
    0x0A: (0x0A39, 0x0A28, None, 0x8000),  # 9 (
    0x0B: (0x0B30, 0x0B29, None, 0x8100),  # 0 )
    0x0C: (0x0C2D, 0x0C5F, 0x0C1F, 0x8200),  # - _
    0x0D: (0x0D3D, 0x0D2B, None, 0x8300),  # = +
    0x0E: (0x0E08, 0x0E08, 0x0E7F, 0x0E00),  # Backspace
    0x0F: (0x0F09, 0x0F00, 0x9400, 0xA500),  # Tab
    0x10: (0x1071, 0x1051, 0x1011, 0x1000),  # Q
    0x11: (0x1177, 0x1157, 0x1117, 0x1100),  # W
    0x12: (0x1265, 0x1245, 0x1205, 0x1200),  # E
    0x13: (0x1372, 0x1352, 0x1312, 0x1300),  # R
    0x14: (0x1474, 0x1454, 0x1414, 0x1400),  # T
    0x15: (0x1579, 0x1559, 0x1519, 0x1500),  # Y
    0x16: (0x1675, 0x1655, 0x1615, 0x1600),  # U
    0x17: (0x1769, 0x1749, 0x1709, 0x1700),  # I
    0x18: (0x186F, 0x184F, 0x180F, 0x1800),  # O
    0x19: (0x1970, 0x1950, 0x1910, 0x1900),  # P
    0x1A: (0x1A5B, 0x1A7B, 0x1A1B, 0x1A00),  # [ {
    0x1B: (0x1B5D, 0x1B7D, 0x1B1D, 0x1B00),  # ] }
    0x1C: (0x1C0D, 0x1C0D, 0x1C0A, 0x1C00),  # Enter
    0x1E: (0x1E61, 0x1E41, 0x1E01, 0x1E00),  # A
    0x1F: (0x1F73, 0x1F53, 0x1F13, 0x1F00),  # S
    0x20: (0x2064, 0x2044, 0x2004, 0x2000),  # D
    0x21: (0x2166, 0x2146, 0x2106, 0x2100),  # F
    0x22: (0x2267, 0x2247, 0x2207, 0x2200),  # G
    0x23: (0x2368, 0x2348, 0x2308, 0x2300),  # H
    0x24: (0x246A, 0x244A, 0x240A, 0x2400),  # J
    0x25: (0x256B, 0x254B, 0x250B, 0x2500),  # K
    0x26: (0x266C, 0x264C, 0x260C, 0x2600),  # L
    0x27: (0x273B, 0x273A, None, 0x2700),  # ; :
    0x28: (0x2827, 0x2822, None, 0x2800),  # ' "
    0x29: (0x2960, 0x297E, None, 0x2900),  # ` ~
    0x2B: (0x2B5C, 0x2B7C, 0x2B1C, 0x2B00),  # \ |
    0x2C: (0x2C7A, 0x2C5A, 0x2C1A, 0x2C00),  # Z
    0x2D: (0x2D78, 0x2D58, 0x2D18, 0x2D00),  # X
    0x2E: (0x2E63, 0x2E43, 0x2E03, 0x2E00),  # C
    0x2F: (0x2F76, 0x2F56, 0x2F16, 0x2F00),  # V
    0x30: (0x3062, 0x3042, 0x3002, 0x3000),  # B
    0x31: (0x316E, 0x314E, 0x310E, 0x3100),  # N
    0x32: (0x326D, 0x324D, 0x320D, 0x3200),  # M
    0x33: (0x332C, 0x333C, None, 0x3300),  # , <
    0x34: (0x342E, 0x343E, None, 0x3400),  # . >
    0x35: (0x352F, 0x353F, None, 0x3500),  # / ?
    0x37: (0x372A, 0x372A, 0x9600, 0x3700),  # keypad *
    0x39: (0x3920, 0x3920, 0x3920, 0x3920),  # Space
    0x3B: (0x3B00, 0x5400, 0x5E00, 0x6800),  # F1
    0x3C: (0x3C00, 0x5500, 0x5F00, 0x6900),  # F2
    0x3D: (0x3D00, 0x5600, 0x6000, 0x6A00),  # F3
    0x3E: (0x3E00, 0x5700, 0x6100, 0x6B00),  # F4
    0x3F: (0x3F00, 0x5800, 0x6200, 0x6C00),  # F5
    0x40: (0x4000, 0x5900, 0x6300, 0x6D00),  # F6
    0x41: (0x4100, 0x5A00, 0x6400, 0x6E00),  # F7
    0x42: (0x4200, 0x5B00, 0x6500, 0x6F00),  # F8
    0x43: (0x4300, 0x5C00, 0x6600, 0x7000),  # F9
    0x44: (0x4400, 0x5D00, 0x6700, 0x7100),  # F10
    0x4A: (0x4A2D, 0x4A2D, 0x8E00, 0x4A00),  # keypad -
    0x4E: (0x4E2B, 0x4E2B, 0x9000, 0x4E00),  # keypad +
    0x56: (0x565C, 0x567C, None, None),  # the 102nd key (left of Z on ISO keyboards)
    0x57: (0x8500, 0x8700, 0x8900, 0x8B00),  # F11
    0x58: (0x8600, 0x8800, 0x8A00, 0x8C00),  # F12
}
# Keypad keys 47h-53h.  Without E0 (NumLock off): cursor code with ASCII 0, the digit with
# Shift; Ctrl: the Ctrl code; Alt: no code for the keystroke (Alt+keypad digits enter a
# character code when Alt is released on an IBM BIOS; vmgui, like SeaBIOS, does not model
# that).  With E0 (the grey cursor keys): ASCII E0h normally and with Shift, Ctrl code |
# E0h, Alt code (scan + 50h) << 8.
KEYPAD = {  # scan: (digit, ctrl, alt with E0)
    0x47: ("7", 0x7700, 0x9700), 0x48: ("8", 0x8D00, 0x9800), 0x49: ("9", 0x8400, 0x9900),
    0x4B: ("4", 0x7300, 0x9B00), 0x4C: ("5", 0x8F00, None), 0x4D: ("6", 0x7400, 0x9D00),
    0x4F: ("1", 0x7500, 0x9F00), 0x50: ("2", 0x9100, 0xA000), 0x51: ("3", 0x7600, 0xA100),
    0x52: ("0", 0x9200, 0xA200), 0x53: (".", 0x9300, 0xA300),
}
GREY_E0 = {  # the other E0 keys that make a BIOS key code: scan -> normal/shift/ctrl/alt
    0x1C: (0xE00D, 0xE00D, 0xE00A, 0xA600),  # keypad Enter
    0x35: (0xE02F, 0xE02F, 0x9500, 0xA400),  # keypad /
}
MODIFIER_BYTES = {"shift": (b"\x2a", b"\xaa"), "ctrl": (b"\x1d", b"\x9d"),
                  "alt": (b"\x38", b"\xb8")}
STATES = ("normal", "shift", "ctrl", "alt")


class Bios:
    """The keyboard BIOS on a fake CPU, fed raw scan code bytes as int 09h gets them."""

    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.kb = KeyboardBios(self.cpu.mem, lambda: None)
        self.kb.post()

    def feed(self, data: bytes) -> None:
        for byte in data:
            self.kb.process_scancode(byte)

    def keystroke(self, key: bytes, state: str) -> None:
        """Press and release ``key`` (its make bytes; E0 prefix included) in ``state``."""
        mod_make, mod_break = MODIFIER_BYTES.get(state, (b"", b""))
        brk = key[:-1] + bytes((key[-1] | 0x80,))
        self.feed(mod_make + key + brk + mod_break)

    def read_all(self, ah: int = 0x10) -> list[int]:
        out = []
        while True:
            call = self.cpu.call(0x16, ax=ah << 8)
            self.kb.handle(call)
            if call.retry:
                return out
            out.append(self.cpu.regs.ax)


def expect(code: int | None) -> list[int]:
    return [] if code is None else [code]


CASES = [(scan, i) for scan in sorted(INT16) for i in range(4)]


@pytest.mark.parametrize(("scan", "state"), [(s, STATES[i]) for s, i in CASES],
                         ids=[f"{s:02x}-{STATES[i]}" for s, i in CASES])
def test_int16_main_keys(scan, state):
    bios = Bios()
    bios.keystroke(bytes((scan,)), state)
    assert bios.read_all() == expect(INT16[scan][STATES.index(state)])


@pytest.mark.parametrize("scan", sorted(KEYPAD), ids=lambda s: f"{s:02x}")
def test_int16_keypad_without_e0(scan):
    digit, ctrl, _alt = KEYPAD[scan]
    bios = Bios()
    got = {}
    for state in STATES:
        bios.keystroke(bytes((scan,)), state)
        got[state] = bios.read_all()
    assert got == {"normal": [scan << 8], "shift": [scan << 8 | ord(digit)],
                   "ctrl": [ctrl], "alt": []}
    bios.feed(b"\x45\xc5")  # NumLock on: the digit, and the cursor key with Shift
    for state, code in (("normal", scan << 8 | ord(digit)), ("shift", scan << 8)):
        bios.keystroke(bytes((scan,)), state)
        assert bios.read_all() == [code], state


@pytest.mark.parametrize("scan", [s for s in sorted(KEYPAD) if KEYPAD[s][2]],
                         ids=lambda s: f"e0-{s:02x}")  # all but keypad 5: no grey twin
def test_int16_grey_keys_with_e0(scan):
    _digit, ctrl, alt = KEYPAD[scan]
    bios = Bios()
    expected = {"normal": [scan << 8 | 0xE0], "shift": [scan << 8 | 0xE0],
                "ctrl": [ctrl | 0xE0], "alt": [alt]}
    for state in STATES:
        bios.keystroke(b"\xe0" + bytes((scan,)), state)
        assert bios.read_all() == expected[state], state
    bios.feed(b"\x45\xc5")  # NumLock does not turn grey keys into digits
    bios.keystroke(b"\xe0" + bytes((scan,)), "normal")
    assert bios.read_all() == [scan << 8 | 0xE0]
    bios.keystroke(b"\xe0" + bytes((scan,)), "normal")  # AH=00h: the same, ASCII 0
    assert bios.read_all(0x00) == [scan << 8]


@pytest.mark.parametrize("scan", sorted(GREY_E0), ids=lambda s: f"e0-{s:02x}")
def test_int16_keypad_enter_and_slash(scan):
    bios = Bios()
    for state, code in zip(STATES, GREY_E0[scan], strict=True):
        bios.keystroke(b"\xe0" + bytes((scan,)), state)
        assert bios.read_all() == [code], state
    bios.keystroke(b"\xe0" + bytes((scan,)), "normal")  # AH=00h sees the main key's code
    assert bios.read_all(0x00) == [INT16[scan][0]]


def test_caps_lock_shifts_letters_only():
    bios = Bios()
    bios.feed(b"\x3a\xba")
    for scan, (normal, shift, _ctrl, _alt) in INT16.items():
        bios.keystroke(bytes((scan,)), "normal")
        letter = 0x61 <= normal & 0xFF <= 0x7A
        assert bios.read_all() == [shift if letter else normal], hex(scan)
        bios.keystroke(bytes((scan,)), "shift")
        assert bios.read_all() == [normal if letter else shift], hex(scan)


def test_right_ctrl_and_right_alt_act_as_ctrl_and_alt():
    bios = Bios()
    bios.feed(b"\xe0\x1d" + b"\x2e\xae" + b"\xe0\x9d")  # right Ctrl + C
    bios.feed(b"\xe0\x38" + b"\x2d\xad" + b"\xe0\xb8")  # right Alt + X
    assert bios.read_all() == [0x2E03, 0x2D00]


def test_fake_shifts_around_grey_keys_change_nothing():
    bios = Bios()
    bios.feed(bytes.fromhex("e02ae048e0c8e0aa"))  # NumLock-on style grey Up
    bios.feed(bytes.fromhex("e0b6e04be0cbe036"))  # with Shift held: fake shift release
    assert bios.read_all() == [0x48E0, 0x4BE0]


def test_typed_text_reaches_int16_as_ascii():
    """keys.text() bytes through the BIOS give back the characters (both halves)."""
    bios = Bios()
    text = "".join(p + s for _c, p, s in TYPING) + " \t\r"
    got = ""
    for ch in text:  # one at a time: the BIOS buffer holds 15 keys
        bios.feed(b"".join(keys.text(ch)))
        got += "".join(chr(code & 0xFF) for code in bios.read_all())
    assert got == text
