"""Command-line bad input that docs/bad-input.md lists and no other test covered: each is
a one-line message with exit status 2 before anything runs or is written (no VM is
booted: the steps are checked first).  Subprocesses on a fresh library (``VMGUI_HOME``)."""

from __future__ import annotations

import os

import pytest

from tests.integration.runner import ECHO, LIMIT_S, refused, vmgui


@pytest.mark.parametrize(("steps", "message"), [
    (["--sleep", "-1"], "vmgui run: --sleep '-1': negative"),
    (["--type", "é"], "vmgui run: --type 'é': cannot type 'é' on a US keyboard layout"),
    (["--key-down", "ctrl+nope"], "vmgui run: --key-down 'ctrl+nope': unknown key name "
                                  "'nope'"),
    (["--timeout", "abc"], "vmgui run: error: --timeout: 'abc' is not a number of seconds"),
    (["--screenshot", "{missing}/x.png"], "vmgui run: --screenshot {missing}/x.png: folder "
                                          "{missing} does not exist"),
], ids=["negative-sleep", "untypable-text", "unknown-held-key", "timeout-not-a-number",
        "screenshot-into-a-missing-folder"])
def test_bad_run_steps_are_refused_before_the_vm_starts(tmp_path, steps, message):
    missing = tmp_path / "no" / "such" / "folder"
    steps = [s.format(missing=missing) for s in steps]
    result = vmgui(tmp_path / "machines", "run", "--headless", ECHO, "--read-only", *steps,
                   timeout=LIMIT_S)
    refused(result, message.format(missing=missing))
    assert not (tmp_path / "no").exists()


def test_library_commands_refuse_bad_arguments_and_write_nothing(tmp_path):
    home = tmp_path / "machines"
    assert vmgui(home, "create", "Box", "--new-hdd", "1", timeout=LIMIT_S).returncode == 0
    if os.path.exists("/dev/zero"):
        refused(vmgui(home, "create", "Zero", "--floppy", "/dev/zero", timeout=LIMIT_S),
                "vmgui create: --floppy: image '/dev/zero' is not a regular file "
                "(character device)")
    refused(vmgui(home, "snapshot", "Box", "take", "", timeout=LIMIT_S),
            "vmgui snapshot: a snapshot needs a name")
    target = tmp_path / "no" / "box.tar"
    refused(vmgui(home, "export", "Box", target, timeout=LIMIT_S),
            f"vmgui export: {target}: cannot write (No such file or directory)")
    assert sorted(p.name for p in home.iterdir()) == ["Box"]
    assert not list((home / "Box").glob("*.cow"))  # no snapshot was taken
    assert not (tmp_path / "no").exists()
