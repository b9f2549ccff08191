"""Saved states of protected-mode guests (issue 10, "What it must show" 6).  GRUB's menu
runs in 32-bit protected mode and drops to real mode for each BIOS call (it idles in
int 16h): a state saved while the menu is on screen restores to the same screen, pixel
for pixel, in the same machine and in a fresh one, and the countdown goes on from
there.  tests/guests/pmtick.asm stays in ring 3 with paging and takes IRQ0 through its
IDT: restored into a fresh machine it counts on."""

from __future__ import annotations

import re

import pytest

from vmgui.core import snapshot
from vmgui.core.machine import Machine, MachineConfig
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.render import render

pytestmark = pytest.mark.slow
COUNTDOWN = re.compile(r"automatically in (\d+)s")


def boot_grub(image) -> Machine:
    machine = Machine(MachineConfig(floppies=(image,), boot_order=("a",), memory_mb=64,
                                    profile="pc-pci", read_only=True, deterministic=True))
    machine.power_on()
    for _ in range(200):
        machine.advance(0.05)
        if COUNTDOWN.search("\n".join(machine.text_lines())):
            return machine
    machine.close()
    raise AssertionError("GRUB's menu did not appear:\n" + "\n".join(machine.text_lines()))


def frame(machine: Machine) -> bytes:
    state = machine.display()
    width, height, rgb = render(state, load_rom_font(state.char_height))
    return width.to_bytes(2, "little") + height.to_bytes(2, "little") + rgb


def seconds_left(machine: Machine) -> int:
    return int(COUNTDOWN.search("\n".join(machine.text_lines())).group(1))


def test_a_state_saved_at_grubs_menu_resumes_to_the_same_screen(tmp_path, debian_image):
    path = tmp_path / "grub.state"
    first = boot_grub(debian_image("grub-floppy"))
    try:
        snapshot.save(first, path)
        saved_frame, saved_left = frame(first), seconds_left(first)
        first.advance(2.5)  # the countdown moves on ...
        assert seconds_left(first) < saved_left
        snapshot.load(first, path)  # ... and back
        assert frame(first) == saved_frame
    finally:
        first.close()
    fresh = Machine(MachineConfig(floppies=(debian_image("grub-floppy"),), boot_order=("a",),
                                  memory_mb=64, profile="pc-pci", read_only=True,
                                  deterministic=True))
    try:
        fresh.power_on()
        snapshot.load(fresh, path)
        assert frame(fresh) == saved_frame
        fresh.advance(2.5)  # GRUB runs on from the restored protected-mode state
        assert seconds_left(fresh) < saved_left
    finally:
        fresh.close()


def test_a_ring_3_guest_with_paging_resumes_counting_its_irqs(tmp_path, test_guests):
    image = tmp_path / "pmtick.img"
    image.write_bytes((test_guests / "pmtick.img").read_bytes().ljust(1_474_560, b"\0"))
    config = MachineConfig(floppies=(image,), deterministic=True)

    def ticks(machine: Machine) -> int:
        line = machine.text_lines()[0]
        assert line.startswith("TICKS "), line
        return int(line[6:14], 16)

    path = tmp_path / "pm.state"
    first = Machine(config)
    try:
        first.power_on()
        first.advance(0.4)
        ctx = first.pm.cpu.save()
        assert ctx.cpl == 3  # stopped in the ring 3 loop (or its handler's return)
        assert ticks(first) >= 5  # 18.2 Hz in ring 3, through the TSS stack
        snapshot.save(first, path)
        saved_ticks, saved_frame = ticks(first), frame(first)
    finally:
        first.close()
    fresh = Machine(config)
    try:
        fresh.power_on()
        snapshot.load(fresh, path)
        assert frame(fresh) == saved_frame and fresh.pm.cpu.save().cpl == 3
        fresh.advance(0.4)
        assert saved_ticks + 6 <= ticks(fresh) <= saved_ticks + 8
    finally:
        fresh.close()
