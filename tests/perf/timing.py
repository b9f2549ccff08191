"""Run a boot-sector guest in a full vmgui machine and time its 'S'..'E' section."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig
from vmgui.storage.image import DiskImage


def time_in_machine(image: bytes, timeout: float = 120.0,
                    hard_disk: DiskImage | None = None, profile: str = "pc-at") -> float:
    """Seconds between the guest's 'S' and 'E' on port E9h (host monotonic clock).  The
    boot sector ``image`` is floppy A:; ``hard_disk`` (closed with the machine) is C:;
    ``profile`` the machine kind.  A guest that writes 'F' instead of 'E' failed:
    RuntimeError."""
    marks: dict[bytes, float] = {}
    done = threading.Event()

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.DebugOutput):
            for ch in event.data:
                marks[bytes((ch,))] = time.perf_counter()
            if b"E" in marks or b"F" in marks:
                done.set()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.img"
        path.write_bytes(image)
        if hard_disk is None:
            machine = Machine(MachineConfig(floppies=(path,), read_only=True,
                                            profile=profile), on_event=on_event)
        else:
            drives = {0: DiskImage.open(path, kind="floppy", read_only=True), 0x80: hard_disk}
            machine = Machine(MachineConfig(boot_order=("a",), profile=profile),
                              on_event=on_event, drives=drives)
        thread = threading.Thread(target=machine.run, daemon=True)
        thread.start()
        finished = done.wait(timeout)
        machine.send(ev.PowerOff())
        thread.join(10)
    if not finished:
        raise RuntimeError("guest did not finish")
    if b"F" in marks:
        raise RuntimeError("the guest reported a failure ('F' on port E9h)")
    return marks[b"E"] - marks[b"S"]
