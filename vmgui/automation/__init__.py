"""Automation: drive a VM from a script.

>>> from vmgui.automation import start
>>> vm = start("freedos722.img")            # deterministic by default
>>> vm.wait_for_text("A:\\\\>"); vm.type_text("ver\\n"); vm.screenshot("ver.png")
>>> vm.power_off()

:func:`start` boots an image (attached by its size) or a library VM by name and returns a
:class:`~vmgui.automation.session.Session`; :func:`start_async` the same as an
:class:`~vmgui.automation.session.AsyncSession` for asyncio code (qasync in the GUI).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from vmgui.automation.session import AsyncSession, AutomationError, Session

__all__ = ["AsyncSession", "AutomationError", "Session", "start", "start_async"]


def start(image_or_vm: str | Path, *, deterministic: bool = True, memory_mb: int = 16,
          serial_log: Path | None = None) -> Session:
    """Power on ``image_or_vm`` (a disk image path, else the name of a library VM)."""
    from vmgui.config.library import Library
    from vmgui.core.machine import MachineConfig
    from vmgui.host.lockstep import LockstepHost
    from vmgui.host.thread import ThreadHost
    from vmgui.storage.image import FLOPPY_FORMATS

    path = Path(image_or_vm)
    drives = None
    if path.is_file():
        size = path.stat().st_size
        floppy = size in FLOPPY_FORMATS or size == 512
        config = MachineConfig(memory_mb=memory_mb, floppies=(path,) if floppy else (),
                               hard_disks=() if floppy else (path,))
    else:
        try:
            entry = Library().get(str(image_or_vm))
        except KeyError:
            raise AutomationError(f"{image_or_vm}: no such image file nor library VM") from None
        if entry.config is None:
            raise AutomationError(f"{entry.name}: {entry.error}")
        config = entry.config.to_machine_config(entry.folder)
        drives = entry.config.open_drives(entry.folder)
    config = dataclasses.replace(config, deterministic=deterministic)
    host = (LockstepHost if deterministic else ThreadHost)(config, drives)
    host.start()
    return Session(host, serial_path=serial_log)


async def start_async(image_or_vm: str | Path, **options) -> AsyncSession:
    import asyncio

    return AsyncSession(await asyncio.to_thread(start, image_or_vm, **options))
