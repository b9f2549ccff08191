"""ISO 9660 / El Torito images for tests, written structure by structure in Python.

Owns: :func:`build_iso` (a small ISO image: primary volume descriptor at sector 16, an
optional El Torito boot record at 17, the terminator, a boot catalog at sector 19 and a
boot image after it) and the catalog entries (:func:`validation_entry`,
:func:`default_entry`, :func:`section_header`, :func:`section_entry`,
:func:`extension_entry`), each with knobs to make it wrong in one precise way.  The
layouts are ECMA-119's and the El Torito specification's (see
:mod:`vmgui.storage.eltorito`).  Nothing is cached: each image takes microseconds.
"""

from __future__ import annotations

SECTOR = 2048
CATALOG_LBA = 19
IMAGE_LBA = 20


def _both32(value: int) -> bytes:
    return value.to_bytes(4, "little") + value.to_bytes(4, "big")


def _both16(value: int) -> bytes:
    return value.to_bytes(2, "little") + value.to_bytes(2, "big")


def pvd(total_sectors: int, volume_id: str = "VMGUI TEST", block: int = SECTOR) -> bytes:
    d = bytearray(SECTOR)
    d[0], d[1:6], d[6] = 1, b"CD001", 1
    d[40:72] = volume_id.encode("ascii").ljust(32)
    d[80:88] = _both32(total_sectors)
    d[120:124] = _both16(1)
    d[124:128] = _both16(1)
    d[128:132] = _both16(block)
    return bytes(d)


def boot_record(catalog_lba: int = CATALOG_LBA, system_id: bytes = b"EL TORITO SPECIFICATION"
                ) -> bytes:
    d = bytearray(SECTOR)
    d[0], d[1:6], d[6] = 0, b"CD001", 1
    d[7:39] = system_id.ljust(32, b"\0")
    d[0x47:0x4B] = catalog_lba.to_bytes(4, "little")
    return bytes(d)


def terminator() -> bytes:
    d = bytearray(SECTOR)
    d[0], d[1:6], d[6] = 255, b"CD001", 1
    return bytes(d)


def validation_entry(platform: int = 0, *, bad_checksum: bool = False,
                     key: bytes = b"\x55\xaa") -> bytes:
    e = bytearray(32)
    e[0], e[1] = 1, platform
    e[4:28] = b"vmgui test".ljust(24, b"\0")
    e[30:32] = key
    total = sum(int.from_bytes(e[i:i + 2], "little") for i in range(0, 32, 2))
    check = (-total) & 0xFFFF
    e[28:30] = ((check + 1) & 0xFFFF if bad_checksum else check).to_bytes(2, "little")
    return bytes(e)


def default_entry(media: int = 0, *, bootable: bool = True, load_segment: int = 0,
                  count: int = 4, rba: int = IMAGE_LBA, system_type: int = 0) -> bytes:
    e = bytearray(32)
    e[0], e[1] = 0x88 if bootable else 0x00, media
    e[2:4] = load_segment.to_bytes(2, "little")
    e[4] = system_type
    e[6:8] = count.to_bytes(2, "little")
    e[8:12] = rba.to_bytes(4, "little")
    return bytes(e)


def section_header(platform: int, count: int, *, final: bool) -> bytes:
    e = bytearray(32)
    e[0], e[1] = 0x91 if final else 0x90, platform
    e[2:4] = count.to_bytes(2, "little")
    return bytes(e)


def section_entry(media: int = 0, *, extension_follows: bool = False, **kw: int) -> bytes:
    e = bytearray(default_entry(media, **kw))  # type: ignore[arg-type]
    if extension_follows:
        e[1] |= 0x20
    return bytes(e)


def extension_entry(*, more: bool = False) -> bytes:
    e = bytearray(32)
    e[0], e[1] = 0x44, 0x20 if more else 0
    return bytes(e)


def catalog(*entries: bytes) -> bytes:
    return b"".join(entries).ljust(SECTOR, b"\0")


def build_iso(*, image: bytes = b"", boot: bool = True, catalog_sector: bytes | None = None,
              volume_id: str = "VMGUI TEST", extra_sectors: int = 0,
              catalog_lba: int = CATALOG_LBA) -> bytes:
    """An ISO image whose sector 20 on holds ``image``; with ``boot`` an El Torito boot
    record at 17 pointing at ``catalog_sector`` (default: a no-emulation entry loading
    four 512-byte sectors of the image at 07C0h) in sector 19."""
    body = image.ljust(-(-len(image) // SECTOR) * SECTOR, b"\0") + bytes(extra_sectors * SECTOR)
    total = IMAGE_LBA + len(body) // SECTOR
    if catalog_sector is None:
        catalog_sector = catalog(validation_entry(), default_entry())
    out = bytearray(16 * SECTOR)
    out += pvd(total, volume_id)
    out += boot_record(catalog_lba) if boot else terminator()
    out += terminator() if boot else bytes(SECTOR)
    out += catalog_sector if boot else bytes(SECTOR)
    out += body
    return bytes(out)
