#!/usr/bin/env python3
"""Build the ROM font tables in resources/fonts/ from Debian-packaged sources.

Owns: a small reader for X11 PCF bitmap fonts (the format is documented in
freedesktop's "PCF format" note and FreeType's ``src/pcf``), the conversion of a
glyph set into a raw VGA-style table (256 glyphs x ``height`` bytes, bit 7 = leftmost
pixel), and the extraction of SeaBIOS's public-domain 8x8 table.

Sources (see resources/fonts/README.md for the licences):

* 8x14 and 8x16: Terminus Font, IBM437 encoding, Debian package ``xfonts-terminus-dos``
  (``/usr/share/fonts/X11/misc/ter-u14b_ibm437.pcf.gz`` and ``ter-u16b_ibm437.pcf.gz``).
* 8x8: the ``vgafonts.c`` table compiled into SeaBIOS's VGA BIOS, Debian package
  ``seabios`` (``/usr/share/seabios/vgabios-isavga.bin``); Debian's copyright file lists
  ``vgasrc/vgafonts.c`` as public domain.

Usage: ``python tools/build_fonts.py [--check]``.  ``--check`` compares instead of writing
and exits 1 when a committed table differs.
"""

from __future__ import annotations

import argparse
import gzip
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "resources" / "fonts"
PCF_DIR = Path("/usr/share/fonts/X11/misc")
TERMINUS_FILES = {14: "ter-u14b_ibm437.pcf.gz", 16: "ter-u16b_ibm437.pcf.gz"}
SEABIOS_VGABIOS = Path("/usr/share/seabios/vgabios-isavga.bin")

# PCF table types
PCF_ACCELERATORS = 1 << 1
PCF_METRICS = 1 << 2
PCF_BITMAPS = 1 << 3
PCF_BDF_ENCODINGS = 1 << 5
PCF_BDF_ACCELERATORS = 1 << 8
# PCF format bits
PCF_GLYPH_PAD_MASK = 3
PCF_BYTE_MASK = 1 << 2  # set: most significant byte first
PCF_BIT_MASK = 1 << 3  # set: most significant bit first
PCF_SCAN_UNIT_MASK = 3 << 4
PCF_COMPRESSED_METRICS = 0x100


@dataclass(frozen=True)
class Glyph:
    left: int  # left side bearing
    right: int  # right side bearing
    ascent: int
    descent: int
    rows: tuple[bytes, ...]  # one row per scan line, bit 7 of byte 0 = pixel at x=left


@dataclass(frozen=True)
class PcfFont:
    ascent: int
    descent: int
    glyphs: dict[int, Glyph]  # encoding -> glyph


def _tables(data: bytes) -> dict[int, tuple[int, int]]:
    if data[:4] != b"\x01fcp":
        raise ValueError("not a PCF font")
    (count,) = struct.unpack_from("<i", data, 4)
    toc = {}
    for i in range(count):
        ttype, _fmt, size, offset = struct.unpack_from("<iiii", data, 8 + 16 * i)
        toc[ttype] = (offset, size)
    return toc


def _fmt(data: bytes, offset: int) -> tuple[int, str]:
    (fmt,) = struct.unpack_from("<i", data, offset)
    return fmt, (">" if fmt & PCF_BYTE_MASK else "<")


def _read_metrics(data: bytes, offset: int) -> list[tuple[int, int, int, int]]:
    fmt, e = _fmt(data, offset)
    out = []
    if fmt & PCF_COMPRESSED_METRICS:
        (count,) = struct.unpack_from(e + "h", data, offset + 4)
        for i in range(count):
            at = offset + 6 + 5 * i
            lsb, rsb, _w, asc, desc = (b - 0x80 for b in data[at: at + 5])
            out.append((lsb, rsb, asc, desc))
    else:
        (count,) = struct.unpack_from(e + "i", data, offset + 4)
        for i in range(count):
            lsb, rsb, _w, asc, desc, _a = struct.unpack_from(e + "6h", data, offset + 8 + 12 * i)
            out.append((lsb, rsb, asc, desc))
    return out


def _fix_row(row: bytes, fmt: int) -> bytes:
    """Bring one padded bitmap row into MSByte/MSBit order (as FreeType's pcf reader)."""
    unit = 1 << ((fmt & PCF_SCAN_UNIT_MASK) >> 4)
    if bool(fmt & PCF_BYTE_MASK) != bool(fmt & PCF_BIT_MASK) and unit > 1:
        row = b"".join(row[i: i + unit][::-1] for i in range(0, len(row), unit))
    if not fmt & PCF_BIT_MASK:
        row = bytes(int(f"{b:08b}"[::-1], 2) for b in row)
    return row


