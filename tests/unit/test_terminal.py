"""The serial console's VT100 emulator (vmgui.core.terminal) on byte streams: printing
and wrapping, C0 controls, cursor movement, erasing, scrolling and regions, SGR, replies,
unknown sequences swallowed, and everything split across chunks at every byte; the keys
it sends (vmgui.core.terminal_keys)."""

from __future__ import annotations

import pytest

from vmgui.core.terminal import DEFAULT_COLOUR, PLAIN, TRUE_COLOUR, Attr, Terminal
from vmgui.core.terminal_keys import BS, DEL, KEY_NAMES, key_bytes, text_bytes


def term(data: bytes = b"", columns: int = 10, rows: int = 4, **kw) -> Terminal:
    t = Terminal(columns, rows, **kw)
    t.feed(data)
    return t


def screen(t: Terminal) -> list[str]:
    return ["".join(cell.char for cell in line) for line in t.lines]


# ---------------------------------------------------------------------- printing
def test_text_crlf_and_the_cursor():
    t = term(b"ab\r\ncd")
    assert screen(t) == ["ab        ", "cd        ", " " * 10, " " * 10]
    assert (t.row, t.col) == (1, 2)


def test_a_full_line_wraps_only_when_the_next_character_comes():
    t = term(b"0123456789")
    assert (t.row, t.col, t.wrap_pending) == (0, 9, True)
    t.feed(b"\r\n")  # CR LF right after a full line: no empty line between
    t.feed(b"x")
    assert t.text() == "0123456789\nx"
    t = term(b"0123456789y")
    assert t.text() == "0123456789\ny"


def test_autowrap_off_overwrites_the_last_column():
    t = term(b"\x1b[?7l0123456789AB")
    assert t.text() == "012345678B"


def test_backspace_tab_and_bell():
    t = term(b"abc\b\bX\tY\a")
    assert t.text() == "aXc     Y"
    assert t.bells == 1
    t = term(b"\b\b")  # at the left margin: stays
    assert t.col == 0
    t = term(b"\t\t\t")  # past the last stop: the last column
    assert t.col == 9


def test_lf_at_the_bottom_scrolls_into_the_scrollback():
    t = term(b"1\r\n2\r\n3\r\n4\r\n5\r\n6")
    assert t.text() == "3\n4\n5\n6"
    assert [line[0].char for line in t.scrollback] == ["1", "2"]
    assert t.all_text() == "1\n2\n3\n4\n5\n6"


def test_the_scrollback_keeps_its_limit():
    t = term(b"\n".join(str(i).encode() + b"\r" for i in range(50)), scrollback=5)
    assert len(t.scrollback) == 5 and t.scrollback[0][0].char == "4"


def test_utf8_and_code_page_437():
    t = term("grün ─│".encode())
    assert t.text() == "grün ─│"
    t = term(b"\xb3\xc4 \xe9")  # DOS box drawing, then E9h: a UTF-8 lead byte ...
    assert t.text() == "│─"  # ... whose continuation may come in the next chunk
    t.feed(b"!")  # it does not: CP437 both
    assert t.text() == "│─ Θ!"
    t = term(b"\xc3(")  # a lead byte without its continuation: CP437, then "("
    assert t.text() == "├("


# ---------------------------------------------------------------------- cursor
@pytest.mark.parametrize(("seq", "where"), [
    (b"\x1b[3;5H", (2, 4)), (b"\x1b[H", (0, 0)), (b"\x1b[2;3f", (1, 2)),
    (b"\x1b[99;99H", (3, 9)), (b"\x1b[0;0H", (0, 0)),
    (b"\x1b[3;5H\x1b[A", (1, 4)), (b"\x1b[3;5H\x1b[2A", (0, 4)), (b"\x1b[3;5H\x1b[9A", (0, 4)),
    (b"\x1b[B", (1, 0)), (b"\x1b[5B", (3, 0)), (b"\x1b[C", (0, 1)), (b"\x1b[20C", (0, 9)),
    (b"\x1b[1;8H\x1b[3D", (0, 4)), (b"\x1b[1;8H\x1b[D", (0, 6)), (b"\x1b[1;8H\x1b[0D", (0, 6)),
    (b"\x1b[2;4H\x1b[E", (2, 0)), (b"\x1b[3;4H\x1b[2F", (0, 0)), (b"\x1b[7G", (0, 6)),
    (b"\x1b[3d", (2, 0)), (b"\x1b[2;2H\x1b7\x1b[4;4H\x1b8", (1, 1)),
    (b"\x1b[2;2H\x1b[s\x1b[H\x1b[u", (1, 1)),
])
def test_cursor_movement(seq, where):
    t = term(seq)
    assert (t.row, t.col) == where


def test_cursor_position_report_and_device_attributes_answer():
    replies: list[bytes] = []
    t = term(b"\x1b[2;7H\x1b[6n\x1b[5n\x1b[c\x1b[>c", reply=replies.append)
    assert replies == [b"\x1b[2;7R", b"\x1b[0n", b"\x1b[?1;2c"]
    assert t.text() == ""


