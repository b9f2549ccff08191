"""VM processes: a machine in its own process, driven through the same interface as the
in-process host; killing one VM's process leaves the others running."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import time
from multiprocessing.shared_memory import SharedMemory

import numpy as np
import pytest

from vmgui.core import events as ev
from vmgui.core import keys
from vmgui.core.machine import MachineConfig
from vmgui.host.base import HostError, NoScreenYet
from vmgui.host.process import ProcessHost


def wait_until(predicate, host, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        host.poll_events()
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out; state {host.state}, crash {host.crash}")


def screen(host) -> str:
    return "\n".join(host.text_lines())  # "" before the first screen


def type_into(host, text: str) -> None:
    for event in keys.text(text):
        host.send(ev.KeyScancodes(event))


@pytest.fixture
def echo_copy(tmp_path, test_guests):
    def make(name: str):
        path = tmp_path / name
        shutil.copy(test_guests / "echo.img", path)
        return path

    return make


def test_keys_in_serial_and_screen_out(echo_copy):
    host = ProcessHost(MachineConfig(floppies=(echo_copy("a.img"),)))
    host.start()
    try:
        wait_until(lambda: "READY" in screen(host), host)
        assert host.pid != os.getpid()
        type_into(host, "a")
        wait_until(lambda: b"1E61" in host.serial, host)
        assert "1E61" in screen(host)
    finally:
        host.power_off()
    assert host.state is ev.RunState.POWERED_OFF
    assert "1E61" in screen(host)  # the last screen stays readable


def test_killing_one_vm_leaves_the_other_running(echo_copy):
    first_img, second_img = echo_copy("first.img"), echo_copy("second.img")
    digest = hashlib.sha256(first_img.read_bytes()).hexdigest()
    first = ProcessHost(MachineConfig(floppies=(first_img,)))
    second = ProcessHost(MachineConfig(floppies=(second_img,)))
    first.start()
    second.start()
    try:
        wait_until(lambda: "READY" in screen(first), first)
        wait_until(lambda: "READY" in screen(second), second)
        os.kill(first.pid, signal.SIGKILL)
        wait_until(lambda: first.state is ev.RunState.ABORTED, first, timeout=2.0)
        assert "killed by signal 9" in first.crash.reason
        type_into(second, "z")
        wait_until(lambda: b"2C7A" in second.serial, second)
        assert hashlib.sha256(first_img.read_bytes()).hexdigest() == digest
        again = ProcessHost(MachineConfig(floppies=(first_img,)))
        again.start()
        try:
            wait_until(lambda: "READY" in screen(again), again)
        finally:
            again.power_off()
    finally:
        first.power_off()
        second.power_off()


def test_bad_image_is_reported_not_raised(tmp_path):
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"\x00" * 1000)
    host = ProcessHost(MachineConfig(), drives={0: (str(bad), "floppy", False)})
    host.start()
    try:
        wait_until(lambda: host.crash is not None, host)
        assert "1000" in host.crash.report
    finally:
        host.power_off()


def test_no_screen_yet_is_named_and_text_is_empty(echo_copy):
    """Before the VM process has answered once there is no screen: display() says so
    with NoScreenYet (a HostError, so also the RuntimeError older callers catch) and
    text_lines() is empty, as for a graphics mode; once RUNNING is reported the screen
    is there (the VM process says it is ready before its machine can report RUNNING)."""
    host = ProcessHost(MachineConfig(floppies=(echo_copy("a.img"),)))
    with pytest.raises(NoScreenYet, match="has not drawn a screen yet"):
        host.display()
    assert host.text_lines() == []
    host.start()  # a VM process takes far longer than this to come up
    try:
        with pytest.raises(NoScreenYet) as caught:
            host.display()
        assert isinstance(caught.value, HostError) and isinstance(caught.value, RuntimeError)
        assert host.text_lines() == []
        wait_until(lambda: host.state is ev.RunState.RUNNING, host)
        assert host.display().cols > 0
        assert isinstance(host.text_lines(), list)
        wait_until(lambda: "READY" in screen(host), host)
    finally:
        host.power_off()


def test_power_off_while_a_caller_holds_the_video_memory(echo_copy):
    """An array over the live video memory (a renderer's, a script's) must not make
    power_off raise BufferError, nor leave the shared-memory segment behind."""
    host = ProcessHost(MachineConfig(floppies=(echo_copy("a.img"),)))
    host.start()
    try:
        wait_until(lambda: "READY" in screen(host), host)
        held = np.frombuffer(host.display().vram, dtype=np.uint8)
        name = host._shm.name  # the segment's name, to check it is gone
    finally:
        host.power_off()
    assert host.state is ev.RunState.POWERED_OFF
    assert "READY" in screen(host)  # the last screen, copied out
    with pytest.raises(FileNotFoundError):
        SharedMemory(name=name)
    assert held.size > 0
    del held


def test_internal_error_in_the_vm_process_is_a_crash_report(monkeypatch):
    """What the VM process does when its machine cannot be built, or its run loop fails:
    a named start failure or a crash report for the parent, never a bare traceback."""
    from vmgui.host import process

    class Broken:
        def __init__(self, *args, **kwargs) -> None:
            raise RuntimeError("engine exploded")

        def run(self) -> None:
            raise RuntimeError("run loop exploded")

    monkeypatch.setattr("vmgui.core.machine.Machine", Broken)
    with pytest.raises(process._StartFailure, match="cannot build the machine.*exploded"):
        process._build(MachineConfig(), {}, None, lambda event: None)
    sent: list = []
    process._run_machine(object.__new__(Broken), sent.append)
    assert [type(m) for m in sent] == [ev.GuestCrashed]
    assert sent[0].reason == "internal error" and "run loop exploded" in sent[0].report


def test_a_screen_request_to_a_process_that_dies_does_not_wait_out_the_timeout(
        echo_copy, monkeypatch):
    """The manager asks for a thumbnail just as the VM process is killed: the answer can
    never come, and the GUI thread asking must not block for the whole reply timeout
    (it did for 5 s, freezing the manager)."""
    import threading

    import vmgui.host.process as process_mod

    host = ProcessHost(MachineConfig(floppies=(echo_copy("a.img"),)))
    host.start()
    try:
        wait_until(lambda: "READY" in screen(host), host)
        monkeypatch.setattr(process_mod, "REPLY_TIMEOUT_S", 3600.0)
        os.kill(host.pid, signal.SIGSTOP)  # alive, but will not answer
        asked = threading.Thread(target=host.display, daemon=True)
        asked.start()
        time.sleep(0.3)  # the request is out and waiting
        assert asked.is_alive()
        os.kill(host.pid, signal.SIGKILL)
        asked.join(60)  # with the bug: an hour
        assert not asked.is_alive(), "display() still waits for a dead VM process"
        assert "READY" in screen(host)  # the last screen stays readable
    finally:
        host.power_off()
