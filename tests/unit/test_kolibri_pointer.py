"""tests/kolibri.py's pointer finder, on made-up screens (the integration tests trust it)."""

from __future__ import annotations

import numpy as np

from tests import kolibri


def draw_pointer(screen: np.ndarray, x: int, y: int) -> None:
    for dy, row in enumerate(kolibri.POINTER_ROWS):
        for dx, code in enumerate(row):
            if code != "." and 0 <= y + dy < screen.shape[0] and 0 <= x + dx < screen.shape[1]:
                screen[y + dy, x + dx] = kolibri.POINTER_COLOURS[code]


def wallpaper() -> np.ndarray:
    screen = np.zeros((120, 160, 3), dtype=np.uint8)
    screen[...] = (0x76, 0x99, 0x5D)
    return screen


def test_finds_the_tip_of_each_whole_pointer():
    screen = wallpaper()
    draw_pointer(screen, 0, 0)
    draw_pointer(screen, 100, 50)
    assert kolibri.find_pointer(screen) == [(0, 0), (100, 50)]


def test_a_pointer_cut_by_the_edge_or_in_other_colours_is_not_found():
    screen = wallpaper()
    draw_pointer(screen, 155, 110)  # mostly off screen
    draw_pointer(screen, 20, 20)
    screen[30, 22] = (250, 250, 250)  # one white pixel not quite white
    assert kolibri.find_pointer(screen) == []


def test_a_black_box_is_not_a_pointer():
    screen = wallpaper()
    screen[10:40, 10:40] = 0
    assert kolibri.find_pointer(screen) == []


def test_desktop_differences_need_the_reference_size():
    reference = np.zeros((600, 800, 3), dtype=np.uint8)
    assert kolibri.desktop_differences(wallpaper(), reference) is None
    screen = reference.copy()
    screen[0:100, 0:200] = 24  # half the icon block off by 24: 12 on average
    assert kolibri.desktop_differences(screen, reference) == [12.0, 0.0]
    assert not kolibri.is_desktop(screen, reference)
    assert kolibri.is_desktop(reference, reference)
