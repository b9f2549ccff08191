"""Renderer for the planar VGA modes (0Dh-12h, unchained 256 colours) and every VBE depth:
size of the frame and the colour of known pixels."""

from __future__ import annotations

import dataclasses
import mmap

import numpy as np
import pytest

from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.display import DisplayKind
from vmgui.devices.render import render
from vmgui.devices.vbe import Dispi, Enable
from vmgui.devices.vbe_lfb import LFB_SIZE
from vmgui.devices.vga import Vga

EGA = {0: (0, 0, 0), 1: (0, 0, 0xAA), 4: (0xAA, 0, 0), 6: (0xAA, 0x55, 0), 9: (0x55, 0x55, 0xFF),
       14: (0xFF, 0xFF, 0x55), 15: (0xFF, 0xFF, 0xFF)}


class Card:
    def __init__(self) -> None:
        self.bus = IoBus()
        self.planes = bytearray(0x40000)
        self.lfb = memoryview(mmap.mmap(-1, LFB_SIZE))
        self.vga = Vga(self.bus, ManualClock(), memoryview(bytearray(0x20000)),
                       memoryview(self.planes), self.lfb)

    def frame(self) -> np.ndarray:
        width, height, rgb = render(self.vga.display(), b"")
        return np.frombuffer(rgb, dtype=np.uint8).reshape(height, width, 3)

    def pixel(self, offset: int, bit: int, colour: int) -> None:
        """Planar: give pixel ``bit`` (0 = leftmost) of plane offset ``offset`` ``colour``."""
        for plane in range(4):
            at = 4 * offset + plane
            mask = 0x80 >> bit
            self.planes[at] = (self.planes[at] | mask) if colour >> plane & 1 else (
                self.planes[at] & ~mask)

    def vbe(self, width: int, height: int, bpp: int) -> None:
        for index, value in ((Dispi.ENABLE, 0), (Dispi.BPP, bpp), (Dispi.XRES, width),
                             (Dispi.YRES, height),
                             (Dispi.ENABLE, Enable.ENABLED | Enable.LFB_ENABLED)):
            self.bus.write(0x1CE, 2, index)
            self.bus.write(0x1CF, 2, value)


@pytest.fixture
def card() -> Card:
    return Card()


@pytest.mark.parametrize(("mode", "size", "line"), [
    (0x0D, (320, 200), 40), (0x0E, (640, 200), 80), (0x10, (640, 350), 80),
    (0x12, (640, 480), 80)])
def test_planar_16_colour_modes_draw_their_planes(card, mode, size, line) -> None:
    card.vga.set_mode(mode)
    card.pixel(0, 0, 14)
    card.pixel(line + 1, 7, 9)  # second line, x = 15
    card.pixel(line * (size[1] - 1) + line - 1, 7, 4)  # the bottom-right pixel
    img = card.frame()
    assert img.shape == (size[1], size[0], 3)
    assert tuple(img[0, 0]) == EGA[14] and tuple(img[0, 1]) == EGA[0]
    assert tuple(img[1, 15]) == EGA[9]
    assert tuple(img[-1, -1]) == EGA[4]
    assert len(np.unique(img.reshape(-1, 3), axis=0)) == 4


def test_planar_display_start_and_plane_enable(card) -> None:
    card.vga.set_mode(0x12)
    card.pixel(80 * 10, 0, 15)
    card.vga.set_start_address(80 * 10)  # scrolled by ten lines
    assert tuple(card.frame()[0, 0]) == EGA[15]
    card.bus.read(0x3DA, 1)
    card.bus.write(0x3C0, 1, 0x32)  # plane enable, palette on
    card.bus.write(0x3C0, 1, 0x03)  # planes 0 and 1 only
    assert tuple(card.frame()[0, 0]) == (0x00, 0xAA, 0xAA)  # colour 3: cyan


