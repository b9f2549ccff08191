"""Draw a :class:`DisplayState` into packed RGB24 pixels, and read text screens as text.

Owns: the vectorised (numpy) renderers for text, CGA 2/4-colour, VGA 256-colour
(chained and unchained), EGA/VGA 16-colour planar and VBE packed/direct-colour frames at
native resolution, the CP437 -> Unicode mapping of the text screen, and PNG output.
Text cells are 8 pixels wide (the 9th VGA column is not drawn), so 80x25 with the 8x16
font is 640x400 and 40x25 is 320x400 (the console scales to the aspect ratio).
Colour path as on a VGA: pixel/attribute colour -> attribute palette -> DAC palette;
VBE direct colour: 5/6-bit components widened by repeating their top bits (31 -> 255).

Thread rule: pure functions of their arguments; safe from any thread (the VRAM view may
change while a frame is drawn, which at worst tears that frame).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from vmgui.devices.display import BYTES_PER_PIXEL, DisplayKind, DisplayState

CGA_BANK = 0x2000  # odd scan lines live 8 KiB above even ones
_CONTROL_GLYPHS = (
    " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼"
)
CP437_TO_UNICODE = (
    _CONTROL_GLYPHS + bytes(range(0x20, 0x7F)).decode("ascii") + "⌂"
    + bytes(range(0x80, 0xFF)).decode("cp437") + " "
)
"""Unicode character for each CP437 code, with the graphic glyphs of 00h-1Fh and 7Fh;
00h and FFh (a blank glyph) read as spaces."""


@functools.lru_cache(maxsize=8)
def _glyph_bits(font: bytes, char_height: int) -> np.ndarray:
    """(256, char_height, 8) uint8 0/1 pixels of ``font`` cut or padded to char_height."""
    height = len(font) // 256
    table = np.frombuffer(font, dtype=np.uint8, count=256 * height).reshape(256, height)
    out = np.zeros((256, char_height), dtype=np.uint8)
    rows = min(height, char_height)
    out[:, :rows] = table[:, :rows]
    bits = np.unpackbits(out[:, :, None], axis=2)
    bits.flags.writeable = False
    return bits


@functools.lru_cache(maxsize=8)
def _palette_words(palette: bytes) -> np.ndarray:
    """The 256 palette colours as little-endian words 0x00BBGGRR (one gather per pixel
    then moves 4 aligned bytes instead of 3)."""
    rgb = np.frombuffer(palette, dtype=np.uint8).reshape(256, 3).astype("<u4")
    words = rgb[:, 0] | (rgb[:, 1] << 8) | (rgb[:, 2] << 16)
    words.flags.writeable = False
    return words


def _rgb_of_words(words: np.ndarray) -> np.ndarray:
    """(h, w) little-endian 0x00BBGGRR words -> (h, w, 3) RGB bytes."""
    lanes = words.view(np.uint8).reshape(*words.shape, 4)
    return _pick_rgb(lanes, 0, 1, 2)


def _pick_rgb(pixels: np.ndarray, red: int, green: int, blue: int) -> np.ndarray:
    """(h, w, 3) RGB from the byte lanes ``red``, ``green``, ``blue`` of (h, w, n) pixels
    (one strided copy per channel: several times faster than reordering in one step)."""
    out = np.empty(pixels.shape[:2] + (3,), dtype=np.uint8)
    out[:, :, 0] = pixels[:, :, red]
    out[:, :, 1] = pixels[:, :, green]
    out[:, :, 2] = pixels[:, :, blue]
    return out


def _window(state: DisplayState) -> tuple[np.ndarray, int]:
    """The VRAM of the state's memory map as uint8 and its wrap-around size."""
    begin, end = state.span()
    mem = np.frombuffer(state.vram, dtype=np.uint8)
    return mem[begin:end], end - begin


def _rows(mem: np.ndarray, size: int, offsets: np.ndarray, length: int) -> np.ndarray:
    """Gather ``len(offsets)`` rows of ``length`` bytes, wrapping within the window."""
    n = len(offsets)
    first, last = int(offsets[0]), int(offsets[-1])
    step = int(offsets[1] - offsets[0]) if n > 1 else 0
    regular = n == 1 or bool(np.all(np.diff(offsets) == step))
    if regular and step >= 0 and first >= 0 and last + length <= size:
        item = mem.itemsize
        return np.lib.stride_tricks.as_strided(
            mem[first:], shape=(n, length), strides=(step * item, item), writeable=False
        )
    index = (offsets[:, None] + np.arange(length)[None, :]) % size
    return mem[index]


