"""The VM configuration: typed dataclasses, validation and the ``vm.toml`` layout.

Owns: :class:`VmConfig` and its parts (:class:`Attachment`, :class:`SerialConfig`), their
validation into human-readable problems, conversion to and from the TOML table stored in
each VM's ``vm.toml`` (with migrations from older schema versions and refusal of newer ones,
as QEMU's vmstate does), and conversion to the :class:`vmgui.core.machine.MachineConfig`
the emulator runs.  No Qt and no engine imports: the core is imported lazily only by
:meth:`VmConfig.to_machine_config` and :meth:`VmConfig.open_drives`.

Schema history (``schema_version`` in ``vm.toml``; a missing key means version 0):

- 0: a hypothetical early layout that stored RAM as ``memory_kb`` (KiB) and had no
  ``schema_version`` key.  Migrated by :func:`_migrate_0_to_1`: ``memory_mb`` =
  ``memory_kb`` / 1024 rounded up, so a guest never gets less RAM than it had.
- 1: RAM in ``memory_mb``; drives ``floppy_a``, ``floppy_b``, ``hard_disks``.
- 2: adds the optional ``cdrom`` attachment (an ISO 9660 image, always read-only; only
  machine profiles with a CD drive take one).  :func:`_migrate_1_to_2` changes nothing: a
  version-1 file has no CD.  The version is raised so that an older vmgui refuses a file
  with a CD instead of silently dropping it.
- 3: the current layout (see :meth:`VmConfig.to_toml_dict`): adds the optional
  ``[direct_boot]`` table (a Linux kernel, its initrd and command line, booted directly:
  :class:`DirectBoot`).  :func:`_migrate_2_to_3` changes nothing: a version-2 file boots
  from its disks.  Raised for the same reason as version 2: an older vmgui would
  otherwise boot the VM from a disk and ignore its kernel.

Boot letters (``boot_order``): ``a``/``b`` the floppies, ``c`` the first hard disk, ``d``
the CD drive on machines that have one (profile ``pc-pci``); on the ``pc-at``, which has
no CD drive, ``d`` stays the second hard disk, as it always was there
(:func:`vmgui.core.removable.boot_number`).
"""

from __future__ import annotations

import logging
import math
import uuid as uuid_mod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmgui.config.safefile import escape_problem, path_problem, shown
from vmgui.core.profiles import MIN_MEMORY_MB as MIN_MEMORY_MB  # re-exported for the UI/CLI
from vmgui.core.profiles import all_profiles, get_profile, profile_names

if TYPE_CHECKING:
    from vmgui.core.machine import MachineConfig
    from vmgui.storage.image import DiskImage

log = logging.getLogger(__name__)

CURRENT_SCHEMA_VERSION = 3
# The most RAM any machine profile takes (pc-pci: 2048); each profile has its own maximum
# (MachineProfile.max_memory_mb, checked by validate), MIN_MEMORY_MB is the profiles' minimum.
MAX_MEMORY_MB = max(p.max_memory_mb for p in all_profiles())
MEMORY_LIMITS = ", ".join(f"{p.name} {p.max_memory_mb}" for p in all_profiles())  # for help
MAX_HARD_DISKS = 2
MAX_NAME_LENGTH = 100
BOOT_LETTERS = ("a", "b", "c", "d")
DISPLAY_SCALES = ("1x", "2x", "fit")
SERIAL_MODES = ("off", "file", "tcp")
PROFILES = profile_names()
CD_DRIVE_NUMBER = 0xE0  # vmgui.bios.cdrom.CD_DRIVE (not imported: no BIOS in the config layer)
MIN_TCP_PORT, MAX_TCP_PORT = 1024, 65535
ILLEGAL_NAME_CHARS = '/\\:*?"<>|'
#: Names Windows reserves for devices; a folder with such a name cannot be created there.
#: The longest kernel command line a VM may store: the room vmgui's loader has for it
#: (vmgui.bios.linuxboot.CMDLINE_ROOM less the NUL; not imported: no BIOS in the config
#: layer).  The kernel's own limit (its cmdline_size, 2047 for i386) is checked at boot.
MAX_CMDLINE_BYTES = 0x2000 - 1
RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)])


