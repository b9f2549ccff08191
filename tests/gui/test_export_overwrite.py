"""The manager's export and import with paths that are taken or are not files (issue 12):
an export replaces an existing file only when the user chose it in the Save dialog (which
asked first) and only if it is a regular file; an import of a FIFO says what it is
(vmgui.ui.manager.transfer)."""

from __future__ import annotations

import os
import stat
import tarfile

import pytest
from PySide6.QtWidgets import QFileDialog

from tests.fifo import fifo_with_writer
from vmgui.config.schema import Attachment, VmConfig
from vmgui.ui.manager import ManagerWindow


@pytest.fixture
def manager(make_manager, library) -> ManagerWindow:
    entry = library.create(VmConfig("Box", hard_disks=[Attachment("disk.img")]))
    (entry.folder / "disk.img").write_bytes(bytes(64 * 1024))
    return make_manager(library)


def choose_in_save_dialog(monkeypatch, path) -> None:
    """The Save dialog answers ``path`` (the user confirmed replacing it, if it exists)."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: (str(path), "")))


def test_a_file_chosen_in_the_save_dialog_is_replaced(manager, tmp_path, monkeypatch):
    target = tmp_path / "box.tar"
    target.write_text("old")
    choose_in_save_dialog(monkeypatch, target)
    assert manager.export_vm("Box") == target, manager.last_error
    with tarfile.open(target) as tar:
        assert "manifest.json" in tar.getnames()


def test_a_fifo_chosen_in_the_save_dialog_is_not_replaced(manager, tmp_path, monkeypatch):
    fifo = tmp_path / "box.tar"
    os.mkfifo(fifo)
    choose_in_save_dialog(monkeypatch, fifo)
    assert manager.export_vm("Box") is None
    assert manager.last_error == (f"{fifo}: is a FIFO; an export replaces only a regular "
                                  "file, so nothing was written")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_link_to_a_device_chosen_in_the_save_dialog_is_not_replaced(manager, tmp_path,
                                                                      monkeypatch):
    link = tmp_path / "box.tar"
    link.symlink_to(os.devnull)
    choose_in_save_dialog(monkeypatch, link)
    assert manager.export_vm("Box") is None
    assert "is a symbolic link to a character device" in manager.last_error
    assert os.readlink(link) == os.devnull


def test_a_target_given_without_the_dialog_never_replaces_a_file(manager, tmp_path):
    target = tmp_path / "box.tar"
    target.write_text("old")
    assert manager.export_vm("Box", target) is None
    assert manager.last_error == f"{target}: already exists; not replacing it"
    assert target.read_text() == "old"


def test_importing_a_fifo_says_what_it_is(manager, tmp_path):
    with fifo_with_writer(tmp_path / "box.tar") as fifo:
        assert manager.import_vm(fifo) is None
    assert manager.last_error == f"{fifo}: is a FIFO, not an archive file"
    assert [entry.name for entry in manager.library.entries()] == ["Box"]
