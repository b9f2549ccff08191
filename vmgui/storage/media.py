"""Creating, describing and copying disk image files.

Owns: blank floppy images in the standard PC formats (:data:`vmgui.storage.image.
FLOPPY_FORMATS`), blank sparse hard-disk images, the one-line format description the
manager and ``vmgui list`` show for an image (a snapshot layer, a copy-on-write overlay
of :mod:`vmgui.storage.overlay`, is described by the disk the guest sees and the image
it is layered over: :func:`describe`, :func:`layer_base`), and copying images without
filling in their holes.  Image rules (sizes, geometry) are those of
:mod:`vmgui.storage.image`.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import Literal

from vmgui.storage.cdimage import CdImage
from vmgui.storage.image import (
    FLOPPY_FORMATS,
    SECTOR_SIZE,
    DiskImage,
    DiskImageError,
    Kind,
    open_regular,
)
from vmgui.storage.overlay import (
    BaseChangedError,
    OverlayError,
    is_overlay,
    must_be_overlay,
    open_layer_file,
)
from vmgui.storage.overlay_format import BASE_OVERLAY, read_header

log = logging.getLogger(__name__)

#: The floppy sizes offered for new images, by label.
NEW_FLOPPY_LABELS = ("360K", "720K", "1.2M", "1.44M", "2.88M")
MIN_HARD_DISK_MB = 1
MAX_HARD_DISK_MB = 8192
MB = 1024 * 1024
COPY_CHUNK = MB
MAX_CHAIN = 256  # overlays below one another before a chain counts as looping


class MediaError(DiskImageError):
    """An image cannot be created or copied; the message names the file."""


def floppy_size(label: str) -> int:
    """Bytes of a new floppy of ``label`` (one of :data:`NEW_FLOPPY_LABELS`)."""
    if label in NEW_FLOPPY_LABELS:
        for size, fmt in FLOPPY_FORMATS.items():
            if fmt.label == label:
                return size
    raise MediaError(f"floppy size {label!r} is not one of {', '.join(NEW_FLOPPY_LABELS)}")


def _create_exclusive(path: Path, size: int, zero_fill: bool) -> None:
    """Create ``path`` of ``size`` zero bytes; never overwrite; no partial file on error."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except FileExistsError:
        raise MediaError(f"{path}: already exists; not overwriting it") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot create ({exc.strerror})") from exc
    try:
        if zero_fill:
            zeros = bytes(min(size, COPY_CHUNK))
            done = 0
            while done < size:
                done += os.write(fd, zeros[: size - done])
        else:
            os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise MediaError(f"{path}: cannot write ({exc.strerror})") from exc
    os.close(fd)


def create_floppy(path: str | os.PathLike[str], size_label: str) -> Path:
    """Create a blank (zero-filled, unformatted) floppy image; refuses to overwrite."""
    size = floppy_size(size_label)
    path = Path(path)
    _create_exclusive(path, size, zero_fill=True)
    return path


def create_hard_disk(path: str | os.PathLike[str], size_mb: int) -> Path:
    """Create a blank sparse hard-disk image of ``size_mb`` MiB (1 MB - 8 GB)."""
    if isinstance(size_mb, bool) or not isinstance(size_mb, int):
        raise MediaError(f"hard disk size {size_mb!r} must be a whole number of MB")
    if not MIN_HARD_DISK_MB <= size_mb <= MAX_HARD_DISK_MB:
        raise MediaError(f"hard disk size {size_mb} MB is outside "
                         f"{MIN_HARD_DISK_MB}-{MAX_HARD_DISK_MB} MB")
    size = size_mb * MB
    assert size % SECTOR_SIZE == 0
    path = Path(path)
    _create_exclusive(path, size, zero_fill=False)
    return path


def _size_text(size: int) -> str:
    if size < MB:
        return f"{size / 1024:g} KB"
    mb = size / MB
    return f"{mb:g} MB" if mb == int(mb) or mb >= 100 else f"{mb:.1f} MB"


def describe(path: str | os.PathLike[str], kind: Kind | Literal["cdrom"] | None = None) -> str:
    """A one-line format description: ``raw floppy 1.44M``, ``raw disk 64 MB``, ``ISO 9660
    CD image 300 MB, volume 'DEBIAN'`` (``kind`` "cdrom"); for a
    snapshot layer what the guest sees and the image below, ``720K floppy, snapshot layer
    over fd.img`` (a damaged layer, or one whose base is missing, is described as such).

    ``kind`` is how the image is attached (None: guess from the size, as
    :meth:`DiskImage.open` does).  Raises :class:`DiskImageError` naming the problem of a
    raw image (a missing or empty file, a bad size).
    """
    if kind == "cdrom":
        with CdImage.open(path) as cd:
            label = f", volume {cd.volume_id!r}" if cd.volume_id else ""
            return f"ISO 9660 CD image {_size_text(cd.file_bytes)}{label}"
    if must_be_overlay(path):
        return _describe_layer(Path(path), kind)
    with DiskImage.open(path, kind=kind, read_only=True) as image:
        return f"raw {_guest_disk(image)}"


