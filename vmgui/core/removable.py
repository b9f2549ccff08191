"""Removable media of a machine: its CD drive, and media changes while it runs.

Owns: which removable drives a machine has (:func:`check_drives`: a CD drive, BIOS
number E0h, only on machines whose profile has one -- see :mod:`vmgui.core.profiles` --
and then always, empty or not), the boot letter ``d`` (:func:`boot_number`), and
:func:`change_media`, which serves the :class:`~vmgui.core.events.ChangeMedia` command:
open the new image (an ISO for the CD, a floppy image for A:/B:), put it in the drive
through the BIOS (floppies raise the change line int 13h AH=16h reports), close the old
one, and answer with a :class:`~vmgui.core.events.MediaChanged` saying what happened.

Thread rules: :func:`change_media` runs on the machine's emulation thread, between engine
runs (the run loop drains the command).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vmgui.bios.cdrom import CD_DRIVE
from vmgui.core import events as ev
from vmgui.core.profiles import MachineProfile
from vmgui.storage.image import DiskImageError

log = logging.getLogger(__name__)

DRIVE_NUMBERS = {"floppy-a": 0x00, "floppy-b": 0x01, "cdrom": CD_DRIVE}
_DRIVE_NAMES = {"floppy-a": "floppy drive A:", "floppy-b": "floppy drive B:",
                "cdrom": "CD drive"}


def boot_number(letter: str, profile: MachineProfile) -> int:
    """The BIOS drive number of boot letter ``letter``: a, b the floppies, c the first
    hard disk; d the CD drive on a machine that has one, else (the pc-at) the second hard
    disk, as it always was there."""
    table = {"a": 0x00, "b": 0x01, "c": 0x80, "d": CD_DRIVE if profile.cdrom else 0x81}
    return table[letter]


def no_cd_drive(profile: MachineProfile) -> str:
    return (f"the {profile.name} machine has no CD drive (the pc-pci machine has one: "
            "choose it as the VM's machine profile)")


def check_drives(profile: MachineProfile, cdrom: Path | None,
                 drives: Mapping[int, Any] | None) -> None:
    """ValueError when a CD is given to a machine without a CD drive."""
    if not profile.cdrom and (cdrom is not None or (drives and drives.get(CD_DRIVE))):
        raise ValueError(no_cd_drive(profile))


def change_media(machine: Any, cmd: ev.ChangeMedia) -> ev.MediaChanged:
    """Serve ``cmd`` on ``machine`` (a :class:`vmgui.core.machine.Machine`)."""
    try:
        number, image = _open(machine, cmd)
    except (DiskImageError, OSError, ValueError) as exc:
        error = str(exc) if not isinstance(exc, OSError) else f"{cmd.path}: {exc.strerror}"
        log.info("media change %s refused: %s", cmd.drive, error)
        return ev.MediaChanged(cmd.drive, cmd.path, error)
    if number == CD_DRIVE:
        old = machine.bios.cdrom.insert(image)
    elif image is None:
        old = machine.bios.disk.eject(number)
    else:
        old = machine.bios.disk.attach(number, image)
    machine.drives[number] = image
    if old is not None:
        old.close()
    log.info("%s: %s", _DRIVE_NAMES[cmd.drive],
             f"inserted {cmd.path}" if image is not None else "ejected")
    return ev.MediaChanged(cmd.drive, None if image is None else cmd.path, None)


def _open(machine: Any, cmd: ev.ChangeMedia) -> tuple[int, Any]:
    """(drive number, the opened image or None) for ``cmd``; raises what it refuses."""
    from vmgui.storage.overlay_disk import open_disk

    number = DRIVE_NUMBERS.get(cmd.drive)
    if number is None:
        raise ValueError(f"unknown drive {cmd.drive!r} (one of {', '.join(DRIVE_NUMBERS)})")
    if number not in machine.drives:
        if number == CD_DRIVE:
            raise ValueError(no_cd_drive(machine.profile))
        raise ValueError(f"this machine has no {_DRIVE_NAMES[cmd.drive]} (attach a floppy "
                         "image there in the VM's settings to have one)")
    if cmd.path is None:
        return number, None
    if number == CD_DRIVE:
        return number, open_disk(cmd.path, kind="cdrom")
    return number, open_disk(cmd.path, kind="floppy", read_only=cmd.read_only)
