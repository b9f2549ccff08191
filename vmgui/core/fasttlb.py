"""Fast guest stores while paging is off: the engine's virtual TLB, filled by vmgui's
native hook (``vmgui_tlb_fill`` in _stophook.c).

Why: unicorn 2.1.4 keeps every guest store that goes through an executable TLB entry on
its slow path (``notdirty_write``: a memory-map lookup and a self-modifying-code check
per store, ~45 ns), because its dirty tracking of code pages is a stub and it only lets
a page go fast once its entry is not executable.  The x86 CPU's own TLB fill makes every
entry executable when paging is off, so every store of every real-mode or unpaged
protected-mode guest took that path: GRUB's LZMA decompressor (380 KB) spent 0.6 s in
it; with data-only entries it takes 0.14 s (bench_pm_guests_vs_qemu, "grub").

How: with the TLB type UC_TLB_VIRTUAL, the hook answers every fill while CR0.PG is
clear with linear = physical (what the CPU's walk gives then: segmentation is applied
before the TLB, and vmgui gates A20 by remapping memory, not through the CPU).  A data
access to a page that never held code gets a read/write entry; an instruction fetch
marks its page as code in a bitmap (one bit per 4 KiB page of the 4 GiB space) and
flushes the whole TLB the first time, so that no data-only entry of a page with
translated code survives in any of the CPU's TLBs; from then on every entry of that
page is executable and its stores keep their self-modifying-code checks.  A page once
marked stays marked until the next flush of all translated code (:meth:`FastTlb.reset`).

Paging: when a fill finds CR0.PG set, the hook switches the engine back to the CPU's TLB
(its page walk, accessed/dirty bits and page faults) and fails the fill, which stops the
engine with UC_ERR_EXCEPTION at the access with the instruction not done (as a page fault
leaves it); :meth:`FastTlb.handed_over` tells the engine to run on from there.  A CPU
reset or a restored state goes back to the virtual TLB (:meth:`FastTlb.reset`).

Thread rule: emulation thread only, between engine runs (the hook itself runs inside
them).
"""

from __future__ import annotations

import ctypes
import logging

from unicorn import unicorn_const as ucc
from unicorn import x86_const as x86

log = logging.getLogger(__name__)

CODE_BITMAP_BYTES = (1 << 20) // 8  # one bit per 4 KiB page of the 4 GiB linear space
_CTL_TLB_TYPE = (ucc.UC_CTL_IO_WRITE << 30) | (1 << 26) | ucc.UC_CTL_TLB_TYPE
_CTL_TLB_FLUSH = (ucc.UC_CTL_IO_WRITE << 30) | ucc.UC_CTL_TLB_FLUSH


