"""Where the display adapter's linear framebuffer sits in the guest's physical space.

Owns: the one address and size that the PCI model (the VGA function's BAR0, assigned by
POST) and the VBE BIOS (the PhysBasePtr it reports for every linear mode) must agree on.
0xE0000000 is where Bochs/QEMU firmware traditionally puts the "std VGA" framebuffer: far
above RAM (at most 2 GB here), below the BIOS at the top of the 4 GB space.
"""

from __future__ import annotations

LFB_BASE = 0xE0000000
LFB_SIZE = 16 << 20  # 16 MiB: enough for 1600x1200x32 twice over, and a power of two (a BAR)
