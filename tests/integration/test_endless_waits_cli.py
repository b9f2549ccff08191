"""``vmgui run`` and ``vmgui script`` with times that never end (NaN, infinity, 1e400,
more than a day) or a scenario file that is a FIFO: exit 2 with a named message before
the VM starts, never a hang (issue 12).  Each command runs as a subprocess with a
generous limit: only a hang reaches it."""

from __future__ import annotations

import os

import pytest

from tests.integration.runner import ECHO, LIMIT_S, refused, vmgui


# ---------------------------------------------------------------------- vmgui run
@pytest.mark.parametrize(("steps", "message"), [
    (["--timeout", "nan", "--wait-text", "NEVER"],
     "vmgui run: error: --timeout: 'nan' is not a finite number of seconds"),
    (["--timeout", "inf", "--wait-text", "NEVER"],
     "vmgui run: error: --timeout: 'inf' is not a finite number of seconds"),
    (["--timeout", "1e400", "--wait-text", "NEVER"],
     "vmgui run: error: --timeout: '1e400' is not a finite number of seconds"),
    (["--timeout", "86401", "--wait-text", "NEVER"],
     "vmgui run: error: --timeout: '86401' is more than 86400 seconds (a day)"),
    (["--sleep", "inf"], "vmgui run: --sleep 'inf': not a finite number of seconds"),
    (["--sleep", "nan"], "vmgui run: --sleep 'nan': not a finite number of seconds"),
    (["--sleep", "1e400"], "vmgui run: --sleep '1e400': not a finite number of seconds"),
    (["--sleep", "90000"], "vmgui run: --sleep '90000': more than 86400 seconds (a day)"),
    (["--sleep", "soon"], "vmgui run: --sleep 'soon': not a number of seconds"),
], ids=["timeout-nan", "timeout-inf", "timeout-1e400", "timeout-over-a-day", "sleep-inf",
        "sleep-nan", "sleep-1e400", "sleep-over-a-day", "sleep-not-a-number"])
def test_run_times_that_never_end_are_refused_before_the_vm_starts(tmp_path, steps,
                                                                    message):
    serial = tmp_path / "com1.log"  # made when the VM starts
    result = vmgui(tmp_path / "machines", "run", "--headless", ECHO, "--read-only",
                   "--serial", serial, *steps, timeout=LIMIT_S)
    refused(result, message)
    assert not serial.exists()


# ---------------------------------------------------------------------- vmgui script
def test_script_of_a_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)  # nobody writes: an open to read would block for ever
    refused(vmgui(tmp_path / "machines", "script", fifo, timeout=LIMIT_S),
            f"vmgui script: {fifo}: is a FIFO, not a scenario file")
    if os.path.exists("/dev/zero"):
        refused(vmgui(tmp_path / "machines", "script", "/dev/zero", timeout=LIMIT_S),
                "vmgui script: /dev/zero: is a character device, not a scenario file")


@pytest.mark.parametrize(("step", "message"), [
    ('wait_text = "x"\ntimeout = nan', "step 1: wait_text: timeout nan: must be a number of "
                                       "seconds from 0 to 86400"),
    ("sleep = inf", "step 1: sleep: sleep inf: must be a number of seconds from 0 to 86400"),
], ids=["wait-text-timeout-nan", "sleep-inf"])
def test_script_steps_that_never_end_are_refused_before_the_vm_starts(tmp_path, step,
                                                                      message):
    path = tmp_path / "s.toml"
    path.write_text(f'[vm]\nimage = "{ECHO}"\n[[step]]\n{step}\n')
    out = tmp_path / "out"
    refused(vmgui(tmp_path / "machines", "script", path, "--out", out, timeout=LIMIT_S),
            f"vmgui script: {path}:3: {message}")
    assert not out.exists()
