"""The console on graphics modes beyond the VGA window: a VBE framebuffer shared by a VM
process, change detection anywhere in it, the size and the mode label following the mode."""

from __future__ import annotations

import dataclasses
import mmap

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize, Qt
from PySide6.QtTest import QTest

from vmgui.devices.bus import IoBus
from vmgui.devices.clock import ManualClock
from vmgui.devices.vbe import Dispi, Enable
from vmgui.devices.vbe_lfb import LFB_SIZE
from vmgui.devices.vga import Vga
from vmgui.ui.console.framebuffer import frame_signature

from .test_console import grab


def test_frame_signature_sees_a_change_anywhere_in_the_shown_framebuffer() -> None:
    bus = IoBus()
    lfb = memoryview(mmap.mmap(-1, LFB_SIZE))
    vga = Vga(bus, ManualClock(), memoryview(bytearray(0x20000)), lfb=lfb)
    for index, value in ((Dispi.BPP, 32), (Dispi.XRES, 1024), (Dispi.YRES, 768),
                         (Dispi.ENABLE, Enable.ENABLED | Enable.LFB_ENABLED)):
        bus.write(0x1CE, 2, index)
        bus.write(0x1CF, 2, value)
    state = vga.display()
    before = frame_signature(state, True, True)
    lfb[1024 * 4 * 767 + 4 * 1023] = 0xFF  # the last pixel, 3 MiB in
    assert frame_signature(state, True, True) != before
    before = frame_signature(state, True, True)
    lfb[1024 * 4 * 768 + 8] = 0xFF  # below the visible frame: not shown
    assert frame_signature(state, True, True) == before
    moved = dataclasses.replace(state, start=4 * 1024)
    assert frame_signature(moved, True, True) != before


def test_console_shows_a_vbe_mode_of_a_vm_process(qtbot, test_guests) -> None:
    from vmgui.core.machine import MachineConfig
    from vmgui.host.process import ProcessHost
    from vmgui.ui.console.window import ConsoleWindow

    host = ProcessHost(MachineConfig(floppies=(test_guests / "vbelfb.img",), read_only=True,
                                     profile="pc-pci"))
    window = ConsoleWindow(host, "vbelfb", confirm=False)
    qtbot.addWidget(window)
    window.show()
    host.start()
    reference = test_guests / "qemu-reference"
    try:
        qtbot.waitUntil(lambda: (host.poll_events() or True) and b"VBE32 OK" in host.serial,
                        timeout=15000)
        view = window.view
        qtbot.waitUntil(lambda: view.frame_size() == QSize(640, 480), timeout=5000)
        want = np.asarray(Image.open(reference / "vbelfb-32bpp.png").convert("RGB"))
        qtbot.waitUntil(lambda: view.frame_bytes() == want.tobytes(), timeout=5000)
        assert window.mode_text(view.state).startswith("640x480, 16777216 colours, mode 142h")
        grab(qtbot, window)
        QTest.keyClick(view, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: (host.poll_events() or True) and b"VBE16 OK" in host.serial,
                        timeout=10000)
        want = np.asarray(Image.open(reference / "vbelfb-16bpp.png").convert("RGB"))
        qtbot.waitUntil(lambda: view.frame_bytes() == want.tobytes(), timeout=5000)
        assert "65536 colours, mode 111h" in window.mode_text(view.state)
    finally:
        window.shut_down()
