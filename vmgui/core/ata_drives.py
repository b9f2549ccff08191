"""The machine's ATA controller and which drive sits where on it.

Owns: :func:`build_ata` -- the legacy IDE controller of a :class:`~vmgui.core.machine.
Machine` (both machine kinds: every AT has one at these ports), its channels at the
profile's ``ata-primary`` / ``ata-secondary`` ports and IRQ lines, and the attachments:
hard disk 80h (C:) primary master, 81h (D:) primary slave, the CD drive (E0h) secondary
master on machines that have one.  Each attachment looks its image up in the machine's
drive table at every use, so the controller and the BIOS's int 13h always reach the same
image object -- the same copy-on-write layer after a snapshot switched it, the new disc
after a media change.  Transfers count towards the BIOS's per-image activity figures.

Thread rule: called while the machine is built, on its emulation thread.
"""

from __future__ import annotations

from typing import Any

from vmgui.bios.cdrom import CD_DRIVE
from vmgui.devices.ata import AtaController, Attachment

HARD_DISK_POSITIONS = {0x80: (0, 0), 0x81: (0, 1)}  # drive number -> (channel, unit)
CD_POSITION = (1, 0)
CHANNEL_KINDS = ("ata-primary", "ata-secondary")


def attachments(drives: dict[int, Any], has_cd_drive: bool) -> dict[tuple[int, int], Attachment]:
    """Where the drives of ``drives`` (the machine's table, kept up to date by it) sit."""
    found: dict[tuple[int, int], Attachment] = {}
    for number, position in HARD_DISK_POSITIONS.items():
        if drives.get(number) is not None:
            found[position] = Attachment("disk", lambda n=number: drives.get(n))
    if has_cd_drive:
        found[CD_POSITION] = Attachment("cdrom", lambda: drives.get(CD_DRIVE))
    return found


def build_ata(machine: Any) -> AtaController:
    """The controller for ``machine`` (its bus, PIC, profile and drives must exist)."""
    channels = [machine.profile.device(kind) for kind in CHANNEL_KINDS]
    if any(ch is None for ch in channels):
        raise ValueError(f"machine profile {machine.profile.name} lacks an ATA channel")
    transfers = machine.bios.disk.transfers

    def activity(path: str, sectors: int) -> None:
        transfers[path] = transfers.get(path, 0) + 1

    return AtaController(machine.bus, [machine.pic.irq_line(ch.irqs[0]) for ch in channels],
                         attachments(machine.drives, machine.profile.cdrom),
                         bases=[ch.port for ch in channels], activity=activity)