def _guest_disk(image: DiskImage) -> str:
    """``floppy 1.44M``, ``disk 64 MB``, ``boot sector (512 bytes, served as ...)``."""
    if image.kind == "hdd":
        return f"disk {_size_text(image.file_bytes)}"
    fmt = FLOPPY_FORMATS[image.size_bytes]
    if not image.padded:
        return f"floppy {fmt.label}"
    what = "boot sector" if image.file_bytes == SECTOR_SIZE else "floppy image"
    return f"{what} ({image.file_bytes} bytes, served as a {fmt.label} floppy)"


def _describe_layer(path: Path, kind: Kind | None) -> str:
    try:
        chain = _header_chain(path)
    except (OverlayError, OSError) as exc:
        log.info("%s: cannot read the snapshot layer: %s", path, exc)
        return "damaged snapshot layer (unreadable)"
    base = chain[-1]
    if not base.is_file():
        return f"snapshot layer over {base.name}, which is missing"
    try:
        with DiskImage.open_overlay(path, kind=kind, read_only=True) as image:
            if image.kind == "hdd":
                what = f"{_size_text(image.file_bytes)} disk"
            else:
                fmt = FLOPPY_FORMATS[image.size_bytes]
                what = f"{fmt.label} floppy" if not image.padded else \
                    f"{image.file_bytes}-byte image served as a {fmt.label} floppy"
    except BaseChangedError as exc:
        log.info("%s", exc)
        return f"snapshot layer over {base.name}, which has changed since (unusable)"
    except (DiskImageError, OSError) as exc:
        log.info("%s", exc)
        return f"damaged snapshot layer over {base.name}"
    return f"{what}, snapshot layer over {base.name}"


def _header_chain(path: Path) -> list[Path]:
    """``path``, the overlays below it, then the raw base, as their headers name them
    (nothing verified; the last one may be missing).  Raises
    :class:`OverlayError` or OSError for a header that cannot be read."""
    chain = [path]
    while True:
        top = chain[-1]
        fd = open_layer_file(top, os.O_RDONLY)
        try:
            header = read_header(str(top), fd)
        finally:
            os.close(fd)
        stored = Path(header.base_path)
        base = stored if stored.is_absolute() else top.parent / stored
        chain.append(base)
        if header.base_kind != BASE_OVERLAY or not base.is_file():
            return chain
        if len(chain) > MAX_CHAIN:
            raise OverlayError(f"{path}: its chain of layers loops")


def layer_damage(path: str | os.PathLike[str]) -> str | None:
    """Why the image ``path`` is a snapshot layer that cannot be used (its header, or a
    header down its chain of layers, is damaged: a bad magic, a garbage ``*.cow``), for
    ``vmgui list``; None when it is not a layer or its headers are sound.  Reads only the
    headers (a missing base and a changed base are reported when the VM starts)."""
    try:
        if must_be_overlay(path):
            _header_chain(Path(path))
    except (OverlayError, OSError, ValueError) as exc:
        return str(exc)
    return None


def layer_base(path: str | os.PathLike[str]) -> Path | None:
    """The raw image at the bottom of the snapshot layer ``path`` (named by the layers'
    headers; it may be missing); None when ``path`` is not a snapshot layer or its chain
    cannot be read."""
    if not is_overlay(path):
        return None
    try:
        return _header_chain(Path(path))[-1]
    except (OverlayError, OSError):
        return None


def copy_sparse(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy ``src`` to ``dst`` (refusing to overwrite), leaving all-zero chunks as holes.
    Only a regular file is copied: a FIFO (which would block the opener) or a device
    (``/dev/zero`` never ends) is a :class:`MediaError` naming it, and is never waited on."""
    src, dst = Path(src), Path(dst)
    try:
        fd = open_regular(src, os.O_RDONLY | getattr(os, "O_BINARY", 0), what="image")
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.errno == errno.EINVAL and exc.filename is None:  # not regular: named in it
            raise MediaError(f"cannot copy {why}") from None
        raise MediaError(f"{src}: cannot read ({why})") from exc
    try:
        size = os.fstat(fd).st_size
    except OSError as exc:
        os.close(fd)
        raise MediaError(f"{src}: cannot read ({exc.strerror})") from exc
    fin = os.fdopen(fd, "rb")
    try:
        fout = open(dst, "xb")
    except OSError as exc:
        fin.close()
        raise MediaError(f"{dst}: cannot create ({exc.strerror})") from exc
    try:
        with fin, fout:
            zero = bytes(COPY_CHUNK)
            while chunk := fin.read(COPY_CHUNK):
                if chunk == zero[: len(chunk)]:
                    fout.seek(len(chunk), os.SEEK_CUR)
                else:
                    fout.write(chunk)
            fout.truncate(size)
            fout.flush()
            os.fsync(fout.fileno())
    except OSError as exc:
        dst.unlink(missing_ok=True)
        raise MediaError(f"copying {src} to {dst}: {exc.strerror}") from exc
