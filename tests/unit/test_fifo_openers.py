"""The last plain openers of images never wait on a FIFO nor read a device (issue 12, item 7).

``copy_sparse`` (clone, add an existing VM folder, flatten a snapshot's disk) opened its
source with a plain ``open()``: a FIFO blocked it, a device was copied until it ended
(never, for /dev/zero).  ``base_identity`` (making and opening an overlay) did the same
with its base.  ``is_overlay`` and ``must_be_overlay`` already read only regular files;
here that is pinned down.

Each FIFO here has a writer waiting, so code that wrongly opens it to read is released
and fails on what it read (an empty file, or a FIFO that serves an overlay's magic)
instead of hanging the test run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fifo import fifo_with_writer
from vmgui.config.library import Library, LibraryError
from vmgui.config.schema import Attachment, VmConfig
from vmgui.storage.media import MediaError, copy_sparse
from vmgui.storage.overlay_format import (
    MAGIC,
    OverlayError,
    base_identity,
    is_overlay,
    must_be_overlay,
)
from vmgui.ui.manager.library_ops import add_existing

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture
def fifo(tmp_path) -> Iterator[Path]:
    with fifo_with_writer(tmp_path / "fifo.img") as path:
        yield path


def test_is_overlay_never_reads_a_fifo(tmp_path):
    head = MAGIC + bytes(64)  # a blocking reader gets an overlay's magic
    with fifo_with_writer(tmp_path / "layer.img", head) as path:
        assert not is_overlay(path)
        assert not must_be_overlay(path)
        assert not is_overlay("/dev/zero") and not must_be_overlay("/dev/zero")


def test_copy_sparse_refuses_a_fifo(fifo, tmp_path):
    target = tmp_path / "copy.img"
    with pytest.raises(MediaError, match=r"^cannot copy image '.*fifo\.img' is not a "
                                         r"regular file \(FIFO\)$"):
        copy_sparse(fifo, target)
    assert not target.exists()


def test_copy_sparse_refuses_a_device(tmp_path):
    target = tmp_path / "copy.img"
    with pytest.raises(MediaError, match=r"image '/dev/null' is not a regular file "
                                         r"\(character device\)"):
        copy_sparse("/dev/null", target)  # /dev/zero would be copied for ever
    assert not target.exists()


def test_copy_sparse_still_copies_files_with_holes(tmp_path):
    source = tmp_path / "disk.img"
    data = bytes(3 << 20)[:-5] + b"tail!"
    source.write_bytes(data)
    copy_sparse(source, tmp_path / "copy.img")
    assert (tmp_path / "copy.img").read_bytes() == data
    with pytest.raises(MediaError, match="no such file|No such file"):
        copy_sparse(tmp_path / "missing.img", tmp_path / "other.img")


def test_base_identity_refuses_a_fifo(fifo):
    with pytest.raises(OverlayError, match=r"fifo\.img: cannot open \(base '.*' is not a "
                                           r"regular file \(FIFO\)\)"):
        base_identity(fifo)


def test_adding_a_vm_folder_with_a_fifo_is_refused(tmp_path):
    """The manager's "Add existing VM" copies the folder with copy_sparse: it hung."""
    folder = tmp_path / "Outside"
    folder.mkdir()
    (folder / "vm.toml").write_text('name = "Outside"\n')
    library = Library(tmp_path / "home")
    library.create(VmConfig("Other", hard_disks=[Attachment("disk.img")]))
    with fifo_with_writer(folder / "disk.img"), \
            pytest.raises(LibraryError, match=r"cannot copy .*Outside into the library: "
                                              r"cannot copy image .* \(FIFO\)"):
        add_existing(library, folder)
    assert [e.name for e in library.entries()] == ["Other"]
