"""The VBE extension of the VGA (Bochs DISPI registers at 1CEh/1CFh): identification,
capabilities, sanity fixups, enabling (clearing or keeping memory), banks, display start,
8-bit DAC, what A0000h maps, its display state, and saved state."""

from __future__ import annotations

import mmap

import pytest

from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.display import DisplayKind, VideoSource
from vmgui.devices.vbe import ID5, Dispi, Enable
from vmgui.devices.vbe_lfb import LFB_SIZE
from vmgui.devices.vga import Vga
from vmgui.devices.video_memory import RamWindow, VideoMemory, video_memory_size


class Card:
    def __init__(self) -> None:
        self.bus = IoBus()
        self.lfb = memoryview(mmap.mmap(-1, LFB_SIZE))
        self.vga = Vga(self.bus, ManualClock(), memoryview(bytearray(0x20000)),
                       lfb=self.lfb)
        self.windows: list = []
        self.vga.attach_window(self.windows.append)

    def write(self, index: int, value: int) -> None:
        self.bus.write(0x1CE, 2, index)
        self.bus.write(0x1CF, 2, value)

    def read(self, index: int) -> int:
        self.bus.write(0x1CE, 2, index)
        return self.bus.read(0x1CF, 2)

    def enable(self, width: int, height: int, bpp: int, flags: int = 0) -> None:
        self.write(Dispi.ENABLE, 0)
        self.write(Dispi.BPP, bpp)
        self.write(Dispi.XRES, width)
        self.write(Dispi.YRES, height)
        self.write(Dispi.ENABLE, Enable.ENABLED | Enable.LFB_ENABLED | flags)


@pytest.fixture
def card() -> Card:
    return Card()


def test_identifies_as_the_bochs_interface_with_16_mib(card) -> None:
    assert card.read(Dispi.ID) == ID5
    card.write(Dispi.ID, 0xB0C2)
    assert card.read(Dispi.ID) == 0xB0C2
    card.write(Dispi.ID, 0x1234)  # not an interface version: ignored
    assert card.read(Dispi.ID) == 0xB0C2
    assert card.read(Dispi.VIDEO_MEMORY_64K) == 256
    assert card.bus.read(0x1CE, 2) == Dispi.VIDEO_MEMORY_64K  # the index reads back


def test_getcaps_reports_the_maximum_mode(card) -> None:
    card.write(Dispi.ENABLE, Enable.GETCAPS)
    assert (card.read(Dispi.XRES), card.read(Dispi.YRES), card.read(Dispi.BPP)) == (
        16000, 12000, 32)
    card.write(Dispi.ENABLE, 0)
    assert card.read(Dispi.XRES) == 0


def test_enabling_clears_the_shown_part_unless_told_not_to(card) -> None:
    card.lfb[0:4] = b"\x01\x02\x03\x04"
    card.lfb[640 * 480 * 4: 640 * 480 * 4 + 2] = b"\x55\x66"
    card.enable(640, 480, 32)
    assert bytes(card.lfb[0:4]) == bytes(4)
    assert bytes(card.lfb[640 * 480 * 4: 640 * 480 * 4 + 2]) == b"\x55\x66"  # not shown
    card.lfb[0:4] = b"\x01\x02\x03\x04"
    card.enable(640, 480, 32, Enable.NO_CLEAR)
    assert bytes(card.lfb[0:4]) == b"\x01\x02\x03\x04"


def test_fixups_round_and_limit_the_mode(card) -> None:
    card.enable(1023, 0, 7)  # width to a multiple of 8, no lines, an unknown depth
    assert (card.read(Dispi.XRES), card.read(Dispi.YRES), card.read(Dispi.BPP)) == (1016, 1, 8)
    card.enable(4096, 4096, 32)  # 64 MiB: only the lines 16 MiB holds
    assert card.read(Dispi.YRES) == LFB_SIZE // (4096 * 4)
    assert card.read(Dispi.VIRT_HEIGHT) == LFB_SIZE // (4096 * 4)


