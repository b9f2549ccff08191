"""Open bus: physical addresses where no RAM, ROM or device answers.

Owns: what a guest's load or store at such an address does.  On a PC nothing drives the
data lines there, so a read returns all ones and a write goes nowhere; QEMU models the
same with its unassigned-memory region.  The engine instead stops with "read from
unmapped memory", and guests do read there: Linux 6.1 (i386) reads its stack-protector
canary through FS while paging is still off, early in the microcode loader, i.e. at the
canary's virtual address (C3E6A6E0h) taken as physical -- far above RAM.

On the first such access to a page, that page gets an I/O mapping that answers reads
with FFh bytes and ignores writes (about 1 us an access: strays are rare), and the
access is retried.  Fetching code from nowhere still stops the machine, as does a guest
that strays over more than :data:`MAX_PAGES` pages (garbage, not a probe).  The mappings
stay until the machine is closed: the bus looks the same after a reset.

The engine hook watches only the physical ranges where nothing is mapped (above RAM,
around the framebuffer and the high BIOS): unicorn 2.1.4 keeps every store to a page any
memory hook covers on its slow path (~35 ns instead of ~2), so a hook over all of memory
undid vmgui.core.fasttlb's fast stores for every guest.
"""

from __future__ import annotations

import logging
from typing import Protocol

from unicorn import unicorn_const as ucc

log = logging.getLogger(__name__)

PAGE = 0x1000
MAX_PAGES = 256  # 1 MiB of open bus: beyond that the guest is running wild
ALL_ONES = 0xFFFFFFFFFFFFFFFF
_HANDLED = (ucc.UC_MEM_READ_UNMAPPED, ucc.UC_MEM_WRITE_UNMAPPED)


class OpenBusEngine(Protocol):
    """What :class:`OpenBus` needs of vmgui.core.engine.Engine."""

    def hook_mem_invalid(self, fn, begin: int = 1, end: int = 0) -> object: ...
    def map_mmio(self, address: int, size: int, read, write) -> None: ...


def _read_ones(offset: int, size: int) -> int:
    return ALL_ONES >> (64 - 8 * size)


def _ignore(offset: int, size: int, value: int) -> None:
    """A store to the open bus goes nowhere."""


class OpenBus:
    """Makes ``engine``'s unmapped physical pages read FFh and ignore writes.

    ``ranges``: the (first, last) physical addresses where nothing is mapped, the only
    places watched (None: everywhere, which slows every store; see the module doc)."""

    def __init__(self, engine: OpenBusEngine,
                 ranges: list[tuple[int, int]] | None = None) -> None:
        self.engine = engine
        self.pages: list[int] = []  # page addresses mapped as open bus, in order
        self.handles = ([engine.hook_mem_invalid(self._on_invalid)] if ranges is None else
                        [engine.hook_mem_invalid(self._on_invalid, first, last)
                         for first, last in ranges])

    def _on_invalid(self, access: int, address: int, size: int, value: int) -> bool:
        """Engine hook: True when the access may be retried (its page now answers)."""
        if access not in _HANDLED:
            return False
        if len(self.pages) >= MAX_PAGES:
            if len(self.pages) == MAX_PAGES:
                log.warning("open bus: the guest touched %d unmapped pages; the next one "
                            "(%#x) stops it", MAX_PAGES, address)
                self.pages.append(-1)  # said once
            return False
        page = address & ~(PAGE - 1)
        try:
            self.engine.map_mmio(page, PAGE, _read_ones, _ignore)
        except Exception:  # noqa: BLE001 - nothing may escape into the engine
            log.exception("open bus: cannot map the page at %#x", page)
            return False
        self.pages.append(page)
        log.info("open bus: the guest %s %#x, where nothing answers (reads give FFh)",
                 "read" if access == ucc.UC_MEM_READ_UNMAPPED else "wrote", address)
        return True