class TlbControl(ctypes.Structure):
    """Mirror of ``vmgui_tlb_ctl`` in _stophook.c."""

    _fields_ = [
        ("reg_read", ctypes.c_void_p),
        ("ctl", ctypes.c_void_p),
        ("code_pages", ctypes.c_void_p),
        ("fills", ctypes.c_uint64),
        ("code_marks", ctypes.c_uint64),
        ("cr0_reg", ctypes.c_int32),
        ("handovers", ctypes.c_int32),
        ("ctl_tlb_type", ctypes.c_uint32),
        ("ctl_tlb_flush", ctypes.c_uint32),
        ("tlb_cpu", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
    ]


def _native_fill() -> int | None:
    """The fill hook's address, or None when the built extension has none (an older
    build) or its struct differs from :class:`TlbControl`."""
    try:
        from vmgui.core import _stophook
    except ImportError:
        return None
    if not hasattr(_stophook, "tlb_fill_address"):
        return None
    if _stophook.tlb_ctl_size() != ctypes.sizeof(TlbControl):
        log.warning("native TLB hook has a different struct layout; not using it")
        return None
    return _stophook.tlb_fill_address()


class FastTlb:
    """The virtual TLB of one engine (see the module docstring)."""

    def __init__(self, lib: ctypes.CDLL, uc: ctypes.c_void_p, fill_address: int) -> None:
        self._lib = lib
        self._uc = uc
        self._bitmap = (ctypes.c_uint8 * CODE_BITMAP_BYTES)()
        ctl = self.ctl = TlbControl()
        ctl.reg_read = ctypes.cast(lib.uc_reg_read, ctypes.c_void_p).value
        ctl.ctl = ctypes.cast(lib.uc_ctl, ctypes.c_void_p).value
        ctl.code_pages = ctypes.addressof(self._bitmap)
        ctl.cr0_reg = x86.UC_X86_REG_CR0
        ctl.ctl_tlb_type = _CTL_TLB_TYPE
        ctl.ctl_tlb_flush = _CTL_TLB_FLUSH
        ctl.tlb_cpu = ucc.UC_TLB_CPU
        handle = ctypes.c_size_t()
        err = lib.uc_hook_add(uc, ctypes.byref(handle), ucc.UC_HOOK_TLB_FILL,
                              ctypes.c_void_p(fill_address), ctypes.byref(ctl),
                              ctypes.c_uint64(1), ctypes.c_uint64(0))
        if err:
            raise OSError(f"uc_hook_add(TLB fill) failed: error {err}")
        self._seen = self._reset_at = 0
        self._set_virtual()

    @classmethod
    def install(cls, lib: ctypes.CDLL, uc: ctypes.c_void_p) -> FastTlb | None:
        """A FastTlb on engine ``uc``, or None (logged) when the native hook is missing."""
        address = _native_fill()
        if address is None:
            log.info("native TLB hook unavailable: guest stores take the engine's slow path")
            return None
        return cls(lib, uc, address)

    def _set_virtual(self) -> None:
        err = self._lib.uc_ctl(self._uc, _CTL_TLB_TYPE, ctypes.c_int(ucc.UC_TLB_VIRTUAL))
        if err:
            raise OSError(f"uc_ctl(TLB type virtual) failed: error {err}")

    def handed_over(self) -> bool:
        """After an engine run that ended in UC_ERR_EXCEPTION: was that the hook giving
        way to the CPU's TLB (paging on)?  Then the caller runs the engine again, from
        the instruction that made the access."""
        count = self.ctl.handovers
        if count == self._seen:
            return False
        self._seen = count
        log.debug("paging on: the CPU's TLB takes over")
        return True

    def reset(self) -> None:
        """Back to the virtual TLB, no page marked as code.  Only together with dropping
        every translation (the caller flushes translated code and the TLB next)."""
        ctypes.memset(self._bitmap, 0, CODE_BITMAP_BYTES)
        self._set_virtual()
        self._seen = self._reset_at = self.ctl.handovers

    @property
    def virtual(self) -> bool:
        """True while the hook fills the TLB (no paging since the last reset)."""
        return self.ctl.handovers == self._reset_at

    def is_code_page(self, linear: int) -> bool:
        """Was an instruction fetched from the 4 KiB page of ``linear`` since the last
        reset?"""
        page = (linear & 0xFFFFFFFF) >> 12
        return bool(self._bitmap[page >> 3] >> (page & 7) & 1)

    def may_hold_code(self, begin: int, end: int) -> bool:
        """Can translated code cover physical [begin, end)?  Only if one of its pages
        was marked (every translation fetches through a fill that marks its page), or
        the CPU's TLB filled since the last reset (then nothing was marked).  The page
        1 MiB lower is asked too: with A20 closed, 100000h-10FFFFh is low memory again."""
        if not self.virtual:
            return True
        for page in range(begin >> 12, ((end - 1) >> 12) + 1):
            if self.is_code_page(page << 12) or (
                    0x100 <= page < 0x110 and self.is_code_page((page - 0x100) << 12)):
                return True
        return False

    def stats(self) -> tuple[int, int]:
        """(fills answered, pages marked as code) since the engine was created."""
        return self.ctl.fills, self.ctl.code_marks