def test_virtual_width_and_display_start_shape_the_display(card) -> None:
    card.enable(640, 480, 16)
    card.write(Dispi.VIRT_WIDTH, 1024)
    card.write(Dispi.X_OFFSET, 8)
    card.write(Dispi.Y_OFFSET, 100)
    state = card.vga.display()
    assert state.kind is DisplayKind.DIRECT16 and (state.width, state.height) == (640, 480)
    assert state.pitch == 2048 and state.start == 100 * 2048 + 8 * 2
    assert state.source is VideoSource.LFB and len(state.vram) == LFB_SIZE
    card.write(Dispi.Y_OFFSET, 9000)  # the frame would run past the end: back to line 0
    assert card.read(Dispi.Y_OFFSET) == 0 and card.vga.display().start == 16


@pytest.mark.parametrize(("bpp", "kind"), [(8, DisplayKind.PACKED8), (15, DisplayKind.DIRECT15),
                                           (16, DisplayKind.DIRECT16), (24, DisplayKind.DIRECT24),
                                           (32, DisplayKind.DIRECT32), (4, DisplayKind.BLANK)])
def test_each_depth_has_its_display_kind(card, bpp, kind) -> None:
    card.enable(800, 600, bpp)
    assert card.vga.display().kind is kind


def test_a0000_shows_the_selected_bank_while_a_mode_is_on(card) -> None:
    assert card.windows[-1].name == "window"
    card.enable(1024, 768, 32)
    assert isinstance(card.windows[-1], RamWindow) and card.windows[-1].name == "lfb"
    assert card.windows[-1].offset == 0
    card.write(Dispi.BANK, 5)
    assert card.windows[-1].offset == 5 * 0x10000 and card.read(Dispi.BANK) == 5
    card.write(Dispi.BANK, 0x1FF)  # beyond 16 MiB: the bank number wraps
    assert card.read(Dispi.BANK) == 0xFF
    card.vga.set_mode(0x03)  # a VGA mode switches the extension off
    assert card.read(Dispi.ENABLE) == 0 and card.windows[-1].name == "window"
    assert card.vga.display().kind is DisplayKind.TEXT


def test_8_bit_dac_keeps_whole_bytes(card) -> None:
    card.write(Dispi.ENABLE, Enable.DAC_8BIT)
    assert card.vga.dac_bits == 8
    card.bus.write(0x3C8, 1, 1)
    for value in (0xC8, 0x80, 0x41):
        card.bus.write(0x3C9, 1, value)
    assert card.vga.display().palette[3:6] == b"\xc8\x80\x41"
    card.write(Dispi.ENABLE, 0)
    assert card.vga.dac_bits == 6
    card.bus.write(0x3C8, 1, 2)
    for value in (0xFF, 0x3F, 0x01):
        card.bus.write(0x3C9, 1, value)
    assert card.vga.get_dac(2) == (0x3F, 0x3F, 0x01)


def test_state_round_trip_restores_mode_and_mapping(card) -> None:
    card.enable(800, 600, 24)
    card.write(Dispi.BANK, 3)
    card.vga.vbe.mode = 0x4115
    state = card.vga.save_state()
    other = Card()
    other.vga.load_state(state)
    assert other.vga.display().kind is DisplayKind.DIRECT24
    assert other.windows[-1].offset == 3 * 0x10000 and other.vga.vbe.mode == 0x4115
    old = dict(state)
    del old["vbe"]  # a state saved before the extension existed: VBE off
    other.vga.load_state(old)
    assert not other.vga.vbe.enabled


def test_video_memory_block_layout() -> None:
    assert video_memory_size(False) == 0x60000
    assert video_memory_size(True) == 0x60000 + LFB_SIZE
    block = bytearray(video_memory_size(True))
    video = VideoMemory(True, block)
    video.lfb[0] = 7
    video.planes[0] = 8
    assert block[0x60000] == 7 and block[0x20000] == 8
    assert VideoMemory(False).lfb is None
    with pytest.raises(ValueError, match="video memory must be a writable buffer"):
        VideoMemory(False, bytearray(100))
