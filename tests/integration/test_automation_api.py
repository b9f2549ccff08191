"""The Python automation API as a script would use it (sync and async)."""

from __future__ import annotations

import asyncio

import pytest

from vmgui.automation import AutomationError, start, start_async


def test_sync_api_on_an_image(test_guests, tmp_path):
    vm = start(test_guests / "echo.img")
    try:
        vm.wait_for_text("READY", timeout=5)
        vm.type_text("a")
        assert vm.wait_for_text(r"1E6\d", timeout=5, regex=True) == "1E61"
        shot = vm.screenshot(tmp_path / "echo.png", crop=(0, 0, 320, 64), scale=2)
        from PIL import Image

        assert Image.open(shot).size == (640, 128)
        assert b"1E61" in vm.serial
        vm.sleep(0.5)
        vm.wait_still(0.2, timeout=5)
    finally:
        vm.power_off()


def test_async_api(test_guests):
    async def scenario():
        vm = await start_async(test_guests / "echo.img")
        try:
            await vm.wait_for_text("READY", 5)
            await vm.press("enter")
            return await vm.wait_for_text("1C0D", 5)
        finally:
            await vm.power_off()

    assert asyncio.run(scenario()) == "1C0D"


def test_unknown_vm(tmp_path, monkeypatch):
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path))
    with pytest.raises(AutomationError, match="no such image file nor library VM"):
        start("NoSuchVm")


def test_type_text_with_a_key_delay_waits_after_each_character(test_guests):
    """For guests that drop keys typed quicker than they handle them (KolibriOS)."""
    vm = start(test_guests / "echo.img")  # deterministic: guest seconds are exact
    try:
        vm.wait_for_text("READY", timeout=5)
        before = vm.host.now()
        vm.type_text("ab", key_delay=0.25)
        assert vm.host.now() - before >= 0.5
        assert vm.wait_for_text("3062", timeout=5) == "3062"
        assert b"1E61" in vm.serial and b"3062" in vm.serial
        with pytest.raises(AutomationError, match="key delay"):
            vm.type_text("a", key_delay=float("nan"))
    finally:
        vm.power_off()
