"""BIOS Data Area (segment 0040h) and related fixed addresses.

Owns: the named offsets of the BDA as the IBM PC/AT technical reference and Ralf Brown's
interrupt list (MEMORY.LST) describe them, as linear addresses.  Services read and write
the BDA only through these names.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmgui.bios.api import Memory

BDA_SEGMENT = 0x40
BDA_BASE = 0x400
IVT_BASE = 0x0000


class Bda(enum.IntEnum):
    """Linear addresses of BDA fields (0040:xxxx -> 0x400 + xxxx)."""

    COM_PORTS = 0x400  # 4 words: base I/O of COM1-COM4
    LPT_PORTS = 0x408  # 3 words: LPT1-LPT3
    EBDA_SEGMENT = 0x40E  # word
    EQUIPMENT = 0x410  # word: int 11h result
    MEMORY_KB = 0x413  # word: conventional memory in KB (int 12h)
    KBD_FLAGS1 = 0x417  # byte: shift states (int 16h AH=02h)
    KBD_FLAGS2 = 0x418  # byte: extended shift states
    KBD_ALT_KEYPAD = 0x419  # byte: Alt+numpad accumulator
    KBD_BUF_HEAD = 0x41A  # word: offset (from 0040h) of the next key to read
    KBD_BUF_TAIL = 0x41C  # word: offset of the next free slot
    KBD_BUF = 0x41E  # 16 words: default keyboard buffer
    FLOPPY_RECAL = 0x43E  # byte: recalibrate status
    FLOPPY_MOTOR = 0x43F  # byte: motor status
    FLOPPY_MOTOR_TIMEOUT = 0x440  # byte: ticks until motor off
    FLOPPY_LAST_STATUS = 0x441  # byte: int 13h status of the last floppy operation
    FLOPPY_FDC_STATUS = 0x442  # 7 bytes
    VIDEO_MODE = 0x449  # byte
    VIDEO_COLUMNS = 0x44A  # word
    VIDEO_PAGE_SIZE = 0x44C  # word: bytes per page
    VIDEO_PAGE_OFFSET = 0x44E  # word: start of the active page in the video segment
    VIDEO_CURSOR_POS = 0x450  # 8 words: (row << 8) | column per page
    VIDEO_CURSOR_SHAPE = 0x460  # word: (start << 8) | end scan line
    VIDEO_ACTIVE_PAGE = 0x462  # byte
    VIDEO_CRTC_BASE = 0x463  # word: 3D4h colour, 3B4h mono
    VIDEO_MODE_CTRL = 0x465  # byte: last value written to 3D8h
    VIDEO_CGA_PALETTE = 0x466  # byte: last value written to 3D9h
    RESET_FLAG_WARM = 0x472  # word: 1234h = warm boot (skip memory test)
    TIMER_TICKS = 0x46C  # dword: ticks since midnight
    TIMER_ROLLOVER = 0x470  # byte: nonzero when midnight passed since last read
    CTRL_BREAK = 0x471  # byte: bit 7 set by Ctrl+Break
    HDD_LAST_STATUS = 0x474  # byte: int 13h status of the last hard-disk operation
    HDD_COUNT = 0x475  # byte: number of hard disks
    LPT_TIMEOUT = 0x478  # 3 bytes
    COM_TIMEOUT = 0x47C  # 4 bytes
    KBD_BUF_START = 0x480  # word: buffer start offset (from 0040h)
    KBD_BUF_END = 0x482  # word: buffer end offset (one past the last slot)
    VIDEO_ROWS = 0x484  # byte: rows on screen minus one
    VIDEO_CHAR_HEIGHT = 0x485  # word: scan lines per character
    VIDEO_EGA_MISC = 0x487  # byte
    VIDEO_EGA_SWITCHES = 0x488  # byte
    VIDEO_VGA_FLAGS = 0x489  # byte
    VIDEO_DCC_INDEX = 0x48A  # byte: display combination code index
    FLOPPY_LAST_RATE = 0x48B  # byte
    HDD_STATUS_REG = 0x48C  # byte
    HDD_ERROR_REG = 0x48D  # byte
    HDD_IRQ_FLAG = 0x48E  # byte
    FLOPPY_DRIVE_INFO = 0x48F  # byte
    FLOPPY_MEDIA_STATE = 0x490  # 2 bytes: drive 0/1 media state
    FLOPPY_TRACK = 0x494  # 2 bytes: current track per drive
    KBD_STATUS3 = 0x496  # byte: bit 4 = 101/102-key keyboard present
    KBD_LEDS = 0x497  # byte
    USER_WAIT_FLAG_PTR = 0x498  # dword
    USER_WAIT_COUNT = 0x49C  # dword: microseconds (int 15h AH=83h/86h)
    USER_WAIT_ACTIVE = 0x4A0  # byte
    VIDEO_SAVE_PTR = 0x4A8  # dword: EGA/VGA save pointer table
    PRINT_SCREEN_STATUS = 0x500  # byte (0050:0000)


def seg_off(segment: int, offset: int) -> int:
    """Real-mode linear address of ``segment:offset``."""
    return ((segment & 0xFFFF) << 4) + (offset & 0xFFFF)


# Host buffers behind guest memory end at these addresses (conventional RAM, the VGA
# window, the ROM area): a piece of a far read never straddles one.
_BUFFER_EDGES = (0xA0000, 0xC0000)


def read_linear(mem: Memory, addr: int, size: int) -> bytes:
    """``size`` bytes from linear ``addr`` on, read in pieces that each lie in one host
    buffer (IndexError beyond the end of guest memory, as :class:`Memory` reads)."""
    if not any(addr < edge < addr + size for edge in _BUFFER_EDGES):
        return mem.read(addr, size)
    out = bytearray()
    while len(out) < size:
        at = addr + len(out)
        chunk = size - len(out)
        for edge in _BUFFER_EDGES:
            if at < edge < at + chunk:
                chunk = edge - at
        out += mem.read(at, chunk)
    return bytes(out)


def read_far(mem: Memory, segment: int, offset: int, size: int) -> bytes:
    """``size`` bytes at ``segment:offset`` as 16-bit real-mode code reads them: the
    offset wraps at 64 KiB, so the read never leaves the segment."""
    base = (segment & 0xFFFF) << 4
    offset &= 0xFFFF
    out = bytearray()
    while len(out) < size:
        chunk = min(size - len(out), 0x10000 - offset)
        out += read_linear(mem, base + offset, chunk)
        offset = (offset + chunk) & 0xFFFF
    return bytes(out)
