"""KolibriOS's screen, as tests and benchmarks look at it (../shared/guests/kolibri.img).

* The desktop: QEMU's screenshot ``qemu-reference/kolibri-040s.png`` (800x600x32) is the
  reference.  Two regions are compared: the top-left icon block (KFM, EOLITE, SHELL ...,
  200x200 pixels) and the "Menu" button (bottom left, 120x28); the clock, the pointer and
  the wallpaper's far side are left out.  A region matches when it differs from the
  reference by less than :data:`DESKTOP_MAX_DIFF` per channel on average.
* The mouse pointer: KolibriOS's default arrow, 11x17 pixels, drawn opaque in black,
  white, silver and grey; :func:`find_pointer` finds its hot spot (the arrow's tip, its
  top-left pixel) by those exact colours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

REFERENCE = Path("qemu-reference") / "kolibri-040s.png"  # below the shared guests folder
DESKTOP_REGIONS = ((slice(0, 200), slice(0, 200)), (slice(572, 600), slice(0, 120)))
DESKTOP_MAX_DIFF = 12.0
Screen = np.ndarray  # (h, w, 3) uint8

# K black, W white, S silver, G grey, "." transparent; as seen in QEMU's screenshot at
# (400, 300), where KolibriOS puts the pointer when it starts.
POINTER_ROWS = (
    "KK", "KSK", "KWSK", "KWWSK", "KWWWSK", "KWWWWSK", "KWWWWWSK", "KWWWWWWSK",
    "KWWWWWWWSK", "KWWWWWWWWSK", "KWWWWWSKKKK", "KWWSGWSK", "KWSKKWWK", "KSK.KGWSK",
    "KK...KWWK", ".....KSSK", "......KK",
)
POINTER_COLOURS = {"K": (0, 0, 0), "W": (255, 255, 255), "S": (192, 192, 192),
                   "G": (128, 128, 128)}
POINTER_SIZE = (max(len(row) for row in POINTER_ROWS), len(POINTER_ROWS))  # (w, h)


def load_reference(shared_guests: Path) -> Screen:
    """QEMU's screenshot of KolibriOS's desktop, as an (h, w, 3) uint8 array."""
    with Image.open(shared_guests / REFERENCE) as image:
        return np.asarray(image.convert("RGB"))


def desktop_differences(screen: Screen, reference: Screen) -> list[float] | None:
    """Mean absolute difference per channel of each of :data:`DESKTOP_REGIONS` from the
    reference; None when the screen is not of the reference's size."""
    if screen.shape != reference.shape:
        return None
    return [float(np.abs(screen[r].astype(np.int16) - reference[r].astype(np.int16)).mean())
            for r in DESKTOP_REGIONS]


def is_desktop(screen: Screen, reference: Screen) -> bool:
    differences = desktop_differences(screen, reference)
    return differences is not None and max(differences) < DESKTOP_MAX_DIFF


def find_pointer(screen: Screen) -> list[tuple[int, int]]:
    """The (x, y) of every place where the whole pointer is drawn on ``screen`` (a
    pointer cut off by the screen's edge is not found)."""
    height, width = screen.shape[:2]
    pointer_w, pointer_h = POINTER_SIZE
    packed = ((screen[..., 0].astype(np.uint32) << 16) | (screen[..., 1].astype(np.uint32) << 8)
              | screen[..., 2].astype(np.uint32))
    span = packed[:height - pointer_h + 1, :width - pointer_w + 1]
    hits = np.ones(span.shape, dtype=bool)
    for dy, row in enumerate(POINTER_ROWS):
        for dx, code in enumerate(row):
            if code != ".":
                r, g, b = POINTER_COLOURS[code]
                hits &= packed[dy:dy + span.shape[0], dx:dx + span.shape[1]] \
                    == (r << 16) | (g << 8) | b
    ys, xs = np.nonzero(hits)
    return list(zip(xs.tolist(), ys.tolist(), strict=True))
