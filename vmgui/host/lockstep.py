"""Lockstep hosting for reproducible runs: the caller's thread drives the machine.

Owns: :class:`LockstepHost`, the hosting interface of ThreadHost for a machine in
deterministic mode.  Nothing runs in the background: :meth:`wait` executes the guest
until guest time has moved on, so every input lands, and every screen is looked at, at
the same guest time on every run — which is what makes screenshots byte-identical.
"""

from __future__ import annotations

import dataclasses

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig
from vmgui.devices.display import DisplayState
from vmgui.host.base import EventRecord
from vmgui.storage.image import DiskImage


class LockstepHost(EventRecord):
    def __init__(self, config: MachineConfig,
                 drives: dict[int, DiskImage | None] | None = None) -> None:
        self._events: list[ev.Event] = []
        self.machine = Machine(dataclasses.replace(config, deterministic=True),
                               on_event=self._events.append, drives=drives)
        self._init_record()
        self._off = False

    def start(self) -> None:
        self.machine.power_on()

    def now(self) -> float:
        """Guest seconds since power-on."""
        return self.machine.clock.now_ns() / 1e9

    def wait(self, seconds: float) -> None:
        """Run the guest for ``seconds`` of guest time."""
        if not self._off:
            self.machine.advance(seconds)

    def send(self, command: ev.Command) -> None:
        self.machine.send(command)  # taken at the next step, on this same thread

    def poll_events(self) -> list[ev.Event]:
        out, self._events[:] = list(self._events), []
        for event in out:
            self._apply(event)
        return out

    def display(self) -> DisplayState:
        return self.machine.display()

    def text_lines(self) -> list[str]:
        return self.machine.text_lines()

    def pending_keys(self) -> int:
        return self.machine.pending_keys()

    def power_off(self, timeout: float = 5.0) -> None:
        if not self._off:
            self._off = True
            self.machine.close()
            self.machine._set_state(ev.RunState.POWERED_OFF)
        self.poll_events()

    @property
    def alive(self) -> bool:
        return not self._off and self.machine.state is not ev.RunState.POWERED_OFF
