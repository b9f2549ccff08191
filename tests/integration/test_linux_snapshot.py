"""Live snapshots and saved states of a Linux VM at its shell (issue 11, "What it must
show" 4): Debian's i386 kernel and the busybox initramfs of tests/linux_images.py, booted
directly, as a user runs it (real time, a worker thread).

One boot: at the shell, a live snapshot is taken (the VM paused, so the screen looked at
is the one saved); the guest then writes a marker on its VGA console (sent over COM1 to
``/dev/tty1``), and loading the snapshot puts back the saved screen, pixel for pixel, and
the shell on ttyS0 still answers.  Then the state is saved with the VM powered off, as
the console's "save state" does, and a second machine started from it shows the same
screen and answers on COM1 too.
"""

from __future__ import annotations

import hashlib

import pytest

from tests import linux_images
from tests.integration.test_linux_boot import (
    BOOT_TIMEOUT_S,
    COMMAND_TIMEOUT_S,
    wait_for_serial_or_panic,
)
from vmgui.automation.session import Session
from vmgui.core import events as ev
from vmgui.core.machine import MachineConfig
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.render import render
from vmgui.host.thread import ThreadHost

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def linux():
    try:
        return linux_images.images()
    except linux_images.MissingInput as exc:
        pytest.skip(str(exc))


def frame(host: ThreadHost) -> str:
    """The screen as the console draws it (digest of the RGB pixels and the size)."""
    state = host.display()
    width, height, rgb = render(state, load_rom_font(state.char_height))
    return hashlib.sha256(f"{width}x{height}".encode() + rgb).hexdigest()


def state_result(session: Session, host: ThreadHost, path: str) -> ev.StateSaved | ev.StateLoaded:
    """The StateSaved/StateLoaded event answering the command on ``path``."""
    seen = len(host.state_files)

    def answered():
        return next((e for e in host.state_files[seen:] if e.path == path), None)

    result = session._poll_until(answered, f"the machine's answer about {path}",
                                 COMMAND_TIMEOUT_S)
    assert result.error is None, result.error
    return result


def shell_answers(session: Session, host: ThreadHost, marker: str) -> None:
    """The shell on COM1 runs ``echo`` (with arithmetic: the answer is not the echo of
    what was typed) and prints ``marker-42``."""
    start = len(host.serial)
    host.send(ev.SerialInput(f"echo {marker}-$((6*7))\r".encode()))
    session._poll_until(lambda: f"{marker}-42".encode() in host.serial[start:],
                        f"the shell's answer {marker}-42 on COM1", COMMAND_TIMEOUT_S)


def paused(session: Session, host: ThreadHost) -> None:
    host.send(ev.Pause())
    session._poll_until(lambda: host.state is ev.RunState.PAUSED, "the VM paused",
                        COMMAND_TIMEOUT_S)


def test_snapshot_at_the_shell_restores_the_screen_and_the_shell_answers(linux, tmp_path):
    kernel, initrd = linux
    config = MachineConfig(memory_mb=128, profile="pc-pci", kernel=kernel, initrd=initrd,
                           append=linux_images.SERIAL_APPEND)
    live, saved = str(tmp_path / "live.state"), str(tmp_path / "saved.state")
    host = ThreadHost(config)
    host.start()
    try:
        session = Session(host)
        wait_for_serial_or_panic(session, host, linux_images.PROMPT, BOOT_TIMEOUT_S)
        session.wait_for_text(linux_images.PROMPT.strip(), COMMAND_TIMEOUT_S)
        shell_answers(session, host, "booted")
        paused(session, host)
        host.send(ev.SaveState(live))
        state_result(session, host, live)
        at_save = frame(host)
        host.send(ev.Resume())
        host.send(ev.SerialInput(b"echo on-tty1-$((6*7)) > /dev/tty1\r"))
        session.wait_for_text("on-tty1-42", COMMAND_TIMEOUT_S)
        assert frame(host) != at_save
        paused(session, host)
        host.send(ev.LoadState(live))
        state_result(session, host, live)
        assert frame(host) == at_save  # the marker is gone: the saved screen is back
        host.send(ev.Resume())
        shell_answers(session, host, "restored")
        session.wait_for_text(linux_images.PROMPT.strip(), COMMAND_TIMEOUT_S)
        paused(session, host)
        at_power_off = frame(host)
        host.send(ev.SaveState(saved, power_off=True))
        state_result(session, host, saved)
        session._poll_until(lambda: not host.alive, "the VM powered off", COMMAND_TIMEOUT_S)
    finally:
        host.power_off()
    again = ThreadHost(config)
    again.start()
    try:
        session = Session(again)
        again.send(ev.Pause())  # taken before the load: no guest code runs in between
        again.send(ev.LoadState(saved))
        state_result(session, again, saved)
        assert frame(again) == at_power_off
        again.send(ev.Resume())
        shell_answers(session, again, "resumed")
        shell_answers(session, again, "still")  # timers, the UART's IRQ go on
    finally:
        again.power_off()
