"""How long a live snapshot holds a running VM: SaveState sent to StateSaved arrived.

Method: the manager (offscreen, ``confirm=False``, a temporary ``VMGUI_HOME``) starts a
16 MB VM booting FreeDOS (``../shared/guests/freedos722.img``, read-only: no writable
disk, so a running VM may be snapshotted; the demo image when FreeDOS is missing) in its
own process and waits for its prompt.  Then five snapshots through the Snapshots tab
(``SnapshotsPane.take_snapshot``): each reports the seconds from sending ``SaveState``
to seeing its ``StateSaved`` (``save_live_state``, polling the host's events); the guest
is stopped for at most that long.  Also the whole Take (state + thumbnail PNG + copying
both into the VM folder + the tree file).  Medians.  Target: pause <= 100 ms.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FREEDOS = ROOT.parent / "shared" / "guests" / "freedos722.img"
ROUNDS = 5
TARGET_MS = 100.0


def wait(app, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from vmgui.config.library import Library
    from vmgui.config.schema import Attachment, VmConfig
    from vmgui.core import events as ev
    from vmgui.ui.manager import ManagerWindow
    from vmgui.ui.manager.icons import DEMO_IMAGE

    app = QApplication.instance() or QApplication(sys.argv)
    image, prompt = (FREEDOS, "A:\\>") if FREEDOS.is_file() else (DEMO_IMAGE, "vmgui demo")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VMGUI_HOME"] = str(Path(tmp) / "home")
        library = Library()
        library.create(VmConfig("Bench", memory_mb=16, boot_order=["a"],
                                floppy_a=Attachment(str(image), read_only=True)))
        window = ManagerWindow(library, confirm=False, create_demo=False)
        window.show()
        window.reload(select="Bench")
        vm = window.start_vm("Bench")
        try:
            wait(app, lambda: vm.host.poll_events() is not None
                 and vm.host.state is ev.RunState.RUNNING, 20, "the VM to run")
            wait(app, lambda: any(prompt in line for line in vm.host.text_lines()), 60,
                 f"{prompt!r} on the screen")
            pauses, takes = [], []
            for i in range(ROUNDS):
                start = time.perf_counter()
                snap = window.take_snapshot(f"Live {i + 1}")
                takes.append(time.perf_counter() - start)
                if snap is None:
                    raise SystemExit(f"snapshot failed: {window.last_error}")
                pauses.append(window.snapshots.last_pause_s)
                app.processEvents()
            size = (library.get("Bench").folder / snap.state).stat().st_size
        finally:
            window.runner.power_off_all()
    print(f"guest: {image.name}, 16 MB RAM; state file {size / 1024:.0f} KiB")
    print(f"pause (SaveState -> StateSaved): median {statistics.median(pauses) * 1000:.1f} ms "
          f"{[round(p * 1000, 1) for p in pauses]} (target <= {TARGET_MS:.0f} ms)")
    print(f"whole Take (state, thumbnail, copies, tree): median "
          f"{statistics.median(takes) * 1000:.1f} ms {[round(t * 1000, 1) for t in takes]}")


if __name__ == "__main__":
    main()