class ConfigError(ValueError):
    """A VM configuration cannot be read or is not valid; the message names the file."""


@dataclass
class SerialConfig:
    """COM1: ``off``, logged to ``path`` (``file``), or served on a local TCP ``port``."""

    mode: str = "off"
    path: str = ""
    port: int = 0

    def validate(self) -> list[str]:
        if self.mode not in SERIAL_MODES:
            return [f"serial mode {self.mode!r} is not one of {', '.join(SERIAL_MODES)}"]
        if self.mode == "file" and not self.path.strip():
            return ["serial mode 'file' needs a file path"]
        if self.path and (why := path_problem(self.path)) is not None:
            return [f"serial file path {shown(self.path)} {why}"]
        if self.mode == "tcp" and not MIN_TCP_PORT <= self.port <= MAX_TCP_PORT:
            return [f"serial TCP port {self.port} is outside {MIN_TCP_PORT}-{MAX_TCP_PORT}"]
        return []


@dataclass
class DirectBoot:
    """A Linux kernel (bzImage) the VM boots directly, as QEMU's ``-kernel`` does, instead
    of a disk's boot sector (:mod:`vmgui.bios.linuxboot`); its initial RAM disk and command
    line.  ``kernel`` empty: the VM boots from its disks.  Paths are stored as
    attachments' are (relative ones relative to the VM folder); the disks stay attached
    either way (Linux sees them as ATA drives, the BIOS as its drives)."""

    kernel: str = ""
    initrd: str = ""
    append: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.kernel.strip())

    def is_empty(self) -> bool:
        return not (self.kernel or self.initrd or self.append)

    def validate(self) -> list[str]:
        problems = []
        for label, value in (("kernel", self.kernel), ("initrd", self.initrd)):
            if not value:
                continue
            if not value.strip():
                problems.append(f"the {label} path is blank")
            elif (why := path_problem(value)) is not None:
                problems.append(f"{label} path {shown(value)} {why}")
            elif leaves_folder(value):
                problems.append(f"{label} path {shown(value)} leads out of the VM folder "
                                "with ..; give a file outside it by its absolute path")
        if not self.enabled and self.initrd:
            problems.append("an initrd is set but no kernel to boot with it")
        if not self.enabled and self.append:
            problems.append("a kernel command line is set but no kernel to boot with it")
        bad = sorted({c for c in self.append if ord(c) < 32 or ord(c) == 127})
        if bad:
            codes = ", ".join(f"U+{ord(c):04X}" for c in bad[:3])
            problems.append(f"the kernel command line contains control characters ({codes})")
        size = len(self.append.encode("utf-8", "surrogateescape"))
        if size > MAX_CMDLINE_BYTES:
            problems.append(f"the kernel command line is {size} bytes long (at most "
                            f"{MAX_CMDLINE_BYTES})")
        return problems

    def resolve(self, folder: Path) -> tuple[Path | None, Path | None, str]:
        """(kernel, initrd, command line) for the machine; (None, None, "") when the VM
        boots from its disks."""
        if not self.enabled:
            return None, None, ""
        kernel = Attachment(self.kernel).resolve(folder)
        initrd = Attachment(self.initrd).resolve(folder) if self.initrd else None
        return kernel, initrd, self.append


@dataclass
class Attachment:
    """A disk image attached to a drive; a relative ``path`` is relative to the VM folder
    and stays inside it (no ``..``: :func:`leaves_folder`)."""

    path: str
    read_only: bool = False

    def resolve(self, folder: Path) -> Path:
        path = Path(self.path).expanduser()
        return path if path.is_absolute() else Path(folder) / path


_UUID_NAMESPACE = uuid_mod.UUID("6d1c1c2e-5b0e-4d7a-9a43-0f1f3c4a7a10")


def _new_uuid() -> str:
    return str(uuid_mod.uuid4())


