"""The VBE BIOS (int 10h AX=4F00h-4F0Ah) with FakeCpu and a VGA that has the VBE extension."""

from __future__ import annotations

import mmap
import struct

import pytest

from vmgui.bios import vbe as vbe_bios
from vmgui.bios.api import FakeCpu, FakeMemory
from vmgui.bios.bda import Bda, seg_off
from vmgui.bios.video import VideoBios
from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.display import DisplayKind
from vmgui.devices.vbe import Dispi
from vmgui.devices.vbe_lfb import LFB_BASE, LFB_SIZE
from vmgui.devices.vga import Vga

FONTS = {8: (0xF000, 0xC000), 14: (0xF000, 0xB000), 16: (0xF000, 0xA000)}
BUF_SEG, BUF = 0x2000, 0x20000  # ES:DI = 2000:0000


class Env:
    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.lfb = memoryview(mmap.mmap(-1, LFB_SIZE))
        self.vga = Vga(IoBus(), ManualClock(), memoryview(bytearray(0x20000)), lfb=self.lfb)
        self.svc = VideoBios(self.cpu.mem, self.vga, FONTS)
        self.svc.post()

    @property
    def regs(self):
        return self.cpu.regs

    def vbe(self, al: int, **regs: int) -> int:
        regs.setdefault("es", BUF_SEG)
        regs.setdefault("di", 0)
        call = self.cpu.call(0x10, ax=0x4F00 | al, **regs)
        self.svc.handle(call)
        return self.regs.ax

    def mem(self, addr: int, size: int) -> bytes:
        return self.cpu.mem.read(addr, size)

    def string(self, far: int) -> bytes:
        data = self.mem(seg_off(far >> 16, far & 0xFFFF), 64)
        return data[: data.index(0)]

    def dispi(self, index: int) -> int:
        return self.vga.vbe.read_register(index)


@pytest.fixture
def env() -> Env:
    return Env()


def info(env: Env) -> tuple:
    return struct.unpack_from("<4sHIIIHHIII", env.mem(BUF, 34))


def test_controller_info_with_vbe2_signature_carries_its_strings(env) -> None:
    env.cpu.mem.write(BUF, b"VBE2" + b"\xcc" * 600)
    assert env.vbe(0x00) == 0x004F
    sig, version, oem, caps, modes, memory, rev, vendor, product, revision = info(env)
    assert (sig, version, caps, memory) == (b"VESA", 0x0300, 1, 256)
    for pointer in (oem, vendor, product, revision):  # inside the 512-byte block
        assert pointer >> 16 == BUF_SEG and 0x100 <= pointer & 0xFFFF < 0x200
    assert env.string(oem) == b"vmgui VBE BIOS" and env.string(product).startswith(b"vmgui")
    assert modes == (BUF_SEG << 16) | 0x22
    assert env.mem(BUF + 0x200, 1) == b"\xcc"  # nothing past the block


def test_controller_info_for_a_vbe1_caller_fills_256_bytes_and_points_into_rom(env) -> None:
    env.cpu.mem.write(BUF, b"\xcc" * 600)
    assert env.vbe(0x00) == 0x004F
    _, _, oem, *_ = info(env)
    assert oem >> 16 == 0xF000 and env.string(oem) == b"vmgui VBE BIOS"
    assert env.mem(BUF + 0x100, 1) == b"\xcc"


def test_mode_list_has_the_bochs_numbers(env) -> None:
    env.vbe(0x00)
    raw = env.mem(BUF + 0x22, 0xDE)
    numbers = []
    for (n,) in struct.iter_unpack("<H", raw):
        if n == 0xFFFF:
            break
        numbers.append(n)
    expected = {0x100: (640, 400, 8), 0x101: (640, 480, 8), 0x103: (800, 600, 8),
                0x105: (1024, 768, 8), 0x107: (1280, 1024, 8), 0x10D: (320, 200, 15),
                0x111: (640, 480, 16), 0x112: (640, 480, 24), 0x117: (1024, 768, 16),
                0x118: (1024, 768, 24), 0x11A: (1280, 1024, 16), 0x140: (320, 200, 32),
                0x142: (640, 480, 32), 0x144: (1024, 768, 32), 0x145: (1280, 1024, 32),
                0x146: (320, 200, 8)}
    assert numbers == sorted(numbers) and len(numbers) == len(vbe_bios.MODES)
    for number, (w, h, bpp) in expected.items():
        assert number in numbers
        mode = vbe_bios.MODE_BY_NUMBER[number]
        assert (mode.width, mode.height, mode.bpp) == (w, h, bpp)
    for width, height in ((640, 480), (800, 600), (1024, 768), (1280, 1024)):
        depths = {m.bpp for m in vbe_bios.MODES if (m.width, m.height) == (width, height)}
        assert depths == {8, 15, 16, 24, 32}


