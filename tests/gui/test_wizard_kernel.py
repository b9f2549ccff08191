"""The New-VM wizard's "Linux kernel + initrd" boot media: the fields, their problems, the
memory it raises, and the VM it creates (direct-boot settings with absolute paths)."""

from __future__ import annotations

from tests.conftest import TEST_GUESTS
from vmgui.ui.kernel_fields import DEFAULT_APPEND
from vmgui.ui.wizards.media_page import LINUX_MEMORY_MB

BZHELLO = TEST_GUESTS / "bzhello.img"


def at_media_page(manager, name: str = "Linux"):
    wizard = manager.new_vm()
    wizard.setField("name", name)
    for _ in range(3):
        wizard.next()
    assert wizard.currentPage() is wizard.media_page
    return wizard


def test_the_choice_sits_with_the_other_media_and_enables_its_fields(manager):
    wizard = at_media_page(manager)
    page = wizard.media_page
    assert page.linux.text() == "Boot a &Linux kernel + initrd directly:"
    assert page.linux.group() is page.floppy.group() is page.iso.group()
    assert not page.kernel_fields.isEnabled()
    page.linux.setChecked(True)
    fields = page.kernel_fields
    assert fields.isEnabled() and fields.append.text() == DEFAULT_APPEND
    assert fields.kernel_browse.isEnabled() and fields.initrd_browse.isEnabled()
    assert not page.isComplete()  # no kernel yet, and nothing said before one is typed
    assert page.problem.text() == ""


def test_creates_a_vm_that_boots_the_kernel(manager, library, tmp_path):
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(b"\x00" * 4096)
    wizard = at_media_page(manager)
    wizard.setField("media_kernel", True)
    wizard.setField("kernel_path", str(BZHELLO))
    wizard.setField("initrd_path", str(initrd))
    wizard.setField("kernel_append", "console=ttyS0 quiet")
    assert wizard.media_page.isComplete()
    wizard.next()
    summary = wizard.summary_page.text.text()
    assert f"Linux kernel {BZHELLO} with initrd {initrd}" in summary
    assert "console=ttyS0 quiet" in summary
    wizard.accept()
    config = library.get("Linux").config
    boot = config.direct_boot
    assert (boot.kernel, boot.initrd, boot.append) == (str(BZHELLO.resolve()),
                                                       str(initrd.resolve()),
                                                       "console=ttyS0 quiet")
    assert config.memory_mb == LINUX_MEMORY_MB
    assert config.floppy_a is None and config.hard_disks == []


def test_a_small_memory_is_raised_and_the_page_says_so(manager):
    wizard = at_media_page(manager)
    assert wizard.field("memory") == 16
    wizard.media_page.linux.setChecked(True)
    assert wizard.field("memory") == LINUX_MEMORY_MB
    note = wizard.media_page.machine_note
    assert not note.isHidden()
    assert note.text() == "Memory is now 128 MB: a Linux kernel needs more than 16 MB."
    wizard.media_page.floppy.setChecked(True)
    assert note.isHidden()


def test_bad_files_are_named_on_the_page(manager, tmp_path):
    wizard = at_media_page(manager)
    page = wizard.media_page
    page.linux.setChecked(True)
    wizard.setField("kernel_path", str(tmp_path / "vmlinuz"))
    assert page.problem.text() == f"{tmp_path / 'vmlinuz'}: no such file"
    not_kernel = tmp_path / "vmlinux"
    not_kernel.write_bytes(b"\x7fELF" + bytes(1000))
    wizard.setField("kernel_path", str(not_kernel))
    assert page.problem.text() == "vmlinux: no Linux boot header (HdrS) at 202h: not a " \
                                  "bzImage kernel"
    wizard.setField("kernel_path", str(BZHELLO))
    wizard.setField("initrd_path", str(tmp_path))
    assert page.problem.text() == f"{tmp_path}: is a directory, not a file"
    wizard.setField("initrd_path", "")
    wizard.setField("kernel_append", "quiet\tsplash")
    assert "control characters (U+0009)" in page.problem.text()
    assert not page.isComplete()
    wizard.setField("kernel_append", "quiet")
    assert page.isComplete() and page.problem.text() == ""


def test_without_the_choice_the_kernel_fields_are_ignored(manager, library):
    wizard = at_media_page(manager, "Plain")
    wizard.setField("kernel_path", "/nowhere/vmlinuz")
    wizard.setField("media_none", True)
    go_to_end_from_media(wizard)
    wizard.accept()
    assert not library.get("Plain").config.direct_boot.enabled


def go_to_end_from_media(wizard) -> None:
    wizard.next()
    assert wizard.currentPage() is wizard.summary_page



def test_the_details_pane_shows_the_kernel_of_a_vm_that_boots_one(library, make_manager):
    from vmgui.config.schema import DirectBoot, VmConfig

    library.create(VmConfig("Linux", memory_mb=128,
                            direct_boot=DirectBoot("/k/vmlinuz", "/k/initrd.gz", "quiet")))
    library.create(VmConfig("Dos"))
    window = make_manager()
    details = window.details
    assert window.select("Linux")
    assert details.form.isRowVisible(details.fields["kernel"])
    assert details.fields["kernel"].text() == ("/k/vmlinuz\ninitrd /k/initrd.gz\n"
                                               "command line “quiet”")
    assert window.select("Dos")
    assert not details.form.isRowVisible(details.fields["kernel"])
