"""Keyboard BIOS: the int 09h scan-code handler and the int 16h service.

Owns: shift/lock state in the BDA (0040:0017, 0040:0018, 0040:0096), the 16-entry key
buffer (0040:001E, head/tail words at 0040:001A/001C), translation of scan code set 1
into BIOS key codes (vmgui.bios.keytables), Ctrl+Alt+Del, and int 16h functions 00h-02h,
05h, 09h, 0Ah, 10h-12h.  A read with an empty buffer asks the machine to retry after the
next interrupt instead of blocking; a tight poll loop on an empty buffer is reported as
idle so the machine can sleep until the next interrupt.
References: IBM PC/AT Technical Reference (keyboard BIOS), Ralf Brown's interrupt list
(INT 09, INT 16), SeaBIOS kbd.c for behaviour details.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vmgui.bios import keytables as kt
from vmgui.bios.api import BiosCall, Memory
from vmgui.bios.bda import BDA_BASE, Bda

log = logging.getLogger(__name__)

# 0040:0017
F1_RSHIFT, F1_LSHIFT, F1_CTRL, F1_ALT = 0x01, 0x02, 0x04, 0x08
F1_SCROLL, F1_NUM, F1_CAPS, F1_INSERT = 0x10, 0x20, 0x40, 0x80
# 0040:0018
F2_LCTRL, F2_LALT, F2_SYSREQ, F2_PAUSE = 0x01, 0x02, 0x04, 0x08
F2_SCROLL_DOWN, F2_NUM_DOWN, F2_CAPS_DOWN, F2_INSERT_DOWN = 0x10, 0x20, 0x40, 0x80
# 0040:0096
F3_E1, F3_E0, F3_RCTRL, F3_RALT, F3_ENHANCED = 0x01, 0x02, 0x04, 0x08, 0x10

BUFFER_START = Bda.KBD_BUF - BDA_BASE  # 0x1E
BUFFER_END = BUFFER_START + 32  # 0x3E

_LOCKS = {kt.SC_CAPS: (F1_CAPS, F2_CAPS_DOWN), kt.SC_NUM: (F1_NUM, F2_NUM_DOWN),
          kt.SC_SCROLL: (F1_SCROLL, F2_SCROLL_DOWN)}


class KeyboardBios:
    """int 09h trap handler + int 16h.  ``on_reboot`` is called for Ctrl+Alt+Del;
    ``on_idle_poll`` when the guest polls an empty buffer (the machine decides whether
    the poll loop is tight enough to sleep)."""

    def __init__(self, mem: Memory, on_reboot: Callable[[], None],
                 on_idle_poll: Callable[[], None] | None = None) -> None:
        self.mem = mem
        self._on_reboot = on_reboot
        self._on_idle_poll = on_idle_poll or (lambda: None)
        self._int16 = {
            0x00: self._read, 0x10: self._read, 0x01: self._check, 0x11: self._check,
            0x02: self._shift_flags, 0x12: self._ext_shift_flags, 0x03: self._typematic,
            0x05: self._store, 0x09: self._capabilities, 0x0A: self._keyboard_id,
        }
        self._unknown_logged: set[int] = set()

    def post(self) -> None:
        m = self.mem
        m.write_u16(Bda.KBD_BUF_HEAD, BUFFER_START)
        m.write_u16(Bda.KBD_BUF_TAIL, BUFFER_START)
        m.write_u16(Bda.KBD_BUF_START, BUFFER_START)
        m.write_u16(Bda.KBD_BUF_END, BUFFER_END)
        m.write_u8(Bda.KBD_FLAGS1, 0)
        m.write_u8(Bda.KBD_FLAGS2, 0)
        m.write_u8(Bda.KBD_STATUS3, F3_ENHANCED)

    # ------------------------------------------------------------------ buffer
    def _bounds(self) -> tuple[int, int]:
        start = self.mem.read_u16(Bda.KBD_BUF_START) or BUFFER_START
        end = self.mem.read_u16(Bda.KBD_BUF_END) or BUFFER_END
        return start, end

    def enqueue(self, keycode: int) -> bool:
        """Append a key code to the BDA buffer; False (and a beep on real hardware) if full."""
        start, end = self._bounds()
        head = self.mem.read_u16(Bda.KBD_BUF_HEAD)
        tail = self.mem.read_u16(Bda.KBD_BUF_TAIL)
        nxt = tail + 2
        if nxt >= end:
            nxt = start
        if nxt == head:
            log.debug("keyboard buffer full, key %04x dropped", keycode)
            return False
        self.mem.write_u16(BDA_BASE + tail, keycode)
        self.mem.write_u16(Bda.KBD_BUF_TAIL, nxt)
        return True

    def _peek(self) -> int | None:
        head = self.mem.read_u16(Bda.KBD_BUF_HEAD)
        if head == self.mem.read_u16(Bda.KBD_BUF_TAIL):
            return None
        return self.mem.read_u16(BDA_BASE + head)

    def _pop(self) -> None:
        start, end = self._bounds()
        head = self.mem.read_u16(Bda.KBD_BUF_HEAD) + 2
        self.mem.write_u16(Bda.KBD_BUF_HEAD, start if head >= end else head)

    # ------------------------------------------------------------------ int 09h
    def on_scancode(self, call: BiosCall) -> None:
        """Trap in the int 09h stub: AL holds the byte read from port 60h."""
        self.process_scancode(call.regs.al)

    def process_scancode(self, code: int) -> None:
        m = self.mem
        f3 = m.read_u8(Bda.KBD_STATUS3)
        if code in (kt.PREFIX_E0, kt.PREFIX_E1):
            m.write_u8(Bda.KBD_STATUS3, (f3 & ~(F3_E0 | F3_E1)) | (F3_E0 if code == 0xE0
                                                                   else F3_E1))
            return
        extended = bool(f3 & F3_E0)
        if f3 & F3_E1 and code & 0x7F == kt.SC_LCTRL:
            return  # Pause sequence (E1 1D 45 / E1 9D C5): keep E1 for the third byte
        if f3 & (F3_E0 | F3_E1):
            m.write_u8(Bda.KBD_STATUS3, f3 & ~(F3_E0 | F3_E1))
        if f3 & F3_E1:
            return  # Pause sequence: not modelled
        release = bool(code & 0x80)
        scan = code & 0x7F
        if self._modifier(scan, release, extended):
            return
        if release:
            if scan == kt.SC_INSERT:
                m.write_u8(Bda.KBD_FLAGS2, m.read_u8(Bda.KBD_FLAGS2) & ~F2_INSERT_DOWN)
            return
        if extended and scan in (0x2A, 0x36):
            return  # fake shifts around grey keys
        self._key_down(scan, extended)

    def _modifier(self, scan: int, release: bool, extended: bool) -> bool:
        m = self.mem
        f1 = m.read_u8(Bda.KBD_FLAGS1)
        f2 = m.read_u8(Bda.KBD_FLAGS2)
        f3 = m.read_u8(Bda.KBD_STATUS3)
        if scan in (kt.SC_LSHIFT, kt.SC_RSHIFT) and not extended:
            bit = F1_LSHIFT if scan == kt.SC_LSHIFT else F1_RSHIFT
            f1 = (f1 & ~bit) if release else (f1 | bit)
        elif scan in (kt.SC_LCTRL, kt.SC_LALT):
            is_ctrl = scan == kt.SC_LCTRL
            side = (F3_RCTRL if is_ctrl else F3_RALT) if extended else 0
            left = 0 if extended else (F2_LCTRL if is_ctrl else F2_LALT)
            f3 = (f3 & ~side) if release else (f3 | side)
            f2 = (f2 & ~left) if release else (f2 | left)
            both = (F2_LCTRL, F3_RCTRL) if is_ctrl else (F2_LALT, F3_RALT)
            down = (f2 & both[0]) or (f3 & both[1])
            flag = F1_CTRL if is_ctrl else F1_ALT
            f1 = (f1 | flag) if down else (f1 & ~flag)
        elif scan in _LOCKS and not extended:
            toggle, held = _LOCKS[scan]
            if release:
                f2 &= ~held
            elif not f2 & held:
                f2 |= held
                f1 ^= toggle
        else:
            return False
        m.write_u8(Bda.KBD_FLAGS1, f1)
        m.write_u8(Bda.KBD_FLAGS2, f2)
        m.write_u8(Bda.KBD_STATUS3, f3)
        return True

    def _key_down(self, scan: int, extended: bool) -> None:
        f1 = self.mem.read_u8(Bda.KBD_FLAGS1)
        if scan == kt.SC_DELETE and (f1 & F1_CTRL) and (f1 & F1_ALT):
            self.mem.write_u16(Bda.RESET_FLAG_WARM, 0x1234)
            self._on_reboot()
            return
        if scan == kt.SC_INSERT and not (f1 & (F1_CTRL | F1_ALT)):
            f2 = self.mem.read_u8(Bda.KBD_FLAGS2)
            if f2 & F2_INSERT_DOWN:
                return  # typematic repeat of Insert does not toggle again
            self.mem.write_u8(Bda.KBD_FLAGS2, f2 | F2_INSERT_DOWN)
            self.mem.write_u8(Bda.KBD_FLAGS1, f1 ^ F1_INSERT)
        code = self.translate(scan, extended, f1)
        if code:
            self.enqueue(code)

    @staticmethod
    def translate(scan: int, extended: bool, f1: int) -> int:
        """BIOS key code for a make code under shift state ``f1`` (0 = no code)."""
        shift = bool(f1 & (F1_LSHIFT | F1_RSHIFT))
        if scan in kt.KEYPAD:
            digit, ctrl_code, alt_grey = kt.KEYPAD[scan]
            if f1 & F1_ALT:
                return alt_grey if extended else 0
            if f1 & F1_CTRL:
                return (ctrl_code | 0xE0) if extended else ctrl_code
            if extended:
                return scan << 8 | 0xE0
            if bool(f1 & F1_NUM) != shift:
                return scan << 8 | ord(digit)
            return scan << 8
        if extended and scan == 0x1C:  # keypad Enter
            return 0xA600 if f1 & F1_ALT else (0xE00A if f1 & F1_CTRL else 0xE00D)
        if extended and scan == 0x35:  # keypad /
            return 0xA400 if f1 & F1_ALT else (0x9500 if f1 & F1_CTRL else 0xE02F)
        codes = kt.MAIN_KEYS.get(scan)
        if codes is None:
            return 0
        if f1 & F1_ALT:
            return codes.alt
        if f1 & F1_CTRL:
            return codes.ctrl
        letter = 0x61 <= (codes.normal & 0xFF) <= 0x7A
        if letter and f1 & F1_CAPS:
            shift = not shift
        return codes.shift if shift else codes.normal

    # ------------------------------------------------------------------ int 16h
    def handle(self, call: BiosCall) -> None:
        ah = call.regs.ah
        leaf = self._int16.get(ah)
        if leaf is None:
            if ah not in self._unknown_logged:
                self._unknown_logged.add(ah)
                log.info("INT 16h AH=%02Xh: unsupported function", ah)
            return
        leaf(call, ah)

    @staticmethod
    def _for_caller(code: int, extended_api: bool) -> int | None:
        """Adapt a stored key code to the non-extended functions (AH=00h/01h):
        extended-only keys are dropped, E0 ASCII becomes 0."""
        if extended_api:
            return code
        if (code >> 8) > 0x84 or code in (0xE00D, 0xE00A, 0xE02F):
            return {0xE00D: 0x1C0D, 0xE00A: 0x1C0A, 0xE02F: 0x352F}.get(code)
        if code & 0xFF == 0xE0 and code >> 8:
            return code & 0xFF00
        return code

    def _next_for(self, extended_api: bool) -> int | None:
        """Front key adapted for the caller, discarding keys the caller cannot see."""
        while True:
            code = self._peek()
            if code is None:
                return None
            adapted = self._for_caller(code, extended_api)
            if adapted is not None:
                return adapted
            self._pop()

    def _read(self, call: BiosCall, ah: int) -> None:
        code = self._next_for(ah == 0x10)
        if code is None:
            call.retry_after_irq()
            return
        self._pop()
        call.regs.ax = code

    def _check(self, call: BiosCall, ah: int) -> None:
        code = self._next_for(ah == 0x11)
        if code is None:
            call.set_zf(True)
            self._on_idle_poll()
            return
        call.regs.ax = code
        call.set_zf(False)

    def _shift_flags(self, call: BiosCall, ah: int) -> None:
        call.regs.al = self.mem.read_u8(Bda.KBD_FLAGS1)

    def _ext_shift_flags(self, call: BiosCall, ah: int) -> None:
        f1 = self.mem.read_u8(Bda.KBD_FLAGS1)
        f2 = self.mem.read_u8(Bda.KBD_FLAGS2)
        f3 = self.mem.read_u8(Bda.KBD_STATUS3)
        high = (f2 & (F2_LCTRL | F2_LALT)) | (0x04 if f3 & F3_RCTRL else 0)
        high |= (0x08 if f3 & F3_RALT else 0) | (f2 & 0x70) | (0x80 if f2 & F2_SYSREQ else 0)
        call.regs.ax = (high << 8) | f1

    def _typematic(self, call: BiosCall, ah: int) -> None:
        """AH=03h set typematic rate: accepted; the host's key repeat drives repeats."""

    def _store(self, call: BiosCall, ah: int) -> None:
        call.regs.al = 0 if self.enqueue(call.regs.cx) else 1
        call.set_cf(call.regs.al != 0)

    def _capabilities(self, call: BiosCall, ah: int) -> None:
        call.regs.al = 0x20 | 0x40  # AH=10h-12h supported, int 16h AH=0Ah supported

    def _keyboard_id(self, call: BiosCall, ah: int) -> None:
        call.regs.bx = 0x41AB  # MF2 keyboard with translation
