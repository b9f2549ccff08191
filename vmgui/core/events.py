"""Commands into a running machine and events out of it.

Owns: the small frozen dataclasses that cross the boundary between a machine's
emulation thread and whoever drives it (the headless runner, the console, automation,
later a VM process over a pipe).  They hold only plain values so they can be pickled.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RunState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    CRASHED = "crashed"
    ABORTED = "aborted"  # the VM process died (killed, or the engine crashed)
    POWERED_OFF = "powered off"


# ------------------------------------------------------------------ commands (in)
@dataclass(frozen=True)
class KeyScancodes:
    """Raw scan code set 1 bytes for the keyboard controller (make and/or break)."""

    data: bytes


@dataclass(frozen=True)
class MouseInput:
    """Relative PS/2 mouse movement (dy > 0 is down, screen convention) and the buttons
    held: bit 0 left, bit 1 right, bit 2 middle."""

    dx: int
    dy: int
    buttons: int


@dataclass(frozen=True)
class SerialInput:
    data: bytes


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Reset:
    pass


@dataclass(frozen=True)
class PowerOff:
    pass


@dataclass(frozen=True)
class SaveState:
    """Write the machine's complete state to ``path`` (it keeps running afterwards).

    ``new_layers`` (drive number, overlay path) makes it a live snapshot with disks: in the
    same pause, each listed drive's current image is frozen and a new copy-on-write
    overlay is created at that path on top of it and takes the drive's writes.
    ``power_off``: once the state is written, power off in the same pause ("Save state"):
    no guest instruction runs after the saved instant, so the disks match the state.  A
    save that fails leaves the machine running."""

    path: str
    new_layers: tuple[tuple[int, str], ...] = ()
    power_off: bool = False


@dataclass(frozen=True)
class LoadState:
    """Replace the machine's state with the one saved in ``path``."""

    path: str


@dataclass(frozen=True)
class DiscardKeys:
    """Drop the typed key presses the keyboard controller has not taken yet (a script
    gave up waiting for the guest to read them).  Key releases are kept, so no key the
    guest already saw go down stays held."""


@dataclass(frozen=True)
class ChangeMedia:
    """Insert the image at ``path`` into a removable drive, or eject (``path`` None), while
    the machine runs.  ``drive`` is one of :data:`MEDIA_DRIVES`: "floppy-a" and "floppy-b"
    (the guest sees the change line, int 13h AH=16h) or "cdrom" (an ISO 9660 image; the
    machine's profile must have a CD drive).  ``read_only`` is for floppies (a CD always is
    read-only).  The machine answers with :class:`MediaChanged`; the VM's settings
    (``vm.toml``) are not changed."""

    drive: str
    path: str | None
    read_only: bool = False


#: The removable drives :class:`ChangeMedia` names.
MEDIA_DRIVES = ("floppy-a", "floppy-b", "cdrom")


Command = (KeyScancodes | MouseInput | SerialInput | Pause | Resume | Reset | PowerOff
           | SaveState | LoadState | DiscardKeys | ChangeMedia)


# ------------------------------------------------------------------ events (out)
@dataclass(frozen=True)
class StateChanged:
    state: RunState


@dataclass(frozen=True)
class GuestCrashed:
    """The guest did something the machine cannot continue from; ``report`` says what
    (exception, registers, last port access) in readable lines."""

    reason: str
    report: str


@dataclass(frozen=True)
class GuestReset:
    """The machine reset itself for ``reason`` (a triple fault: the CPU shut down, and
    the chipset restarted it, as on a real PC).  It keeps running; front ends say so."""

    reason: str


@dataclass(frozen=True)
class SerialOutput:
    port: int  # 0 = COM1
    data: bytes


@dataclass(frozen=True)
class DebugOutput:
    data: bytes


@dataclass(frozen=True)
class StateSaved:
    path: str
    error: str | None  # None: saved


@dataclass(frozen=True)
class StateLoaded:
    path: str
    error: str | None  # None: loaded


@dataclass(frozen=True)
class Stats:
    """Sent about twice a second while running: translation blocks the guest executed and
    the disk transfers per drive letter in the last ``interval_s`` (status bar: speed and
    activity lights)."""

    interval_s: float
    blocks: int
    disk_transfers: tuple[tuple[str, int], ...]  # ("A", 3), ("C", 0) ...


@dataclass(frozen=True)
class MediaChanged:
    """The answer to :class:`ChangeMedia`: ``error`` None when done (``path`` is then the
    image now in ``drive``, None for an empty drive), else why nothing changed ("…: no
    such file", "… is not an ISO 9660 CD image (…)", "this machine has no CD drive")."""

    drive: str
    path: str | None
    error: str | None


Event = (StateChanged | GuestCrashed | GuestReset | SerialOutput | DebugOutput | StateSaved
         | StateLoaded | Stats | MediaChanged)
