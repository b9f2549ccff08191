"""Run a boot-sector guest in a full vmgui machine and time its 'S'..'E' section."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig


def time_in_machine(image: bytes, timeout: float = 120.0) -> float:
    """Seconds between the guest's 'S' and 'E' on port E9h (host monotonic clock)."""
    marks: dict[bytes, float] = {}
    done = threading.Event()

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.DebugOutput):
            for ch in event.data:
                marks[bytes((ch,))] = time.perf_counter()
            if b"E" in marks:
                done.set()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.img"
        path.write_bytes(image)
        machine = Machine(MachineConfig(floppies=(path,), read_only=True), on_event=on_event)
        thread = threading.Thread(target=machine.run, daemon=True)
        thread.start()
        if not done.wait(timeout):
            raise RuntimeError("guest did not finish")
        machine.send(ev.PowerOff())
        thread.join(5)
    return marks[b"E"] - marks[b"S"]