@dataclass
class VmConfig:
    """Everything ``vm.toml`` stores about one VM.  Mutable: editors change a copy."""

    name: str
    uuid: str = field(default_factory=_new_uuid)
    notes: str = ""
    profile: str = "pc-at"
    memory_mb: int = 16
    boot_order: list[str] = field(default_factory=lambda: ["a", "c"])
    floppy_a: Attachment | None = None
    floppy_b: Attachment | None = None
    hard_disks: list[Attachment] = field(default_factory=list)
    cdrom: Attachment | None = None  # an ISO 9660 image (always read-only)
    direct_boot: DirectBoot = field(default_factory=DirectBoot)  # a Linux kernel to boot
    display_scale: str = "2x"
    serial: SerialConfig = field(default_factory=SerialConfig)
    tryout: bool = False
    cpu_limit_percent: int = 0  # 0 = unlimited
    schema_version: int = CURRENT_SCHEMA_VERSION

    # ------------------------------------------------------------------ validation

    def validate(self) -> list[str]:
        """Human-readable problems, empty when the configuration is usable."""
        problems = name_problems(self.name)
        try:
            uuid_mod.UUID(self.uuid)
        except (ValueError, AttributeError, TypeError):
            problems.append(f"uuid {self.uuid!r} is not a UUID")
        if self.profile not in PROFILES:
            problems.append(f"machine profile {self.profile!r} is unknown "
                            f"(known: {', '.join(PROFILES)})")
        elif problem := get_profile(self.profile).memory_problem(self.memory_mb):
            problems.append(problem)
        problems += _boot_order_problems(self.boot_order)
        problems += self._media_problems()
        if self.display_scale not in DISPLAY_SCALES:
            problems.append(f"display scale {self.display_scale!r} is not one of "
                            f"{', '.join(DISPLAY_SCALES)}")
        problems += self.serial.validate()
        problems += self.direct_boot.validate()
        if not 0 <= self.cpu_limit_percent <= 100:
            problems.append(f"CPU limit {self.cpu_limit_percent}% is outside 0-100 "
                            "(0 = unlimited)")
        return problems

    def _media_problems(self) -> list[str]:
        problems = []
        if len(self.hard_disks) > MAX_HARD_DISKS:
            problems.append(f"{len(self.hard_disks)} hard disks attached; at most "
                            f"{MAX_HARD_DISKS} (C: and D:)")
        slots = [("floppy A:", self.floppy_a), ("floppy B:", self.floppy_b)]
        slots += [(f"hard disk {'CD'[i] if i < 2 else i}:", att)
                  for i, att in enumerate(self.hard_disks)]
        slots.append(("CD drive", self.cdrom))
        if self.cdrom is not None and not _profile_has_cd(self.profile):
            problems.append(f"a CD is attached, but the {self.profile} machine has no CD "
                            "drive (the pc-pci machine has one)")
        for label, att in slots:
            if att is None:
                continue
            if not str(att.path).strip():
                problems.append(f"{label} has an empty image path")
            elif (why := path_problem(att.path)) is not None:
                problems.append(f"{label} image path {shown(att.path)} {why}")
            elif leaves_folder(att.path):
                problems.append(f"{label} image path {shown(att.path)} leads out of the VM "
                                "folder with ..; attach an image outside it by its "
                                "absolute path")
        return problems

    # ------------------------------------------------------------------ TOML

    def to_toml_dict(self) -> dict[str, Any]:
        """The ``vm.toml`` table (TOML has no null: empty drives are left out)."""
        d: dict[str, Any] = {
            "schema_version": CURRENT_SCHEMA_VERSION,
            "name": self.name,
            "uuid": self.uuid,
            "notes": self.notes,
            "profile": self.profile,
            "memory_mb": self.memory_mb,
            "boot_order": list(self.boot_order),
            "display_scale": self.display_scale,
            "tryout": self.tryout,
            "cpu_limit_percent": self.cpu_limit_percent,
        }
        for key in ("floppy_a", "floppy_b"):
            att = getattr(self, key)
            if att is not None:
                d[key] = {"path": att.path, "read_only": att.read_only}
        d["hard_disks"] = [{"path": a.path, "read_only": a.read_only} for a in self.hard_disks]
        if self.cdrom is not None:
            d["cdrom"] = {"path": self.cdrom.path}
        d["serial"] = {"mode": self.serial.mode, "path": self.serial.path,
                       "port": self.serial.port}
        boot = self.direct_boot
        if not boot.is_empty():
            d["direct_boot"] = {"kernel": boot.kernel, "initrd": boot.initrd,
                                "append": boot.append}
        return d

    @classmethod
    def from_toml_dict(cls, d: dict[str, Any], source: str = "vm.toml") -> VmConfig:
        """Build from a parsed ``vm.toml``, migrating older schemas.

        Raises :class:`ConfigError` (prefixed with ``source``) for a newer schema version or
        values of the wrong type.  Values of the right type but out of range are kept:
        :meth:`validate` reports them.
        """
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected a table, not {type(d).__name__}")
        d = migrate(d, source)
        reader = _Reader(d, source)
        name = reader.get("name", str, None)
        config = cls(
            name=name,
            # a hand-written file without a uuid gets a stable one derived from the name
            uuid=reader.get("uuid", str, "") or str(uuid_mod.uuid5(_UUID_NAMESPACE, name)),
            notes=reader.get("notes", str, ""),
            profile=reader.get("profile", str, "pc-at"),
            memory_mb=reader.get("memory_mb", int, 16),
            boot_order=reader.get_str_list("boot_order", ["a", "c"]),
            floppy_a=reader.get_attachment("floppy_a"),
            floppy_b=reader.get_attachment("floppy_b"),
            hard_disks=reader.get_attachments("hard_disks"),
            cdrom=reader.get_cd("cdrom"),
            display_scale=reader.get("display_scale", str, "2x"),
            serial=reader.get_serial("serial"),
            direct_boot=reader.get_direct_boot("direct_boot"),
            tryout=reader.get("tryout", bool, False),
            cpu_limit_percent=reader.get("cpu_limit_percent", int, 0),
            schema_version=CURRENT_SCHEMA_VERSION,
        )
        unknown = set(d) - _KNOWN_KEYS
        if unknown:
            log.warning("%s: ignoring unknown keys %s", source, ", ".join(sorted(unknown)))
        return config

    # ------------------------------------------------------------------ the machine

    def to_machine_config(self, folder: Path) -> MachineConfig:
        """The emulator's configuration; relative image paths resolve against ``folder``.

        ``MachineConfig.read_only`` is True only when every attached image is read-only
        (it applies to all drives); per-drive read-only flags are honoured by
        :meth:`open_drives`, which callers should prefer for opening the images.
        """
        from vmgui.core.machine import MachineConfig

        folder = Path(folder)
        floppies: tuple[Path | None, ...] = ()
        if self.floppy_a is not None or self.floppy_b is not None:
            floppies = tuple(att.resolve(folder) if att else None
                             for att in (self.floppy_a, self.floppy_b))
            if floppies[-1] is None:
                floppies = floppies[:1]
        attached = self._attachments()
        kernel, initrd, append = self.direct_boot.resolve(folder)
        return MachineConfig(
            memory_mb=self.memory_mb,
            floppies=floppies,
            hard_disks=tuple(att.resolve(folder) for att in self.hard_disks),
            cdrom=self.cdrom.resolve(folder) if self.cdrom is not None else None,
            boot_order=tuple(self.boot_order),
            read_only=bool(attached) and all(att.read_only for att in attached),
            cpu_limit_percent=self.cpu_limit_percent,
            profile=self.profile,
            kernel=kernel,
            initrd=initrd,
            append=append,
        )

    def open_drives(self, folder: Path, read_only: bool = False,
                    tryout_dir: Path | None = None) -> dict[int, DiskImage | None]:
        """Open the attached images (drive number -> image), honouring per-drive read-only.

        An attachment that is a copy-on-write overlay (snapshots: ``docs/snapshots.md``)
        opens with its chain; only regular files are opened.  ``tryout_dir``: every
        writable drive gets a fresh overlay there over its image, which itself stays
        unwritten (try-out mode; the folder is :mod:`vmgui.config.tryout`'s, which deletes
        it afterwards).  The CD (E0h) opens as a
        :class:`vmgui.storage.cdimage.CdImage`.  Raises
        :class:`vmgui.storage.image.DiskImageError` naming the image; images already
        opened are closed first.
        """
        from vmgui.storage.image import check_regular
        from vmgui.storage.overlay import Overlay
        from vmgui.storage.overlay_disk import open_disk

        drives: dict[int, DiskImage | None] = {}
        try:
            for number, att, kind in self.drive_slots():
                path = att.resolve(Path(folder))
                ro = read_only or att.read_only or kind == "cdrom"  # a CD: never an overlay
                check_regular(path)  # a FIFO or device would block or never end
                if tryout_dir is not None and not ro:
                    top = Path(tryout_dir) / f"tryout-{number:02x}.cow"
                    Overlay.create(top, path).close()
                    path = top
                drives[number] = open_disk(path, kind=kind, read_only=ro)  # or a layer
        except BaseException:
            for image in drives.values():
                if image is not None:
                    image.close()
            raise
        return drives

    def drive_slots(self) -> list[tuple[int, Attachment, str]]:
        """(BIOS drive number, attachment, kind) of every attached image; kind is
        "floppy", "hdd" or "cdrom" (the CD drive, number E0h)."""
        slots: list[tuple[int, Attachment | None, str]] = [
            (0, self.floppy_a, "floppy"), (1, self.floppy_b, "floppy")]
        slots += [(0x80 + i, att, "hdd") for i, att in enumerate(self.hard_disks)]
        slots.append((CD_DRIVE_NUMBER, self.cdrom, "cdrom"))
        return [(n, att, kind) for n, att, kind in slots if att is not None]

    def _attachments(self) -> list[Attachment]:
        return [a for a in (self.floppy_a, self.floppy_b, *self.hard_disks) if a is not None]


