"""Names of the IBM VGA's ports and registers, shared by the VGA model and its helpers.

Owns: the port numbers, the CRTC/sequencer/graphics/attribute register indices the code
uses by name, the register-file sizes and the memory map bases (graphics controller
register 06h bits 2-3).  Per IBM's VGA Technical Reference and FreeVGA.
"""

from __future__ import annotations

import enum


class Port(enum.IntEnum):
    MONO_CRTC_INDEX = 0x3B4
    MONO_CRTC_DATA = 0x3B5
    MONO_STATUS1 = 0x3BA  # read: input status 1; write: feature control
    ATTR_INDEX_DATA = 0x3C0
    ATTR_DATA_READ = 0x3C1
    MISC_WRITE = 0x3C2  # read: input status 0
    SEQ_INDEX = 0x3C4
    SEQ_DATA = 0x3C5
    DAC_MASK = 0x3C6
    DAC_READ_INDEX = 0x3C7  # read: DAC state
    DAC_WRITE_INDEX = 0x3C8
    DAC_DATA = 0x3C9
    FEATURE_READ = 0x3CA
    MISC_READ = 0x3CC
    GC_INDEX = 0x3CE
    GC_DATA = 0x3CF
    COLOR_CRTC_INDEX = 0x3D4
    COLOR_CRTC_DATA = 0x3D5
    CGA_MODE = 0x3D8
    CGA_COLOR = 0x3D9
    COLOR_STATUS1 = 0x3DA


class Crtc(enum.IntEnum):
    H_DISPLAY_END = 0x01
    OVERFLOW = 0x07
    MAX_SCAN_LINE = 0x09
    CURSOR_START = 0x0A
    CURSOR_END = 0x0B
    START_HIGH = 0x0C
    START_LOW = 0x0D
    CURSOR_HIGH = 0x0E
    CURSOR_LOW = 0x0F
    V_RETRACE_END = 0x11  # bit 7: protect registers 0-7
    V_DISPLAY_END = 0x12
    OFFSET = 0x13
    UNDERLINE = 0x14  # bit 6: doubleword addressing
    MODE_CONTROL = 0x17  # bit 0: CGA bank (scan line bit 0 -> A13); bit 6: byte mode


class Seq(enum.IntEnum):
    RESET = 0x00
    CLOCKING = 0x01  # bit 0: 8-dot chars; bit 3: half dot clock; bit 5: screen off
    MAP_MASK = 0x02
    CHAR_MAP = 0x03
    MEMORY_MODE = 0x04


class Gc(enum.IntEnum):
    MODE = 0x05  # bit 5: CGA shift (interleave); bit 6: 256-colour shift
    MISC = 0x06  # bit 0: graphics; bits 2-3: memory map select


class Attr(enum.IntEnum):
    MODE_CONTROL = 0x10  # bit 0: graphics; bit 3: blink; bit 6: 8-bit colour; bit 7: P54S
    OVERSCAN = 0x11
    PLANE_ENABLE = 0x12
    H_PAN = 0x13
    COLOR_SELECT = 0x14


CRTC_COUNT, SEQ_COUNT, GC_COUNT, ATTR_COUNT = 0x19, 5, 9, 0x15
MAP_BASE = {0: 0x00000, 1: 0x00000, 2: 0x10000, 3: 0x18000}
"""Offset of each memory map (GC 06h bits 2-3) in the A0000h-BFFFFh window."""
CGA_VIDEO_ENABLE = 0x08  # CGA mode control (3D8h) bit 3