@pytest.mark.parametrize(("number", "bpp", "model", "pitch", "masks"), [
    (0x101, 8, 4, 640, (0, 0, 0, 0, 0, 0, 0, 0)),
    (0x110, 15, 6, 1280, (5, 10, 5, 5, 5, 0, 1, 15)),
    (0x111, 16, 6, 1280, (5, 11, 6, 5, 5, 0, 0, 0)),
    (0x112, 24, 6, 1920, (8, 16, 8, 8, 8, 0, 0, 0)),
    (0x142, 32, 6, 2560, (8, 16, 8, 8, 8, 0, 8, 24)),
])
def test_mode_info_describes_the_mode(env, number, bpp, model, pitch, masks) -> None:
    assert env.vbe(0x01, cx=number) == 0x004F
    block = env.mem(BUF, 256)
    attrs, win_a, win_b, gran, size, seg_a, seg_b, func, bpl, xres, yres = struct.unpack_from(
        "<HBBHHHHIHHH", block)
    assert attrs & 0x99 == 0x99  # supported, colour, graphics, linear framebuffer
    assert (win_a, win_b, gran, size, seg_a, seg_b) == (7, 0, 64, 64, 0xA000, 0)
    assert (bpl, xres, yres, block[0x19], block[0x1B]) == (pitch, 640, 480, bpp, model)
    assert tuple(block[0x1F:0x27]) == masks and tuple(block[0x36:0x3E]) == masks
    assert struct.unpack_from("<I", block, 0x28)[0] == LFB_BASE
    assert struct.unpack_from("<H", block, 0x32)[0] == pitch  # LinBytesPerScanLine
    assert block[0x1D] == min(LFB_SIZE // (pitch * 480), 256) - 1
    # the window function in the ROM: mov ax, 4F05h; int 10h; retf
    assert env.mem(seg_off(func >> 16, func & 0xFFFF), 6) == bytes.fromhex("b8054fcd10cb")


def test_mode_info_of_an_unknown_mode_fails(env) -> None:
    assert env.vbe(0x01, cx=0x1FF) == 0x014F
    assert env.vbe(0x01, cx=0x13) == 0x014F


def test_set_mode_with_linear_framebuffer_and_current_mode(env) -> None:
    env.lfb[0:4] = b"\x01\x02\x03\x04"
    assert env.vbe(0x02, bx=0x4118) == 0x004F
    state = env.vga.display()
    assert state.kind is DisplayKind.DIRECT24 and (state.width, state.height) == (1024, 768)
    assert bytes(env.lfb[0:4]) == bytes(4)  # cleared
    assert env.mem(Bda.VIDEO_MODE, 1) == b"\xff"
    assert env.vbe(0x03) == 0x004F and env.regs.bx == 0x4118
    env.lfb[0:4] = b"\x01\x02\x03\x04"
    assert env.vbe(0x02, bx=0xC142) == 0x004F  # keep memory
    assert bytes(env.lfb[0:4]) == b"\x01\x02\x03\x04"
    assert env.vbe(0x03) == 0x004F and env.regs.bx == 0xC142


def test_set_mode_8_bpp_loads_the_256_colour_palette(env) -> None:
    env.vga.set_dac(40, 0, 0, 0)
    assert env.vbe(0x02, bx=0x4101) == 0x004F
    assert env.vga.get_dac(40) != (0, 0, 0) and env.vga.display().kind is DisplayKind.PACKED8


def test_set_vga_mode_through_vbe_and_unknown_modes(env) -> None:
    env.vbe(0x02, bx=0x4112)
    assert env.vbe(0x02, bx=0x0013) == 0x004F
    assert env.vga.display().kind is DisplayKind.VGA256 and not env.vga.vbe.enabled
    assert env.vbe(0x03) == 0x004F and env.regs.bx == 0x13
    assert env.vbe(0x02, bx=0x0155) == 0x014F
    assert env.vbe(0x02, bx=0x0066) == 0x014F  # no such VGA mode either


def test_save_and_restore_state(env) -> None:
    assert env.vbe(0x04, dl=0x00, cx=0x000F) == 0x004F
    blocks = env.regs.bx
    assert blocks == -(-(env.vga.HARDWARE_STATE_SIZE + 37 + 770 + 22) // 64)
    env.vbe(0x02, bx=0x4111)
    env.vga.set_dac(3, 1, 2, 3)
    assert env.vbe(0x04, dl=0x01, cx=0x000F, es=0x3000, bx=0) == 0x004F
    env.vbe(0x02, bx=0x0003)  # text mode, new palette
    env.vga.set_dac(3, 9, 9, 9)
    env.lfb[0:2] = b"\x34\x12"
    assert env.vbe(0x04, dl=0x02, cx=0x000F, es=0x3000, bx=0) == 0x004F
    state = env.vga.display()
    assert state.kind is DisplayKind.DIRECT16 and state.width == 640
    assert env.vga.get_dac(3) == (1, 2, 3) and env.mem(Bda.VIDEO_MODE, 1) == b"\xff"
    assert bytes(env.lfb[0:2]) == b"\x34\x12"  # restoring does not clear the screen
    assert env.vbe(0x04, dl=0x07, cx=0x000F) == 0x014F


def test_window_control_in_a_banked_mode(env) -> None:
    env.vbe(0x02, bx=0x0101)  # banked (no bit 14)
    assert env.vbe(0x05, bx=0x0000, dx=7) == 0x004F
    assert env.dispi(Dispi.BANK) == 7 and env.vga.window().offset == 7 * 0x10000
    assert env.vbe(0x05, bx=0x0100) == 0x004F and env.regs.dx == 7
    assert env.vbe(0x05, bx=0x0001, dx=1) == 0x014F  # window B
    assert env.vbe(0x05, bx=0x0000, dx=256) == 0x014F  # beyond 16 MiB
    env.vbe(0x02, bx=0x4101)
    assert env.vbe(0x05, bx=0x0000, dx=1) == 0x034F  # not in a linear framebuffer mode


def test_logical_scan_line_length(env) -> None:
    assert env.vbe(0x06, bl=0x01) == 0x034F  # no VBE mode on
    env.vbe(0x02, bx=0x4111)  # 640x480x16
    assert env.vbe(0x06, bl=0x01) == 0x004F
    assert (env.regs.bx, env.regs.cx, env.regs.dx) == (1280, 640, LFB_SIZE // 1280)
    assert env.vbe(0x06, bl=0x00, cx=1024) == 0x004F
    assert (env.regs.bx, env.regs.cx) == (2048, 1024)
    assert env.vbe(0x06, bl=0x02, cx=3000) == 0x004F  # in bytes: 1500 pixels, made 1496
    assert (env.regs.bx, env.regs.cx) == (2992, 1496)
    assert env.vga.display().pitch == 2992
    assert env.vbe(0x06, bl=0x03) == 0x004F
    widest = env.regs.cx
    assert widest * 2 * 480 <= LFB_SIZE and env.regs.bx == widest * 2
    assert env.vbe(0x06, bl=0x00, cx=widest + 8) == 0x024F
    assert env.vbe(0x06, bl=0x09) == 0x014F


def test_display_start(env) -> None:
    assert env.vbe(0x07, bl=0x01) == 0x034F
    env.vbe(0x02, bx=0x4142)  # 640x480x32: 2560 bytes a line
    assert env.vbe(0x07, bl=0x00, cx=8, dx=480) == 0x004F
    assert env.vga.display().start == 480 * 2560 + 32
    assert env.vbe(0x07, bl=0x01) == 0x004F and (env.regs.cx, env.regs.dx) == (8, 480)
    assert env.vbe(0x07, bl=0x02, ecx=10 * 2560 + 64) == 0x004F
    assert env.vbe(0x07, bl=0x01) == 0x004F and (env.regs.cx, env.regs.dx) == (16, 10)
    assert env.vbe(0x07, bl=0x80, cx=0, dx=7000) == 0x014F  # would run past the memory
    assert env.vbe(0x07, bl=0x04) == 0x004F and env.regs.cx != 0
    assert env.vbe(0x07, bl=0x03) == 0x024F


def test_dac_width(env) -> None:
    assert env.vbe(0x08, bl=0x01) == 0x004F and env.regs.bh == 6
    env.vbe(0x02, bx=0x4101)
    env.lfb[0] = 0xAB
    assert env.vbe(0x08, bl=0x00, bx=0x0800) == 0x004F and env.regs.bh == 8
    assert env.vga.dac_bits == 8 and env.vga.vbe.enabled and env.lfb[0] == 0xAB
    assert env.vbe(0x08, bl=0x00, bx=0x0600) == 0x004F and env.regs.bh == 6
    assert env.vbe(0x08, bl=0x05) == 0x014F


def test_palette_data(env) -> None:
    env.cpu.mem.write(BUF, bytes((0x10, 0x20, 0x30, 0, 0x01, 0x02, 0x03, 0)))
    assert env.vbe(0x09, bl=0x00, cx=2, dx=100) == 0x004F
    assert env.vga.get_dac(100) == (0x30, 0x20, 0x10) and env.vga.get_dac(101) == (3, 2, 1)
    assert env.vbe(0x09, bl=0x01, cx=2, dx=100, es=0x3000) == 0x004F
    assert env.mem(0x30000, 8) == bytes((0x10, 0x20, 0x30, 0, 0x01, 0x02, 0x03, 0))
    assert env.vbe(0x09, bl=0x00, cx=2, dx=255) == 0x014F
    assert env.vbe(0x09, bl=0x02, cx=1, dx=0) == 0x024F


def test_protected_mode_interface_is_refused_and_unknown_functions_are_absent(env) -> None:
    assert env.vbe(0x0A, bl=0x00) == 0x014F
    assert env.vbe(0x15, bl=0x00) == 0x0100  # DDC: AL != 4Fh, not supported
    assert env.vbe(0x0B) == 0x0100


class _SmallMemory(FakeMemory):
    def write(self, addr: int, data: bytes) -> None:
        if addr + len(data) > len(self.data):
            raise IndexError(f"write of {len(data)} bytes at {addr:#x} beyond memory")
        super().write(addr, data)


def test_a_buffer_beyond_memory_fails_the_call(env) -> None:
    env.cpu.mem = _SmallMemory(0x110000)
    env.svc.vbe.mem = env.cpu.mem
    assert env.vbe(0x01, cx=0x101, es=0xFFFF, di=0xFFF0) == 0x014F