_KNOWN_KEYS = frozenset(VmConfig("x").to_toml_dict()) | {"floppy_a", "floppy_b", "cdrom",
                                                           "direct_boot"}


def _profile_has_cd(name: str) -> bool:
    try:
        return get_profile(name).cdrom
    except ValueError:
        return True  # an unknown profile is reported as such


def leaves_folder(stored: str) -> bool:
    """A relative path (as a VM's files store them) that goes up out of the folder it
    is relative to; absolute and ``~`` paths are the user's explicit choice."""
    return not (Path(stored).is_absolute() or stored.startswith("~")) \
        and escape_problem(stored) is not None


def name_problems(name: object) -> list[str]:
    """Why ``name`` cannot name a VM (it is also its folder's name); empty when fine."""
    if not isinstance(name, str):
        return [f"name must be text, not {type(name).__name__}"]
    if not name.strip():
        return ["name is empty"]
    problems = []
    bad = sorted({c for c in name if c in ILLEGAL_NAME_CHARS})
    if bad:
        problems.append(f"name {name!r} contains {' '.join(bad)} (not allowed: "
                        f"{' '.join(ILLEGAL_NAME_CHARS)})")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems.append(f"name {name!r} contains control characters")
    if name != name.strip(" ."):
        problems.append(f"name {name!r} starts or ends with a space or a dot")
    if name.split(".")[0].strip().upper() in RESERVED_NAMES:
        problems.append(f"name {name!r} is a reserved device name on Windows")
    if len(name) > MAX_NAME_LENGTH:
        problems.append(f"name is longer than {MAX_NAME_LENGTH} characters")
    return problems


