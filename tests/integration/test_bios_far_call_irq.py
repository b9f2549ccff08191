"""BIOS services entered through their ROM stub by a far call with interrupts disabled
(SYSLINUX 6 polls int 16h as `pushf; call far [IVT entry]`) still give a pending IRQ its
window, as a real BIOS that runs with interrupts enabled does (issue 10)."""

from __future__ import annotations

from vmgui.automation import start


def test_keys_reach_a_guest_polling_int16h_by_far_call_with_if_clear(test_guests):
    vm = start(test_guests / "farcall16.img", deterministic=False)
    try:
        vm.wait_for_text("READY", timeout=5)
        vm.key_timeout = 5  # before the fix: the key was never read
        vm.type_text("a")
        vm.wait_for_text("1E61", timeout=5)
        vm.type_text("b")
        vm.wait_for_text("3062", timeout=5)
        echoed = vm.serial.decode("ascii", "replace").split("READY", 1)[-1]
        assert echoed.split() == ["1E61", "3062"]
        assert "IF!" not in echoed  # each call returned the caller's IF=0
    finally:
        vm.power_off()
