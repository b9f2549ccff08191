"""What every hosting keeps about its machine from the events it collects.

Owns: :class:`EventRecord`, mixed into each host (thread, VM process, lockstep): the run
state, the crash report, COM1 and debug-port output, and the results of state saves and
loads, all updated from events in one place so every host reports them the same way.
"""

from __future__ import annotations

from vmgui.core import events as ev


class EventRecord:
    def _init_record(self) -> None:
        self.state = ev.RunState.CREATED
        self.crash: ev.GuestCrashed | None = None
        self.serial = bytearray()
        self.debug = bytearray()
        self.state_files: list[ev.StateSaved | ev.StateLoaded] = []
        """Results of SaveState/LoadState commands, oldest first."""

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
