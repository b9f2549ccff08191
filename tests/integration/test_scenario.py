"""Scenario files and the automation API: reproducible docs screenshots, waiting for a
picture, and bad scenarios refused before any VM starts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT
from vmgui.automation.session import AutomationTimeout, Session, find_needle
from vmgui.core.machine import MachineConfig
from vmgui.host.lockstep import LockstepHost

SCENARIO = ROOT / "docs" / "scenarios" / "freedos.toml"


def vmgui_script(*args):
    return subprocess.run([sys.executable, "-m", "vmgui.cli.main", "script", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.slow
def test_docs_scenario_gives_byte_identical_pngs(shared_guests, tmp_path):
    manifests = []
    for n in (1, 2):
        out = tmp_path / f"run{n}"
        result = vmgui_script(SCENARIO, "--out", out)
        assert result.returncode == 0, result.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert [i["file"] for i in manifest["images"]] == [
            "freedos-prompt.png", "freedos-ver.png", "freedos-dir.png"]
        for item in manifest["images"]:
            assert hashlib.sha256((out / item["file"]).read_bytes()).hexdigest() == item["sha256"]
        manifests.append([i["sha256"] for i in manifest["images"]])
    assert manifests[0] == manifests[1]


def write(tmp_path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("body", "expected"), [
    ('[[step]]\nclick = "x"\n', "unknown verb 'click'"),
    ('[[step]]\nwait_text = "x"\ntimeout = -1\n', "timeout -1"),
    ('[[step]]\nwait_screen = "big.png"\n', "larger than any screen"),
])
def test_bad_steps_are_refused_before_start_naming_the_line(tmp_path, test_guests, body,
                                                             expected):
    Image.new("RGB", (800, 600)).save(tmp_path / "big.png")
    image = test_guests / "echo.img"
    path = write(tmp_path, f'[vm]\nimage = "{image}"\n\n[[step]]\nsleep = 0.1\n\n' + body)
    result = vmgui_script(path, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert f"{path}:7: step 2" in result.stderr and expected in result.stderr
    assert not (tmp_path / "out").exists(), "nothing may run or be written"


def test_missing_image_is_refused(tmp_path):
    path = write(tmp_path, '[vm]\nimage = "nowhere.img"\n[[step]]\nsleep = 1\n')
    result = vmgui_script(path)
    assert result.returncode == 2 and "nowhere.img does not exist" in result.stderr


def cubicdoom_session(shared_guests):
    host = LockstepHost(MachineConfig(floppies=(shared_guests / "cubicdoom.img",),
                                      read_only=True))
    host.start()
    return Session(host)


@pytest.mark.slow
def test_wait_for_screen_finds_a_needle_in_mode_13h(shared_guests, tmp_path):
    session = cubicdoom_session(shared_guests)
    try:
        session.sleep(1.0)
        shot = session.screenshot(tmp_path / "full.png")
        full = np.asarray(Image.open(shot).convert("RGB"))
        assert full.shape == (200, 320, 3)
        needle = full[120:170, 40:120].copy()
        Image.fromarray(needle).save(tmp_path / "needle.png")
    finally:
        session.power_off()
    again = cubicdoom_session(shared_guests)  # same guest time, same maze, same view
    try:
        again.sleep(1.0)
        assert again.wait_for_screen(tmp_path / "needle.png", timeout=2) == (40, 120)
        missing = np.zeros((30, 30, 3), np.uint8)
        missing[::2, ::2] = (255, 0, 255)
        Image.fromarray(missing).save(tmp_path / "missing.png")
        again.artifacts = tmp_path  # where the screen at a time-out goes
        with pytest.raises(AutomationTimeout) as info:
            again.wait_for_screen(tmp_path / "missing.png", timeout=0.5)
        assert "missing.png" in str(info.value)
        assert info.value.screenshot == tmp_path / "timeout.png"
        assert info.value.screenshot.is_file()
    finally:
        again.power_off()


def test_find_needle_with_region_and_threshold():
    screen = np.zeros((100, 200, 3), np.uint8)
    screen[40:50, 60:80] = (10, 200, 30)
    screen[44, 65] = (0, 0, 0)  # one wrong pixel
    needle = np.full((10, 20, 3), (10, 200, 30), np.uint8)
    assert find_needle(screen, needle, 0.99) == (60, 40)
    assert find_needle(screen, needle, 1.0) is None
    from vmgui.automation.session import Region

    assert find_needle(screen, needle, 0.99, Region(0, 0, 50, 100)) is None


@pytest.mark.slow
def test_committed_docs_shots_are_what_the_scenario_makes(shared_guests, tmp_path):
    """docs/shots/ (used by the README) is regenerable: running the scenario again gives
    the committed files byte for byte."""
    committed = json.loads((ROOT / "docs" / "shots" / "manifest.json").read_text())
    result = vmgui_script(SCENARIO, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    fresh = json.loads((tmp_path / "manifest.json").read_text())
    assert [i["sha256"] for i in fresh["images"]] == [i["sha256"] for i in committed["images"]]
    for item in committed["images"]:
        assert (ROOT / "docs" / "shots" / item["file"]).read_bytes() == \
            (tmp_path / item["file"]).read_bytes()
