"""vmgui.bios.drives.DriveTable and the disk service's media changes around El Torito
emulation: physical drives keep their numbers for attach/eject, the guest sees them
renumbered while a CD emulates a disk."""

from __future__ import annotations

import pytest

from vmgui.bios.api import FakeCpu
from vmgui.bios.disk import DiskService
from vmgui.bios.drives import DriveTable


class Img:
    """Stands for an image: the table only stores it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


A, B, C, D, EMU = Img("A"), Img("B"), Img("C"), Img("D"), Img("EMU")


def test_floppy_emulation_numbers_floppies_up_and_hides_b():
    table = DriveTable({0: A, 1: B, 0x80: C})
    table.emulate(0x00, EMU)
    assert table.view == {0: EMU, 1: A, 0x80: C}
    assert table.bios_number(0) == 1 and table.bios_number(1) is None
    assert table.bios_number(0x80) == 0x80
    table.emulate(None)
    assert table.view == {0: A, 1: B, 0x80: C}


def test_hard_disk_emulation_numbers_hard_disks_up():
    table = DriveTable({0: A, 0x80: C, 0x81: D})
    table.emulate(0x80, EMU)
    assert table.view == {0: A, 0x80: EMU, 0x81: C, 0x82: D}


def test_emulation_needs_00h_or_80h():
    with pytest.raises(ValueError, match="00h or 80h"):
        DriveTable({}).emulate(0x01, EMU)


def test_changing_the_real_a_while_emulating_raises_the_change_line_of_01h():
    svc = DiskService({0: None})
    svc.emulate(0x00, EMU)  # type: ignore[arg-type]
    svc.attach(0, A)  # type: ignore[arg-type]  # physical A:, the guest's 01h
    assert svc.drive(1) is A and svc.drive(0) is EMU
    cpu = FakeCpu()
    call = cpu.call(0x13, ah=0x16, dl=0x01)
    svc.handle(call)
    assert cpu.cf and cpu.regs.ah == 0x06  # 01h saw the change
    call = cpu.call(0x13, ah=0x16, dl=0x00)
    svc.handle(call)
    assert not cpu.cf  # the emulated floppy did not change
    assert svc.eject(0) is A and svc.drive(1) is None
