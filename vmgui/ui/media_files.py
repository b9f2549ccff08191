"""Checks of a file the user chose for a drive, and the file dialogs' filters.

Owns: :func:`image_problem` (a floppy or hard-disk image: the reason
:meth:`~vmgui.storage.image.DiskImage.open` gives), :func:`cd_problem` (an ISO: the
reason :meth:`~vmgui.storage.cdimage.CdImage.open` gives -- not ISO 9660, truncated,
missing, a folder), shared by the wizard, the settings and the console, and
:func:`kernel_problem` / :func:`initrd_problem` for a direct boot's files (the kernel's
boot header as :func:`vmgui.bios.linuxboot.parse_header` reads it).  No widgets.
"""

from __future__ import annotations

from pathlib import Path

from vmgui.bios.linuxboot import HEADER_END, LinuxBootError, parse_header
from vmgui.storage.cdimage import CdImage
from vmgui.storage.image import DiskImage, DiskImageError, ImageMissingError, check_regular

ISO_FILTER = "CD/DVD images (*.iso);;All files (*)"
IMAGE_FILTER = "Disk images (*.img *.ima *.vfd *.flp *.dsk *.bin);;All files (*)"
FLOPPY_FILTER = "Floppy images (*.img *.ima *.vfd *.flp *.dsk);;All files (*)"
KERNEL_FILTER = "Linux kernels (vmlinuz* bzImage* *.bzImage *.bin);;All files (*)"
INITRD_FILTER = "Initial RAM disks (initrd* initramfs* *.img *.gz *.cpio*);;All files (*)"


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


def kernel_problem(path: Path) -> str | None:
    """Why ``path`` cannot be booted as a Linux kernel: missing, not a regular file, no
    Linux boot header or too old a protocol (its size and memory are checked at boot)."""
    problem = _file_problem(path, "kernel")
    if problem is not None:
        return problem
    try:
        with open(path, "rb") as fh:
            parse_header(fh.read(HEADER_END), Path(path).name)
    except LinuxBootError as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: cannot read the kernel ({exc.strerror or exc})"
    return None


def initrd_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an initrd: missing, a folder, not a regular file."""
    return _file_problem(path, "initrd")


def _file_problem(path: Path, what: str) -> str | None:
    try:
        check_regular(path, what)
    except ImageMissingError:
        return f"{path}: no such file"
    except DiskImageError as exc:
        return str(exc).replace(f"not a {what} image", "not a file")
    return None
