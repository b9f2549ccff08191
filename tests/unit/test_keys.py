"""Unit tests for vmgui.core.keys: scan code set 1 sequences (IBM PC/AT Technical
Reference keyboard scan codes; break = make | 80h, grey keys prefixed with E0h)."""

from __future__ import annotations

import pytest

from vmgui.core import keys


def flat(events: list[bytes]) -> bytes:
    return b"".join(events)


def test_lowercase_letter():
    assert keys.text("a") == [b"\x1e", b"\x9e"]


def test_uppercase_letter_is_shift_wrapped():
    assert keys.text("A") == [b"\x2a", b"\x1e", b"\x9e", b"\xaa"]


def test_shifted_symbols():
    assert flat(keys.text("!")) == bytes((0x2A, 0x02, 0x82, 0xAA))
    assert flat(keys.text("~")) == bytes((0x2A, 0x29, 0xA9, 0xAA))
    assert flat(keys.text('"')) == bytes((0x2A, 0x28, 0xA8, 0xAA))
    assert flat(keys.text("?")) == bytes((0x2A, 0x35, 0xB5, 0xAA))


def test_control_characters():
    assert keys.text("\n") == [b"\x1c", b"\x9c"]
    assert keys.text("\r") == [b"\x1c", b"\x9c"]
    assert keys.text("\t") == [b"\x0f", b"\x8f"]
    assert keys.text("\b") == [b"\x0e", b"\x8e"]
    assert keys.text(" ") == [b"\x39", b"\xb9"]


def test_text_sequence():
    assert flat(keys.text("dir\n")) == bytes((0x20, 0xA0, 0x17, 0x97, 0x13, 0x93, 0x1C, 0x9C))


@pytest.mark.parametrize(("ch", "code"), [
    ("1", 0x02), ("0", 0x0B), ("-", 0x0C), ("=", 0x0D), ("q", 0x10), ("p", 0x19),
    ("[", 0x1A), ("]", 0x1B), ("a", 0x1E), ("l", 0x26), (";", 0x27), ("'", 0x28),
    ("`", 0x29), ("\\", 0x2B), ("z", 0x2C), ("m", 0x32), (",", 0x33), (".", 0x34),
    ("/", 0x35),
])
def test_character_make_codes(ch, code):
    assert keys.CHARS[ch] == (False, code)


def test_shifted_characters_share_codes():
    for plain, shifted in zip("1234567890-=[];'`\\,./", '!@#$%^&*()_+{}:"~|<>?', strict=True):
        assert keys.CHARS[shifted] == (True, keys.CHARS[plain][1])


def test_ctrl_alt_del():
    events = keys.combo("ctrl+alt+del")
    assert events == [b"\x1d", b"\x38", b"\xe0\x53", b"\xe0\xd3", b"\xb8", b"\x9d"]
    assert flat(events) == bytes.fromhex("1d38e053e0d3b89d")


def test_combo_is_case_and_space_insensitive():
    assert keys.combo("Ctrl + C") == [b"\x1d", b"\x2e", b"\xae", b"\x9d"]


def test_named_single_keys():
    assert keys.combo("up") == [b"\xe0\x48", b"\xe0\xc8"]
    assert keys.combo("enter") == [b"\x1c", b"\x9c"]
    assert keys.combo("esc") == [b"\x01", b"\x81"]
    assert keys.combo("f1") == [b"\x3b", b"\xbb"]
    assert keys.combo("f10") == [b"\x44", b"\xc4"]
    assert keys.combo("f11") == [b"\x57", b"\xd7"]
    assert keys.combo("f12") == [b"\x58", b"\xd8"]
    assert keys.combo("kpenter") == [b"\xe0\x1c", b"\xe0\x9c"]
    assert keys.combo("rctrl") == [b"\xe0\x1d", b"\xe0\x9d"]
    assert keys.combo("kp8") == [b"\x48", b"\xc8"]


@pytest.mark.parametrize(("name", "expected"), [
    ("home", (True, 0x47)), ("pgup", (True, 0x49)), ("left", (True, 0x4B)),
    ("right", (True, 0x4D)), ("end", (True, 0x4F)), ("down", (True, 0x50)),
    ("pgdn", (True, 0x51)), ("insert", (True, 0x52)), ("delete", (True, 0x53)),
    ("ralt", (True, 0x38)), ("rshift", (False, 0x36)), ("capslock", (False, 0x3A)),
    ("numlock", (False, 0x45)), ("scrolllock", (False, 0x46)), ("tab", (False, 0x0F)),
    ("backspace", (False, 0x0E)), ("space", (False, 0x39)), ("kp/", (True, 0x35)),
    ("kp*", (False, 0x37)), ("lwin", (True, 0x5B)),
])
def test_key_name(name, expected):
    assert keys.key_name(name) == expected


def test_make_and_break_helpers():
    assert keys.make(True, 0x48) == b"\xe0\x48"
    assert keys.brk(True, 0x48) == b"\xe0\xc8"
    assert keys.make(False, 0x1E) == b"\x1e"
    assert keys.brk(False, 0x1E) == b"\x9e"


def test_single_character_key_names():
    assert keys.key_name("x") == (False, 0x2D)
    assert keys.key_name("X") == (False, 0x2D)  # as a key in a combo, no shift implied


@pytest.mark.parametrize("spec", ["ctrl+nosuchkey", "f13", "hyper", "", "+"])
def test_unknown_names_raise(spec):
    with pytest.raises(keys.KeyError_):
        keys.combo(spec)


@pytest.mark.parametrize("s", ["é", "€", "\x00", "ab\x7f"])
def test_untypeable_characters_raise(s):
    with pytest.raises(keys.KeyError_):
        keys.text(s)


def test_key_error_is_a_value_error():
    assert issubclass(keys.KeyError_, ValueError)


def test_space_character_as_key_name():
    assert keys.key_name(" ") == (False, 0x39)