def _text_indices(state: DisplayState, font: bytes, blink_on: bool, cursor_on: bool):
    mem, size = _window(state)
    rows, cols, ch = state.rows, state.cols, state.char_height
    offsets = state.start + np.arange(rows) * state.pitch
    cells = _rows(mem, size, offsets % size, cols * 2)
    chars, attrs = cells[:, 0::2], cells[:, 1::2]
    attr_pal = np.frombuffer(state.attr_palette, dtype=np.uint8)
    fg = attr_pal[attrs & 0x0F]
    if state.blink_enabled:
        bg = attr_pal[(attrs >> 4) & 0x07]
        if not blink_on:
            fg = np.where(attrs & 0x80, bg, fg)
    else:
        bg = attr_pal[attrs >> 4]
    bits = _glyph_bits(font, ch)[chars]  # (rows, cols, ch, 8)
    if state.cursor_visible and cursor_on and 0 <= state.cursor_offset < rows * cols:
        r, c = divmod(state.cursor_offset, cols)
        first, last = state.cursor_start, min(state.cursor_end, ch - 1)
        if first <= last:
            bits = bits.copy()
            bits[r, c, first: last + 1, :] = 1
    # Colour index per pixel: bg + bit * (fg - bg) in uint8 arithmetic wraps correctly.
    diff = (fg - bg)[:, :, None, None]
    idx = bg[:, :, None, None] + bits * diff
    return idx.transpose(0, 2, 1, 3).reshape(rows * ch, cols * 8)


def _cga_indices(state: DisplayState) -> np.ndarray:
    mem, size = _window(state)
    height, width = state.height, state.width
    bpp = 2 if state.kind is DisplayKind.CGA4 else 1
    line_bytes = width * bpp // 8
    y = np.arange(height)
    offsets = (state.start + (y & 1) * CGA_BANK + (y >> 1) * state.pitch) % size
    data = _rows(mem, size, offsets, line_bytes)
    bits = np.unpackbits(data, axis=1)  # (height, line_bytes * 8)
    if bpp == 2:
        values = (bits[:, 0::2] << 1) | bits[:, 1::2]
    else:
        values = bits
    attr_pal = np.frombuffer(state.attr_palette, dtype=np.uint8)
    return attr_pal[values]


def _vga256_indices(state: DisplayState) -> np.ndarray:
    mem, size = _window(state)
    offsets = (state.start + np.arange(state.height) * state.pitch) % size
    return _rows(mem, size, offsets, state.width)


def _plane_words(state: DisplayState) -> tuple[np.ndarray, int]:
    """The plane memory as one uint32 per plane offset (plane p in byte p)."""
    words = np.frombuffer(state.vram, dtype="<u4")
    return words, len(words)


def _planar16_indices(state: DisplayState) -> np.ndarray:
    """16 colours, one bit per plane: pixel x of a line is bit 7 - (x % 8) of byte x // 8
    in each of the four planes, the planes giving bits 0-3 of the attribute colour."""
    words, size = _plane_words(state)
    line = state.width // 8
    offsets = (state.start + np.arange(state.height) * state.pitch) % size
    data = np.ascontiguousarray(_rows(words, size, offsets, line)).view(np.uint8)
    planes = data.reshape(state.height, line, 4).transpose(2, 0, 1)  # (plane, y, byte)
    bits = np.unpackbits(planes, axis=2)  # (plane, y, x)
    values = bits[0] | (bits[1] << 1) | (bits[2] << 2) | (bits[3] << 3)
    return np.frombuffer(state.attr_palette, dtype=np.uint8)[values]


