"""KolibriOS (../shared/guests/kolibri.img) on the pc-pci machine finds VBE 2.0 with a
linear framebuffer, lists the modes (4F00h, 4F01h for each), sets 800x600x32 (4F02h with
the LFB bit) and draws its boot log into the framebuffer through its own page tables.
The desktop, mouse and keyboard that follow: test_kolibri_desktop.py."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from vmgui.automation.session import frame
from vmgui.core.machine import MachineConfig
from vmgui.devices.display import DisplayKind
from vmgui.host.thread import ThreadHost

pytestmark = pytest.mark.slow


def boot_log_shown(host) -> bool:
    state = host.display()
    if state.kind is not DisplayKind.DIRECT32 or (state.width, state.height) != (800, 600):
        return False
    top_left = frame(host)[:150, :300]
    return int((top_left == 255).all(axis=2).sum()) > 500  # white text


def test_kolibri_sets_a_vbe_mode_and_draws_into_the_framebuffer(shared_guests, caplog):
    caplog.set_level(logging.INFO, logger="vmgui.bios.vbe")
    host = ThreadHost(MachineConfig(floppies=(shared_guests / "kolibri.img",), read_only=True,
                                    profile="pc-pci", memory_mb=128))
    host.start()
    try:
        deadline = time.monotonic() + 60
        while not boot_log_shown(host):
            host.poll_events()
            assert time.monotonic() < deadline, "no VBE boot log within 60 s"
            time.sleep(0.2)
        shot = frame(host)
        assert not np.any(shot[300:, :])  # the lower half still blank: text, not noise
    finally:
        host.power_off()
    messages = [r.getMessage() for r in caplog.records]
    assert "VBE 4F00h: controller information (VBE2 block)" in messages
    assert "VBE mode 143h: 800x600x32, linear framebuffer" in messages
