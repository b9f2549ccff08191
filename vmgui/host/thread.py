"""In-process hosting: a machine running in a worker thread of this process.

Owns: :class:`ThreadHost`, which starts a :class:`vmgui.core.machine.Machine` on its own
thread and offers the hosting interface front ends use: send commands, collect events,
read the framebuffer and the text screen, power off.  (A VM-process hosting with the
same interface comes with the console issue.)

Thread rules: every method may be called from any one controlling thread; events are
collected into a queue by the emulation thread and read here.
"""

from __future__ import annotations

import queue
import threading
import time

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig
from vmgui.devices.display import DisplayState
from vmgui.host.base import EventRecord
from vmgui.storage.image import DiskImage


class ThreadHost(EventRecord):
    def __init__(self, config: MachineConfig,
                 drives: dict[int, DiskImage | None] | None = None) -> None:
        self._events: queue.Queue[ev.Event] = queue.Queue()
        self.machine = Machine(config, on_event=self._events.put, drives=drives)
        self._thread = threading.Thread(target=self._run, name="vmgui-cpu", daemon=True)
        self._init_record()
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.machine.run()
        except BaseException as exc:  # noqa: BLE001 - reported to the controller
            self.error = exc
            self._events.put(ev.GuestCrashed("internal error", repr(exc)))

    def start(self) -> None:
        self._thread.start()

    @staticmethod
    def now() -> float:
        """Seconds on the clock the controller's waits and time-outs use."""
        return time.monotonic()

    @staticmethod
    def wait(seconds: float) -> None:
        """Let the guest run for ``seconds`` (it runs by itself: just sleep)."""
        time.sleep(seconds)

    def pending_keys(self) -> int:
        return self.machine.pending_keys()

    def send(self, command: ev.Command) -> None:
        self.machine.send(command)

    def poll_events(self) -> list[ev.Event]:
        """Drain pending events, updating :attr:`state`, :attr:`crash` and the serial log."""
        out = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return out
            self._apply(event)
            out.append(event)

    def display(self) -> DisplayState:
        return self.machine.display()

    def text_lines(self) -> list[str]:
        return self.machine.text_lines()

    def power_off(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self.machine.send(ev.PowerOff())
            self._thread.join(timeout)
        self.poll_events()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
