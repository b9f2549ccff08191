"""vmgui.config.runlock: one process runs a library VM at a time; a dead holder leaves no
lock behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from vmgui.config.runlock import LOCK_FILE, RunLock, VmBusyError, running_pid


def test_second_acquire_is_refused_until_released(tmp_path):
    lock = RunLock.acquire(tmp_path, "Demo")
    assert running_pid(tmp_path) == os.getpid()
    with pytest.raises(VmBusyError, match=rf"Demo is already running \(process {os.getpid()}\)"):
        RunLock.acquire(tmp_path, "Demo")
    lock.release()
    assert running_pid(tmp_path) is None
    with RunLock.acquire(tmp_path, "Demo") as again:
        assert again.held
    assert not again.held


def test_the_lock_of_a_killed_process_is_gone(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from vmgui.config.runlock import RunLock
        lock = RunLock.acquire({str(tmp_path)!r}, "Demo")
        print("locked", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert running_pid(tmp_path) == proc.pid
        with pytest.raises(VmBusyError, match=f"process {proc.pid}"):
            RunLock.acquire(tmp_path, "Demo")
    finally:
        proc.kill()
        proc.wait()
    assert (tmp_path / LOCK_FILE).read_text()  # the killed holder's pid is still written ...
    assert running_pid(tmp_path) is None  # ... but it is dead
    RunLock.acquire(tmp_path, "Demo").release()  # and the kernel dropped its lock


def test_garbage_in_the_lock_file_is_no_holder(tmp_path):
    (tmp_path / LOCK_FILE).write_text("not json")
    assert running_pid(tmp_path) is None
    RunLock.acquire(tmp_path, "Demo").release()
