"""Direct kernel boot end to end with a tiny bzImage (tests/guests/bzhello.img): the
machine loads it as the Linux boot protocol says and its setup code reports, on COM1,
the registers and header fields it was handed, the command line and the bytes at 1 MB.
Through the Machine (both machine kinds, a reset) and through ``vmgui run --kernel``,
with the command line's bad inputs.  Debian's real kernel: test_linux_boot.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEST_GUESTS
from tests.integration.runner import LIMIT_S, refused, vmgui, vmgui_run
from vmgui.automation.session import Session
from vmgui.core import events as ev
from vmgui.core.machine import MachineConfig
from vmgui.host.thread import ThreadHost

BZHELLO = TEST_GUESTS / "bzhello.img"
MB = 1 << 20
INITRD = b"RAMDISK!" * 512  # 4 KiB


def expected_report(memory_mb: int, cmdline: str, initrd_size: int = len(INITRD)) -> str:
    initrd_at = (memory_mb * MB - initrd_size) & ~0xFFF
    return ("segs 1020 1000 1000 1000 1000 1000 E000 0002\r\n"  # CS DS ES FS GS SS SP FLAGS
            f"hdr FF 81 DE00 FFFF {initrd_at:08X} {initrd_size:08X}\r\n"
            f"cmdline={cmdline}\r\nkernel=PMOK\r\ndone\r\n")


@pytest.fixture
def initrd(tmp_path) -> Path:
    path = tmp_path / "initrd.img"
    path.write_bytes(INITRD)
    return path


@pytest.mark.parametrize("profile", ["pc-at", "pc-pci"])
def test_the_setup_code_gets_what_the_boot_protocol_promises(profile, initrd):
    config = MachineConfig(memory_mb=32, profile=profile, kernel=BZHELLO, initrd=initrd,
                           append="console=ttyS0 root=/dev/ram0")
    host = ThreadHost(config)
    host.start()
    try:
        session = Session(host)
        session.wait_for_serial("done\r\n", 10)
        assert host.serial.decode() == expected_report(32, "console=ttyS0 root=/dev/ram0")
        assert "Booting Linux kernel bzhello.img" in session.text()
    finally:
        host.power_off()


def test_a_reset_boots_the_kernel_again(initrd):
    host = ThreadHost(MachineConfig(memory_mb=16, kernel=BZHELLO, initrd=initrd))
    host.start()
    try:
        session = Session(host)
        session.wait_for_serial("done\r\n", 10)
        host.send(ev.Reset())
        session._poll_until(lambda: host.serial.count(b"done\r\n") == 2, "a second boot", 10)
        assert host.serial.decode() == expected_report(16, "") * 2
    finally:
        host.power_off()


def test_vmgui_run_boots_a_kernel_without_any_disk(tmp_path, initrd):
    serial = tmp_path / "com1.log"
    result = vmgui_run("--kernel", BZHELLO, "--initrd", initrd, "--append", "quiet vga=normal",
                       "--memory", "8", "--serial", serial, "--timeout", "20",
                       "--wait-text", "done")
    assert result.returncode == 0, result.stderr
    assert serial.read_bytes().decode() == expected_report(8, "quiet vga=normal")


def test_vmgui_run_without_memory_gives_a_kernel_128_mb(tmp_path):
    serial = tmp_path / "com1.log"
    result = vmgui_run("--kernel", BZHELLO, "--serial", serial, "--wait-text", "done")
    assert result.returncode == 0, result.stderr
    assert "hdr FF 81 DE00 FFFF 00000000 00000000" in serial.read_bytes().decode()


def test_vmgui_run_refuses_a_file_that_is_not_a_kernel(tmp_path):
    elf = tmp_path / "vmlinuz"
    elf.write_bytes(b"\x7fELF" + bytes(8000))  # an uncompressed vmlinux, say
    result = vmgui_run("--kernel", elf, "--wait-text", "x")
    refused(result, "vmgui run: vmlinuz: no Linux boot header (HdrS) at 202h")


def test_vmgui_run_refuses_an_initrd_without_a_kernel(initrd):
    refused(vmgui_run("--initrd", initrd), "--initrd and --append need --kernel")


def test_vmgui_run_says_how_much_memory_an_initrd_needs(tmp_path):
    big = tmp_path / "big.img"
    big.write_bytes(bytes(3 * MB))
    refused(vmgui_run("--kernel", BZHELLO, "--initrd", big, "--memory", "4"),
            "big.img: the initrd of 3.0 MB does not fit in memory above the kernel")


def test_vmgui_run_names_a_missing_kernel(tmp_path):
    refused(vmgui_run("--kernel", tmp_path / "vmlinuz"),
            "vmlinuz: cannot read the kernel (No such file or directory)")


def test_a_library_vm_takes_no_kernel_from_the_command_line(tmp_path):
    home = tmp_path / "home"
    assert vmgui(home, "create", "Box", "--new-hdd", "1", timeout=LIMIT_S).returncode == 0
    refused(vmgui(home, "run", "Box", "--kernel", BZHELLO, timeout=LIMIT_S),
            "--kernel/--initrd/--append cannot be given to library VM 'Box'")