def test_mode_11h_shows_two_colours_and_mode_0fh_shows_monochrome(card) -> None:
    card.vga.set_mode(0x11)
    card.pixel(0, 0, 15)
    img = card.frame()
    assert img.shape == (480, 640, 3)
    assert tuple(img[0, 0]) == (0xFF, 0xFF, 0xFF) and tuple(img[0, 1]) == (0, 0, 0)
    card.vga.set_mode(0x0F)
    card.pixel(0, 0, 0b0101)  # planes 0 and 2: intense
    card.pixel(0, 1, 0b0001)  # plane 0: normal
    img = card.frame()
    assert img.shape == (350, 640, 3)
    assert img[0, 0, 0] > img[0, 1, 0] > img[0, 2, 0] == 0


def test_unchained_256_colours_take_pixel_x_from_plane_x_mod_4(card) -> None:
    card.vga.set_mode(0x13)
    card.bus.write(0x3C4, 2, 0x0604)  # chain 4 off
    card.bus.write(0x3D4, 2, 0x0014)  # no doubleword addressing
    card.bus.write(0x3D4, 2, 0xE317)  # byte mode
    display = card.vga.display()
    assert display.kind is DisplayKind.PLANAR256 and (display.width, display.height) == (320, 200)
    card.planes[4 * 1 + 2] = 40  # offset 1, plane 2: x = 6
    card.planes[4 * 80 * 3] = 4  # line 3, x = 0
    img = card.frame()
    palette = np.frombuffer(display.palette, dtype=np.uint8).reshape(256, 3)
    assert tuple(img[0, 6]) == tuple(palette[40]) and tuple(img[3, 0]) == tuple(palette[4])
    assert tuple(img[0, 5]) == tuple(palette[0])


def test_vbe_8_bpp_goes_through_the_dac(card) -> None:
    card.vbe(640, 480, 8)
    card.vga.set_dac(200, 0x3F, 0x20, 0x00)
    card.lfb[640 * 2 + 3] = 200
    img = card.frame()
    assert img.shape == (480, 640, 3)
    assert tuple(img[2, 3]) == (0xFF, 0x82, 0x00) and tuple(img[2, 4]) == (0, 0, 0)


@pytest.mark.parametrize(("bpp", "pixel", "rgb"), [
    (15, (0x7C00 | 0x0200 | 0x0001).to_bytes(2, "little"), (0xFF, 0x84, 0x08)),
    (16, (0xF800 | 0x0400 | 0x001F).to_bytes(2, "little"), (0xFF, 0x82, 0xFF)),
    (24, bytes((0x56, 0x34, 0x12)), (0x12, 0x34, 0x56)),
    (32, bytes((0x56, 0x34, 0x12, 0xEE)), (0x12, 0x34, 0x56)),
])
def test_vbe_direct_colour_depths(card, bpp, pixel, rgb) -> None:
    card.vbe(800, 600, bpp)
    size = len(pixel)
    at = (10 * 800 + 799) * size  # line 10, last pixel
    card.lfb[at: at + size] = pixel
    img = card.frame()
    assert img.shape == (600, 800, 3)
    assert tuple(img[10, 799]) == rgb
    assert tuple(img[10, 798]) == (0, 0, 0) and tuple(img[11, 0]) == (0, 0, 0)


def test_vbe_frame_follows_virtual_width_and_display_start(card) -> None:
    card.vbe(320, 200, 32)
    for index, value in ((Dispi.VIRT_WIDTH, 400), (Dispi.Y_OFFSET, 2), (Dispi.X_OFFSET, 16)):
        card.bus.write(0x1CE, 2, index)
        card.bus.write(0x1CF, 2, value)
    at = (2 * 400 + 16) * 4
    card.lfb[at: at + 4] = b"\x00\x00\xff\x00"  # red, at the new top-left
    img = card.frame()
    assert img.shape == (200, 320, 3) and tuple(img[0, 0]) == (0xFF, 0, 0)


def test_vbe_lines_beyond_the_framebuffer_render_black(card) -> None:
    card.vbe(640, 480, 32)
    state = card.vga.display()
    late = dataclasses.replace(state, start=LFB_SIZE - 640 * 4 * 10)  # only 10 lines left
    width, height, rgb = render(late, b"")
    assert (width, height) == (640, 480) and len(rgb) == 640 * 480 * 3
