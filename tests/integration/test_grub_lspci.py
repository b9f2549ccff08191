"""GRUB 2's own PCI walk (``lspci``, mechanism #1 from protected mode) on both machines.

The floppy is built per session from Debian's grub-pc-bin (never committed): a core image
with an embedded configuration that runs ``lspci`` and prints a marker, after GRUB's
boot.img, the classic way to make a GRUB floppy.
"""

from __future__ import annotations

import gc
import shutil
import subprocess
from pathlib import Path

import pytest

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig

GRUB_I386_PC = Path("/usr/lib/grub/i386-pc")
FLOPPY_BYTES = 1_474_560
STEP_S = 0.05
MAX_GUEST_S = 3.0


@pytest.fixture(scope="session")
def grub_lspci_floppy(tmp_path_factory) -> Path:
    if shutil.which("grub-mkimage") is None or not (GRUB_I386_PC / "lspci.mod").is_file():
        pytest.skip("GRUB for i386-pc is not installed (Debian: grub-pc-bin, grub-common)")
    work = tmp_path_factory.mktemp("grub")
    (work / "embed.cfg").write_text("lspci\necho LSPCI-DONE\n")
    core = work / "core.img"
    subprocess.run(["grub-mkimage", "-O", "i386-pc", "-o", str(core), "-p", "/boot/grub",
                    "-c", str(work / "embed.cfg"), "biosdisk", "lspci", "echo"],
                   check=True, capture_output=True)
    floppy = work / "lspci.img"
    image = (GRUB_I386_PC / "boot.img").read_bytes() + core.read_bytes()
    floppy.write_bytes(image.ljust(FLOPPY_BYTES, b"\0"))
    return floppy


def screen_after_lspci(image: Path, profile: str) -> list[str]:
    events: list[ev.Event] = []
    machine = Machine(MachineConfig(floppies=(image,), read_only=True, profile=profile,
                                    deterministic=True), on_event=events.append)
    try:
        machine.power_on()
        while not any("LSPCI-DONE" in line for line in machine.text_lines()):
            assert machine.clock.now_ns() < MAX_GUEST_S * 1e9, machine.text_lines()
            assert not [e for e in events if isinstance(e, ev.GuestCrashed)]
            machine.advance(STEP_S)
        return [line.strip() for line in machine.text_lines()]
    finally:
        machine.close()
        gc.collect()


def test_grub_lspci_lists_the_pc_pci_functions(grub_lspci_floppy):
    lines = screen_after_lspci(grub_lspci_floppy, "pc-pci")
    assert "00:00.0 8086:1237 [0600] Host Bridge" in lines
    assert "00:01.0 8086:7000 [0601] ISA Bridge" in lines
    assert "00:01.1 8086:7010 [0101] IDE Controller [PI 80]" in lines  # legacy mode
    assert "00:02.0 1234:1111 [0300] VGA Controller" in lines


def test_grub_lspci_finds_nothing_on_pc_at(grub_lspci_floppy):
    lines = screen_after_lspci(grub_lspci_floppy, "pc-at")
    assert not [line for line in lines if line.startswith("00:")]
    assert "LSPCI-DONE" in lines
