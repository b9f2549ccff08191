"""Standard IBM VGA register sets and default DAC palettes for the BIOS video modes.

Owns: the per-mode register values (misc output, sequencer 1-4, CRTC 00-18h, attribute
00-13h, graphics controller 00-08h) that ``Vga.set_mode`` programs, and the default DAC
palettes.  The values are the standard IBM VGA video parameter table entries, as listed
in FreeVGA's mode tables and the LGPL VGA BIOS (SeaBIOS ``vgasrc/stdvgamodes.c``); the
palettes are generated from their published structure rather than copied.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DacKind(enum.Enum):
    MONO = "mono"  # 64 entries: MDA-style off / normal / bright
    CGA = "cga"  # 64 entries: the 16 CGA colours (bit 4 = intensity, brown at 6)
    EGA = "ega"  # 64 entries: EGA rgbRGB 6-bit colours
    VGA256 = "vga256"  # the IBM VGA default 256-colour palette


@dataclass(frozen=True)
class ModeRegs:
    misc: int
    seq: bytes  # sequencer 01h-04h
    crtc: bytes  # CRTC 00h-18h
    attr: bytes  # attribute controller 00h-13h
    gc: bytes  # graphics controller 00h-08h
    dac: DacKind
    cga_mode: int  # value a BIOS writes to the CGA mode control port 3D8h
    cga_color: int  # value a BIOS writes to the CGA colour select port 3D9h
    text: bool  # cleared to 0720h words (text) or zero bytes (graphics)


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


_SEQ_40 = _h("08 03 00 02")
_SEQ_80 = _h("00 03 00 02")
_SEQ_CGA4 = _h("09 03 00 02")
_SEQ_CGA2 = _h("01 01 00 06")
_SEQ_0D = _h("09 0f 00 06")
_SEQ_PLANAR = _h("01 0f 00 06")
_SEQ_13 = _h("01 0f 00 0e")

_CRTC_40 = _h("2d 27 28 90 2b a0 bf 1f 00 4f 0d 0e 00 00 00 00 9c 8e 8f 14 1f 96 b9 a3 ff")
_CRTC_80 = _h("5f 4f 50 82 55 81 bf 1f 00 4f 0d 0e 00 00 00 00 9c 8e 8f 28 1f 96 b9 a3 ff")
_CRTC_MONO = _h("5f 4f 50 82 55 81 bf 1f 00 4f 0d 0e 00 00 00 00 9c 8e 8f 28 0f 96 b9 a3 ff")
_CRTC_CGA4 = _h("2d 27 28 90 2b 80 bf 1f 00 c1 00 00 00 00 00 00 9c 8e 8f 14 00 96 b9 a2 ff")
_CRTC_CGA2 = _h("5f 4f 50 82 54 80 bf 1f 00 c1 00 00 00 00 00 00 9c 8e 8f 28 00 96 b9 c2 ff")
_CRTC_0D = _h("2d 27 28 90 2b 80 bf 1f 00 c0 00 00 00 00 00 00 9c 8e 8f 14 00 96 b9 e3 ff")
_CRTC_0E = _h("5f 4f 50 82 54 80 bf 1f 00 c0 00 00 00 00 00 00 9c 8e 8f 28 00 96 b9 e3 ff")
_CRTC_10 = _h("5f 4f 50 82 54 80 bf 1f 00 40 00 00 00 00 00 00 83 85 5d 28 0f 63 ba e3 ff")
_CRTC_12 = _h("5f 4f 50 82 54 80 0b 3e 00 40 00 00 00 00 00 00 ea 8c df 28 00 e7 04 e3 ff")
_CRTC_13 = _h("5f 4f 50 82 54 80 bf 1f 00 41 00 00 00 00 00 00 9c 8e 8f 28 40 96 b9 a3 ff")

_ATTR_TEXT = _h("00 01 02 03 04 05 14 07 38 39 3a 3b 3c 3d 3e 3f 0c 00 0f 08")
TEXT_ATTR_PALETTE = _ATTR_TEXT[:16]
"""Attribute palette values for the 16 text colours (EGA/VGA DAC layout)."""
_ATTR_CGA4 = _h("00 13 15 17 02 04 06 07 10 11 12 13 14 15 16 17 01 00 03 00")
_ATTR_CGA2 = _h("00 17 17 17 17 17 17 17 17 17 17 17 17 17 17 17 01 00 01 00")
_ATTR_MONO = _h("00 08 08 08 08 08 08 08 10 18 18 18 18 18 18 18 0e 00 0f 08")
_ATTR_PLANAR = _h("00 01 02 03 04 05 06 07 10 11 12 13 14 15 16 17 01 00 0f 00")
_ATTR_EGA = _h("00 01 02 03 04 05 14 07 38 39 3a 3b 3c 3d 3e 3f 01 00 0f 00")
_ATTR_0F = _h("00 08 00 00 18 18 00 00 00 08 00 00 00 18 00 00 01 00 05 00")  # planes 0, 2
_ATTR_11 = _h("00 3f 00 3f 00 3f 00 3f 00 3f 00 3f 00 3f 00 3f 01 00 0f 00")  # 2 colours
_ATTR_13 = _h("00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 41 00 0f 00")

_GC_TEXT = _h("00 00 00 00 00 10 0e 0f ff")
_GC_CGA4 = _h("00 00 00 00 00 30 0f 0f ff")
_GC_CGA2 = _h("00 00 00 00 00 00 0d 0f ff")
_GC_MONO = _h("00 00 00 00 00 10 0a 0f ff")
_GC_PLANAR = _h("00 00 00 00 00 00 05 0f ff")
_GC_13 = _h("00 00 00 00 00 40 05 0f ff")

MODES: dict[int, ModeRegs] = {
    0x00: ModeRegs(0x67, _SEQ_40, _CRTC_40, _ATTR_TEXT, _GC_TEXT, DacKind.EGA, 0x2C, 0x30, True),
    0x01: ModeRegs(0x67, _SEQ_40, _CRTC_40, _ATTR_TEXT, _GC_TEXT, DacKind.EGA, 0x28, 0x30, True),
    0x02: ModeRegs(0x67, _SEQ_80, _CRTC_80, _ATTR_TEXT, _GC_TEXT, DacKind.EGA, 0x2D, 0x30, True),
    0x03: ModeRegs(0x67, _SEQ_80, _CRTC_80, _ATTR_TEXT, _GC_TEXT, DacKind.EGA, 0x29, 0x30, True),
    0x04: ModeRegs(0x63, _SEQ_CGA4, _CRTC_CGA4, _ATTR_CGA4, _GC_CGA4, DacKind.CGA, 0x2A, 0x30,
                   False),
    0x05: ModeRegs(0x63, _SEQ_CGA4, _CRTC_CGA4, _ATTR_CGA4, _GC_CGA4, DacKind.CGA, 0x2E, 0x30,
                   False),
    0x06: ModeRegs(0x63, _SEQ_CGA2, _CRTC_CGA2, _ATTR_CGA2, _GC_CGA2, DacKind.CGA, 0x1E, 0x3F,
                   False),
    0x07: ModeRegs(0x66, _SEQ_80, _CRTC_MONO, _ATTR_MONO, _GC_MONO, DacKind.MONO, 0x29, 0x30,
                   True),
    0x0D: ModeRegs(0x63, _SEQ_0D, _CRTC_0D, _ATTR_PLANAR, _GC_PLANAR, DacKind.CGA, 0x29, 0x30,
                   False),
    0x0E: ModeRegs(0x63, _SEQ_PLANAR, _CRTC_0E, _ATTR_PLANAR, _GC_PLANAR, DacKind.CGA, 0x29,
                   0x30, False),
    0x0F: ModeRegs(0xA3, _SEQ_PLANAR, _CRTC_10, _ATTR_0F, _GC_PLANAR, DacKind.MONO, 0x29, 0x30,
                   False),
    0x10: ModeRegs(0xA3, _SEQ_PLANAR, _CRTC_10, _ATTR_EGA, _GC_PLANAR, DacKind.EGA, 0x29, 0x30,
                   False),
    0x11: ModeRegs(0xE3, _SEQ_PLANAR, _CRTC_12, _ATTR_11, _GC_PLANAR, DacKind.EGA, 0x29, 0x30,
                   False),
    0x12: ModeRegs(0xE3, _SEQ_PLANAR, _CRTC_12, _ATTR_EGA, _GC_PLANAR, DacKind.EGA, 0x29, 0x30,
                   False),
    0x13: ModeRegs(0x63, _SEQ_13, _CRTC_13, _ATTR_13, _GC_13, DacKind.VGA256, 0x29, 0x30, False),
}


def cga_dac_index(colour: int) -> int:
    """DAC index (in the CGA palette) that shows CGA colour ``colour`` (0-15)."""
    return (colour & 7) | ((colour & 8) << 1)


def _ega_rgb(i: int) -> tuple[int, int, int]:
    """EGA 6-bit colour rgbRGB -> 6-bit DAC components."""
    return (
        0x2A * ((i >> 2) & 1) + 0x15 * ((i >> 5) & 1),
        0x2A * ((i >> 1) & 1) + 0x15 * ((i >> 4) & 1),
        0x2A * (i & 1) + 0x15 * ((i >> 3) & 1),
    )


def _cga_rgb(colour: int) -> tuple[int, int, int]:
    if colour == 6:
        return (0x2A, 0x15, 0x00)  # brown, not dark yellow
    r, g, b = _ega_rgb(colour & 7)
    bright = 0x15 if colour & 8 else 0
    return (r + bright, g + bright, b + bright)


_GREYS = (0x00, 0x05, 0x08, 0x0B, 0x0E, 0x11, 0x14, 0x18,
          0x1C, 0x20, 0x24, 0x28, 0x2D, 0x32, 0x38, 0x3F)
# (min, step1, step2, step3, max) for the 9 blocks of 24 hues: 3 intensities x 3 saturations
_HUE_LEVELS = (
    (0x00, 0x10, 0x1F, 0x2F, 0x3F), (0x1F, 0x27, 0x2F, 0x37, 0x3F), (0x2D, 0x31, 0x36, 0x3A, 0x3F),
    (0x00, 0x07, 0x0E, 0x15, 0x1C), (0x0E, 0x11, 0x15, 0x18, 0x1C), (0x14, 0x16, 0x18, 0x1A, 0x1C),
    (0x00, 0x04, 0x08, 0x0C, 0x10), (0x08, 0x0A, 0x0C, 0x0E, 0x10), (0x0B, 0x0C, 0x0D, 0x0F, 0x10),
)


def _hue_block(levels: tuple[int, ...]) -> list[tuple[int, int, int]]:
    lo, hi = levels[0], levels[4]
    up, down = levels[0:4], levels[4:0:-1]
    out = [(v, lo, hi) for v in up]  # blue -> magenta
    out += [(hi, lo, v) for v in down]  # magenta -> red
    out += [(hi, v, lo) for v in up]  # red -> yellow
    out += [(v, hi, lo) for v in down]  # yellow -> green
    out += [(lo, hi, v) for v in up]  # green -> cyan
    out += [(lo, v, hi) for v in down]  # cyan -> blue
    return out


def default_dac(kind: DacKind) -> list[tuple[int, int, int]]:
    """The 256 6-bit (r, g, b) DAC entries a VGA BIOS loads for a mode (unused ones black)."""
    if kind is DacKind.MONO:
        entries = [(v, v, v) for v in (0x3F if i & 0x10 else 0x2A if i & 8 else 0
                                       for i in range(64))]
    elif kind is DacKind.CGA:
        entries = [_cga_rgb((i & 7) | ((i >> 1) & 8)) for i in range(64)]
    elif kind is DacKind.EGA:
        entries = [_ega_rgb(i) for i in range(64)]
    else:
        entries = [_cga_rgb(c) for c in range(16)] + [(g, g, g) for g in _GREYS]
        for levels in _HUE_LEVELS:
            entries += _hue_block(levels)
    return entries + [(0, 0, 0)] * (256 - len(entries))