def _boot_order_problems(order: list[str]) -> list[str]:
    if not order:
        return ["boot order is empty"]
    problems = []
    unknown = [letter for letter in order if letter not in BOOT_LETTERS]
    if unknown:
        problems.append(f"boot order has unknown drive letters {', '.join(map(repr, unknown))} "
                        f"(use {', '.join(BOOT_LETTERS)})")
    if len(set(order)) != len(order):
        problems.append(f"boot order {','.join(map(str, order))} names a drive twice")
    return problems


# ---------------------------------------------------------------------- migrations

def _migrate_0_to_1(d: dict[str, Any], source: str) -> dict[str, Any]:
    """Version 0 stored RAM as ``memory_kb``; version 1 stores whole MB, rounded up."""
    d = dict(d)
    if "memory_kb" in d:
        kb = d.pop("memory_kb")
        if isinstance(kb, bool) or not isinstance(kb, int):
            raise ConfigError(f"{source}: memory_kb must be an integer, not {kb!r}")
        d.setdefault("memory_mb", max(1, math.ceil(kb / 1024)))
    d["schema_version"] = 1
    return d


def _migrate_1_to_2(d: dict[str, Any], source: str) -> dict[str, Any]:
    """Version 2 adds the optional ``cdrom``; a version-1 table has none: nothing moves."""
    d = dict(d)
    d["schema_version"] = 2
    return d


