"""Bad input from a user's (or an attacker's) files gets a one-line message and exit
status 2 from the command line, never a traceback or a hang; the other VMs of the
library stay usable.  Subprocesses on a fresh library (``VMGUI_HOME``); a hang shows as a
``TimeoutExpired`` failure."""

from __future__ import annotations

import os

import pytest

from tests.integration.runner import vmgui
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig

LIMIT_S = 60  # far above any answer; only a hang reaches it


def refused(result, message: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    return result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_device_disks(tmp_path):
    home = tmp_path / "machines"
    fifo = tmp_path / "fifo.img"
    os.mkfifo(fifo)
    library = Library(home)
    library.create(VmConfig("Good"))
    library.create(VmConfig("Fifo", hard_disks=[Attachment(str(fifo))]))
    library.create(VmConfig("Zero", hard_disks=[Attachment("/dev/zero")]))
    listing = vmgui(home, "list", timeout=LIMIT_S)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert f"inaccessible: disk '{fifo}' is not a regular file (FIFO)" in lines["Fifo"]
    assert "inaccessible: disk '/dev/zero' is not a regular file (character device)" \
        in lines["Zero"]
    assert "16 MB" in lines["Good"]
    zero = "disk '/dev/zero' is not a regular file (character device)"
    refused(vmgui(home, "export", "Zero", tmp_path / "z.tar", timeout=LIMIT_S), zero)
    refused(vmgui(home, "clone", "Zero", "Copy", timeout=LIMIT_S), zero)
    refused(vmgui(home, "run", "Zero", "--wait-text", "x", timeout=LIMIT_S), zero)
    not_fifo = f"disk '{fifo}' is not a regular file (FIFO)"
    refused(vmgui(home, "run", "Fifo", "--wait-text", "x", timeout=LIMIT_S), not_fifo)
    refused(vmgui(home, "run", fifo, "--wait-text", "x", timeout=LIMIT_S), not_fifo)
    refused(vmgui(home, "start", "Fifo", "--headless", timeout=LIMIT_S), not_fifo)
    refused(vmgui(home, "create", "F2", "--hdd", fifo, timeout=LIMIT_S),
            f"--hdd: image '{fifo}' is not a regular file (FIFO)")
    assert sorted(p.name for p in home.iterdir()) == ["Fifo", "Good", "Zero"]
    assert not (tmp_path / "z.tar").exists()
