"""The composition root: the CLI still answers sub-commands; no arguments open the
manager.  The last test starts the real application under Xvfb, as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vmgui import app

REPO = Path(__file__).resolve().parents[2]


def test_subcommands_go_to_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        app.main(["--help"])
    assert exc.value.code == 0
    assert "run" in capsys.readouterr().out
    assert app.main(["list"]) == 0


def test_no_arguments_open_the_manager(monkeypatch):
    calls = []
    monkeypatch.setattr(app, "run_gui", lambda argv: calls.append(argv) or 0)
    monkeypatch.setattr(sys, "argv", ["vmgui"])
    assert app.main() == 0
    assert calls == [["vmgui"]]


def test_desktop_entry_and_icon():
    entry = (REPO / "resources" / "vmgui.desktop").read_text()
    assert "Exec=vmgui\n" in entry and "Icon=vmgui\n" in entry
    assert (REPO / "resources" / "icons" / "vmgui.svg").read_text().lstrip().startswith("<svg")


def _free_display() -> int:
    for number in range(90, 190):
        if not Path(f"/tmp/.X{number}-lock").exists() \
                and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    pytest.skip("no free X display number")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")
@pytest.mark.skipif(shutil.which("import") is None, reason="ImageMagick import is missing")
def test_real_app_shows_the_manager_under_xvfb(tmp_path):
    from PIL import Image

    number = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1024x768x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if xvfb.poll() is not None or time.monotonic() > deadline:
                pytest.skip("Xvfb did not start")
            time.sleep(0.05)
        env = dict(os.environ, DISPLAY=f":{number}", VMGUI_HOME=str(tmp_path / "home"))
        env.pop("QT_QPA_PLATFORM", None)
        env.pop("WAYLAND_DISPLAY", None)
        log = (tmp_path / "app.log").open("wb")
        gui = subprocess.Popen([sys.executable, str(REPO / "main.py")], cwd=tmp_path, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(3)
            if gui.poll() is not None:
                output = (tmp_path / "app.log").read_text(errors="replace")
                if 'platform plugin "xcb"' in output:
                    pytest.skip("Qt's xcb plugin cannot load here (X11 libraries missing)")
                pytest.fail(f"the app exited with {gui.returncode}:\n{output}")
            shot = tmp_path / "screen.png"
            subprocess.run(["import", "-display", f":{number}", "-window", "root", str(shot)],
                           check=True, timeout=10, env=env)
            with Image.open(shot) as image:
                colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is None or len(colours) > 16, "the screen is (nearly) uniform"
            assert (tmp_path / "home" / "Demo" / "vm.toml").is_file()
        finally:
            _stop(gui)
            log.close()
    finally:
        _stop(xvfb)
