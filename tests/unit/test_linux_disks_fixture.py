"""The pure parts of the Linux disk fixture (tests/linux_disks.py): the module load order
and reading ``depends=`` out of a module's ``.modinfo`` ELF section."""

from __future__ import annotations

import struct

import pytest

from tests.debian_images import BuildError
from tests.linux_disks import load_order, modinfo, module_name


def tiny_elf(sections: dict[str, bytes]) -> bytes:
    """A 32-bit little-endian ELF file with ``sections`` (and the null one, and
    .shstrtab), enough for a section-table reader."""
    names = b"\0" + b"".join(n.encode() + b"\0" for n in (*sections, ".shstrtab"))
    body, headers, offset = b"", [b"\0" * 40], 52
    for name, data in (*sections.items(), (".shstrtab", names)):
        name_off = names.index(name.encode() + b"\0")
        headers.append(struct.pack("<IIIIIIIIII", name_off, 1, 0, 0, offset + len(body),
                                   len(data), 0, 0, 1, 0))
        body += data
    shoff = 52 + len(body)
    header = (b"\x7fELF\x01\x01\x01" + bytes(9)
              + struct.pack("<HHIIIIIHHHHHH", 1, 3, 1, 0, 0, shoff, 0, 52, 0, 0, 40,
                            len(headers), len(headers) - 1))
    return header + body + b"".join(headers)


def test_modinfo_reads_depends_from_the_modinfo_section():
    data = tiny_elf({".text": b"\x90" * 8,
                     ".modinfo": b"license=GPL\0depends=scsi_mod,t10-pi\0name=sd_mod\0"})
    info = modinfo(data)
    assert info["depends"] == "scsi_mod,t10-pi" and info["name"] == "sd_mod"


def test_modinfo_refuses_what_is_not_a_32_bit_elf():
    with pytest.raises(BuildError, match="not a 32-bit"):
        modinfo(b"\x7fELF\x02\x01" + bytes(60))
    with pytest.raises(BuildError, match="no .modinfo section"):
        modinfo(tiny_elf({".text": b""}))


def test_module_names_use_underscores():
    assert module_name("./lib/modules/6.1/kernel/arch/x86/crypto/crc32c-intel.ko") == \
        "crc32c_intel"


def test_load_order_puts_each_module_after_what_it_depends_on():
    depends = {"scsi_common": [], "scsi_mod": ["scsi_common"],
               "libata": ["scsi_mod", "scsi_common"], "ata_piix": ["libata"],
               "cdrom": [], "sr_mod": ["scsi_mod", "cdrom", "scsi_common"], "unused": []}
    order = load_order(depends, ["ata_piix", "sr_mod"])
    assert order == ["scsi_common", "scsi_mod", "libata", "ata_piix", "cdrom", "sr_mod"]


def test_load_order_names_a_missing_module_and_a_circle():
    with pytest.raises(BuildError, match="no module t10_pi .needed by sd_mod"):
        load_order({"sd_mod": ["t10_pi"]}, ["sd_mod"])
    with pytest.raises(BuildError, match="circle"):
        load_order({"a": ["b"], "b": ["a"]}, ["a"])
