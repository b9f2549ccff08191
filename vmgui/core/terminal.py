"""A VT100/ANSI terminal emulator for a serial console: bytes in, a character grid out.

Owns: :class:`Terminal` -- a fixed-size grid of cells (a character and its
:class:`Attr`), the cursor, the scrolling region, tab stops and the lines scrolled off
the top (scroll-back), fed with what the guest writes to its serial port.  The parser is
a state machine whose state survives between calls to :meth:`Terminal.feed`, so an escape
sequence or a UTF-8 character split across two chunks is understood as if it had come
in one; sequences it does not carry out are swallowed whole, never shown.  Answers the
guest asks for (cursor position report, device attributes) go to ``reply``.  No Qt: the
console's widget (:mod:`vmgui.ui.console.terminal_view`) draws :attr:`Terminal.lines`.

Carried out: C0 controls BS, HT, LF/VT/FF, CR, BEL (counted), CAN/SUB; ESC 7/8, D, E, M,
c; CSI A-G, H/f, J, K, L, M, P, @, X, S, T, d, `, m (SGR: bold, underline, reverse, the
8/16/256 colours and 24-bit colours), r (DECSTBM), s/u, n (DSR 5 and 6), c (DA), g (TBC),
h/l for DECTCEM (?25), DECAWM (?7), DECCKM (?1, which the keyboard side reads) and the
alternate screen (?47, ?1047, ?1049).  Character sets (ESC ( B ...), OSC, DCS, APC, PM and
SOS strings are parsed and ignored.

Text is UTF-8 (what Linux writes); a byte that does not start or continue a valid UTF-8
character is taken as code page 437, which is what DOS programs write.

References: the VT100 User Guide (DEC EK-VT100-UG, chapter 3: control functions), the
state diagram of Paul Williams' "A parser for DEC's ANSI-compatible video terminals"
(vt100.net/emu), ECMA-48 (CSI parameters, SGR), xterm's ctlseqs (the 256/24-bit SGR
forms, ?1049).

Thread rule: not thread-safe; one owner (the console's GUI thread) feeds and reads it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

DEFAULT_COLUMNS, DEFAULT_ROWS = 80, 24
DEFAULT_SCROLLBACK = 2000
TAB_WIDTH = 8
MAX_PARAMS = 16  # more parameters than any sequence has: the rest are dropped
MAX_PARAM = 65535
DEFAULT_COLOUR = -1
TRUE_COLOUR = 1 << 24  # a colour value with this bit set is 0xRRGGBB
ESC = 0x1B


@dataclass(frozen=True)
class Attr:
    """How a cell is drawn: colours are DEFAULT_COLOUR, a palette index 0-255 (0-7 the
    ANSI colours, 8-15 their bright forms) or TRUE_COLOUR | 0xRRGGBB."""

    fg: int = DEFAULT_COLOUR
    bg: int = DEFAULT_COLOUR
    bold: bool = False
    underline: bool = False
    reverse: bool = False


PLAIN = Attr()


@dataclass
class Cell:
    char: str = " "
    attr: Attr = PLAIN


class _State(enum.Enum):
    GROUND = enum.auto()
    ESCAPE = enum.auto()
    ESCAPE_INTERMEDIATE = enum.auto()  # ESC ( B and the like: one more byte to come
    CSI = enum.auto()
    STRING = enum.auto()  # OSC, DCS, APC, PM, SOS: up to BEL or ESC \
    STRING_ESCAPE = enum.auto()  # an ESC inside a string: "\" ends it


Line = list[Cell]


def _blank_line(columns: int, attr: Attr = PLAIN) -> Line:
    # erased cells keep the background colour only (ECMA-48 "erase": as xterm does)
    blank = Attr(bg=attr.bg) if attr.bg != DEFAULT_COLOUR else PLAIN
    return [Cell(" ", blank) for _ in range(columns)]


class Terminal:
    """A ``columns`` x ``rows`` VT100.  ``reply`` receives bytes the terminal sends back
    to the guest (answers to DSR and DA); None: they are dropped."""

    def __init__(self, columns: int = DEFAULT_COLUMNS, rows: int = DEFAULT_ROWS,
                 reply: Callable[[bytes], None] | None = None,
                 scrollback: int = DEFAULT_SCROLLBACK) -> None:
        if columns < 2 or rows < 2:
            raise ValueError(f"a terminal of {columns}x{rows} is too small (2x2 at least)")
        self.columns, self.rows = columns, rows
        self.reply = reply or (lambda data: None)
        self.scrollback_limit = scrollback
        self.scrollback: list[Line] = []
        self.bells = 0
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """The power-on state (also ESC c): blank screen, cursor home, plain text."""
        self.lines: list[Line] = [_blank_line(self.columns) for _ in range(self.rows)]
        self.row = self.col = 0
        self.attr = PLAIN
        self.wrap_pending = False  # the last column was written: the next character wraps
        self.top, self.bottom = 0, self.rows - 1  # the scrolling region (DECSTBM)
        self.tabs = set(range(TAB_WIDTH, self.columns, TAB_WIDTH))
        self.cursor_visible = True
        self.autowrap = True
        self.app_cursor_keys = False  # DECCKM: arrows send ESC O A instead of ESC [ A
        self.saved = (0, 0, PLAIN)
        self._alternate: list[Line] | None = None  # the main screen while the alternate shows
        self._state = _State.GROUND
        self._params: list[int] = []
        self._param: int | None = None
        self._private = ""
        self._intermediate = ""
        self._utf8: list[int] = []
        self._utf8_left = 0

    def text(self) -> str:
        """The screen as lines of text, trailing blanks and empty lines removed."""
        return _lines_text(self.lines)

    def all_text(self) -> str:
        """The scroll-back and the screen, as :meth:`text`."""
        return _lines_text(self.scrollback + self.lines)

    # ------------------------------------------------------------------ input
    def feed(self, data: bytes) -> None:
        """Process bytes the guest wrote; they may end in the middle of a sequence."""
        for byte in data:
            if self._utf8_left:
                if 0x80 <= byte <= 0xBF:
                    self._utf8.append(byte)
                    self._utf8_left -= 1
                    if not self._utf8_left:
                        self._flush_utf8()
                    continue
                self._utf8_invalid()
            self._byte(byte)

    def _byte(self, byte: int) -> None:
        state = self._state
        if byte in (0x18, 0x1A) and state is not _State.GROUND:  # CAN, SUB: abort
            self._state = _State.GROUND
            return
        if state is _State.GROUND:
            self._ground(byte)
        elif state is _State.ESCAPE:
            self._escape(byte)
        elif state is _State.ESCAPE_INTERMEDIATE:
            self._state = _State.GROUND  # the character set designated: ignored
        elif state is _State.CSI:
            self._csi(byte)
        elif state is _State.STRING:
            if byte == 0x07:
                self._state = _State.GROUND
            elif byte == ESC:
                self._state = _State.STRING_ESCAPE
        else:  # STRING_ESCAPE: ESC \ ends the string; ESC and anything else ends it too
            self._state = _State.GROUND  # and starts that escape sequence (as xterm does)
            if byte != 0x5C:
                self._state = _State.ESCAPE
                self._escape(byte)

    def _ground(self, byte: int) -> None:
        if byte < 0x20 or byte == 0x7F:
            self._control(byte)
        elif byte < 0x80:
            self._print(chr(byte))
        elif 0xC2 <= byte <= 0xF4:  # a UTF-8 lead byte
            self._utf8 = [byte]
            self._utf8_left = 1 if byte < 0xE0 else 2 if byte < 0xF0 else 3
        else:
            self._print(bytes([byte]).decode("cp437"))

    def _flush_utf8(self) -> None:
        raw = bytes(self._utf8)
        self._utf8 = []
        try:
            self._print(raw.decode("utf-8"))
        except UnicodeDecodeError:  # overlong or surrogate forms: code page 437
            for char in raw.decode("cp437"):
                self._print(char)

    def _utf8_invalid(self) -> None:
        """A UTF-8 character broken off: its bytes were code page 437 text."""
        raw = bytes(self._utf8)
        self._utf8, self._utf8_left = [], 0
        for char in raw.decode("cp437"):
            self._print(char)

    def _control(self, byte: int) -> None:
        if byte == ESC:
            self._state = _State.ESCAPE
            self._intermediate = ""
        elif byte == 0x0D:
            self.col, self.wrap_pending = 0, False
        elif byte in (0x0A, 0x0B, 0x0C):
            self._index()
        elif byte == 0x08:
            self.col, self.wrap_pending = max(0, self.col - 1), False
        elif byte == 0x09:
            self._tab()
        elif byte == 0x07:
            self.bells += 1
        # NUL, SO, SI, DEL and the rest: nothing to show

    def _escape(self, byte: int) -> None:
        self._state = _State.GROUND
        char = chr(byte)
        if byte < 0x20:
            self._control(byte)  # a control inside a sequence is carried out
            if byte != ESC:
                self._state = _State.ESCAPE
        elif char == "[":
            self._state = _State.CSI
            self._params, self._param, self._private, self._intermediate = [], None, "", ""
        elif char in "]P_^X":
            self._state = _State.STRING
        elif char in "()*+-./#% ":
            self._state = _State.ESCAPE_INTERMEDIATE
        else:
            self._escape_final(char)

    def _escape_final(self, char: str) -> None:
        if char == "7":
            self.saved = (self.row, self.col, self.attr)
        elif char == "8":
            self._restore_cursor()
        elif char == "D":
            self._index()
        elif char == "E":
            self.col = 0
            self._index()
        elif char == "M":
            self._reverse_index()
        elif char == "H":
            self.tabs.add(self.col)
        elif char == "c":
            self.reset()
        # ESC = / ESC > (keypad modes) and unknown finals: swallowed

    def _csi(self, byte: int) -> None:
        if 0x30 <= byte <= 0x39:
            digit = byte - 0x30
            self._param = min(MAX_PARAM, (self._param or 0) * 10 + digit)
        elif byte in (0x3B, 0x3A):  # ; and : (the colon form of SGR 38:5:n) separate
            if len(self._params) < MAX_PARAMS:
                self._params.append(self._param if self._param is not None else -1)
            self._param = None
        elif 0x3C <= byte <= 0x3F:  # < = > ?: a private marker
            self._private += chr(byte)
        elif 0x20 <= byte <= 0x2F:
            self._intermediate += chr(byte)
        elif 0x40 <= byte <= 0x7E:
            if len(self._params) < MAX_PARAMS:
                self._params.append(self._param if self._param is not None else -1)
            self._state = _State.GROUND
            self._dispatch(chr(byte), self._params)
        elif byte < 0x20:
            self._control(byte)  # carried out in the middle of a sequence, as a VT100 does
            if byte == ESC:
                return
        # other bytes (DEL, 8-bit) inside a sequence: ignored

    # ------------------------------------------------------------------ CSI
    def _dispatch(self, final: str, params: list[int]) -> None:
        if self._intermediate:
            return  # DECSCUSR, DECSTR ...: nothing to draw
        if self._private:
            if self._private == "?" and final in "hl":
                self._private_mode(params, final == "h")
            return  # ESC [ > c (secondary DA) and the like: no answer
        handler = _CSI_HANDLERS.get(final)
        if handler is None:
            log.debug("terminal: CSI %r %s ignored", params, final)
            return
        handler(self, params)

    def _n(self, params: list[int], index: int = 0, default: int = 1) -> int:
        """Parameter ``index``; missing or 0 means ``default`` (ECMA-48)."""
        value = params[index] if index < len(params) else -1
        return default if value <= 0 else value

    def _cursor_up(self, p: list[int]) -> None:
        top = self.top if self.row >= self.top else 0
        self._move(max(top, self.row - self._n(p)), self.col)

    def _cursor_down(self, p: list[int]) -> None:
        bottom = self.bottom if self.row <= self.bottom else self.rows - 1
        self._move(min(bottom, self.row + self._n(p)), self.col)

    def _cursor_forward(self, p: list[int]) -> None:
        self._move(self.row, self.col + self._n(p))

    def _cursor_back(self, p: list[int]) -> None:
        self._move(self.row, self.col - self._n(p))

    def _next_line(self, p: list[int]) -> None:
        self._cursor_down(p)
        self.col = 0

    def _previous_line(self, p: list[int]) -> None:
        self._cursor_up(p)
        self.col = 0

    def _column(self, p: list[int]) -> None:
        self._move(self.row, self._n(p) - 1)

    def _row(self, p: list[int]) -> None:
        self._move(self._n(p) - 1, self.col)

    def _position(self, p: list[int]) -> None:
        self._move(self._n(p, 0) - 1, self._n(p, 1) - 1)

    def _erase_display(self, p: list[int]) -> None:
        mode = max(0, p[0])
        if mode == 0:
            self._erase_line_part(self.row, self.col, self.columns)
            for row in range(self.row + 1, self.rows):
                self.lines[row] = _blank_line(self.columns, self.attr)
        elif mode == 1:
            for row in range(self.row):
                self.lines[row] = _blank_line(self.columns, self.attr)
            self._erase_line_part(self.row, 0, self.col + 1)
        elif mode == 2:
            self.lines = [_blank_line(self.columns, self.attr) for _ in range(self.rows)]
        elif mode == 3:
            self.scrollback.clear()

    def _erase_line(self, p: list[int]) -> None:
        mode = max(0, p[0])
        start, end = {0: (self.col, self.columns), 1: (0, self.col + 1),
                      2: (0, self.columns)}.get(mode, (0, 0))
        self._erase_line_part(self.row, start, end)

    def _erase_chars(self, p: list[int]) -> None:
        self._erase_line_part(self.row, self.col, min(self.columns, self.col + self._n(p)))

    def _erase_line_part(self, row: int, start: int, end: int) -> None:
        blank = _blank_line(end - start, self.attr)
        self.lines[row][start:end] = blank
        self.wrap_pending = False

    def _insert_lines(self, p: list[int]) -> None:
        if self.top <= self.row <= self.bottom:
            self._scroll_down(self.row, self._n(p))
            self.col = 0

    def _delete_lines(self, p: list[int]) -> None:
        if self.top <= self.row <= self.bottom:
            self._scroll_up(self.row, self._n(p), keep=False)
            self.col = 0

    def _delete_chars(self, p: list[int]) -> None:
        line, n = self.lines[self.row], min(self._n(p), self.columns - self.col)
        del line[self.col:self.col + n]
        line.extend(_blank_line(n, self.attr))
        self.wrap_pending = False

    def _insert_chars(self, p: list[int]) -> None:
        line, n = self.lines[self.row], min(self._n(p), self.columns - self.col)
        line[self.col:self.col] = _blank_line(n, self.attr)
        del line[self.columns:]
        self.wrap_pending = False

    def _scroll_up_cmd(self, p: list[int]) -> None:
        self._scroll_up(self.top, self._n(p), keep=False)

    def _scroll_down_cmd(self, p: list[int]) -> None:
        self._scroll_down(self.top, self._n(p))

    def _set_region(self, p: list[int]) -> None:
        top = self._n(p, 0) - 1
        bottom = self._n(p, 1, self.rows) - 1
        bottom = min(bottom, self.rows - 1)
        if top < bottom:
            self.top, self.bottom = top, bottom
            self._move(0, 0)

    def _save_cursor(self, _p: list[int]) -> None:
        self.saved = (self.row, self.col, self.attr)

    def _restore_cursor(self, _p: list[int] | None = None) -> None:
        row, col, self.attr = self.saved
        self._move(row, col)

    def _report(self, p: list[int]) -> None:
        if p[0] == 5:
            self.reply(b"\x1b[0n")  # "ready, no malfunction"
        elif p[0] == 6:
            self.reply(f"\x1b[{self.row + 1};{self.col + 1}R".encode())

    def _attributes(self, p: list[int]) -> None:
        if p[0] <= 0:
            self.reply(b"\x1b[?1;2c")  # a VT100 with the advanced video option

    def _clear_tabs(self, p: list[int]) -> None:
        if p[0] <= 0:
            self.tabs.discard(self.col)
        elif p[0] == 3:
            self.tabs.clear()

    def _private_mode(self, params: list[int], on: bool) -> None:
        for mode in params:
            if mode == 25:
                self.cursor_visible = on
            elif mode == 7:
                self.autowrap = on
            elif mode == 1:
                self.app_cursor_keys = on
            elif mode in (47, 1047, 1049):
                self._switch_screen(on, save_cursor=mode == 1049)

    def _switch_screen(self, alternate: bool, save_cursor: bool) -> None:
        if alternate and self._alternate is None:
            if save_cursor:
                self.saved = (self.row, self.col, self.attr)
            self._alternate = self.lines
            self.lines = [_blank_line(self.columns) for _ in range(self.rows)]
        elif not alternate and self._alternate is not None:
            self.lines, self._alternate = self._alternate, None
            if save_cursor:
                self._restore_cursor()

    def _sgr(self, p: list[int]) -> None:
        attr, i = self.attr, 0
        while i < len(p):
            code = max(0, p[i])
            if code in (38, 48) and i + 1 < len(p):
                colour, used = _extended_colour(p[i + 1:])
                if colour is not None:
                    attr = replace(attr, **{"fg" if code == 38 else "bg": colour})
                i += 1 + used
                continue
            attr = _sgr_one(attr, code)
            i += 1
        self.attr = attr

    # ------------------------------------------------------------------ the grid
    def _print(self, char: str) -> None:
        if self.wrap_pending:
            self.col, self.wrap_pending = 0, False
            self._index()
        self.lines[self.row][self.col] = Cell(char, self.attr)
        if self.col == self.columns - 1:
            self.wrap_pending = self.autowrap
        else:
            self.col += 1

    def _move(self, row: int, col: int) -> None:
        self.row = min(max(row, 0), self.rows - 1)
        self.col = min(max(col, 0), self.columns - 1)
        self.wrap_pending = False

    def _tab(self) -> None:
        stops = [t for t in self.tabs if t > self.col]
        self.col = min(stops) if stops else self.columns - 1
        self.wrap_pending = False

    def _index(self) -> None:
        """Line feed: down one line, scrolling the region at its bottom."""
        if self.row == self.bottom:
            self._scroll_up(self.top, 1, keep=True)
        elif self.row < self.rows - 1:
            self.row += 1
        self.wrap_pending = False

    def _reverse_index(self) -> None:
        if self.row == self.top:
            self._scroll_down(self.top, 1)
        elif self.row > 0:
            self.row -= 1
        self.wrap_pending = False

    def _scroll_up(self, start: int, n: int, keep: bool) -> None:
        """Lines start..bottom move up ``n``; ``keep``: lines leaving the top of the whole
        screen go to the scroll-back (not on the alternate screen)."""
        n = min(n, self.bottom - start + 1)
        gone = self.lines[start:start + n]
        del self.lines[start:start + n]
        for _ in range(n):
            self.lines.insert(self.bottom - n + 1, _blank_line(self.columns, self.attr))
        if keep and start == 0 and self._alternate is None and self.scrollback_limit:
            self.scrollback.extend(gone)
            del self.scrollback[:-self.scrollback_limit]

    def _scroll_down(self, start: int, n: int) -> None:
        n = min(n, self.bottom - start + 1)
        del self.lines[self.bottom - n + 1:self.bottom + 1]
        for _ in range(n):
            self.lines.insert(start, _blank_line(self.columns, self.attr))


def _lines_text(lines: list[Line]) -> str:
    texts = ["".join(cell.char for cell in line).rstrip() for line in lines]
    while texts and not texts[-1]:
        texts.pop()
    return "\n".join(texts)


_BASIC_SGR = {1: {"bold": True}, 4: {"underline": True}, 7: {"reverse": True},
              21: {"underline": True}, 22: {"bold": False}, 24: {"underline": False},
              27: {"reverse": False}, 39: {"fg": DEFAULT_COLOUR}, 49: {"bg": DEFAULT_COLOUR}}


def _sgr_one(attr: Attr, code: int) -> Attr:
    if code == 0:
        return PLAIN
    if code in _BASIC_SGR:
        return replace(attr, **_BASIC_SGR[code])
    if 30 <= code <= 37:
        return replace(attr, fg=code - 30)
    if 40 <= code <= 47:
        return replace(attr, bg=code - 40)
    if 90 <= code <= 97:
        return replace(attr, fg=code - 90 + 8)
    if 100 <= code <= 107:
        return replace(attr, bg=code - 100 + 8)
    return attr  # dim, italic, blink, fonts ...: drawn as normal


def _extended_colour(rest: list[int]) -> tuple[int | None, int]:
    """The colour of SGR 38/48 followed by ``rest`` (5;n or 2;r;g;b) and how many
    parameters it used; None for a malformed one (its parameters are skipped)."""
    if rest[0] == 5:
        if len(rest) < 2 or not 0 <= rest[1] <= 255:
            return None, min(len(rest), 2)
        return rest[1], 2
    if rest[0] == 2:
        if len(rest) < 4 or not all(0 <= v <= 255 for v in rest[1:4]):
            return None, min(len(rest), 4)
        r, g, b = rest[1:4]
        return TRUE_COLOUR | r << 16 | g << 8 | b, 4
    return None, 1


_CSI_HANDLERS: dict[str, Callable[[Terminal, list[int]], None]] = {
    "A": Terminal._cursor_up, "B": Terminal._cursor_down, "C": Terminal._cursor_forward,
    "D": Terminal._cursor_back, "E": Terminal._next_line, "F": Terminal._previous_line,
    "G": Terminal._column, "`": Terminal._column, "H": Terminal._position,
    "f": Terminal._position, "d": Terminal._row, "J": Terminal._erase_display,
    "K": Terminal._erase_line, "X": Terminal._erase_chars, "L": Terminal._insert_lines,
    "M": Terminal._delete_lines, "P": Terminal._delete_chars, "@": Terminal._insert_chars,
    "S": Terminal._scroll_up_cmd, "T": Terminal._scroll_down_cmd, "r": Terminal._set_region,
    "s": Terminal._save_cursor, "u": Terminal._restore_cursor, "n": Terminal._report,
    "c": Terminal._attributes, "g": Terminal._clear_tabs, "m": Terminal._sgr,
}
