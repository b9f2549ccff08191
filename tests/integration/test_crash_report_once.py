"""A guest's crash report is printed once by ``vmgui run`` (its own report, exit 4), not a
second time by the machine's log record on stderr; that record still shows at
``--log-level DEBUG`` and still reaches a VM process's ``logs/vm.log`` (issue 12;
vmgui.cli.main's logging set-up)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.runner import LIMIT_S, vmgui
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, VmConfig

DIV0 = Path(__file__).resolve().parents[1] / "guests" / "div0.img"
SEGV = Path(__file__).resolve().parents[3] / "shared" / "repro" / "segv-boot-sector.img"


@pytest.mark.parametrize(("image", "reason"), [
    (DIV0, "unhandled CPU exception: divide error (vector 0)"),
    (SEGV, "the CPU engine crashed (SIGSEGV"),
], ids=["divide-error", "engine-crash"])
def test_run_prints_the_crash_report_once(tmp_path, image, reason):
    if not image.is_file():
        pytest.skip(f"{image} not found")
    copy = tmp_path / "guest.img"
    shutil.copyfile(image, copy)
    result = vmgui(tmp_path / "machines", "run", "--headless", copy, "--read-only",
                   "--timeout", "10", "--wait-text", "NEVER", timeout=LIMIT_S)
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith(f"vmgui run: guest crashed: {reason}"), result.stderr
    assert result.stderr.count("CS:IP=") == 1, result.stderr
    assert result.stderr.count(reason) == 2  # the first line and the report's "reason:"
    assert "ERROR vmgui.core" not in result.stderr


def test_the_crash_log_record_is_still_there_at_debug_level(tmp_path):
    result = vmgui(tmp_path / "machines", "--log-level", "DEBUG", "run", "--headless", DIV0,
                   "--read-only", "--timeout", "10", "--wait-text", "NEVER", timeout=LIMIT_S)
    assert result.returncode == 4, result.stderr
    assert "ERROR vmgui.core.machine: guest crashed: unhandled CPU exception" in result.stderr


def test_the_vm_log_keeps_the_crash_report(tmp_path):
    """A VM process (``vmgui start --headless``) logs the crash to the VM's log as before:
    only the command line's stderr lost its second copy."""
    home = tmp_path / "machines"
    floppy = tmp_path / "div0.img"
    shutil.copyfile(DIV0, floppy)
    entry = Library(home).create(VmConfig("Div", floppy_a=Attachment(str(floppy))))
    assert vmgui(home, "start", "Div", "--headless", timeout=LIMIT_S).returncode == 0
    try:
        waited = vmgui(home, "control", "Div", "wait-text", "NEVER", "--timeout", "10",
                       timeout=LIMIT_S)
        assert waited.returncode == 4, waited.stderr
        assert waited.stderr.count("CS:IP=") == 1, waited.stderr
    finally:
        vmgui(home, "control", "Div", "poweroff", timeout=LIMIT_S)
    log = (entry.folder / "logs" / "vm.log").read_text()
    assert "ERROR vmgui.core.machine: guest crashed: unhandled CPU exception: divide " \
           "error" in log
    assert log.count("CS:IP=") == 1, log  # the VM process used to log it a second time
