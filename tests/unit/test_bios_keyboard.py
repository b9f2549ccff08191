"""Unit tests for vmgui.bios.keyboard (int 09h translation, int 16h) with FakeCpu.

Expected key codes are those of the IBM PC/AT BIOS as tabulated in Ralf Brown's interrupt
list (INT 16h "keyboard scan codes"); BDA flag bits per MEMORY.LST 0040:0017/0018/0096.
"""

from __future__ import annotations

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.bda import Bda
from vmgui.bios.keyboard import KeyboardBios


class Rig:
    def __init__(self) -> None:
        self.cpu = FakeCpu()
        self.reboots = 0
        self.idle_polls = 0
        self.kb = KeyboardBios(self.cpu.mem, self._reboot, self._idle)
        self.kb.post()

    def _reboot(self) -> None:
        self.reboots += 1

    def _idle(self) -> None:
        self.idle_polls += 1

    def feed(self, *codes: int) -> None:
        for code in codes:
            self.kb.process_scancode(code)

    def tap(self, scan: int, extended: bool = False) -> None:
        if extended:
            self.feed(0xE0, scan, 0xE0, scan | 0x80)
        else:
            self.feed(scan, scan | 0x80)

    def int16(self, ax: int, **regs: int):
        call = self.cpu.call(0x16, ax=ax, **regs)
        self.kb.handle(call)
        return call

    def read(self, ah: int = 0x10) -> int | None:
        call = self.int16(ah << 8)
        return None if call.retry else self.cpu.regs.ax

    def drain(self, ah: int = 0x10) -> list[int]:
        out = []
        while (code := self.read(ah)) is not None:
            out.append(code)
        return out

    def u8(self, addr: int) -> int:
        return self.cpu.mem.read_u8(addr)

    def u16(self, addr: int) -> int:
        return self.cpu.mem.read_u16(addr)


@pytest.fixture
def rig() -> Rig:
    return Rig()


LSHIFT, RSHIFT, CTRL, ALT, CAPS, NUM, SCROLL = 0x2A, 0x36, 0x1D, 0x38, 0x3A, 0x45, 0x46


# --------------------------------------------------------------------------- POST / BDA


def test_post_sets_buffer_pointers_and_flags(rig):
    assert rig.u16(Bda.KBD_BUF_HEAD) == 0x001E
    assert rig.u16(Bda.KBD_BUF_TAIL) == 0x001E
    assert rig.u16(Bda.KBD_BUF_START) == 0x001E
    assert rig.u16(Bda.KBD_BUF_END) == 0x003E
    assert rig.u8(Bda.KBD_FLAGS1) == 0
    assert rig.u8(Bda.KBD_FLAGS2) == 0
    assert rig.u8(Bda.KBD_STATUS3) & 0x10  # 101/102-key keyboard present


def test_key_press_stores_code_at_tail_and_advances_tail(rig):
    rig.tap(0x1E)
    assert rig.u16(Bda.KBD_BUF_HEAD) == 0x1E
    assert rig.u16(Bda.KBD_BUF_TAIL) == 0x20
    assert rig.u16(0x41E) == 0x1E61
    rig.read()
    assert rig.u16(Bda.KBD_BUF_HEAD) == 0x20


# --------------------------------------------------------------------------- translation


def test_typing_a(rig):
    rig.feed(0x1E, 0x9E)
    assert rig.drain() == [0x1E61]


def test_shift_a_uppercase(rig):
    rig.feed(LSHIFT, 0x1E, 0x9E, LSHIFT | 0x80)
    rig.feed(RSHIFT, 0x1E, 0x9E, RSHIFT | 0x80)
    rig.tap(0x1E)
    assert rig.drain() == [0x1E41, 0x1E41, 0x1E61]


def test_release_does_not_enqueue(rig):
    rig.feed(0x9E, 0xB0, 0xE0, 0xC8)
    assert rig.drain() == []
    assert rig.u16(Bda.KBD_BUF_TAIL) == rig.u16(Bda.KBD_BUF_HEAD)


def test_caps_lock_toggles_letters_only(rig):
    rig.tap(CAPS)
    assert rig.u8(Bda.KBD_FLAGS1) & 0x40
    rig.tap(0x1E)  # a -> A
    rig.tap(0x02)  # 1 stays 1
    rig.feed(LSHIFT, 0x1E, 0x02, LSHIFT | 0x80)  # shift+a with caps -> a, shift+1 -> !
    rig.tap(CAPS)
    assert not rig.u8(Bda.KBD_FLAGS1) & 0x40
    rig.tap(0x1E)
    assert rig.drain() == [0x1E41, 0x0231, 0x1E61, 0x0221, 0x1E61]


