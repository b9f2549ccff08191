"""vmgui's own demo guest (resources/guests/demo.img) boots through ``vmgui run`` and every
menu entry does what the menu promises: keyboard echo, mode 13h graphics, the RTC clock and
a line on COM1."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.integration.runner import ROOT, colours, load_rgb, vmgui_run

pytestmark = pytest.mark.slow

DEMO = ROOT / "resources" / "guests" / "demo.img"
MENU = "Choose 1-4"  # only on the menu screen (the title "vmgui demo" is also on COM1)


def ok(result) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"


def run_demo(*steps: object, serial=None):
    args = [DEMO, "--timeout", "20"]
    if serial is not None:
        args += ["--serial", serial]
    return vmgui_run(*args, "--wait-text", "vmgui demo", "--wait-text", MENU, *steps)


def test_menu_is_drawn_with_a_box(tmp_path):
    out, shot = tmp_path / "menu.txt", tmp_path / "menu.png"
    ok(run_demo("--sleep", "0.3", "--dump-text", out, "--screenshot", shot))
    text = out.read_text(encoding="utf-8")
    for item in ("Keyboard echo", "Graphics", "Clock", "Serial"):
        assert item in text
    assert "╔" in text and "╝" in text and text.count("║") >= 20
    assert "►1" in text  # the first entry starts selected
    img = load_rgb(shot)
    assert len(colours(img)) >= 5  # attributes, not monochrome


def test_keyboard_echo_shows_scan_and_ascii(tmp_path):
    out = tmp_path / "echo.txt"
    ok(run_demo("--type", "1", "--wait-text", "Press any key to see", "--type", "a",
                "--wait-text", "1E61", "--key", "enter", "--wait-text", "1C0D",
                "--dump-text", out, "--key", "esc", "--wait-text", MENU))
    text = out.read_text(encoding="utf-8")
    line = next(row for row in text.splitlines() if "1E61" in row)
    assert "'a'" in line and "1Eh" in line and "61h" in line


def test_graphics_scene_then_back_to_menu(tmp_path):
    shot = tmp_path / "scene.png"
    ok(run_demo("--type", "2", "--sleep", "1.5", "--screenshot", shot,
                "--key", "space", "--wait-text", MENU))
    img = load_rgb(shot)
    assert img.shape == (200, 320, 3)
    assert len(colours(img)) >= 16
    # the 256-colour palette strip: one column per colour of the default palette
    strip = {tuple(int(v) for v in img[175, x]) for x in range(32, 288)}
    assert len(strip) >= 200


def test_arrows_and_enter_select(tmp_path):
    ok(run_demo("--key", "down", "--key", "down", "--key", "enter",
                "--wait-text", "Real-time clock", "--key", "esc", "--wait-text", MENU,
                "--key", "up", "--key", "down", "--key", "down", "--key", "enter",
                "--wait-text", "Serial port COM1"))


def test_clock_shows_host_date_and_ticks(tmp_path):
    first, second = tmp_path / "clock1.txt", tmp_path / "clock2.txt"
    before = datetime.now()  # the RTC starts at the host's local time
    ok(run_demo("--type", "3", "--wait-text", "BIOS ticks", "--dump-text", first,
                "--sleep", "2.2", "--dump-text", second, "--key", "esc", "--wait-text", MENU))
    after = datetime.now()
    pattern = re.compile(r"Date: (\d{4})-(\d\d)-(\d\d)\s+Time: (\d\d):(\d\d):(\d\d)")
    found = [pattern.search(path.read_text(encoding="utf-8")) for path in (first, second)]
    assert all(found), [path.read_text(encoding="utf-8") for path in (first, second)]
    assert int(found[0].group(1)) in {before.year, after.year}  # even on New Year's Eve
    month, day = int(found[0].group(2)), int(found[0].group(3))
    assert 1 <= month <= 12 and 1 <= day <= 31
    assert found[0].group(4, 5, 6) != found[1].group(4, 5, 6)  # it keeps ticking


def test_serial_hello_reaches_com1_log(tmp_path):
    log, out = tmp_path / "com1.log", tmp_path / "serial.txt"
    ok(run_demo("--type", "4", "--wait-text", "Press any key to return", "--dump-text", out,
                serial=log))
    data = log.read_bytes()
    assert b"vmgui demo booted\r\n" in data
    assert b"Hello from the vmgui demo on COM1\r\n" in data
    assert data.index(b"booted") < data.index(b"Hello")
    assert "Message sent." in out.read_text(encoding="utf-8")
