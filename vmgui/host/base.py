"""What every hosting shares: the interface front ends use, its errors, and the record of
a machine's events.

Owns: :class:`Host`, the hosting interface (a typing Protocol: :class:`ThreadHost`,
:class:`LockstepHost`, :class:`ProcessHost` and the control socket's ``MachineHost``
implement it) with the documented behaviour of :meth:`Host.display` and
:meth:`Host.text_lines` before the first screen; :class:`HostError` and
:class:`NoScreenYet`; and :class:`EventRecord`, mixed into each host: the run state, the
crash report, COM1 and debug-port output, and the results of state saves and loads, all
updated from events in one place so every host reports them the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from vmgui.core import events as ev

if TYPE_CHECKING:
    from vmgui.devices.display import DisplayState


class HostError(RuntimeError):
    """A hosting cannot do what was asked; the message says why.  (A RuntimeError so
    that callers written before it was named keep working.)"""


class NoScreenYet(HostError):
    """The VM has no screen to show yet: its process is still starting (about 0.3 s, much
    longer on a loaded machine), or it did not answer the first request for the screen
    in time.  Nothing is wrong; ask again later.  Front ends show "starting"."""

    def __init__(self, message: str = "the VM has not drawn a screen yet") -> None:
        super().__init__(message)


class Host(Protocol):
    """The hosting interface: commands in, events out, the screen read on demand.

    Run state, crash report and output (the :class:`EventRecord` attributes) change only
    in :meth:`poll_events` (``MachineHost``: as events arrive)."""

    state: ev.RunState
    crash: ev.GuestCrashed | None
    serial: bytearray

    def start(self) -> None: ...

    def send(self, command: ev.Command) -> None: ...

    def poll_events(self) -> list[ev.Event]: ...

    def display(self) -> DisplayState:
        """The screen now.  Raises :class:`NoScreenYet` while the host has never had a
        screen to give (a VM process before its first answer); once it has had one it
        always returns a state (after power-off: the last one)."""
        ...

    def text_lines(self) -> list[str]:
        """The text screen, one string per row; ``[]`` when there is no text to read: a
        graphics mode, or no screen yet (where :meth:`display` raises NoScreenYet)."""
        ...

    def pending_keys(self) -> int: ...

    def power_off(self, timeout: float = ...) -> None: ...

    @property
    def alive(self) -> bool: ...


class EventRecord:
    def _init_record(self) -> None:
        self.state = ev.RunState.CREATED
        self.crash: ev.GuestCrashed | None = None
        self.serial = bytearray()
        self.debug = bytearray()
        self.state_files: list[ev.StateSaved | ev.StateLoaded] = []
        """Results of SaveState/LoadState commands, oldest first."""
        self.media_changes: list[ev.MediaChanged] = []
        """Results of ChangeMedia commands, oldest first."""

    def _apply(self, event: ev.Event) -> None:
        if isinstance(event, ev.StateChanged):
            self.state = event.state
        elif isinstance(event, ev.GuestCrashed):
            self.crash = event
        elif isinstance(event, ev.SerialOutput):
            self.serial += event.data
        elif isinstance(event, ev.DebugOutput):
            self.debug += event.data
        elif isinstance(event, ev.StateSaved | ev.StateLoaded):
            self.state_files.append(event)
        elif isinstance(event, ev.MediaChanged):
            self.media_changes.append(event)