def test_caps_lock_held_down_toggles_once(rig):
    rig.feed(CAPS, CAPS, CAPS)  # typematic repeat
    assert rig.u8(Bda.KBD_FLAGS1) & 0x40
    assert rig.u8(Bda.KBD_FLAGS2) & 0x40  # caps key down
    rig.feed(CAPS | 0x80)
    assert rig.u8(Bda.KBD_FLAGS1) & 0x40
    assert not rig.u8(Bda.KBD_FLAGS2) & 0x40
    assert rig.drain() == []


def test_ctrl_c(rig):
    rig.feed(CTRL, 0x2E, 0xAE, CTRL | 0x80)
    assert rig.drain() == [0x2E03]


def test_ctrl_on_digit_without_control_code_is_dropped_ctrl_2_is_nul(rig):
    rig.feed(CTRL, 0x02, 0x82, 0x03, 0x83, CTRL | 0x80)
    assert rig.drain() == [0x0300]


def test_alt_x(rig):
    rig.feed(ALT, 0x2D, 0xAD, ALT | 0x80)
    assert rig.drain() == [0x2D00]


def test_alt_digit(rig):
    rig.feed(ALT, 0x02, 0x82, ALT | 0x80)
    assert rig.drain() == [0x7800]


def test_function_keys(rig):
    rig.tap(0x3B)  # F1
    rig.tap(0x44)  # F10
    rig.feed(LSHIFT, 0x3B, 0xBB, LSHIFT | 0x80)  # shift+F1
    rig.feed(CTRL, 0x3B, 0xBB, CTRL | 0x80)  # ctrl+F1
    rig.feed(ALT, 0x3B, 0xBB, ALT | 0x80)  # alt+F1
    assert rig.drain() == [0x3B00, 0x4400, 0x5400, 0x5E00, 0x6800]


def test_f11_only_for_extended_read(rig):
    rig.tap(0x57)
    rig.tap(0x58)  # F12
    assert rig.drain(0x10) == [0x8500, 0x8600]
    rig.tap(0x57)
    rig.tap(0x1E)
    assert rig.read(0x00) == 0x1E61  # F11 discarded
    assert rig.read(0x00) is None


def test_f11_only_in_buffer_is_discarded_by_ah00(rig):
    rig.tap(0x57)
    call = rig.int16(0x0000)
    assert call.retry
    assert rig.u16(Bda.KBD_BUF_HEAD) == rig.u16(Bda.KBD_BUF_TAIL)


def test_grey_arrow_extended_and_standard(rig):
    rig.tap(0x48, extended=True)
    assert rig.read(0x10) == 0x48E0
    rig.tap(0x48, extended=True)
    assert rig.read(0x00) == 0x4800


def test_grey_arrow_with_fake_shifts(rig):
    # NumLock on: the keyboard wraps grey keys in E0 AA / E0 2A fake shifts
    rig.tap(NUM)
    rig.feed(0xE0, 0x2A, 0xE0, 0x48, 0xE0, 0xC8, 0xE0, 0xAA)
    assert rig.drain() == [0x48E0]
    assert rig.u8(Bda.KBD_FLAGS1) & 0x03 == 0  # no shift state left behind


def test_keypad_with_and_without_numlock(rig):
    rig.tap(0x48)  # keypad 8 = up without NumLock
    rig.tap(NUM)
    assert rig.u8(Bda.KBD_FLAGS1) & 0x20
    rig.tap(0x48)  # keypad 8
    rig.tap(0x53)  # keypad .
    rig.feed(LSHIFT, 0x48, 0xC8, LSHIFT | 0x80)  # shift inverts NumLock
    assert rig.drain() == [0x4800, 0x4838, 0x532E, 0x4800]


def test_ctrl_grey_and_keypad_arrows(rig):
    rig.feed(CTRL, 0x48, 0xC8, 0xE0, 0x48, 0xE0, 0xC8, CTRL | 0x80)
    assert rig.drain(0x10) == [0x8D00, 0x8DE0]


def test_enter_and_keypad_enter(rig):
    rig.tap(0x1C)
    rig.tap(0x1C, extended=True)
    assert rig.drain(0x10) == [0x1C0D, 0xE00D]
    rig.tap(0x1C, extended=True)
    assert rig.read(0x00) == 0x1C0D


def test_keypad_slash(rig):
    rig.tap(0x35, extended=True)
    assert rig.read(0x10) == 0xE02F
    rig.tap(0x35, extended=True)
    assert rig.read(0x00) == 0x352F


