"""Renderer: text cells from the font with attribute colours, cursor, blink; CGA and 13h."""

from __future__ import annotations

import numpy as np
import pytest

from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.display import DisplayKind
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.render import render, save_png, text_lines
from vmgui.devices.vga import Vga

TEXT = 0x18000
BLUE, YELLOW = (0x00, 0x00, 0xAA), (0xFF, 0xFF, 0x55)
LIGHT_GREY, DARK_GREY = (0xAA, 0xAA, 0xAA), (0x55, 0x55, 0x55)


@pytest.fixture
def machine():
    vram = bytearray(0x20000)
    return Vga(IoBus(), ManualClock(), memoryview(vram)), vram


def frame(vga: Vga, **kw) -> np.ndarray:
    state = vga.display()
    width, height, rgb = render(state, load_rom_font(state.char_height), **kw)
    assert len(rgb) == width * height * 3
    return np.frombuffer(rgb, dtype=np.uint8).reshape(height, width, 3)


def cell(img: np.ndarray, row: int, col: int, height: int = 16) -> np.ndarray:
    return img[row * height: (row + 1) * height, col * 8: col * 8 + 8]


def expected_cell(code: int, fg, bg, height: int = 16) -> np.ndarray:
    glyph = load_rom_font(height)[code * height: (code + 1) * height]
    bits = np.unpackbits(np.frombuffer(glyph, dtype=np.uint8)[:, None], axis=1).astype(bool)
    return np.where(bits[:, :, None], np.array(fg, np.uint8), np.array(bg, np.uint8))


def test_text_cell_uses_font_and_attribute_colours(machine) -> None:
    vga, vram = machine
    vga.set_cursor_offset(1999)
    at = TEXT + 2 * (3 * 80 + 7)
    vram[at: at + 2] = bytes((ord("A"), 0x1E))  # yellow on blue
    img = frame(vga)
    assert img.shape == (400, 640, 3)
    assert np.array_equal(cell(img, 3, 7), expected_cell(ord("A"), YELLOW, BLUE))
    assert np.array_equal(cell(img, 0, 0), expected_cell(0x20, LIGHT_GREY, (0, 0, 0)))


def test_cursor_drawn_in_foreground_colour(machine) -> None:
    vga, vram = machine
    vram[TEXT + 2 * 81 + 1] = 0x1E
    vga.set_cursor_offset(81)
    vga.set_cursor_shape(14, 15)
    on = cell(frame(vga), 1, 1)
    assert (on[14:16] == YELLOW).all() and (on[:14] == BLUE).all()
    off = cell(frame(vga, cursor_on=False), 1, 1)
    assert (off == BLUE).all()
    vga.set_cursor_shape(0x20 | 14, 15)  # hidden
    assert (cell(frame(vga), 1, 1) == BLUE).all()


def test_blink_and_bright_background(machine) -> None:
    vga, vram = machine
    vga.set_cursor_offset(1999)
    vram[TEXT: TEXT + 2] = bytes((ord("A"), 0x87))  # blinking light grey on black
    assert np.array_equal(cell(frame(vga), 0, 0),
                          expected_cell(ord("A"), LIGHT_GREY, (0, 0, 0)))
    assert (cell(frame(vga, blink_on=False), 0, 0) == 0).all()
    vga.set_blink(False)  # bit 7 now selects a bright background
    assert np.array_equal(cell(frame(vga, blink_on=False), 0, 0),
                          expected_cell(ord("A"), LIGHT_GREY, DARK_GREY))


def test_40_column_mode(machine) -> None:
    vga, vram = machine
    vga.set_mode(1)
    vram[TEXT + 2 * 39: TEXT + 2 * 40] = bytes((ord("Z"), 0x1E))
    img = frame(vga)
    assert img.shape == (400, 320, 3)
    assert np.array_equal(cell(img, 0, 39), expected_cell(ord("Z"), YELLOW, BLUE))


def test_cga4_interleave_and_palette(machine) -> None:
    vga, vram = machine
    vga.set_mode(4)
    vram[TEXT + 0x2000 + 1] = 0b00_01_10_11  # scan line 1, pixels 4-7
    vram[TEXT + 80] = 0b11_00_00_00  # scan line 2, pixel 0
    img = frame(vga)
    assert img.shape == (200, 320, 3)
    assert [tuple(img[1, x]) for x in range(4, 8)] == [
        (0, 0, 0), (0x55, 0xFF, 0xFF), (0xFF, 0x55, 0xFF), (0xFF, 0xFF, 0xFF)]
    assert tuple(img[2, 0]) == (0xFF, 0xFF, 0xFF) and not img[0].any()
    vga.set_cga_palette(0x01)  # palette 0, dim, blue background
    img = frame(vga)
    assert tuple(img[0, 0]) == BLUE
    assert [tuple(img[1, x]) for x in range(5, 8)] == [
        (0x00, 0xAA, 0x00), (0xAA, 0x00, 0x00), (0xAA, 0x55, 0x00)]


def test_cga2_pixels(machine) -> None:
    vga, vram = machine
    vga.set_mode(6)
    vram[TEXT + 0x2000] = 0x80  # line 1, pixel 0
    img = frame(vga)
    assert img.shape == (200, 640, 3)
    assert tuple(img[1, 0]) == (0xFF, 0xFF, 0xFF) and tuple(img[1, 1]) == (0, 0, 0)
    assert not img[0].any()


def test_mode_13h_palette_pixel(machine) -> None:
    vga, vram = machine
    vga.set_mode(0x13)
    vga.set_dac(200, 63, 0, 0)
    vram[3 * 320 + 10] = 200
    vram[3 * 320 + 11] = 0x28  # default palette: bright red hue block
    img = frame(vga)
    assert img.shape == (200, 320, 3)
    assert tuple(img[3, 10]) == (0xFF, 0, 0) and tuple(img[3, 9]) == (0, 0, 0)
    assert tuple(img[3, 11]) == (0xFF, 0, 0)


def test_planar_and_blank_frames_are_black(machine) -> None:
    vga, _vram = machine
    vga.set_mode(0x12)
    assert vga.display().kind is DisplayKind.PLANAR16
    assert frame(vga).shape == (480, 640, 3)


def test_text_lines(machine) -> None:
    vga, vram = machine
    codes = [ord("H"), ord("i"), 0x00, 0x01, 0x20, 0xC9, 0xCD, 0xBB, 0x8E, 0x20, 0x20]
    for i, c in enumerate(codes):
        vram[TEXT + 2 * (80 + i)] = c
    lines = text_lines(vga.display())
    assert len(lines) == 25
    assert lines[0] == ""
    assert lines[1] == "Hi ☺ ╔═╗Ä"
    vga.set_mode(0x13)
    assert text_lines(vga.display()) == []


def test_save_png_roundtrip(machine, tmp_path) -> None:
    from PIL import Image

    vga, vram = machine
    vram[TEXT: TEXT + 2] = bytes((ord("A"), 0x1E))
    state = vga.display()
    width, height, rgb = render(state, load_rom_font(16))
    path = tmp_path / "screen.png"
    save_png(path, width, height, rgb)
    with Image.open(path) as img:
        assert img.size == (640, 400) and img.convert("RGB").tobytes() == rgb
