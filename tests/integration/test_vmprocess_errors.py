"""The headless VM process (``vmgui start --headless``) reports an internal error.

An exception out of the machine's run loop used to end the emulation thread with a bare
thread traceback, after which the process logged "powered off" and exited 0: it looked
like a clean power-off.  It is now a ``GuestCrashed("internal error", ...)`` report whose
text (with the traceback) goes to the VM log, and the process exits 4.  Run in-process
(``run_vm``), with the run loop's step patched to fail.
"""

from __future__ import annotations

import logging
import shutil
import signal
from pathlib import Path

import pytest

from vmgui.config.library import Library
from vmgui.config.runlock import running_pid
from vmgui.config.schema import Attachment, VmConfig
from vmgui.core.machine import Machine
from vmgui.host import vmprocess
from vmgui.host.control import socket_path

ECHO = Path(__file__).resolve().parents[2] / "tests" / "guests" / "echo.img"


@pytest.fixture
def library(tmp_path) -> Library:
    library = Library(tmp_path / "home")
    entry = library.create(VmConfig("Good", floppy_a=Attachment("demo.img")))
    shutil.copyfile(ECHO, entry.folder / "demo.img")
    return library


@pytest.fixture(autouse=True)
def no_signal_handlers(monkeypatch):
    """run_vm installs SIGTERM/SIGINT/SIGHUP handlers: not in the test process."""
    monkeypatch.setattr(signal, "signal", lambda *_args: None)


def test_internal_error_in_the_run_loop_is_a_crash_report(library, monkeypatch, caplog,
                                                          capsys):
    def broken_step(self) -> bool:
        raise RuntimeError("run loop exploded")

    monkeypatch.setattr(Machine, "_step", broken_step)
    with caplog.at_level(logging.INFO, logger="vmgui"):
        status = vmprocess.run_vm("Good", library.root)
    assert status == 4
    [crash] = [r.getMessage() for r in caplog.records if "guest crashed" in r.getMessage()]
    assert crash.startswith("guest crashed: internal error\nRuntimeError('run loop exploded')")
    assert "Traceback (most recent call last)" in crash and "broken_step" in crash
    logged = caplog.text
    assert "guest crashed: internal error" in logged and "broken_step" in logged
    assert "stopped on an internal error" in logged
    assert "powered off" not in logged.split("guest crashed")[-1]  # not a clean power-off
    assert "Exception in thread" not in capsys.readouterr().err  # no bare thread traceback
    folder = library.get("Good").folder
    assert running_pid(folder) is None and not socket_path(folder).exists()


def test_clean_power_off_still_exits_0(library, monkeypatch, caplog):
    def power_off_step(self) -> bool:
        return False  # as after a PowerOff command

    monkeypatch.setattr(Machine, "_step", power_off_step)
    with caplog.at_level(logging.INFO, logger="vmgui"):
        assert vmprocess.run_vm("Good", library.root) == 0
    assert "VM 'Good' powered off" in caplog.text
    assert "internal error" not in caplog.text
