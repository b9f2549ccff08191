"""Drive ``vmgui run`` as a user would: a subprocess with the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "tests" / "guests" / "echo.img"
LIMIT_S = 60  # for commands that answer at once: far above any answer; only a hang reaches it


def vmgui(home: Path, *args: object, timeout: float = 180,
          **env: str) -> subprocess.CompletedProcess[str]:
    """``vmgui ARGS...`` as a subprocess on the library in ``home`` (``VMGUI_HOME``), with
    extra environment variables ``env``."""
    environ = dict(os.environ, VMGUI_HOME=str(home), **env)
    cmd = [sys.executable, "-m", "vmgui.cli.main", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=environ)


def refused(result: subprocess.CompletedProcess[str], message: str) -> str:
    """Check that ``result`` is a refusal: exit status 2 with ``message`` on stderr and no
    traceback.  Returns the stderr."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    return result.stderr


def vmgui_run(*args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "vmgui.cli.main", "run", "--headless", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def colours(img: np.ndarray) -> set[tuple[int, int, int]]:
    flat = img.reshape(-1, 3)
    return {tuple(int(v) for v in c) for c in np.unique(flat, axis=0)}


def reference(shared: Path, name: str, scale_to: tuple[int, int]) -> np.ndarray:
    """A QEMU reference screendump scaled (nearest) to our native resolution."""
    img = Image.open(shared / "qemu-reference" / name).convert("RGB")
    return np.asarray(img.resize(scale_to, Image.NEAREST))
