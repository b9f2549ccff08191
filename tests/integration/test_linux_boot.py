"""Debian's i386 Linux 6.1 (-686) with a busybox initramfs (tests/linux_images.py), booted
directly (--kernel/--initrd/--append) to a shell: issue 11, "What it must show", 1.

One boot per machine kind, real time (as a user runs it), command line
``console=tty0 console=ttyS0 noapic nolapic``: the shell prompt appears on the VGA text
console and on COM1; ``uname -a`` and ``cat /proc/interrupts`` run on both (typed on the
keyboard for the VGA console, sent to COM1 for the serial one), and the interrupt counts
show the timer, the keyboard controller and the serial port at work.  What QEMU shows for
the same files and command line: tests/images-reference.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests import linux_images
from tests.integration.runner import vmgui_run
from vmgui.automation.session import Session
from vmgui.core import events as ev
from vmgui.core.machine import MachineConfig
from vmgui.host.thread import ThreadHost

pytestmark = pytest.mark.slow

PROMPT = linux_images.PROMPT.strip()  # the text screen has no trailing blanks
BOOT_TIMEOUT_S = 400  # ~40 s on an idle 2-core machine; CI shares its cores
COMMAND_TIMEOUT_S = 60
UNAME = re.compile(r"Linux \S+ 6\.1\.\d+-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian 6\.1\.\S+ "
                   r"\(\d{4}-\d\d-\d\d\) i686 GNU/Linux")
UNAME_VGA = r"Linux \S+ 6\.1\.\d+-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian"  # the line wraps
KEYBOARD_READY = "input: AT Translated Set 2 keyboard"


@pytest.fixture(scope="module")
def linux():
    try:
        return linux_images.images()
    except linux_images.MissingInput as exc:
        pytest.skip(str(exc))


def wait_for_serial_or_panic(session: Session, host: ThreadHost, text: str,
                             timeout: float) -> None:
    """Wait for ``text`` on COM1; a kernel panic fails at once, quoting it."""
    needle = text.encode()

    def done() -> bool:
        if b"Kernel panic" in host.serial:
            panic = host.serial[host.serial.rfind(b"Kernel panic"):][:200]
            raise AssertionError(f"Linux panicked: {panic.decode(errors='replace')}")
        return needle in host.serial

    session._poll_until(done, f"{text!r} on COM1", timeout)


@pytest.fixture(scope="module", params=["pc-pci", "pc-at"])
def shell(request, linux) -> Iterator[tuple[Session, ThreadHost]]:
    """The machine booted to the shell prompt on both consoles (one boot per module)."""
    kernel, initrd = linux
    config = MachineConfig(memory_mb=128, profile=request.param, kernel=kernel, initrd=initrd,
                           append=linux_images.SERIAL_APPEND)
    host = ThreadHost(config)
    host.start()
    try:
        session = Session(host)
        wait_for_serial_or_panic(session, host, linux_images.INIT_MARKER, BOOT_TIMEOUT_S)
        wait_for_serial_or_panic(session, host, linux_images.PROMPT, COMMAND_TIMEOUT_S)
        yield session, host
    finally:
        host.power_off()


def serial_command(session: Session, host: ThreadHost, command: str) -> str:
    """Send ``command`` to the shell on COM1; what it printed up to the next prompt."""
    start = len(host.serial)
    host.send(ev.SerialInput(command.encode() + b"\r"))

    def answered() -> bool:
        out = host.serial[start:]
        return command.encode() in out and out.rstrip(b" \x1b[6n").endswith(PROMPT.encode())

    session._poll_until(answered, f"{command!r} answered on COM1", COMMAND_TIMEOUT_S)
    return host.serial[start:].decode("ascii", "replace")


def interrupt_counts(text: str) -> dict[str, int]:
    """/proc/interrupts: device name -> count, for the numbered (IRQ) lines."""
    counts = {}
    for line in text.splitlines():
        match = re.match(r"\s*(\d+):\s+(\d+)\s+\S+\s+(.+?)\s*$", line)
        if match:
            counts[match.group(3)] = int(match.group(2))
    return counts


def test_the_shell_prompt_shows_on_the_vga_console_and_on_com1(shell):
    session, host = shell
    session.wait_for_text(PROMPT, COMMAND_TIMEOUT_S)
    assert linux_images.INIT_MARKER.encode() in host.serial
    assert host.serial.count(linux_images.PROMPT.encode()) >= 1


def test_uname_and_interrupts_on_the_serial_console(shell):
    session, host = shell
    answer = serial_command(session, host, "uname -a")
    assert UNAME.search(answer), answer
    counts = interrupt_counts(serial_command(session, host, "cat /proc/interrupts"))
    assert counts.get("timer", 0) > 0, counts  # the PIT, through the PIC
    assert counts.get("ttyS0", 0) > 0, counts  # the 16550's receive and transmit IRQs
    assert "i8042" in counts, counts  # the keyboard controller's IRQ 1 and 12


def test_uname_and_interrupts_typed_on_the_vga_console(shell):
    session, host = shell
    assert KEYBOARD_READY.encode() in host.serial, "Linux found no keyboard at boot"
    session.type_text("uname -a\n")
    session.wait_for_text(UNAME_VGA, COMMAND_TIMEOUT_S, regex=True)
    session.type_text("cat /proc/interrupts\n")
    session.wait_for_text(r"XT-PIC\s+ttyS0(?:.|\n)*vmgui-linux#\s*$", COMMAND_TIMEOUT_S,
                          regex=True)
    assert re.search(r"XT-PIC\s+i8042", session.text())


def test_vmgui_run_kernel_shows_the_prompt_on_screen_and_in_the_serial_file(linux, tmp_path):
    """The command line a user types: --kernel/--initrd/--append, --serial FILE."""
    kernel, initrd = linux
    serial = tmp_path / "com1.log"
    result = vmgui_run("--machine", "pc-pci", "--kernel", kernel, "--initrd", initrd,
                       "--append", linux_images.SERIAL_APPEND, "--serial", serial,
                       "--timeout", str(BOOT_TIMEOUT_S), "--wait-text", PROMPT,
                       "--sleep", "5",  # the shell on COM1 starts beside the one on tty1
                       timeout=BOOT_TIMEOUT_S + 60)
    assert result.returncode == 0, result.stderr
    log = serial.read_bytes()
    assert linux_images.INIT_MARKER.encode() in log
    assert linux_images.PROMPT.encode() in log
    assert b"Kernel command line: " + linux_images.SERIAL_APPEND.encode() in log