def _read_bitmaps(data: bytes, offset: int, metrics: list) -> list[tuple[bytes, ...]]:
    fmt, e = _fmt(data, offset)
    (count,) = struct.unpack_from(e + "i", data, offset + 4)
    offsets = struct.unpack_from(e + f"{count}i", data, offset + 8)
    bits_start = offset + 8 + 4 * count + 16
    pad = 1 << (fmt & PCF_GLYPH_PAD_MASK)
    out = []
    for (lsb, rsb, asc, desc), goff in zip(metrics, offsets, strict=True):
        stride = ((rsb - lsb + 7) // 8 + pad - 1) // pad * pad
        base = bits_start + goff
        rows = tuple(
            _fix_row(data[base + r * stride: base + (r + 1) * stride], fmt)
            for r in range(asc + desc)
        )
        out.append(rows)
    return out


def _read_encodings(data: bytes, offset: int) -> dict[int, int]:
    _fmt_, e = _fmt(data, offset)
    min2, max2, min1, max1, _default = struct.unpack_from(e + "5h", data, offset + 4)
    per_row = max2 - min2 + 1
    n = per_row * (max1 - min1 + 1)
    idx = struct.unpack_from(e + f"{n}H", data, offset + 14)
    enc = {}
    for i, g in enumerate(idx):
        if g != 0xFFFF:
            enc[((min1 + i // per_row) << 8) | (min2 + i % per_row)] = g
    return enc


def parse_pcf(data: bytes) -> PcfFont:
    """Parse an (uncompressed) PCF font into glyphs keyed by encoding."""
    toc = _tables(data)
    accel = toc.get(PCF_BDF_ACCELERATORS) or toc[PCF_ACCELERATORS]
    _f, e = _fmt(data, accel[0])
    ascent, descent = struct.unpack_from(e + "ii", data, accel[0] + 12)
    metrics = _read_metrics(data, toc[PCF_METRICS][0])
    bitmaps = _read_bitmaps(data, toc[PCF_BITMAPS][0], metrics)
    glyphs = {}
    for code, gi in _read_encodings(data, toc[PCF_BDF_ENCODINGS][0]).items():
        lsb, rsb, asc, desc = metrics[gi]
        glyphs[code] = Glyph(lsb, rsb, asc, desc, bitmaps[gi])
    return PcfFont(ascent, descent, glyphs)


def glyph_table(font: PcfFont, height: int) -> bytes:
    """256 glyphs x ``height`` bytes; each glyph placed on the font's baseline in an
    8-pixel-wide cell.  Missing code points stay blank, and so does code 00h, which is
    blank in IBM's ROM fonts (Terminus draws its missing-glyph box there)."""
    if font.ascent + font.descent != height:
        raise ValueError(f"font cell is {font.ascent + font.descent} lines, want {height}")
    table = bytearray(256 * height)
    for code in range(1, 256):
        g = font.glyphs.get(code)
        if g is None:
            continue
        top = font.ascent - g.ascent
        for r, row in enumerate(g.rows):
            y = top + r
            if not 0 <= y < height:
                continue
            bits = int.from_bytes(row, "big") >> (8 * len(row) - 8) if row else 0
            bits = (bits >> g.left) if g.left >= 0 else (bits << -g.left)
            table[code * height + y] = bits & 0xFF
    return bytes(table)


def seabios_8x8(vgabios: bytes) -> bytes:
    """Find the 8x8 CP437 table inside a SeaBIOS VGA BIOS image (glyph 0 blank, glyphs
    1 and 2 the smiley faces)."""
    marker = bytes(8) + bytes.fromhex("7e81a581bd99817e7effdbffc3e7ff7e")
    at = vgabios.find(marker)
    if at < 0 or vgabios.find(marker, at + 1) >= 0:
        raise ValueError("8x8 font table not found (exactly once) in the VGA BIOS image")
    return vgabios[at: at + 256 * 8]


def build_all(pcf_dir: Path = PCF_DIR, vgabios: Path = SEABIOS_VGABIOS) -> dict[str, bytes]:
    """Return ``{file name: table}`` for every ROM font built from the installed sources."""
    out = {"cp437-8x8.bin": seabios_8x8(vgabios.read_bytes())}
    for height, name in TERMINUS_FILES.items():
        font = parse_pcf(gzip.decompress((pcf_dir / name).read_bytes()))
        out[f"cp437-8x{height}.bin"] = glyph_table(font, height)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    status = 0
    for name, table in build_all().items():
        path = args.out / name
        if args.check:
            same = path.exists() and path.read_bytes() == table
            sys.stdout.write(f"{name}: {'ok' if same else 'DIFFERS'}\n")
            status |= 0 if same else 1
        else:
            path.write_bytes(table)
            sys.stdout.write(f"wrote {path} ({len(table)} bytes)\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
