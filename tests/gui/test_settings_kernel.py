"""The settings' Kernel page: loads a VM's direct-boot settings, saves changes, forgets
them when unticked, names bad files and command lines, and is locked while the VM runs."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_GUESTS
from vmgui.config.library import Library
from vmgui.config.schema import Attachment, DirectBoot, VmConfig
from vmgui.storage import media
from vmgui.ui.kernel_fields import DEFAULT_APPEND
from vmgui.ui.settings import SettingsDialog

BZHELLO = TEST_GUESTS / "bzhello.img"


@pytest.fixture
def library(tmp_path, monkeypatch) -> Library:
    monkeypatch.setenv("VMGUI_HOME", str(tmp_path / "home"))
    lib = Library()
    lib.create(VmConfig("Dos"))
    entry = lib.create(VmConfig("Linux", memory_mb=128, hard_disks=[Attachment("c.img")],
                                direct_boot=DirectBoot("vmlinuz", "", "console=ttyS0")))
    (entry.folder / "vmlinuz").write_bytes(BZHELLO.read_bytes())  # relative: in the folder
    media.create_hard_disk(entry.folder / "c.img", 1)
    return lib


@pytest.fixture
def make_dialog(qtbot, library):
    def make(name: str, running: bool = False) -> SettingsDialog:
        dialog = SettingsDialog(library, library.get(name), running=running)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return make


def kernel_row(dialog: SettingsDialog) -> int:
    titles = [dialog.page_list.item(i).text() for i in range(dialog.page_list.count())]
    return titles.index("Kernel")


def test_the_page_shows_the_vms_kernel(make_dialog):
    dialog = make_dialog("Linux")
    assert kernel_row(dialog) == 3  # after Storage
    page = dialog.kernel
    assert page.enabled.isChecked() and page.fields.isEnabled()
    assert page.fields.kernel.text() == "vmlinuz"  # found in the VM folder
    assert page.fields.append.text() == "console=ttyS0"
    assert page.problems() == [] and dialog.save_button.isEnabled()


def test_a_vm_without_a_kernel_starts_unticked_with_the_default_command_line(make_dialog):
    dialog = make_dialog("Dos")
    page = dialog.kernel
    assert not page.enabled.isChecked() and not page.fields.isEnabled()
    assert page.fields.append.text() == DEFAULT_APPEND and page.problems() == []


def test_setting_a_kernel_is_saved(make_dialog, library, tmp_path):
    initrd = tmp_path / "initrd.gz"
    initrd.write_bytes(b"\x1f\x8b" + bytes(100))
    dialog = make_dialog("Dos")
    page = dialog.kernel
    page.enabled.setChecked(True)
    assert not dialog.save_button.isEnabled()  # no kernel yet
    assert "Kernel: Choose a Linux kernel file." in dialog.problem.text()
    page.fields.kernel.setText(str(BZHELLO))
    page.fields.initrd.setText(str(initrd))
    page.fields.append.setText("console=ttyS0 init=/bin/sh")
    assert dialog.save_button.isEnabled()
    dialog.save_button.click()
    boot = Library().get("Dos").config.direct_boot
    assert boot == DirectBoot(str(BZHELLO), str(initrd), "console=ttyS0 init=/bin/sh")


def test_unticking_forgets_the_kernel(make_dialog):
    dialog = make_dialog("Linux")
    dialog.kernel.enabled.setChecked(False)
    dialog.save_button.click()
    config = Library().get("Linux").config
    assert config.direct_boot == DirectBoot() and config.hard_disks == [Attachment("c.img")]


@pytest.mark.parametrize(("kernel", "append", "problem"), [
    ("gone", "x", "gone: no such file"),
    ("c.img", "x", "c.img: no Linux boot header (HdrS) at 202h"),
    ("../vmlinuz", "x", "kernel path '../vmlinuz' leads out of the VM folder with .."),
    ("vmlinuz", "a\nb", "the kernel command line contains control characters (U+000A)"),
])
def test_problems_are_named_and_block_save(make_dialog, kernel, append, problem):
    dialog = make_dialog("Linux")
    dialog.kernel.fields.kernel.setText(kernel)
    dialog.kernel.fields.append.setText(append)
    assert not dialog.save_button.isEnabled()
    assert any(problem in p for p in dialog.kernel.problems()), dialog.kernel.problems()
    assert problem in dialog.kernel.problem.text()


def test_a_file_that_is_no_kernel_is_named(make_dialog, library):
    folder = library.get("Linux").folder
    (folder / "vmlinuz").write_bytes(b"MZ" + bytes(2000))
    dialog = make_dialog("Linux")
    assert dialog.kernel.problems() == ["vmlinuz: no Linux boot header (HdrS) at 202h: not "
                                        "a bzImage kernel"]


def test_locked_while_the_vm_runs(make_dialog):
    dialog = make_dialog("Linux", running=True)
    page = dialog.kernel
    assert not page.enabled.isEnabled() and not page.fields.isEnabled()
    assert "Power off" in page.enabled.toolTip()
