"""VESA BIOS Extensions 3.0: int 10h AX=4F00h-4F0Ah on the display adapter's DISPI registers.

Owns: the VBE mode table (the Bochs/QEMU VGA BIOS mode numbers: 100h-11Fh for the VESA
standard resolutions, 140h-147h for Bochs' 32-bpp and 320x200x8 modes), the controller
information block (4F00h; OEM strings in the ROM, or copied into the caller's block when
it asks for VBE 2.0+ with the "VBE2" signature, the mode list in the block's reserved
area as the Bochs BIOS does), mode information (4F01h), mode set (4F02h, bit 14 linear
framebuffer, bit 15 keep memory), current mode (4F03h), save/restore state (4F04h),
the 64 KiB window at A0000h (4F05h, and the window function the mode information points
at), logical scan line length (4F06h), display start (4F07h), DAC width (4F08h) and
palette data (4F09h).

4F0Ah (protected-mode interface) answers 014Fh "failed": that interface is 32-bit x86
code a guest copies and calls directly, with no interrupt and at an address of its
choosing, so vmgui's services -- Python behind trap addresses in the ROM -- cannot sit
behind it; every known caller (Linux vesafb, KolibriOS, Windows) falls back to the
real-mode functions or to the linear framebuffer, and QEMU's SeaBIOS VGA BIOS does not
offer the interface either.

References: VESA BIOS Extension Core Functions Standard 3.0; Bochs ``vbe.c``/
``vbetables-gen.c`` (mode numbers, register use), SeaBIOS ``vgasrc/vbe.c``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

from vmgui.bios import rom
from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import Bda, seg_off
from vmgui.devices.vbe import MAX_XRES, Dispi, Enable
from vmgui.devices.vbe_lfb import LFB_BASE, LFB_SIZE
from vmgui.devices.vga import Port, Vga
from vmgui.devices.vga_tables import DacKind, default_dac

log = logging.getLogger(__name__)

VBE_VERSION = 0x0300
OK, FAILED, NOT_SUPPORTED, INVALID_IN_MODE = 0x004F, 0x014F, 0x024F, 0x034F
UNKNOWN_FUNCTION = 0x0100  # AL != 4Fh: the function does not exist
INFO_BLOCK, INFO_BLOCK_V2, MODE_INFO_SIZE = 256, 512, 256
MODE_LIST_OFF, OEM_DATA_OFF = 0x22, 0x100
WINDOW_KB = 64
BANKS = LFB_SIZE // (WINDOW_KB << 10)
_BANK = int(Dispi.BANK)
BVE_MODE_MASK = 0x1FF  # bits 0-8: the mode number
MODE_LFB, MODE_KEEP_MEMORY, MODE_CUSTOM_CRTC = 0x4000, 0x8000, 0x0800
BDA_VBE_MODE = 0xFF  # the BDA mode byte while a VBE mode is on (as SeaBIOS keeps it)
# ModeAttributes: supported, optional information present, colour, graphics, LFB
MODE_ATTRIBUTES = 0x0001 | 0x0002 | 0x0008 | 0x0010 | 0x0080
WINDOW_ATTRIBUTES = 0x07  # relocatable, readable, writeable
CAPABILITIES = 0x00000001  # the DAC can switch to 8 bits per component
OEM_STRINGS = (b"vmgui VBE BIOS", b"vmgui", b"vmgui VBE display adapter", b"1.0")
OEM_SOFTWARE_REV = 0x0100
# the window function: mov ax, 4F05h; int 10h; retf (BH, BL, DX as for int 10h AX=4F05h)
WINDOW_FUNCTION = bytes.fromhex("b8054f" "cd10" "cb")


@dataclass(frozen=True)
class VbeMode:
    number: int
    width: int
    height: int
    bpp: int  # 8, 15, 16, 24 or 32

    @property
    def bytes_per_pixel(self) -> int:
        return (self.bpp + 7) // 8

    @property
    def pitch(self) -> int:
        return self.width * self.bytes_per_pixel


def _modes() -> tuple[VbeMode, ...]:
    table = [(0x100, 640, 400, 8), (0x101, 640, 480, 8), (0x103, 800, 600, 8),
             (0x105, 1024, 768, 8), (0x107, 1280, 1024, 8), (0x11C, 1600, 1200, 8)]
    number = 0x10D
    for width, height in ((320, 200), (640, 480), (800, 600), (1024, 768), (1280, 1024),
                          (1600, 1200)):
        if width == 1600:
            number = 0x11D
        for bpp in (15, 16, 24):
            table.append((number, width, height, bpp))
            number += 1
    table += [(0x140, 320, 200, 32), (0x141, 640, 400, 32), (0x142, 640, 480, 32),
              (0x143, 800, 600, 32), (0x144, 1024, 768, 32), (0x145, 1280, 1024, 32),
              (0x146, 320, 200, 8), (0x147, 1600, 1200, 32)]
    return tuple(VbeMode(*row) for row in sorted(table))


MODES = _modes()
MODE_BY_NUMBER = {m.number: m for m in MODES}
# (red, green, blue, reserved) (mask size, field position) pairs per depth
COLOUR_FIELDS = {8: ((0, 0),) * 4, 15: ((5, 10), (5, 5), (5, 0), (1, 15)),
                 16: ((5, 11), (6, 5), (5, 0), (0, 0)), 24: ((8, 16), (8, 8), (8, 0), (0, 0)),
                 32: ((8, 16), (8, 8), (8, 0), (8, 24))}
_MODE_INFO = struct.Struct("<HBBHHHHIHHHBBBBBBBBB9BIIHHBB8BI")
_INFO = struct.Struct("<4sHIIIHHIII")


def mode_info_block(mode: VbeMode, window_function: int) -> bytes:
    """The 256-byte ModeInfoBlock of ``mode`` (4F01h)."""
    pages = min(LFB_SIZE // (mode.pitch * mode.height), 256) - 1
    fields = [v for pair in COLOUR_FIELDS[mode.bpp] for v in pair]
    direct = 6 if mode.bpp > 8 else 4  # memory model: direct colour / packed pixel
    head = _MODE_INFO.pack(
        MODE_ATTRIBUTES, WINDOW_ATTRIBUTES, 0, WINDOW_KB, WINDOW_KB, 0xA000, 0,
        window_function, mode.pitch, mode.width, mode.height, 8, 16, 1, mode.bpp, 1, direct,
        0, pages, 1, *fields, 0x02 if mode.bpp == 32 else 0,
        LFB_BASE, 0, 0, mode.pitch, pages, pages, *fields, 0)
    return head + bytes(MODE_INFO_SIZE - len(head))


class VbeBios:
    """int 10h AH=4Fh for a :class:`Vga` with the VBE extension.  ``set_vga_mode(al)``
    is the video BIOS's own mode set (4F02h with a VGA mode number goes there)."""

    def __init__(self, mem: Memory, vga: Vga, set_vga_mode: Callable[[int], bool],
                 log_once: Callable[..., None]) -> None:
        if vga.vbe is None:
            raise ValueError("VBE needs a VGA with the VBE extension (a framebuffer)")
        self.mem = mem
        self.vga = vga
        self.dispi = vga.vbe
        self._set_vga_mode = set_vga_mode
        self._log_once = log_once
        self._rom_blob, self._rom_offsets = self.rom_strings()
        self._functions: dict[int, Callable[[BiosCall], int]] = {
            0x00: self._controller_info, 0x01: self._mode_info, 0x02: self._set_mode,
            0x03: self._current_mode, 0x04: self._state, 0x05: self._window,
            0x06: self._scan_line, 0x07: self._display_start, 0x08: self._dac_width,
            0x09: self._palette, 0x0A: self._protected_mode_interface,
        }

    # ------------------------------------------------------------------ ROM
    @staticmethod
    def rom_strings() -> tuple[bytes, dict[str, int]]:
        """The ROM area at F000:VBE_OFF: the window function, then the OEM strings;
        and the offset (in F000h) of each piece."""
        blob = bytearray(WINDOW_FUNCTION)
        offsets = {"window": rom.VBE_OFF}
        for name, text in zip(("oem", "vendor", "product", "revision"), OEM_STRINGS,
                              strict=True):
            offsets[name] = rom.VBE_OFF + len(blob)
            blob += text + b"\0"
        return bytes(blob), offsets

    def post(self) -> None:
        self.mem.write(rom.linear(rom.VBE_OFF), self._rom_blob)

    # ------------------------------------------------------------------ dispatch
    def handle(self, call: BiosCall) -> None:
        r = call.regs
        function = self._functions.get(r.al)
        if function is None:
            self._log_once((0x4F, r.al), "INT 10h AX=4F%02Xh: VBE function not supported",
                           r.al)
            r.ax = UNKNOWN_FUNCTION
            return
        try:
            status = function(call)
        except IndexError as exc:  # a buffer beyond guest memory
            log.info("INT 10h AX=4F%02Xh: %s", r.al, exc)
            status = FAILED
        if log.isEnabledFor(logging.DEBUG):
            log.debug("INT 10h AX=4F%02Xh BX=%04Xh CX=%04Xh DX=%04Xh -> %04Xh", r.al, r.bx,
                      r.cx, r.dx, status)
        r.ax = status

    # ------------------------------------------------------------------ 00h, 01h
    def _controller_info(self, call: BiosCall) -> int:
        r = call.regs
        addr = seg_off(r.es, r.di)
        v2 = self.mem.read(addr, 4) == b"VBE2"
        block = bytearray(INFO_BLOCK_V2 if v2 else INFO_BLOCK)
        offsets = self._rom_offsets
        strings = [rom.far_pointer(offsets[n]) for n in ("oem", "vendor", "product", "revision")]
        if v2:  # VBE 2.0+: the strings travel with the block
            at = OEM_DATA_OFF
            for i, text in enumerate(OEM_STRINGS):
                block[at: at + len(text) + 1] = text + b"\0"
                strings[i] = (r.es << 16) | ((r.di + at) & 0xFFFF)
                at += len(text) + 1
        modes = b"".join(m.number.to_bytes(2, "little") for m in MODES) + b"\xff\xff"
        block[MODE_LIST_OFF: MODE_LIST_OFF + len(modes)] = modes
        block[:_INFO.size] = _INFO.pack(
            b"VESA", VBE_VERSION, strings[0], CAPABILITIES,
            (r.es << 16) | ((r.di + MODE_LIST_OFF) & 0xFFFF), LFB_SIZE >> 16,
            OEM_SOFTWARE_REV, *strings[1:])
        self.mem.write(addr, bytes(block))
        log.info("VBE 4F00h: controller information (%s block)", "VBE2" if v2 else "VESA")
        return OK

    def _mode_info(self, call: BiosCall) -> int:
        r = call.regs
        mode = MODE_BY_NUMBER.get(r.cx & BVE_MODE_MASK)
        if mode is None:
            log.debug("VBE 4F01h: mode %03Xh unknown", r.cx)
            return FAILED
        window = rom.far_pointer(self._rom_offsets["window"])
        self.mem.write(seg_off(r.es, r.di), mode_info_block(mode, window))
        return OK

    # ------------------------------------------------------------------ 02h, 03h
    def _set_mode(self, call: BiosCall) -> int:
        bx = call.regs.bx
        number, keep = bx & BVE_MODE_MASK, bool(bx & MODE_KEEP_MEMORY)
        if number < 0x100:  # a VGA mode through VBE
            return OK if self._set_vga_mode(number | (0x80 if keep else 0)) else FAILED
        mode = MODE_BY_NUMBER.get(number)
        if mode is None:
            log.info("VBE 4F02h: mode %03Xh not offered", number)
            return FAILED
        if bx & MODE_CUSTOM_CRTC:
            self._log_once((0x4F, 0x02, "crtc"), "VBE 4F02h: CRTC timings ignored")
        self.set_mode(mode, lfb=bool(bx & MODE_LFB), keep=keep)
        return OK

    def set_mode(self, mode: VbeMode, lfb: bool, keep: bool) -> None:
        """Switch the adapter to ``mode`` (as 4F02h does) and note it in the BDA."""
        vga, dispi = self.vga, self.dispi
        dispi.write_register(Dispi.ENABLE, 0)
        if mode.bpp == 8:  # packed pixels show the standard 256-colour palette
            for i, rgb in enumerate(default_dac(DacKind.VGA256)):
                vga.set_dac(i, *rgb)
            vga.write_port(Port.DAC_MASK, 0xFF)
        for index, value in ((Dispi.BPP, mode.bpp), (Dispi.XRES, mode.width),
                             (Dispi.YRES, mode.height), (Dispi.BANK, 0)):
            dispi.write_register(index, value)
        enable = Enable.ENABLED | (Enable.LFB_ENABLED if lfb else 0)
        dispi.write_register(Dispi.ENABLE, enable | (Enable.NO_CLEAR if keep else 0))
        dispi.mode = mode.number | (MODE_LFB if lfb else 0) | (MODE_KEEP_MEMORY if keep else 0)
        m = self.mem
        m.write_u8(Bda.VIDEO_MODE, BDA_VBE_MODE)
        m.write_u16(Bda.VIDEO_COLUMNS, mode.width // 8)
        m.write(Bda.VIDEO_ROWS, bytes((mode.height // 16 - 1, 16, 0)))
        misc = m.read_u8(Bda.VIDEO_EGA_MISC) & 0x7F
        m.write_u8(Bda.VIDEO_EGA_MISC, misc | (0x80 if keep else 0))
        log.info("VBE mode %03Xh: %dx%dx%d%s", mode.number, mode.width, mode.height, mode.bpp,
                 ", linear framebuffer" if lfb else ", banked")

    def _current_mode(self, call: BiosCall) -> int:
        if self.dispi.enabled:
            call.regs.bx = self.dispi.mode
        else:
            call.regs.bx = self.mem.read_u8(Bda.VIDEO_MODE) & 0x7F
        return OK

    # ------------------------------------------------------------------ 04h
    def _state_parts(self, mask: int) -> list[tuple[int, int]]:
        """(bit, size) of each part CX asks for: VGA registers, BIOS data, DAC, VBE."""
        sizes = {0: self.vga.HARDWARE_STATE_SIZE, 1: _BDA_STATE_SIZE, 2: 2 + 768,
                 3: 2 * (len(self.dispi.regs) + 1)}
        return [(bit, size) for bit, size in sizes.items() if mask >> bit & 1]

    def _state(self, call: BiosCall) -> int:
        r = call.regs
        parts = self._state_parts(r.cx & 0x0F)
        if r.dl == 0x00:
            r.bx = -(-sum(size for _, size in parts) // 64)
            return OK
        if r.dl not in (0x01, 0x02):
            return FAILED
        addr = seg_off(r.es, r.bx)
        if r.dl == 0x01:
            self.mem.write(addr, b"".join(self._save_part(bit) for bit, _ in parts))
            return OK
        for bit, size in parts:
            self._restore_part(bit, self.mem.read(addr, size))
            addr += size
        return OK

    def _save_part(self, bit: int) -> bytes:
        vga, dispi = self.vga, self.dispi
        if bit == 0:
            return vga.hardware_state()
        if bit == 1:
            return b"".join(self.mem.read(at, n) for at, n in _BDA_STATE)
        if bit == 2:
            dac = b"".join(bytes(vga.get_dac(i)) for i in range(256))
            return bytes((vga.dac_mask, vga.dac_bits)) + dac
        return struct.pack(f"<{len(dispi.regs) + 1}H", dispi.mode, *dispi.regs)

    def _restore_part(self, bit: int, data: bytes) -> None:
        vga, dispi = self.vga, self.dispi
        if bit == 0:
            vga.load_hardware_state(data)
        elif bit == 1:
            for at, n in _BDA_STATE:
                self.mem.write(at, data[:n])
                data = data[n:]
        elif bit == 2:
            vga.write_port(Port.DAC_MASK, data[0])
            for i in range(256):
                vga.set_dac(i, *data[2 + 3 * i: 5 + 3 * i])
        else:
            mode, *regs = struct.unpack(f"<{len(dispi.regs) + 1}H", data)
            dispi.write_register(Dispi.ENABLE, 0)
            for index in (Dispi.XRES, Dispi.YRES, Dispi.BPP):
                dispi.write_register(index, regs[index])
            dispi.write_register(Dispi.ENABLE, regs[Dispi.ENABLE] | Enable.NO_CLEAR)
            for index in (Dispi.BANK, Dispi.VIRT_WIDTH, Dispi.X_OFFSET, Dispi.Y_OFFSET):
                dispi.write_register(index, regs[index])
            dispi.mode = mode

    # ------------------------------------------------------------------ 05h-07h
    def _window(self, call: BiosCall) -> int:
        r = call.regs
        if r.bl != 0:  # only window A
            return FAILED
        dispi = self.dispi
        if dispi.mode & MODE_LFB and dispi.enabled:
            return INVALID_IN_MODE  # VBE 3.0: no windows in a linear framebuffer mode
        bh = r.bh
        if bh == 0x01:
            r.dx = dispi.regs[_BANK]
            return OK
        bank = r.dx
        if bh != 0x00 or bank >= BANKS:
            return FAILED
        dispi.write_register(_BANK, bank)
        return OK

    def _scan_line(self, call: BiosCall) -> int:
        r, dispi = call.regs, self.dispi
        if not dispi.enabled:
            return INVALID_IN_MODE
        size = max(1, (dispi.bpp + 7) // 8)
        height = dispi.regs[Dispi.YRES]
        widest = min(MAX_XRES, LFB_SIZE // (height * size)) & ~7
        if r.bl == 0x03:
            r.bx, r.cx = widest * size, widest
            return OK
        if r.bl in (0x00, 0x02):
            pixels = r.cx if r.bl == 0x00 else r.cx // size
            if pixels > widest:
                return NOT_SUPPORTED
            dispi.write_register(Dispi.VIRT_WIDTH, pixels)
        elif r.bl != 0x01:
            return FAILED
        r.bx, r.cx = dispi.line_bytes, dispi.regs[Dispi.VIRT_WIDTH]
        r.dx = dispi.regs[Dispi.VIRT_HEIGHT]
        return OK

    def _display_start(self, call: BiosCall) -> int:
        r, dispi = call.regs, self.dispi
        if not dispi.enabled:
            return INVALID_IN_MODE
        if r.bl == 0x01:
            r.bh, r.cx, r.dx = 0, dispi.regs[Dispi.X_OFFSET], dispi.regs[Dispi.Y_OFFSET]
            return OK
        if r.bl == 0x04:
            r.cx = 1  # a scheduled start takes effect at once: the flip has happened
            return OK
        if r.bl in (0x00, 0x80):
            x, y = r.cx, r.dx
        elif r.bl in (0x02, 0x82):
            line = max(dispi.line_bytes, 1)
            y, x = divmod(r.ecx, line)
            x //= max(1, (dispi.bpp + 7) // 8)
        elif r.bl in (0x03, 0x05, 0x06, 0x83):
            return NOT_SUPPORTED  # stereo
        else:
            return FAILED
        dispi.write_register(Dispi.X_OFFSET, x & 0xFFFF)
        dispi.write_register(Dispi.Y_OFFSET, y & 0xFFFF)
        fits = (dispi.regs[Dispi.X_OFFSET], dispi.regs[Dispi.Y_OFFSET]) == (x, y)
        return OK if fits else FAILED

    # ------------------------------------------------------------------ 08h, 09h
    def _dac_width(self, call: BiosCall) -> int:
        r, dispi = call.regs, self.dispi
        if r.bl == 0x00:  # (the mode stays on: only a rising enable bit clears memory)
            enable = dispi.regs[Dispi.ENABLE] & ~Enable.DAC_8BIT
            dispi.write_register(Dispi.ENABLE, enable | (Enable.DAC_8BIT if r.bh >= 8 else 0))
        elif r.bl != 0x01:
            return FAILED
        r.bh = self.vga.dac_bits
        return OK

    def _palette(self, call: BiosCall) -> int:
        r = call.regs
        if r.bl in (0x02, 0x03):
            return NOT_SUPPORTED  # no secondary palette
        if r.bl not in (0x00, 0x01, 0x80) or r.dx + r.cx > 256:
            return FAILED
        addr = seg_off(r.es, r.di)
        if r.bl == 0x01:
            out = bytearray()
            for i in range(r.dx, r.dx + r.cx):
                red, green, blue = self.vga.get_dac(i)
                out += bytes((blue, green, red, 0))
            self.mem.write(addr, bytes(out))
            return OK
        table = self.mem.read(addr, 4 * r.cx)
        for n in range(r.cx):
            blue, green, red = table[4 * n: 4 * n + 3]
            self.vga.set_dac(r.dx + n, red, green, blue)
        return OK

    def _protected_mode_interface(self, call: BiosCall) -> int:
        """Not offered (see the module notes for why)."""
        self._log_once((0x4F, 0x0A), "VBE 4F0Ah: no protected-mode interface (014Fh)")
        return FAILED


# 4F04h BIOS data: the video fields at 0449h-0466h and 0484h-048Ah
_BDA_STATE = ((Bda.VIDEO_MODE, Bda.VIDEO_CGA_PALETTE - Bda.VIDEO_MODE + 1),
              (Bda.VIDEO_ROWS, Bda.VIDEO_DCC_INDEX - Bda.VIDEO_ROWS + 1))
_BDA_STATE_SIZE = sum(n for _, n in _BDA_STATE)
