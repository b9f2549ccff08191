"""Rendering cost per frame for every kind of screen, VBE included.

Method: a VGA model (no engine, no Qt) with its memory filled with random bytes, put in
each mode through its registers (VGA modes through ``set_mode``, VBE modes through the
DISPI registers as the VBE BIOS programs them); then ``render()`` -- what the console,
thumbnails, screenshots and wait_for_screen call -- timed N times with
``time.perf_counter``, median and 95th percentile.  Also the console's change check
(``frame_signature``: the copy of the memory the frame shows), which runs on every
console tick.  Target: a 1024x768x32 VBE frame <= 8 ms (issue 10).

The text and mode 13h cases run on older vmgui trees too (for before/after figures:
``PYTHONPATH=OLD_TREE python tests/perf/bench_render.py``); the rest is skipped there.

Run from the repository root: ``python -m tests.perf.bench_render [frames]``.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time

from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.render import render
from vmgui.devices.vga import Vga

VBE_CASES = ((1024, 768, 8), (1024, 768, 16), (1024, 768, 24), (1024, 768, 32),
             (1280, 1024, 32), (640, 480, 32))


def timed(fn, frames: int) -> tuple[float, float]:
    fn()  # warm caches (glyph tables, colour tables)
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def signature_fn():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from vmgui.ui.console.framebuffer import frame_signature
    except ImportError:  # no Qt here: the change check is not measured
        return None
    return frame_signature


def case(name: str, vga: Vga, frames: int, signature) -> None:
    state = vga.display()
    font = load_rom_font(state.char_height if state.char_height in (8, 14, 16) else 16)
    width, height, _ = render(state, font)
    median, p95 = timed(lambda: render(state, font), frames)
    line = f"{name:34s} {width:5d}x{height:<5d} render median {median:6.2f} ms  p95 {p95:6.2f} ms"
    if signature is not None:
        sig, _ = timed(lambda: signature(state, True, True), frames)
        line += f"  change check {sig:5.2f} ms"
    print(line)


def vbe_card(rng: random.Random):
    import mmap

    from vmgui.devices.vbe import Dispi, Enable
    from vmgui.devices.vbe_lfb import LFB_SIZE

    bus = IoBus()
    lfb = memoryview(mmap.mmap(-1, LFB_SIZE))
    lfb[: 8 << 20] = rng.randbytes(8 << 20)
    vga = Vga(bus, ManualClock(), memoryview(bytearray(0x20000)), lfb=lfb)

    def set_mode(width: int, height: int, bpp: int) -> None:
        for index, value in ((Dispi.ENABLE, 0), (Dispi.BPP, bpp), (Dispi.XRES, width),
                             (Dispi.YRES, height),
                             (Dispi.ENABLE, Enable.ENABLED | Enable.LFB_ENABLED
                              | Enable.NO_CLEAR)):
            bus.write(0x1CE, 2, index)
            bus.write(0x1CF, 2, value)

    return vga, set_mode


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = random.Random(1)
    signature = signature_fn()
    print(f"{frames} frames per case; memory filled with random bytes")
    vram = bytearray(rng.randbytes(0x20000))
    vga = Vga(IoBus(), ManualClock(), memoryview(vram))
    vga.set_mode(0x03, clear=False)
    case("80x25 text (mode 03h)", vga, frames, signature)
    vga.set_mode(0x13, clear=False)
    case("320x200x256 (mode 13h)", vga, frames, signature)
    if not hasattr(vga, "planes_view"):
        print("(this tree has no planar rendering nor VBE: the rest is skipped)")
        return
    vga.planes_view[:] = rng.randbytes(len(vga.planes_view))
    vga.set_mode(0x12, clear=False)
    case("640x480x16 planar (mode 12h)", vga, frames, signature)
    card, set_mode = vbe_card(rng)
    for width, height, bpp in VBE_CASES:
        set_mode(width, height, bpp)
        case(f"VBE {width}x{height}x{bpp}", card, frames, signature)


if __name__ == "__main__":
    main()
