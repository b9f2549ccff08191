"""How the windows name machines and drives: one place for the wizard, the settings, the
details pane and the console.

Owns: the texts derived from :mod:`vmgui.core.profiles` (the profile's label stays the one
source of truth for its name; :func:`profile_features` is built from its flags, so a new
profile describes itself), what each machine is for (:data:`PROFILE_PURPOSE`, prose the
profile table has no field for), and the names of the boot letters, which depend on the
machine: ``d`` is the CD/DVD drive on a machine that has one and the second hard disk on
the pc-at (:func:`vmgui.core.removable.boot_number` is the rule the BIOS follows); and
which removable drives a started machine has, with what is in them
(:func:`media_of_machine`, :func:`media_of_vm`: the console's Devices menu starts there).

No widgets here: plain functions over profile names, safe for any GUI-thread caller.
"""

from __future__ import annotations

from pathlib import Path

from vmgui.core.profiles import MachineProfile, all_profiles, get_profile

CD_DRIVE = "CD/DVD drive"
BOOT_NAMES = {"a": "Floppy A:", "b": "Floppy B:", "c": "Hard disk C:", "d": "Hard disk D:"}
CD_BOOT_NAME = "CD/DVD"
PROFILE_PURPOSE = {
    "pc-at": "For DOS and other real-mode software.",
    "pc-pci": "For bootloaders, Linux installers and other protected-mode systems.",
}


def profile_or_none(name: str) -> MachineProfile | None:
    """The profile called ``name``, or None for a name this vmgui does not know."""
    try:
        return get_profile(name)
    except ValueError:
        return None


def profile_label(name: str) -> str:
    """The profile's label; an unknown name is shown as it is, marked unknown."""
    profile = profile_or_none(name)
    return profile.label if profile is not None else f"{name} (unknown machine)"


def memory_text(mb: int) -> str:
    """``257 MB``; whole gigabytes as ``2 GB``."""
    return f"{mb // 1024} GB" if mb >= 1024 and mb % 1024 == 0 else f"{mb} MB"


def profile_features(profile: MachineProfile) -> str:
    """What the machine has, in one line: ``PCI bus, VBE graphics, CD/DVD drive, floppy
    and hard disks, up to 2 GB of memory``."""
    parts = ["PCI bus" if profile.pci else "ISA bus",
             "VBE graphics" if profile.vbe else "VGA graphics"]
    if profile.cdrom:
        parts.append(CD_DRIVE)
    parts.append("floppy and hard disks")
    if not profile.cdrom:
        parts.append("no CD drive")
    parts.append(f"up to {memory_text(profile.max_memory_mb)} of memory")
    return ", ".join(parts)


def profile_description(profile: MachineProfile) -> str:
    """The features line and, when known, what the machine is for."""
    purpose = PROFILE_PURPOSE.get(profile.name, "")
    return f"{profile_features(profile)}. {purpose}".strip()


def cd_profiles() -> tuple[MachineProfile, ...]:
    """The machines that have a CD drive (to name them where one is missing)."""
    return tuple(p for p in all_profiles() if p.cdrom)


def has_cd_drive(name: str) -> bool:
    profile = profile_or_none(name)
    return profile is not None and profile.cdrom


def no_cd_drive_text(name: str) -> str:
    """``The IBM PC/AT compatible (ISA), BIOS machine has no CD drive; the PC with PCI,
    ... machine has one.``"""
    others = " or ".join(f"“{p.label}”" for p in cd_profiles())
    text = f"The “{profile_label(name)}” machine has no CD drive"
    return f"{text}; the {others} machine has one." if others else f"{text}."


def boot_name(letter: str, profile_name: str) -> str:
    """What boot letter ``letter`` means on the machine ``profile_name``."""
    if letter == "d" and has_cd_drive(profile_name):
        return CD_BOOT_NAME
    return BOOT_NAMES.get(letter, letter)


def boot_order_text(order: list[str] | tuple[str, ...], profile_name: str) -> str:
    """``CD/DVD, Hard disk C:``."""
    return ", ".join(boot_name(letter, profile_name) for letter in order)


def media_of_machine(config) -> dict[str, str | None]:
    """The removable drives of a :class:`~vmgui.core.machine.MachineConfig` and what they
    hold (None: empty): a floppy slot the config lists, the CD drive of a CD machine."""
    media: dict[str, str | None] = {}
    for index, drive in enumerate(("floppy-a", "floppy-b")):
        if index < len(config.floppies):
            path = config.floppies[index]
            media[drive] = str(path) if path else None
    if get_profile(config.profile).cdrom:
        media["cdrom"] = str(config.cdrom) if config.cdrom is not None else None
    return media


def media_of_vm(config, folder: Path) -> dict[str, str | None]:
    """As :func:`media_of_machine` for a :class:`~vmgui.config.schema.VmConfig` started
    from ``folder`` with its ``open_drives`` (a floppy drive exists when an image is
    attached to it; the images' own paths, not a try-out session's overlays)."""
    media: dict[str, str | None] = {}
    for drive, att in (("floppy-a", config.floppy_a), ("floppy-b", config.floppy_b)):
        if att is not None:
            media[drive] = str(att.resolve(folder))
    if get_profile(config.profile).cdrom:
        media["cdrom"] = str(config.cdrom.resolve(folder)) if config.cdrom else None
    return media
