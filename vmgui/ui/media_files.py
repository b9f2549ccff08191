"""Checks of a file the user chose for a drive, and the file dialogs' filters.

Owns: :func:`image_problem` (a floppy or hard-disk image: the reason
:meth:`~vmgui.storage.image.DiskImage.open` gives) and :func:`cd_problem` (an ISO: the
reason :meth:`~vmgui.storage.cdimage.CdImage.open` gives -- not ISO 9660, truncated,
missing, a folder), shared by the wizard, the settings and the console.  No widgets.
"""

from __future__ import annotations

from pathlib import Path

from vmgui.storage.cdimage import CdImage
from vmgui.storage.image import DiskImage, DiskImageError

ISO_FILTER = "CD/DVD images (*.iso);;All files (*)"
IMAGE_FILTER = "Disk images (*.img *.ima *.vfd *.flp *.dsk *.bin);;All files (*)"
FLOPPY_FILTER = "Floppy images (*.img *.ima *.vfd *.flp *.dsk);;All files (*)"


def image_problem(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot be attached as ``kind`` ("floppy"/"hdd"): the reason
    :meth:`DiskImage.open` gives, or None when it opens."""
    try:
        DiskImage.open(path, kind=kind, read_only=True).close()
    except DiskImageError as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: cannot open ({exc.strerror or exc})"
    return None


def cd_problem(path: Path) -> str | None:
    """Why ``path`` cannot go into a CD drive (not ISO 9660, truncated, missing, a
    folder...): :meth:`CdImage.open`'s reason, or None when it opens."""
    try:
        CdImage.open(path).close()
    except DiskImageError as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: cannot open ({exc.strerror or exc})"
    return None
