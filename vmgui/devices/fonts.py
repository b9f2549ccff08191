"""The ROM character generator fonts (code page 437) shared by the BIOS and the renderer.

Owns: locating and loading the raw glyph tables in ``resources/fonts`` (built by
``tools/build_fonts.py``; origin and licences in ``resources/fonts/README.md``).  A table
is 256 glyphs x ``height`` bytes, bit 7 = leftmost pixel, as in an IBM VGA BIOS ROM.
"""

from __future__ import annotations

import functools
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent.parent.parent / "resources" / "fonts"
ROM_FONT_HEIGHTS = (8, 14, 16)


@functools.lru_cache(maxsize=len(ROM_FONT_HEIGHTS))
def load_rom_font(height: int) -> bytes:
    """Return the 8x``height`` CP437 table (``height`` in 8, 14, 16); immutable bytes."""
    if height not in ROM_FONT_HEIGHTS:
        raise ValueError(f"no ROM font of height {height} (have {ROM_FONT_HEIGHTS})")
    data = (FONT_DIR / f"cp437-8x{height}.bin").read_bytes()
    if len(data) != 256 * height:
        raise ValueError(f"cp437-8x{height}.bin is {len(data)} bytes, want {256 * height}")
    return data
