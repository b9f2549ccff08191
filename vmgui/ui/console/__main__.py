"""Manual-testing launcher: ``python -m vmgui.ui.console IMAGE [--memory MB] [--read-only]``.

Owns: nothing but wiring: a QApplication, a VM process (:class:`ProcessHost`; or an
in-process :class:`ThreadHost` with ``--in-process``) for the image (floppy sizes go to
A:, anything else to C:), a :class:`ConsoleWindow`, then the host is started.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from vmgui.core.machine import MachineConfig
from vmgui.host.process import ProcessHost
from vmgui.host.thread import ThreadHost
from vmgui.storage.image import FLOPPY_FORMATS
from vmgui.ui.console.window import ConsoleWindow
from vmgui.ui.machines import media_of_machine

log = logging.getLogger(__name__)

BOOT_SECTOR_BYTES = 512


def machine_config(image: Path, memory_mb: int, read_only: bool) -> MachineConfig:
    size = image.stat().st_size
    if size in FLOPPY_FORMATS or size == BOOT_SECTOR_BYTES:
        return MachineConfig(memory_mb=memory_mb, floppies=(image,), boot_order=("a", "c"),
                             read_only=read_only)
    return MachineConfig(memory_mb=memory_mb, hard_disks=(image,), boot_order=("c", "a"),
                         read_only=read_only)


def main(argv: list[str] | None = None) -> int:
    app = QApplication(sys.argv[:1] if argv is None else ["vmgui-console"])
    parser = argparse.ArgumentParser(
        prog="python -m vmgui.ui.console",
        description=QCoreApplication.translate("console", "Open a console window on a disk image."))
    parser.add_argument("image", type=Path)
    parser.add_argument("--memory", type=int, default=16, metavar="MB")
    parser.add_argument("--read-only", action="store_true",
                        help=QCoreApplication.translate("console", "never write to the image"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--in-process", action="store_true",
                        help=QCoreApplication.translate(
                            "console", "run the machine in this process (no VM process)"))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.image.is_file():
        print(f"{parser.prog}: {args.image}: no such file", file=sys.stderr)
        return 2
    try:
        config = machine_config(args.image, args.memory, args.read_only)
        host = ThreadHost(config) if args.in_process else ProcessHost(config)
    except (OSError, ValueError) as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    window = ConsoleWindow(host, args.image.name, media=media_of_machine(config))
    window.show()
    host.start()
    status = app.exec()
    window.shut_down()
    del window, host
    gc.collect()  # free the engine before interpreter exit (its hooks need the GC)
    return status


if __name__ == "__main__":
    sys.exit(main())
