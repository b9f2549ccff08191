"""ROM font tables: sizes, real CP437 glyphs, and reproducibility from the Debian sources."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from vmgui.devices.fonts import FONT_DIR, load_rom_font

REPO = Path(__file__).resolve().parents[2]


def glyph(height: int, code: int) -> bytes:
    return load_rom_font(height)[code * height: (code + 1) * height]


@pytest.mark.parametrize("height", [8, 14, 16])
def test_table_sizes(height: int) -> None:
    assert len(load_rom_font(height)) == 256 * height


def test_unknown_height_is_refused() -> None:
    with pytest.raises(ValueError):
        load_rom_font(12)


@pytest.mark.parametrize("height", [8, 14, 16])
def test_letters_are_drawn_and_distinct(height: int) -> None:
    a, b = glyph(height, ord("A")), glyph(height, ord("B"))
    assert any(a) and any(b) and a != b
    assert not any(glyph(height, 0x20)) and not any(glyph(height, 0x00))


@pytest.mark.parametrize("height", [8, 14, 16])
def test_box_drawing_is_cp437(height: int) -> None:
    assert 0xFF in glyph(height, 0xC4)  # ─ : a full-width horizontal line
    vertical = glyph(height, 0xB3)  # │ : the same column lit on every line
    assert len(set(vertical)) == 1 and vertical[0] != 0
    assert all(row == 0xFF for row in glyph(height, 0xDB))  # █
    assert any(glyph(height, 0x01))  # ☺ in the control range


def test_resources_match_build_script() -> None:
    spec = importlib.util.spec_from_file_location("build_fonts", REPO / "tools/build_fonts.py")
    assert spec and spec.loader
    build_fonts = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = build_fonts  # dataclasses look their module up
    try:
        spec.loader.exec_module(build_fonts)
    finally:
        del sys.modules[spec.name]
    sources = [build_fonts.PCF_DIR / name for name in build_fonts.TERMINUS_FILES.values()]
    sources.append(build_fonts.SEABIOS_VGABIOS)
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        pytest.skip(f"font source packages not installed: {missing}")
    for name, table in build_fonts.build_all().items():
        assert (FONT_DIR / name).read_bytes() == table, name
