"""Library VMs with a kernel in their settings (``vmgui create/modify --kernel --initrd
--append``) boot it directly, with and without a disk: the tiny bzImage of
tests/guests/bzhello.img reports on COM1 what the loader handed it (see
test_direct_boot.py); a disk attached beside the kernel is still there for the BIOS
(BDA disk count) and on the ATA controller (IDENTIFY answers on the primary master)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.integration.runner import LIMIT_S, refused, vmgui
from tests.integration.test_direct_boot import BZHELLO, INITRD, expected_report
from vmgui.automation.session import Session
from vmgui.config.library import Library
from vmgui.host.thread import ThreadHost

BDA_HARD_DISKS = 0x475
ATA_DATA, ATA_DRIVE, ATA_COMMAND = 0x1F0, 0x1F6, 0x1F7
ATA_IDENTIFY, ATA_BSY, ATA_DRQ = 0xEC, 0x80, 0x08


@pytest.fixture
def initrd(tmp_path) -> Path:
    path = tmp_path / "initrd.img"
    path.write_bytes(INITRD)
    return path


def created(home: Path, *args: object) -> None:
    result = vmgui(home, "create", "Linux", *args, timeout=LIMIT_S)
    assert result.returncode == 0, result.stderr


def test_vmgui_run_name_boots_the_kernel_of_its_settings(tmp_path, initrd):
    home, serial = tmp_path / "home", tmp_path / "com1.log"
    created(home, "--memory", "8", "--kernel", BZHELLO, "--initrd", initrd,
            "--append", "console=ttyS0 quiet")
    listed = vmgui(home, "list", timeout=LIMIT_S).stdout
    assert f"kernel: {BZHELLO}" in listed
    result = vmgui(home, "run", "Linux", "--serial", serial, "--timeout", "20",
                   "--wait-text", "done", timeout=LIMIT_S)
    assert result.returncode == 0, result.stderr
    assert serial.read_bytes().decode() == expected_report(8, "console=ttyS0 quiet")


def test_modify_sets_changes_and_removes_the_kernel(tmp_path, initrd):
    home, serial = tmp_path / "home", tmp_path / "com1.log"
    created(home, "--memory", "8", "--new-hdd", "1")
    assert vmgui(home, "modify", "Linux", "--kernel", BZHELLO, "--append", "a=1",
                 timeout=LIMIT_S).returncode == 0
    config = Library(home).get("Linux").config
    assert (config.direct_boot.kernel, config.direct_boot.initrd) == (str(BZHELLO), "")
    result = vmgui(home, "run", "Linux", "--serial", serial, "--wait-text", "done",
                   timeout=LIMIT_S)
    assert result.returncode == 0, result.stderr
    assert "hdr FF 81 DE00 FFFF 00000000 00000000\r\ncmdline=a=1\r\n" in \
        serial.read_bytes().decode()
    assert vmgui(home, "modify", "Linux", "--no-kernel", timeout=LIMIT_S).returncode == 0
    config = Library(home).get("Linux").config
    assert not config.direct_boot.enabled and config.direct_boot.append == ""


def test_a_disk_beside_the_kernel_stays_attached(tmp_path):
    home = tmp_path / "home"
    created(home, "--memory", "8", "--new-hdd", "2", "--kernel", BZHELLO)
    entry = Library(home).get("Linux")
    config = entry.config.to_machine_config(entry.folder)
    host = ThreadHost(config, entry.config.open_drives(entry.folder))
    host.start()
    try:
        Session(host).wait_for_serial("done\r\n", 10)  # the kernel booted, not the disk
        machine = host.machine  # halted with interrupts off: nothing else runs now
        assert machine.memory.read(BDA_HARD_DISKS, 1) == b"\x01"
        identify = ata_identify(machine.bus)
        assert struct.unpack_from("<I", identify, 60 * 2)[0] == 2 * 2048  # LBA28 sectors
    finally:
        host.power_off()


def ata_identify(bus) -> bytes:
    bus.write(ATA_DRIVE, 1, 0xA0)  # master
    bus.write(ATA_COMMAND, 1, ATA_IDENTIFY)
    for _ in range(1000):
        status = bus.read(ATA_COMMAND, 1)
        if not status & ATA_BSY:
            break
    assert status & ATA_DRQ, f"IDENTIFY: status {status:02X}"
    return b"".join(struct.pack("<H", bus.read(ATA_DATA, 2)) for _ in range(256))


def test_create_checks_the_kernel_and_initrd_now(tmp_path):
    home = tmp_path / "home"
    not_kernel = tmp_path / "vmlinuz"
    not_kernel.write_bytes(b"\x7fELF" + bytes(1000))
    refused(vmgui(home, "create", "A", "--kernel", not_kernel, timeout=LIMIT_S),
            "vmgui create: --kernel: vmlinuz: no Linux boot header (HdrS) at 202h")
    refused(vmgui(home, "create", "B", "--kernel", tmp_path / "gone", timeout=LIMIT_S),
            f"vmgui create: --kernel {tmp_path / 'gone'}: no such file")
    refused(vmgui(home, "create", "C", "--kernel", BZHELLO, "--initrd", tmp_path,
                  timeout=LIMIT_S), f"vmgui create: --initrd {tmp_path}: is a folder, not a file")
    refused(vmgui(home, "create", "D", "--initrd", BZHELLO, timeout=LIMIT_S),
            "an initrd is set but no kernel to boot with it")
    refused(vmgui(home, "create", "E", "--kernel", BZHELLO, "--append", "a\tb",
                  timeout=LIMIT_S),
            "the kernel command line contains control characters (U+0009)")
    assert not home.exists() or not any(home.iterdir())


def test_a_kernel_that_does_not_fit_the_vms_memory_is_named_at_start(tmp_path):
    home, big = tmp_path / "home", tmp_path / "big.img"
    big.write_bytes(bytes(3 << 20))
    created(home, "--memory", "4", "--kernel", BZHELLO, "--initrd", big)
    refused(vmgui(home, "run", "Linux", "--wait-text", "done", timeout=LIMIT_S),
            "big.img: the initrd of 3.0 MB does not fit in memory above the kernel")


def test_a_kernel_deleted_after_create_is_named_at_start(tmp_path):
    home, kernel = tmp_path / "home", tmp_path / "vmlinuz"
    kernel.write_bytes(BZHELLO.read_bytes())
    created(home, "--memory", "8", "--kernel", kernel)
    kernel.unlink()
    refused(vmgui(home, "run", "Linux", "--wait-text", "done", timeout=LIMIT_S),
            "vmlinuz: cannot read the kernel (No such file or directory)")


def test_vmgui_start_boots_the_kernel_in_the_vm_process(tmp_path):
    """``vmgui start --headless``: the VM process builds its machine from the settings too
    (bzhello's report is on the screen as well as on COM1)."""
    from tests.integration.runner import ROOT

    home = tmp_path / "home"
    env = {"PYTHONPATH": str(ROOT)}  # the VM process imports this tree's vmgui (worktrees)
    created(home, "--memory", "8", "--kernel", BZHELLO, "--append", "from-start")
    started = vmgui(home, "start", "Linux", "--headless", timeout=LIMIT_S, **env)
    assert started.returncode == 0, started.stderr
    try:
        waited = vmgui(home, "control", "Linux", "wait-text", "cmdline=from-start",
                       "--timeout", "20", timeout=LIMIT_S, **env)
        assert waited.returncode == 0, waited.stderr
        assert "Booting Linux kernel bzhello.img" in vmgui(
            home, "control", "Linux", "text", timeout=LIMIT_S, **env).stdout
    finally:
        vmgui(home, "control", "Linux", "poweroff", timeout=LIMIT_S, **env)
