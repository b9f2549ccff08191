"""vmgui.storage.eltorito: the boot record, the boot catalog, emulated disks."""

from __future__ import annotations

import pytest

from tests import isos
from vmgui.storage.cdimage import CdImage
from vmgui.storage.eltorito import (
    BootEntry,
    ElToritoError,
    Media,
    NoBootRecordError,
    boot_catalog_lba,
    emulated_disk,
    find_boot_entry,
    parse_catalog,
)
from vmgui.storage.image import DriveType, ReadOnlyError


def open_iso(tmp_path, **kw) -> CdImage:
    path = tmp_path / "t.iso"
    path.write_bytes(isos.build_iso(**kw))
    return CdImage.open(path)


def test_boot_record_gives_the_catalog_sector():
    assert boot_catalog_lba(isos.boot_record(123)) == 123


@pytest.mark.parametrize("sector", [
    isos.terminator(),  # a data CD: the set ends at 17
    isos.boot_record(19, system_id=b"SOMETHING ELSE"),
    bytes(2048),
])
def test_not_a_boot_record(sector):
    with pytest.raises(NoBootRecordError, match="^has no El Torito boot record$"):
        boot_catalog_lba(sector)


def test_default_no_emulation_entry():
    entry = parse_catalog(isos.catalog(isos.validation_entry(),
                                       isos.default_entry(count=4, rba=33)), 19)
    assert entry == BootEntry(Media.NO_EMULATION, 0x07C0, 0, 4, 33, 19)
    assert not entry.emulation


def test_load_segment_and_media_are_taken_as_given():
    entry = parse_catalog(isos.catalog(isos.validation_entry(),
                                       isos.default_entry(2, load_segment=0x2000, count=1)))
    assert entry.media is Media.FLOPPY_1_44M and entry.load_segment == 0x2000
    assert entry.emulation


def test_bad_checksum_is_refused():
    cat = isos.catalog(isos.validation_entry(bad_checksum=True), isos.default_entry())
    with pytest.raises(ElToritoError) as exc:
        parse_catalog(cat, 19)
    assert str(exc.value) == ("has a bad boot catalog (sector 19): its validation entry "
                              "checksum is wrong (the words sum to 0001h, not 0)")


def test_missing_key_bytes_are_refused():
    cat = isos.catalog(isos.validation_entry(key=b"\x00\x00"), isos.default_entry())
    with pytest.raises(ElToritoError, match="does not start with a validation entry"):
        parse_catalog(cat, 19)


def test_unknown_media_type_is_named():
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(media=7))
    with pytest.raises(ElToritoError, match="has a default boot entry of boot media type 7"):
        parse_catalog(cat)


def test_not_bootable_and_no_sections():
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(bootable=False))
    with pytest.raises(ElToritoError, match="has no bootable 80x86 entry in its boot catalog"):
        parse_catalog(cat, 19)


def test_efi_only_catalog_says_so():
    cat = isos.catalog(isos.validation_entry(0xEF), isos.default_entry())
    with pytest.raises(ElToritoError, match=r"for EFI computers, with no 80x86 \(PC "
                                            r"BIOS\) boot entry"):
        parse_catalog(cat, 19)


def test_x86_entry_found_in_a_later_section():
    """An EFI-first catalog (validation platform EFh) with the BIOS entry in a section,
    after an EFI section whose entry has an extension."""
    cat = isos.catalog(
        isos.validation_entry(0xEF), isos.default_entry(rba=50),
        isos.section_header(0xEF, 1, final=False),
        isos.section_entry(extension_follows=True, rba=60), isos.extension_entry(),
        isos.section_header(0x00, 2, final=True),
        isos.section_entry(bootable=False, rba=70), isos.section_entry(2, count=1, rba=80))
    entry = parse_catalog(cat, 19)
    assert (entry.media, entry.load_rba, entry.sector_count) == (Media.FLOPPY_1_44M, 80, 1)


def test_x86_default_wins_over_sections():
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(rba=44),
                       isos.section_header(0xEF, 1, final=True), isos.section_entry(rba=55))
    assert parse_catalog(cat).load_rba == 44


def test_find_boot_entry_on_a_disc(tmp_path):
    with open_iso(tmp_path, image=bytes(2048)) as cd:
        entry = find_boot_entry(cd)
    assert (entry.load_rba, entry.catalog_lba) == (20, 19)


def test_data_cd_has_no_boot_record(tmp_path):
    with open_iso(tmp_path, boot=False, image=bytes(2048)) as cd, \
            pytest.raises(NoBootRecordError):
        find_boot_entry(cd)


def test_catalog_outside_the_disc(tmp_path):
    with open_iso(tmp_path, image=bytes(2048), catalog_lba=999) as cd, \
            pytest.raises(ElToritoError, match=r"pointing at a boot catalog in sector 999, "
                                               r"outside the disc \(21 sectors\)"):
        find_boot_entry(cd)


def test_emulated_floppy_reads_512_byte_sectors(tmp_path):
    floppy = b"".join(bytes((n & 0xFF,)) * 512 for n in range(2880))
    with open_iso(tmp_path, image=floppy) as cd:
        disk = emulated_disk(cd, BootEntry(Media.FLOPPY_1_44M, 0x7C0, 0, 1, 20, 19))
        assert (disk.kind, disk.drive_type, disk.total_sectors) == ("floppy",
                                                                     DriveType.D1440K, 2880)
        assert (disk.cylinders, disk.heads, disk.sectors_per_track) == (80, 2, 18)
        assert disk.read_sectors(5, 2) == b"\x05" * 512 + b"\x06" * 512
        with pytest.raises(ReadOnlyError, match="emulated 1.44M floppy is read-only"):
            disk.write_sectors(0, bytes(512))
        disk.close()  # borrows the disc: closing it leaves the CD open
        assert not cd.closed


def test_emulated_floppy_past_the_end_of_the_disc(tmp_path):
    with open_iso(tmp_path, image=bytes(2048)) as cd, pytest.raises(ElToritoError) as exc:
        emulated_disk(cd, BootEntry(Media.FLOPPY_1_2M, 0x7C0, 0, 1, 20, 19))
    assert str(exc.value) == ("has a 1.2M floppy image (1228800 bytes from sector 20) "
                              "reaching past the end of the disc (21 sectors)")


def _mbr(heads: int, sectors: int, cylinders: int) -> bytes:
    sector = bytearray(512)
    last = cylinders - 1
    sector[446:462] = bytes((0x80, 0, 1, 0, 0x06, heads - 1,
                             ((last >> 2) & 0xC0) | sectors, last & 0xFF)) + bytes(8)
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def test_emulated_hard_disk_takes_its_geometry_from_the_partition(tmp_path):
    image = _mbr(4, 17, 3) + bytes(4 * 17 * 3 * 512 - 512)
    with open_iso(tmp_path, image=image) as cd:
        disk = emulated_disk(cd, BootEntry(Media.HARD_DISK, 0x7C0, 6, 1, 20, 19))
        assert (disk.kind, disk.cylinders, disk.heads, disk.sectors_per_track) == ("hdd", 3,
                                                                                  4, 17)
        assert disk.total_sectors == 204 and disk.read_sectors(0, 1) == image[:512]


def test_emulated_hard_disk_without_a_partition_table(tmp_path):
    with open_iso(tmp_path, image=bytes(4096)) as cd, \
            pytest.raises(ElToritoError, match="with no partition table"):
        emulated_disk(cd, BootEntry(Media.HARD_DISK, 0x7C0, 6, 1, 20, 19))
