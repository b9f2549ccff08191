"""The BIOS's view of a copy-on-write overlay: :class:`OverlayDiskImage`, a
:class:`~vmgui.storage.image.DiskImage` whose sectors live in an overlay chain
(:mod:`vmgui.storage.overlay`).  Opened by ``DiskImage.open_overlay``; :func:`open_disk`
opens any attached image, deciding whether it is an overlay.

Thread rules: as :class:`~vmgui.storage.image.DiskImage` (one thread at a time).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from vmgui.storage.cdimage import CdImage
from vmgui.storage.image import DiskImage, Kind
from vmgui.storage.overlay import Overlay, OverlayError
from vmgui.storage.overlay_format import must_be_overlay


class OverlayDiskImage(DiskImage):
    """A :class:`DiskImage` whose sectors live in an overlay chain (for int 13h).

    Geometry comes from the virtual size by the raw-image rules; :attr:`overlay` is the
    open :class:`Overlay`.  Transfers inside the virtual disk go straight to it.
    """

    overlay: Overlay

    @classmethod
    def open_chain(cls, path: str | os.PathLike[str], *, kind: Kind | None = None,
                   read_only: bool = False) -> OverlayDiskImage:
        from vmgui.storage.image import FLOPPY_FORMATS, _check_whole_sectors, _guess_kind

        ov = Overlay.open(path, read_only=read_only)
        try:
            name, size = str(path), ov.size
            if kind not in (None, "floppy", "hdd"):
                raise OverlayError(f"{name}: kind must be 'floppy', 'hdd' or None, not {kind!r}")
            if kind != "floppy" and size not in FLOPPY_FORMATS:
                _check_whole_sectors(name, size)
            first = ov.read(0, min(512, size))
            img = cls._build(Path(path), name, ov._fd, kind or _guess_kind(size, first),
                             size, first, read_only)
        except BaseException:
            ov.close()
            raise
        img.overlay = ov
        return img

    def read_sectors(self, lba: int, count: int) -> bytes:
        if self._fd is not None and 0 <= lba and 0 < count and lba + count <= self._file_sectors:
            return self.overlay.read(lba << 9, count << 9)
        return super().read_sectors(lba, count)  # errors, padded floppies

    def write_sectors(self, lba: int, data: bytes) -> None:
        n = len(data)
        if (self._fd is not None and not self.read_only and 0 <= lba and n and not n & 511
                and lba + (n >> 9) <= self._file_sectors):
            self.overlay.write(lba << 9, data)
            return
        super().write_sectors(lba, data)

    def _read_at(self, fd: int, size: int, offset: int) -> bytes:
        return self.overlay.read(offset, size)

    def _write_at(self, fd: int, data: bytes, offset: int) -> None:
        self.overlay.write(offset, data)

    def flush(self) -> None:
        if self._fd is not None:
            self.overlay.flush()

    def close(self) -> None:
        if self._fd is not None:
            self._fd = None
            self.overlay.close()


def open_disk(path: str | os.PathLike[str], *, kind: Kind | Literal["cdrom"] | None = None,
              read_only: bool = False) -> DiskImage:
    """Open an attached image: the one place that decides "overlay or raw".

    A file that must be an overlay (:func:`~vmgui.storage.overlay_format.must_be_overlay`:
    the magic, a ``*.cow`` name, a damaged magic) opens with its chain or not at all --
    :class:`~vmgui.storage.overlay_format.OverlayDamagedError` naming the layer, the file
    untouched; anything else opens as a raw image.  ``kind`` "cdrom" opens an ISO image
    as a :class:`~vmgui.storage.cdimage.CdImage` (always read-only; never an overlay).
    """
    if kind == "cdrom":
        return CdImage.open(path)  # type: ignore[return-value]  # the drive-table duck type
    if must_be_overlay(path):
        return OverlayDiskImage.open_chain(path, kind=kind, read_only=read_only)
    return DiskImage.open(path, kind=kind, read_only=read_only)
