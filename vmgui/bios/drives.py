"""The BIOS drive table: which image each int 13h drive number reaches.

Owns: :class:`DriveTable` -- the physical drives (floppy slots 00h-01h, which may be
empty, and hard disks 80h-FFh) and the numbering the guest sees, which differs from them
while a CD emulates a disk (El Torito): the emulated floppy or hard disk takes 00h or 80h
and the drives of its kind are numbered one up, as SeaBIOS ``src/disk.c`` handle_13 does;
there are at most two floppy numbers, so a second floppy drive is then hidden.
:class:`vmgui.bios.disk.DiskService` serves int 13h over it.

Thread rules: used on the VM's emulation thread only.
"""

from __future__ import annotations

from collections.abc import Mapping

from vmgui.storage.image import DiskImage

HDD_BASE = 0x80
MAX_FLOPPIES = 2


def check_number(number: int, image: DiskImage | None) -> None:
    """ValueError unless ``number`` is a floppy (00h-01h) or hard disk (80h-FFh) number
    and a hard disk has an image."""
    if not (0 <= number < MAX_FLOPPIES or HDD_BASE <= number <= 0xFF):
        raise ValueError(f"drive number {number:#04x} is neither 00h-01h nor 80h-FFh")
    if image is None and number >= HDD_BASE:
        raise ValueError(f"hard disk {number:#04x} needs an image")


def _fits(number: int) -> bool:
    return number < MAX_FLOPPIES or HDD_BASE <= number <= 0xFF


class DriveTable:
    """Physical drives (``slots``) and the BIOS's numbering of them (``view``)."""

    def __init__(self, drives: Mapping[int, DiskImage | None]) -> None:
        self.slots: dict[int, DiskImage | None] = {}
        for number, image in drives.items():
            check_number(number, image)
            self.slots[number] = image
        self.emulated: tuple[int, DiskImage] | None = None
        self.view: dict[int, DiskImage | None] = self.slots

    def set_slot(self, number: int, image: DiskImage | None) -> DiskImage | None:
        """Put ``image`` (None: empty a floppy slot, remove a hard disk) in physical drive
        ``number``; returns the image that was there."""
        if image is not None:
            check_number(number, image)
        old = self.slots.get(number)
        if image is None and number >= HDD_BASE:
            self.slots.pop(number, None)
        elif image is not None or number in self.slots:
            self.slots[number] = image
        self._renumber()
        return old

    def emulate(self, number: int | None, image: DiskImage | None = None) -> None:
        """``image`` becomes BIOS drive ``number`` (00h or 80h); None ends emulation."""
        if number is None:
            self.emulated = None
        elif image is None or number not in (0x00, HDD_BASE):
            raise ValueError(f"a CD emulates drive 00h or 80h with an image, not {number}")
        else:
            self.emulated = (number, image)
        self._renumber()

    def bios_number(self, number: int) -> int | None:
        """The BIOS number of physical drive ``number`` (None: hidden by emulation)."""
        if self.emulated is None or (number >= HDD_BASE) != (self.emulated[0] >= HDD_BASE):
            return number
        return number + 1 if _fits(number + 1) else None

    def _renumber(self) -> None:
        if self.emulated is None:
            self.view = self.slots
            return
        number, image = self.emulated
        view: dict[int, DiskImage | None] = {number: image}
        for n, img in sorted(self.slots.items()):
            bios = self.bios_number(n)
            if bios is not None:
                view[bios] = img
        self.view = view
