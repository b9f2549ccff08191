"""A machine on its own thread for tests: start, collect events, wait, power off."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig


class Running:
    """``with Running(image, **machine_config) as vm:`` -- the machine runs on a thread
    (floppy A: is ``image``), its events collect in ``vm.events``; leaving the block
    powers it off and checks the thread ended."""

    def __init__(self, image: Path, **config) -> None:
        self.events: list[ev.Event] = []
        self.machine = Machine(MachineConfig(floppies=(image,), **config),
                               on_event=self.events.append)
        self.thread = threading.Thread(target=self.machine.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.machine.send(ev.PowerOff())
        self.thread.join(5)
        assert not self.thread.is_alive()

    def output(self, kind: type) -> bytes:
        return b"".join(e.data for e in list(self.events) if isinstance(e, kind))

    def debug_text(self) -> bytes:
        return self.output(ev.DebugOutput)

    def serial(self) -> str:
        return self.output(ev.SerialOutput).decode("ascii", "replace")

    def wait_for(self, predicate, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(f"timed out; last events: {self.events[-5:]}")
            time.sleep(0.01)
