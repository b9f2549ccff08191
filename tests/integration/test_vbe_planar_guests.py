"""Graphics test guests end to end, compared with what qemu-system-i386 shows for the same
images (issue 10): a VBE linear framebuffer in 32 and 16 bpp (tests/guests/vbelfb.asm) and
a banked 8-bpp mode (vbebank.asm) on the pc-pci machine, and mode 12h drawn with every
planar write mode (planar12.asm).

The QEMU pictures in tests/guests/qemu-reference/ were taken with QEMU 7.2's std VGA and
SeaBIOS (``qemu-system-i386 -M pc -m 32``, the image as floppy A:, a QMP ``screendump``
after the guest's "OK" on COM1; ../shared/tools/qemu-ref.py does exactly that).
Runs are deterministic (lockstep), so the pictures are the same on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vmgui.automation.session import Session, frame
from vmgui.core import snapshot
from vmgui.core.machine import MachineConfig
from vmgui.host.lockstep import LockstepHost

REFERENCE = Path(__file__).resolve().parents[1] / "guests" / "qemu-reference"
BARS = ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0x12, 0x34, 0x56),
        (128, 128, 128), (255, 128, 0), (0, 255, 255), (0x40, 0, 0x20))


def boot(image: Path, profile: str) -> Session:
    host = LockstepHost(MachineConfig(floppies=(image,), read_only=True, profile=profile))
    host.start()
    return Session(host)


def reference(name: str) -> np.ndarray:
    return np.asarray(Image.open(REFERENCE / name).convert("RGB"))


def test_vbe_linear_framebuffer_in_32_and_16_bpp_matches_qemu(test_guests) -> None:
    vm = boot(test_guests / "vbelfb.img", "pc-pci")
    try:
        vm.wait_for_serial("VBE32 OK", timeout=10)
        assert b"FAIL" not in vm.serial
        shot = frame(vm.host)
        assert shot.shape == (480, 640, 3)
        for bar, colour in enumerate(BARS):
            assert tuple(shot[300, bar * 64 + 40]) == colour
        assert tuple(shot[200, 200]) == (255, 255, 255)  # the diagonal: x = y
        assert np.array_equal(shot, reference("vbelfb-32bpp.png"))
        vm.type_text(" ")
        vm.wait_for_serial("VBE16 OK", timeout=10)
        shot = frame(vm.host)
        assert tuple(shot[300, 1 * 64 + 40]) == (255, 0, 0)
        assert tuple(shot[300, 5 * 64 + 40]) == (0x10, 0x34, 0x52)  # 5:6:5 11AAh
        assert np.array_equal(shot, reference("vbelfb-16bpp.png"))
    finally:
        vm.power_off()


def test_vbe_banked_window_through_int10h_and_the_window_function_matches_qemu(
        test_guests) -> None:
    vm = boot(test_guests / "vbebank.img", "pc-pci")
    try:
        vm.wait_for_serial("BANK OK", timeout=10)
        shot = frame(vm.host).astype(int)
        palette = np.frombuffer(vm.host.display().palette, dtype=np.uint8).reshape(256, 3)
    finally:
        vm.power_off()
    assert shot.shape == (480, 640, 3)
    for n in (0, 1023, 1024, 65535, 65536, 131072 + 700, 307199):  # byte n: colour n >> 10
        y, x = divmod(n, 640)
        assert tuple(shot[y, x]) == tuple(palette[(n >> 10) & 0xFF]), n
    assert np.abs(shot - reference("vbebank.png")).max() <= 3  # the DAC widening, as above


def test_vbe_is_absent_on_the_pc_at(test_guests) -> None:
    vm = boot(test_guests / "vbelfb.img", "pc-at")
    try:
        vm.wait_for_serial("VBE FAIL", timeout=10)
        assert vm.host.display().kind.value == "text"
    finally:
        vm.power_off()


def test_planar_write_modes_match_qemu(test_guests) -> None:
    vm = boot(test_guests / "planar12.img", "pc-at")
    try:
        vm.wait_for_serial("PLANAR OK", timeout=20)
        shot = frame(vm.host).astype(int)
    finally:
        vm.power_off()
    assert shot.shape == (480, 640, 3)
    white, blue, cyan, black = (255, 255, 255), (0, 0, 170), (0, 170, 170), (0, 0, 0)
    assert tuple(shot[30, 15 * 40 + 20]) == white and tuple(shot[30, 40 + 20]) == blue
    assert tuple(shot[90, 40 + 8]) == blue and tuple(shot[90, 40 + 9]) == black  # bit mask AAh
    assert tuple(shot[150, 40 + 3]) == black and tuple(shot[150, 40 + 4]) == blue  # mode 2
    assert tuple(shot[210, 40 + 1]) == black and tuple(shot[210, 40 + 2]) == blue  # mode 3
    assert tuple(shot[270, 15 * 40]) == white  # latch copy
    assert tuple(shot[330, 15 * 40]) == black and tuple(shot[330, 15 * 40 + 4]) == white  # XOR
    assert tuple(shot[390, 5 * 40]) == white and tuple(shot[390, 6 * 40]) == black  # compare
    assert tuple(shot[450, 4 * 40]) == cyan and tuple(shot[450, 3 * 40]) == black  # plane 2
    # QEMU widens the DAC's 6 bits by repeating the lowest, vmgui the highest (2Ah: 168/170)
    assert np.abs(shot - reference("planar12.png")).max() <= 2


@pytest.mark.parametrize(("image", "profile", "done"), [("vbelfb.img", "pc-pci", "VBE32 OK"),
                                                        ("planar12.img", "pc-at", "PLANAR OK")])
def test_a_saved_state_shows_the_same_graphics_screen(test_guests, tmp_path, image, profile,
                                                      done) -> None:
    vm = boot(test_guests / image, profile)
    try:
        vm.wait_for_serial(done, timeout=20)
        before = frame(vm.host)
        snapshot.save(vm.host.machine, tmp_path / "state.vmstate")
    finally:
        vm.power_off()
    again = boot(test_guests / image, profile)
    try:
        snapshot.load(again.host.machine, tmp_path / "state.vmstate")
        assert np.array_equal(frame(again.host), before)
        kind = again.host.display().kind
        assert kind.value in ("direct32", "planar16")
    finally:
        again.power_off()


def test_saved_video_memory_of_another_size_is_refused(test_guests) -> None:
    vm = boot(test_guests / "planar12.img", "pc-at")
    try:
        vm.wait_for_serial("PLANAR OK", timeout=20)
        machine = vm.host.machine
        meta, parts = snapshot.capture(machine)
        before = frame(vm.host)
        with pytest.raises(snapshot.RestoreError,
                           match="saved planes memory is 100 bytes, this machine has 262144"):
            snapshot.restore(machine, meta, {**parts, "planes": bytes(100)})
        with pytest.raises(snapshot.RestoreError,
                           match="saved lfb memory is 16 bytes, this machine has none"):
            snapshot.restore(machine, meta, {**parts, "lfb": bytes(16)})
        assert np.array_equal(frame(vm.host), before)  # refused before anything changed
    finally:
        vm.power_off()
