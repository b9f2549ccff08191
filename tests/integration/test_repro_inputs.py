"""The inputs in ../shared/repro that broke vmgui: each now ends with vmgui's own answer."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import ROOT
from tests.integration.runner import vmgui_run

REPRO = ROOT.parent / "shared" / "repro"


@pytest.fixture
def repro(tmp_path):
    def copy(name: str):
        source = REPRO / name
        if not source.is_file():
            pytest.skip(f"{source} not found")
        target = tmp_path / name
        shutil.copyfile(source, target)
        return target

    return copy


def test_segv_boot_sector_is_a_guest_crash_report_with_exit_4(repro):
    """It used to end the process with SIGSEGV inside uc_emu_start (exit 139)."""
    run = vmgui_run(repro("segv-boot-sector.img"), "--timeout", "5", "--wait-text", "NEVER")
    assert run.returncode == 4, run.stderr[-2000:]
    assert "the CPU engine crashed (SIGSEGV" in run.stderr
    assert "CS:IP=0000:5BCC" in run.stderr  # the last known registers
    assert "EAX=00000083" in run.stderr
    assert "Traceback" not in run.stderr


def test_word_out_to_the_pic_is_split_into_byte_writes(repro):
    """`out dx, ax` to A0h used to reach the PIC as F000h (ValueError, reported as a
    guest crash with a traceback).  After its OUTs the sector far-calls into memory it
    never wrote, so how it ends depends on IRQ timing: a time-out, or a guest crash
    report of its own; never a device error."""
    run = vmgui_run(repro("pic-word-out.img"), "--timeout", "2", "--wait-text", "NEVER")
    assert run.returncode in (3, 4), run.stderr[-2000:]
    for sign in ("Traceback", "ValueError", "device error", "internal error"):
        assert sign not in run.stderr, run.stderr[-2000:]
