"""The display adapter's memory: the buffers video data lives in, and what A0000h shows.

Owns: the layout of one video-memory block -- the 128 KiB A0000h-BFFFFh window (text,
CGA and mode 13h memory, plain RAM), the four 64 KiB VGA planes (stored interleaved as
on QEMU's VGA: byte ``4 * offset + plane``; reached only through planar write logic) and,
on machines with VBE, the 16 MiB linear framebuffer -- so that a VM process and the GUI
process can share the whole of it as one shared-memory block sized by the machine
profile (a PC/AT never pays for a framebuffer it cannot use); and the two kinds of
mapping that can answer at A0000h-AFFFFh (:class:`RamWindow`, :class:`IoWindow`),
which the VGA model picks from its registers and the machine applies to guest memory.

Thread rule: buffers are written by the emulation thread and read by any thread that
draws the screen.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass

from vmgui.devices.vbe_lfb import LFB_SIZE

WINDOW_SIZE = 0x20000  # A0000h-BFFFFh
WINDOW_A_SIZE = 0x10000  # A0000h-AFFFFh: the part planar and banked modes remap
PLANE_SIZE = 0x10000
PLANES_SIZE = 4 * PLANE_SIZE


def video_memory_size(vbe: bool) -> int:
    """Bytes of one video-memory block (see the module notes)."""
    return WINDOW_SIZE + PLANES_SIZE + (LFB_SIZE if vbe else 0)


class VideoMemory:
    """The adapter's buffers, carved out of ``block`` (a writable buffer of
    :func:`video_memory_size` bytes, e.g. shared memory) or allocated here.  Without a
    block the framebuffer is an anonymous mapping: its pages cost nothing until written."""

    def __init__(self, vbe: bool, block=None) -> None:
        size = video_memory_size(vbe)
        if block is None:
            self.block = None
            self.window = memoryview(bytearray(WINDOW_SIZE))
            self.planes = memoryview(bytearray(PLANES_SIZE))
            self.lfb = memoryview(mmap.mmap(-1, LFB_SIZE)) if vbe else None
            return
        view = memoryview(block).cast("B")
        if len(view) != size or view.readonly:
            raise ValueError(f"video memory must be a writable buffer of {size} bytes, "
                             f"not {len(view)}")
        self.block = view
        self.window = view[:WINDOW_SIZE]
        self.planes = view[WINDOW_SIZE: WINDOW_SIZE + PLANES_SIZE]
        self.lfb = view[WINDOW_SIZE + PLANES_SIZE:] if vbe else None


def split_views(block, vbe: bool) -> tuple[memoryview, memoryview, memoryview | None]:
    """Read-only (window, planes, framebuffer) views of a block laid out as above."""
    view = memoryview(block).cast("B").toreadonly()
    window = view[:WINDOW_SIZE]
    planes = view[WINDOW_SIZE: WINDOW_SIZE + PLANES_SIZE]
    return window, planes, (view[WINDOW_SIZE + PLANES_SIZE:] if vbe else None)


@dataclass(frozen=True, eq=False)
class RamWindow:
    """A0000h-AFFFFh is plain memory: ``buffer[offset: offset + 64 KiB]``."""

    buffer: memoryview
    offset: int
    name: str  # "window" or "lfb": with ``offset``, what tells two mappings apart

    @property
    def key(self) -> tuple:
        return ("ram", self.name, self.offset)


@dataclass(frozen=True, eq=False)
class IoWindow:
    """A0000h-AFFFFh goes through device logic byte by byte (planar modes):
    ``read(offset) -> byte`` and ``write(offset, byte)``, offsets from A0000h."""

    read: Callable[[int], int]
    write: Callable[[int, int], None]

    @property
    def key(self) -> tuple:
        return ("io",)


Window = RamWindow | IoWindow