def test_misc_main_keys(rig):
    rig.tap(0x01)  # Esc
    rig.tap(0x0E)  # Backspace
    rig.tap(0x0F)  # Tab
    rig.tap(0x39)  # Space
    rig.feed(LSHIFT, 0x0F, 0x8F, LSHIFT | 0x80)  # shift+Tab
    assert rig.drain() == [0x011B, 0x0E08, 0x0F09, 0x3920, 0x0F00]


# --------------------------------------------------------------------------- int 16h


def test_ah01_empty_sets_zf_and_reports_idle(rig):
    call = rig.int16(0x0100)
    assert rig.cpu.zf and not call.retry
    assert rig.idle_polls == 1
    rig.int16(0x1100)
    assert rig.idle_polls == 2


def test_ah01_peeks_without_removing(rig):
    rig.tap(0x1E)
    rig.int16(0x0100)
    assert not rig.cpu.zf
    assert rig.cpu.regs.ax == 0x1E61
    rig.int16(0x0100)
    assert rig.cpu.regs.ax == 0x1E61 and not rig.cpu.zf
    assert rig.idle_polls == 0
    assert rig.drain() == [0x1E61]


def test_ah01_adapts_extended_keys(rig):
    rig.tap(0x48, extended=True)
    rig.int16(0x0100)
    assert rig.cpu.regs.ax == 0x4800 and not rig.cpu.zf
    rig.int16(0x1100)
    assert rig.cpu.regs.ax == 0x48E0 and not rig.cpu.zf


def test_ah01_skips_f11(rig):
    rig.tap(0x57)
    rig.int16(0x0100)
    assert rig.cpu.zf  # F11 is invisible to the non-extended functions


def test_ah00_empty_requests_retry(rig):
    rig.cpu.regs.ax = 0x0000
    call = rig.int16(0x0000)
    assert call.retry
    call = rig.int16(0x1000)
    assert call.retry


def test_ah02_shift_flags(rig):
    rig.feed(LSHIFT)
    rig.int16(0x0200)
    assert rig.cpu.regs.al == 0x02
    rig.feed(RSHIFT, CTRL, ALT)
    rig.int16(0x0200)
    assert rig.cpu.regs.al == 0x0F
    rig.feed(LSHIFT | 0x80, RSHIFT | 0x80, CTRL | 0x80, ALT | 0x80)
    rig.tap(SCROLL)
    rig.tap(NUM)
    rig.tap(CAPS)
    rig.tap(0x52, extended=True)  # grey Insert
    rig.int16(0x0200)
    assert rig.cpu.regs.al == 0xF0
    assert rig.u8(0x417) == 0xF0


def test_ah12_left_vs_right_ctrl(rig):
    rig.feed(CTRL)
    rig.int16(0x1200)
    assert rig.cpu.regs.al == 0x04  # ctrl (either)
    assert rig.cpu.regs.ah == 0x01  # left ctrl
    rig.feed(CTRL | 0x80, 0xE0, CTRL)
    rig.int16(0x1200)
    assert rig.cpu.regs.al == 0x04
    assert rig.cpu.regs.ah == 0x04  # right ctrl
    assert rig.u8(Bda.KBD_FLAGS2) & 0x01 == 0
    rig.feed(CTRL)  # both down
    rig.feed(0xE0, CTRL | 0x80)  # right released: ctrl still held by the left one
    rig.int16(0x1200)
    assert rig.cpu.regs.ax == 0x0104
    rig.feed(CTRL | 0x80)
    rig.int16(0x1200)
    assert rig.cpu.regs.ax == 0x0000


def test_ah12_alt_and_locks_down(rig):
    rig.feed(ALT, 0xE0, ALT)
    rig.int16(0x1200)
    assert rig.cpu.regs.ah == 0x0A  # left alt + right alt
    assert rig.cpu.regs.al == 0x08
    rig.feed(ALT | 0x80, 0xE0, ALT | 0x80, CAPS, NUM, SCROLL)
    rig.int16(0x1200)
    assert rig.cpu.regs.ah == 0x70  # caps, num, scroll keys held
    assert rig.cpu.regs.al == 0x70  # and their locks toggled on


# --------------------------------------------------------------------------- buffer


def test_full_buffer_holds_15_keys_and_drops_the_rest(rig):
    for i in range(20):
        rig.tap(0x10 + (i % 10))  # q w e r t y u i o p ...
    assert rig.u16(Bda.KBD_BUF_TAIL) == 0x1E + 15 * 2
    got = rig.drain()
    assert len(got) == 15
    assert got[:3] == [0x1071, 0x1177, 0x1265]