def _planar256_indices(state: DisplayState) -> np.ndarray:
    """Unchained 256 colours: plane offset o holds pixels 4o .. 4o + 3, one per plane."""
    words, size = _plane_words(state)
    offsets = (state.start + np.arange(state.height) * state.pitch) % size
    data = np.ascontiguousarray(_rows(words, size, offsets, state.width // 4))
    return data.view(np.uint8).reshape(state.height, state.width)


def _lfb_rows(state: DisplayState, channels: int, dtype: str = "u1") -> np.ndarray:
    """The framebuffer's visible lines as a (height, width[, channels]) strided view (no
    copy); lines that would run past the end of the framebuffer are left out."""
    item = np.dtype(dtype).itemsize
    line = state.width * channels * item
    room = len(state.vram) - state.start - line
    height = 0 if room < 0 else min(state.height, room // max(state.pitch, 1) + 1)
    shape: tuple[int, ...] = (height, state.width) + ((channels,) if channels > 1 else ())
    strides: tuple[int, ...] = (state.pitch, channels * item) + ((item,) if channels > 1 else ())
    return np.ndarray(shape, dtype=dtype, buffer=state.vram, offset=state.start,
                      strides=strides)


@functools.lru_cache(maxsize=2)
def _direct16_table(green_bits: int) -> np.ndarray:
    """0x00BBGGRR for every 16-bit pixel of the 5:5:5 (green_bits 5) or 5:6:5 layout."""
    v = np.arange(1 << 16, dtype="<u4")
    green_mask = (1 << green_bits) - 1
    r5, g, b5 = (v >> (5 + green_bits)) & 31, (v >> 5) & green_mask, v & 31
    r8, b8 = (r5 << 3) | (r5 >> 2), (b5 << 3) | (b5 >> 2)
    g8 = (g << (8 - green_bits)) | (g >> (2 * green_bits - 8))
    table = r8 | (g8 << 8) | (b8 << 16)
    table.flags.writeable = False
    return table


def _vbe_rgb(state: DisplayState) -> np.ndarray:
    """(height, width, 3) RGB of a VBE frame (lines beyond the framebuffer black)."""
    kind = state.kind
    if kind is DisplayKind.PACKED8:
        rgb = _rgb_of_words(np.take(_palette_words(state.palette), _lfb_rows(state, 1)))
    elif kind in (DisplayKind.DIRECT15, DisplayKind.DIRECT16):
        table = _direct16_table(6 if kind is DisplayKind.DIRECT16 else 5)
        rgb = _rgb_of_words(np.take(table, _lfb_rows(state, 1, "<u2")))
    else:
        rgb = _pick_rgb(_lfb_rows(state, BYTES_PER_PIXEL[kind]), 2, 1, 0)  # B, G, R(, X)
    if rgb.shape[0] < state.height:
        rgb = np.concatenate([rgb, np.zeros((state.height - rgb.shape[0], state.width, 3),
                                            dtype=np.uint8)])
    return rgb


def render(
    state: DisplayState, font: bytes, *, blink_on: bool = True, cursor_on: bool = True
) -> tuple[int, int, bytes]:
    """Draw one frame: ``(width, height, rgb)`` with ``rgb`` packed RGB24, row-major.

    ``font`` is the ROM font for text modes (use one of ``state.char_height`` lines; a
    shorter one is padded with blank lines).  ``blink_on`` is the blink phase (False
    hides blinking characters), ``cursor_on`` the cursor's phase."""
    kind = state.kind
    if kind is DisplayKind.TEXT:
        idx = _text_indices(state, font, blink_on, cursor_on)
    elif kind in (DisplayKind.CGA4, DisplayKind.CGA2):
        idx = _cga_indices(state)
    elif kind is DisplayKind.VGA256:
        idx = _vga256_indices(state)
    elif kind is DisplayKind.PLANAR16:
        idx = _planar16_indices(state)
    elif kind is DisplayKind.PLANAR256:
        idx = _planar256_indices(state)
    elif kind in BYTES_PER_PIXEL:
        rgb = _vbe_rgb(state)
        return rgb.shape[1], rgb.shape[0], rgb.tobytes()
    else:
        width, height = max(state.width, 1), max(state.height, 1)
        return width, height, bytes(width * height * 3)
    height, width = idx.shape
    rgb = _rgb_of_words(np.take(_palette_words(state.palette), idx))
    return width, height, rgb.tobytes()


def text_lines(state: DisplayState) -> list[str]:
    """The text screen as one Unicode string per row, trailing spaces removed; an empty
    list when the display is not in a text mode."""
    if state.kind is not DisplayKind.TEXT:
        return []
    mem, size = _window(state)
    offsets = (state.start + np.arange(state.rows) * state.pitch) % size
    chars = _rows(mem, size, offsets, state.cols * 2)[:, 0::2]
    table = CP437_TO_UNICODE
    return ["".join(table[c] for c in row.tobytes()).rstrip() for row in chars]


def save_png(path: str | Path, width: int, height: int, rgb: bytes) -> None:
    """Write packed RGB24 pixels as a PNG file."""
    from PIL import Image

    Image.frombytes("RGB", (width, height), bytes(rgb)).save(path, format="PNG")