# ---------------------------------------------------------------------- erasing
FILLED = b"aaaaaaaaaa" + b"bbbbbbbbbb" + b"cccccccccc" + b"dddddddddd"


@pytest.mark.parametrize(("seq", "after"), [
    (b"\x1b[2;5H\x1b[K", ["a" * 10, "bbbb      ", "c" * 10, "d" * 10]),
    (b"\x1b[2;5H\x1b[0K", ["a" * 10, "bbbb      ", "c" * 10, "d" * 10]),
    (b"\x1b[2;5H\x1b[1K", ["a" * 10, "     bbbbb", "c" * 10, "d" * 10]),
    (b"\x1b[2;5H\x1b[2K", ["a" * 10, " " * 10, "c" * 10, "d" * 10]),
    (b"\x1b[2;5H\x1b[J", ["a" * 10, "bbbb      ", " " * 10, " " * 10]),
    (b"\x1b[2;5H\x1b[1J", [" " * 10, "     bbbbb", "c" * 10, "d" * 10]),
    (b"\x1b[2;5H\x1b[2J", [" " * 10] * 4),
    (b"\x1b[2;5H\x1b[3X", ["a" * 10, "bbbb   bbb", "c" * 10, "d" * 10]),
    (b"\x1b[2;5H\x1b[2P", ["a" * 10, "bbbbbbbb  ", "c" * 10, "d" * 10]),
    (b"\x1b[2;5H\x1b[2@", ["a" * 10, "bbbb  bbbb", "c" * 10, "d" * 10]),
    (b"\x1b[2;5H\x1b[L", ["a" * 10, " " * 10, "b" * 10, "c" * 10]),
    (b"\x1b[2;5H\x1b[2M", ["a" * 10, "d" * 10, " " * 10, " " * 10]),
    (b"\x1b[S", ["b" * 10, "c" * 10, "d" * 10, " " * 10]),
    (b"\x1b[2T", [" " * 10, " " * 10, "a" * 10, "b" * 10]),
])
def test_erase_insert_delete_and_scroll(seq, after):
    t = term(b"\x1b[?7l" + b"\r\n".join(FILLED[i:i + 10] for i in range(0, 40, 10)) + seq)
    assert [line.ljust(10) for line in screen(t)] == [line.ljust(10) for line in after]


def test_erase_display_3_clears_the_scrollback():
    t = term(b"1\r\n2\r\n3\r\n4\r\n5\x1b[3J")
    assert t.scrollback == [] and t.text() == "2\n3\n4\n5"


def test_a_scrolling_region_scrolls_only_its_lines():
    t = term(b"top\x1b[2;3r\x1b[2;1Hone\r\ntwo\r\nthree\x1b[4;1Hlast")
    assert t.text() == "top\ntwo\nthree\nlast"
    assert t.scrollback == []  # a region below the top line keeps nothing
    t.feed(b"\x1b[2;1H\x1bM")  # reverse index at the region's top: scrolls it down
    assert t.text() == "top\n\ntwo\nlast"


def test_erased_cells_keep_the_background_colour():
    t = term(b"\x1b[41m\x1b[2K")
    assert t.lines[0][0].attr == Attr(bg=1)


# ---------------------------------------------------------------------- SGR
@pytest.mark.parametrize(("seq", "attr"), [
    (b"\x1b[1m", Attr(bold=True)), (b"\x1b[31m", Attr(fg=1)), (b"\x1b[1;32;44m",
                                                               Attr(fg=2, bg=4, bold=True)),
    (b"\x1b[7;4m", Attr(reverse=True, underline=True)), (b"\x1b[31;1m\x1b[0m", PLAIN),
    (b"\x1b[31;1m\x1b[m", PLAIN), (b"\x1b[1;31m\x1b[22m", Attr(fg=1)),
    (b"\x1b[31m\x1b[39m", PLAIN), (b"\x1b[41m\x1b[49m", PLAIN), (b"\x1b[93;104m",
                                                                 Attr(fg=11, bg=12)),
    (b"\x1b[38;5;208m", Attr(fg=208)), (b"\x1b[48;5;17m", Attr(bg=17)),
    (b"\x1b[38;2;1;2;3m", Attr(fg=TRUE_COLOUR | 0x010203)),
    (b"\x1b[38;5;999;1m", Attr(bold=True)), (b"\x1b[38;2;1m", PLAIN), (b"\x1b[5;3;2m", PLAIN),
])
def test_sgr(seq, attr):
    t = term(seq + b"x")
    assert t.lines[0][0].attr == attr and t.lines[0][0].char == "x"


def test_colours_default_to_the_terminals_own():
    assert PLAIN.fg == PLAIN.bg == DEFAULT_COLOUR