def test_buffer_wraps_around(rig):
    for _ in range(3):
        for i in range(10):
            rig.tap(0x1E + (i % 9))
        got = rig.drain()
        assert got == [0x1E61, 0x1F73, 0x2064, 0x2166, 0x2267, 0x2368, 0x246A, 0x256B,
                       0x266C, 0x1E61]
    # 30 keys went through a 16-slot ring: head == tail, both inside the buffer
    head = rig.u16(Bda.KBD_BUF_HEAD)
    assert head == rig.u16(Bda.KBD_BUF_TAIL) == 0x1E + (30 % 16) * 2


def test_ring_full_after_wrap(rig):
    for _ in range(10):
        rig.tap(0x1E)
    rig.drain()
    for _ in range(20):
        rig.tap(0x30)  # b
    assert len(rig.drain()) == 15


def test_ah05_stores_key(rig):
    rig.int16(0x0500, cx=0x3B00)
    assert rig.cpu.regs.al == 0
    rig.int16(0x0500, cx=0x1C0D)
    assert rig.drain() == [0x3B00, 0x1C0D]


def test_ah05_full_buffer(rig):
    for i in range(15):
        rig.int16(0x0500, cx=0x0231 + i)
        assert rig.cpu.regs.al == 0
    rig.int16(0x0500, cx=0x1E61)
    assert rig.cpu.regs.al == 1
    got = rig.drain()
    assert len(got) == 15 and got[0] == 0x0231 and got[-1] == 0x0231 + 14


def test_ah09_and_ah0a(rig):
    rig.int16(0x0900)
    assert rig.cpu.regs.al & 0x20  # AH=10h-12h supported
    rig.int16(0x0A00)
    assert rig.cpu.regs.bx == 0x41AB  # MF2 keyboard, translated


# --------------------------------------------------------------------------- specials


def test_ctrl_alt_del_reboots(rig):
    rig.feed(CTRL, ALT, 0xE0, 0x53)
    assert rig.reboots == 1
    assert rig.u16(Bda.RESET_FLAG_WARM) == 0x1234
    assert rig.drain() == []


def test_ctrl_alt_keypad_del_reboots(rig):
    rig.feed(CTRL, ALT, 0x53)
    assert rig.reboots == 1


def test_ctrl_del_alone_does_not_reboot(rig):
    rig.feed(CTRL, 0x53, 0xD3, CTRL | 0x80, ALT, 0x53, 0xD3, ALT | 0x80)
    assert rig.reboots == 0
    assert rig.u16(Bda.RESET_FLAG_WARM) == 0


def test_pause_sequence_is_ignored(rig):
    rig.feed(0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5)
    assert rig.drain() == []
    assert rig.u8(Bda.KBD_FLAGS1) == 0  # NumLock not toggled, Ctrl not held
    assert rig.u8(Bda.KBD_FLAGS2) == 0
    assert rig.u8(Bda.KBD_STATUS3) & 0x03 == 0  # no prefix left pending
    rig.tap(0x1E)
    assert rig.drain() == [0x1E61]


def test_e0_prefix_applies_to_one_code_only(rig):
    rig.feed(0xE0, 0x48)
    rig.feed(0x48)  # keypad 8 without prefix
    assert rig.drain() == [0x48E0, 0x4800]


def test_scancode_trap_reads_al(rig):
    call = rig.cpu.call(0x09, ax=0x1E)
    rig.kb.on_scancode(call)
    assert rig.drain() == [0x1E61]


def test_unknown_int16_function_changes_nothing(rig):
    rig.tap(0x1E)
    rig.int16(0x7F00)
    assert rig.cpu.regs.ax == 0x7F00
    assert rig.drain() == [0x1E61]


def test_insert_toggles_on_each_press(rig):
    rig.tap(0x52, extended=True)  # grey Insert
    assert rig.u8(Bda.KBD_FLAGS1) & 0x80
    assert not rig.u8(Bda.KBD_FLAGS2) & 0x80  # key released
    rig.tap(0x52, extended=True)
    assert not rig.u8(Bda.KBD_FLAGS1) & 0x80
    rig.feed(0x52, 0x52)  # keypad Ins (NumLock off), then a typematic repeat
    assert rig.u8(Bda.KBD_FLAGS1) & 0x80  # toggled once only
    rig.feed(0xD2)
    assert not rig.u8(Bda.KBD_FLAGS2) & 0x80
    assert rig.drain() == [0x52E0, 0x52E0, 0x5200]
