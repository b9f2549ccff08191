"""Where the VBE linear framebuffer sits in guest-physical memory.

Owns: the one address and size every part of the machine uses for the display adapter's
linear framebuffer (the VBE BIOS's PhysBasePtr, the engine mapping, the VGA PCI BAR).
Chosen like QEMU's PCI hole: high in the 32-bit space, far above any RAM a VM gets.
"""

from __future__ import annotations

LFB_BASE = 0xE0000000
LFB_SIZE = 16 << 20