# ---------------------------------------------------------------------- swallowing
@pytest.mark.parametrize("seq", [
    b"\x1b]0;a window title\x07", b"\x1b]2;title\x1b\\", b"\x1bPqsixel data\x1b\\",
    b"\x1b_apc\x1b\\", b"\x1b(B", b"\x1b)0", b"\x1b#8", b"\x1b=", b"\x1b>",
    b"\x1b[?1049h\x1b[?1049l", b"\x1b[?2004h", b"\x1b[>0;1m", b"\x1b[2 q", b"\x1b[!p",
    b"\x1b[12;34;56;78;90;12;34;56;78;90;12;34;56;78;90;12;34;56;78;90Z", b"\x1b[999999999m",
    b"\x0e\x0f\x00\x7f", b"\x1b[1\x18", b"\x1b[1\x1a", b"\x1bZ",
])
def test_unknown_and_ignored_sequences_leave_nothing_on_screen(seq):
    t = term(b"<" + seq + b">")
    assert t.text() == "<>", (seq, t.text())


def test_an_unterminated_string_ends_at_the_next_escape_sequence():
    t = term(b"\x1b]0;title\x1b[31mred")
    assert t.text() == "red" and t.lines[0][0].attr == Attr(fg=1)


def test_a_control_inside_a_sequence_is_carried_out():
    t = term(b"ab\x1b[\r2Cx")  # CR in the middle of CSI 2 C
    assert t.text() == "abx"


# ---------------------------------------------------------------------- chunks
STREAM = ("\x1b[2J\x1b[H\x1b[1;31mred\x1b[0m ok\r\n"
          "grün\x1b]0;title\x07 \x1b[38;5;200mpink\x1b[m\r\n"
          "abc\x1b[2D\x1b[K!\x1b[6n\x1b(Bend\r\n").encode()


def test_every_split_of_a_stream_gives_the_same_screen():
    replies: list[bytes] = []
    whole = term(STREAM, columns=20, rows=5, reply=replies.append)
    for cut in range(1, len(STREAM)):
        got: list[bytes] = []
        t = Terminal(20, 5, reply=got.append)
        t.feed(STREAM[:cut])
        t.feed(STREAM[cut:])
        assert screen(t) == screen(whole), cut
        assert [[c.attr for c in line] for line in t.lines] == \
            [[c.attr for c in line] for line in whole.lines], cut
        assert got == replies == [b"\x1b[3;3R"], cut


def test_byte_by_byte_equals_all_at_once():
    t = Terminal(20, 5)
    for byte in STREAM:
        t.feed(bytes([byte]))
    assert t.text() == term(STREAM, columns=20, rows=5).text() == \
        "red ok\ngrün pink\na!end"


def test_full_reset():
    t = term(b"\x1b[31mabc\x1b[2;3r\x1b[?25l\x1bc")
    assert t.text() == "" and t.attr == PLAIN and (t.top, t.bottom) == (0, 3)
    assert t.cursor_visible


def test_a_terminal_too_small_is_refused():
    with pytest.raises(ValueError, match="a terminal of 1x24 is too small"):
        Terminal(1, 24)


# ---------------------------------------------------------------------- keys
@pytest.mark.parametrize(("name", "app", "data"), [
    ("enter", False, b"\r"), ("backspace", False, DEL), ("tab", False, b"\t"),
    ("up", False, b"\x1b[A"), ("down", False, b"\x1b[B"), ("right", False, b"\x1b[C"),
    ("left", False, b"\x1b[D"), ("up", True, b"\x1bOA"), ("left", True, b"\x1bOD"),
    ("home", False, b"\x1b[H"), ("delete", False, b"\x1b[3~"), ("f1", False, b"\x1bOP"),
    ("f5", False, b"\x1b[15~"), ("escape", False, b"\x1b"),
])
def test_named_keys(name, app, data):
    assert key_bytes(name, app_cursor=app) == data


def test_backspace_can_send_bs_and_alt_prefixes_escape():
    assert key_bytes("backspace", backspace=BS) == b"\x08"
    assert key_bytes("left", alt=True) == b"\x1b\x1b[D"
    assert "backspace" in KEY_NAMES and "up" in KEY_NAMES


def test_text_with_ctrl_and_alt():
    assert text_bytes("ls -l") == b"ls -l"
    assert text_bytes("ü") == "ü".encode()
    assert text_bytes("c", ctrl=True) == b"\x03"
    assert text_bytes("D", ctrl=True) == b"\x04"
    assert text_bytes("[", ctrl=True) == b"\x1b"
    assert text_bytes(" ", ctrl=True) == b"\x00"
    assert text_bytes("1", ctrl=True) == b""
    assert text_bytes("b", alt=True) == b"\x1bb"


def test_app_cursor_mode_is_what_the_guest_set():
    t = term(b"\x1b[?1h")
    assert t.app_cursor_keys
    t.feed(b"\x1b[?1l")
    assert not t.app_cursor_keys