def _migrate_2_to_3(d: dict[str, Any], source: str) -> dict[str, Any]:
    """Version 3 adds the optional ``direct_boot``; a version-2 table boots from its disks."""
    d = dict(d)
    d["schema_version"] = 3
    return d


#: version n -> the function that turns a version-n table into a version n+1 table
MIGRATIONS: dict[int, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    0: _migrate_0_to_1, 1: _migrate_1_to_2, 2: _migrate_2_to_3}


def migrate(d: dict[str, Any], source: str = "vm.toml") -> dict[str, Any]:
    """Bring a parsed ``vm.toml`` up to :data:`CURRENT_SCHEMA_VERSION`; refuse newer ones."""
    version = d.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ConfigError(f"{source}: schema_version {version!r} is not a version number")
    if version > CURRENT_SCHEMA_VERSION:
        raise ConfigError(f"{source}: schema version {version} is newer than this vmgui "
                          f"understands ({CURRENT_SCHEMA_VERSION}); upgrade vmgui")
    while version < CURRENT_SCHEMA_VERSION:
        d = MIGRATIONS[version](d, source)
        version += 1
        log.info("%s: migrated to schema version %d", source, version)
    return d


# ---------------------------------------------------------------------- typed reading

_TYPE_NAMES = {str: "text", int: "an integer", bool: "true or false"}


class _Reader:
    """Reads typed values out of a TOML table; wrong types raise :class:`ConfigError`."""

    def __init__(self, d: dict[str, Any], source: str, prefix: str = "") -> None:
        self.d, self.source, self.prefix = d, source, prefix

    def _error(self, key: str, what: str, value: object) -> ConfigError:
        return ConfigError(f"{self.source}: {self.prefix}{key} must be {what}, not {value!r}")

    def get(self, key: str, kind: type, default: Any) -> Any:
        if key not in self.d:
            if default is None:
                raise ConfigError(f"{self.source}: {self.prefix}{key} is missing")
            return default
        value = self.d[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self._error(key, _TYPE_NAMES[kind], value)
        return value

    def get_str_list(self, key: str, default: list[str]) -> list[str]:
        value = self.d.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._error(key, "a list of text", value)
        return [v.lower() for v in value]

    def _table(self, key: str, value: object) -> _Reader:
        if not isinstance(value, dict):
            raise self._error(key, "a table", value)
        return _Reader(value, self.source, f"{self.prefix}{key}.")

    def get_attachment(self, key: str) -> Attachment | None:
        if key not in self.d:
            return None
        sub = self._table(key, self.d[key])
        return Attachment(sub.get("path", str, None), sub.get("read_only", bool, False))

    def get_cd(self, key: str) -> Attachment | None:
        """The CD attachment: read-only whatever the file says (a CD cannot be written)."""
        att = self.get_attachment(key)
        return None if att is None else Attachment(att.path, read_only=True)

    def get_attachments(self, key: str) -> list[Attachment]:
        value = self.d.get(key, [])
        if not isinstance(value, list):
            raise self._error(key, "a list of tables", value)
        out = []
        for i, item in enumerate(value):
            sub = self._table(f"{key}[{i}]", item)
            out.append(Attachment(sub.get("path", str, None), sub.get("read_only", bool, False)))
        return out

    def get_serial(self, key: str) -> SerialConfig:
        if key not in self.d:
            return SerialConfig()
        sub = self._table(key, self.d[key])
        return SerialConfig(sub.get("mode", str, "off"), sub.get("path", str, ""),
                            sub.get("port", int, 0))

    def get_direct_boot(self, key: str) -> DirectBoot:
        if key not in self.d:
            return DirectBoot()
        sub = self._table(key, self.d[key])
        return DirectBoot(sub.get("kernel", str, ""), sub.get("initrd", str, ""),
                          sub.get("append", str, ""))
