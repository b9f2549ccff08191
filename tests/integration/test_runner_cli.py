"""``vmgui run`` on bad input, crashing guests and our own small test guests: exit codes
and messages as the runner promises (2 bad input, 3 wait timed out, 4 guest crashed)."""

from __future__ import annotations

import pytest

from tests.integration.runner import vmgui_run


def test_missing_file(tmp_path):
    result = vmgui_run(tmp_path / "nope.img", "--wait-text", "x")
    assert result.returncode == 2
    assert "nope.img" in result.stderr and "Traceback" not in result.stderr


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    result = vmgui_run(empty)
    assert result.returncode == 2
    assert "empty.img" in result.stderr and "empty" in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_1000_byte_floppy(tmp_path):
    odd = tmp_path / "odd.img"
    odd.write_bytes(b"\x00" * 1000)
    result = vmgui_run("--floppy", odd)
    assert result.returncode == 2
    assert "odd.img" in result.stderr and "1000" in result.stderr
    assert "Traceback" not in result.stderr


def test_directory(tmp_path):
    result = vmgui_run(tmp_path)
    assert result.returncode == 2
    assert "director" in result.stderr.lower() and "Traceback" not in result.stderr


def test_non_image_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not a disk\n")
    result = vmgui_run(text)
    assert result.returncode == 2
    assert "notes.txt" in result.stderr and "Traceback" not in result.stderr


def test_no_boot_signature_prints_message_and_wait_times_out(tmp_path):
    blank = tmp_path / "blank.img"
    blank.write_bytes(b"\x00" * 1474560)
    result = vmgui_run(blank, "--timeout", "3", "--wait-text", "never shown")
    assert result.returncode == 3
    assert "No bootable device" in result.stderr  # the screen goes to stderr on a timeout
    assert "never shown" in result.stderr


def test_usage_errors():
    assert vmgui_run().returncode == 2  # no image at all
    assert vmgui_run("x.img", "--timeout", "-1").returncode == 2
    assert vmgui_run("x.img", "--key", "notakey").returncode == 2
    for bad in ("-0.1", "nan", "11"):
        result = vmgui_run("x.img", "--key-delay", bad, "--type", "a")
        assert result.returncode == 2 and "--key-delay" in result.stderr


def test_divide_error_stops_the_vm_with_a_report(test_guests):
    result = vmgui_run(test_guests / "div0.img", "--timeout", "10", "--wait-text", "NEVER")
    assert result.returncode == 4
    assert "divide error" in result.stderr and "CS:IP=" in result.stderr


def test_invalid_opcode_stops_the_vm_with_a_report(test_guests):
    result = vmgui_run(test_guests / "invalid.img", "--timeout", "10", "--wait-text", "NEVER")
    assert result.returncode == 4
    assert "invalid opcode" in result.stderr and "0f 0b" in result.stderr


def test_irqs_and_chained_vectors(test_guests, tmp_path):
    serial = tmp_path / "com1.log"
    result = vmgui_run(test_guests / "irqs.img", "--serial", serial, "--timeout", "10",
                       "--wait-text", "IRQ OK")
    assert result.returncode == 0, result.stderr
    assert b"IRQ TEST" in serial.read_bytes() and b"IRQ OK" in serial.read_bytes()


@pytest.mark.parametrize(("keys", "expected"), [
    (["--type", "aZ\\n"], "1E61 2C5A 1C0D"),
    (["--key-delay", "0.05", "--type", "aZ\\n"], "1E61 2C5A 1C0D"),
    (["--key", "f1", "--key", "up", "--key", "ctrl+c"], "3B00 4800 2E03"),
])
def test_keyboard_path_end_to_end(test_guests, tmp_path, keys, expected):
    serial = tmp_path / "com1.log"
    result = vmgui_run(test_guests / "echo.img", "--serial", serial, "--timeout", "10",
                       "--wait-text", "READY", *keys, "--wait-text", expected)
    assert result.returncode == 0, result.stderr
    assert expected in serial.read_text()
