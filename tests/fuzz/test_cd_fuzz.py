"""Fuzz: random int 13h calls on a pc-pci machine booted from a CD in floppy emulation
(the CD drive E0h, the emulated floppy 00h, the real floppy moved to 01h).

Properties, as for the other BIOS services (test_bios_fuzz.py): the call returns (no
Python exception), CF is set exactly when AH holds an error status, registers stay in
range, and no access reaches outside guest memory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import isos
from vmgui.bios.api import Flag, Reg
from vmgui.core.machine import Machine, MachineConfig
from vmgui.storage.cdimage import CdImage
from vmgui.storage.image import DiskImage

from .biosrig import Bounded, call_service, check_registers
from .budget import fuzz_settings
from .test_bios_fuzz import _dap, registers

TARGETED = fuzz_settings(80)
CD_LEAVES = [0x00, 0x01, 0x02, 0x08, 0x15, 0x16, 0x41, 0x42, 0x43, 0x44, 0x47, 0x48,
             0x4A, 0x4B, 0x4C, 0x4D]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cd-fuzz")
    cat = isos.catalog(isos.validation_entry(), isos.default_entry(2, count=1))
    iso = folder / "fd.iso"
    iso.write_bytes(isos.build_iso(image=b"\xfa\xf4" + bytes(1474558), catalog_sector=cat))
    floppy = folder / "a.img"
    floppy.write_bytes(bytes(737280))
    return iso, floppy


def booted(images: tuple[Path, Path]) -> tuple[Machine, Bounded]:
    iso, floppy = images
    drives = {0: DiskImage.open(floppy, kind="floppy", read_only=True), 0xE0: CdImage.open(iso)}
    m = Machine(MachineConfig(memory_mb=2, native_stop=False, profile="pc-pci",
                              boot_order=("d",)), drives=drives)  # type: ignore[arg-type]
    m.power_on()
    assert m.bios.disk.emulated is not None
    return m, Bounded(m.memory)


@TARGETED
@given(values=registers, ah=st.sampled_from(CD_LEAVES), al=st.sampled_from([0, 1, 2, 0xFF]),
       dl=st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xE0, 0xE1]), blob=_dap())
def test_int13_on_a_cd_machine_with_random_registers(images, values, ah, al, dl, blob):
    values = dict(values)
    values[Reg.EAX] = (values[Reg.EAX] & 0xFFFF0000) | (ah << 8) | al
    values[Reg.EDX] = (values[Reg.EDX] & 0xFFFFFF00) | dl
    m, bounded = booted(images)
    try:
        addr = (values[Reg.DS] << 4) + (values[Reg.ESI] & 0xFFFF)
        m.memory.ram[addr: addr + len(blob)] = blob
        call, backend = call_service(m, 0x13, values)
        m.bios.services[0x13](call)
        check_registers(backend)
        assert not bounded.violations
        status = (backend.values[Reg.EAX] >> 8) & 0xFF
        cf = bool(backend.values[Reg.EFLAGS] & Flag.CF)
        if ah != 0x15:  # AH=15h returns the drive type in AH, CF clear
            assert cf == (status != 0), (hex(ah), hex(dl), hex(status))
    finally:
        m.close()


def test_boot_catalog_request_for_zero_sectors(images):
    """Found by the fuzz test above: AX=4D00h asking for 0 catalog sectors wrote an empty
    buffer into guest memory, which the engine refuses (UC_ERR_ARG): now nothing is
    written and the call succeeds."""
    m, bounded = booted(images)
    try:
        m.memory.write(0x600, bytes((8, 0)) + (0x2000 << 16).to_bytes(4, "little") + bytes(2))
        values = {reg: 0 for reg in Reg}
        values.update({Reg.EAX: 0x4D00, Reg.EDX: 0xE0, Reg.ESI: 0x600, Reg.EFLAGS: 0x202})
        call, backend = call_service(m, 0x13, values)
        m.bios.services[0x13](call)
        assert not backend.values[Reg.EFLAGS] & Flag.CF and not bounded.violations
    finally:
        m.close()
