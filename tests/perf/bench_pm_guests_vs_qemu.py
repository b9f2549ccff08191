"""Protected-mode guests from power-on to a milestone: vmgui versus qemu-system-i386 on
the same image, side by side in one run (issue 10, "What it must show" 8).

Cases (targets are vmgui / QEMU, medians):

* ``grub``: GRUB 2's menu counting down ("The highlighted entry will be executed
  automatically in"), image ``grub-floppy`` of tests/debian_images.py, 64 MB.  <= 1.0
* ``memtest``: memtest86+ 6.10's first pass started ("Status: Testing"), image
  ``memtest-floppy``, 64 MB; the time its frame appears is shown too.  <= 3
* ``kolibri``: KolibriOS's desktop, ../shared/guests/kolibri.img, 128 MB.  "Desktop" is a
  screen check: an 800x600 screen whose top-left icon block (KFM, EOLITE, SHELL ... 200x200
  pixels) and "Menu" button (bottom left, 120x28) differ from QEMU's reference screenshot
  ../shared/guests/qemu-reference/kolibri-040s.png by less than 12 per channel on average
  (the clock, the pointer and the wallpaper's far side are left out).  <= 1.5

vmgui: the pc-pci machine in real time, in this process, from creating the Machine to the
milestone on its screen (text polled every 20 ms; the framebuffer rendered every 250 ms).
QEMU (``-M pc -cpu pentium3``, TCG, no display): from starting the process to the
milestone in its video memory (read over QMP every 20 ms) or in a ``screendump`` (every
250 ms).  Rounds alternate vmgui and QEMU.  A guest that does not reach the milestone
within the time limit is reported as such, with the time its screen last changed and the
last screenshot saved (``--shots DIR``).

Run from the repository root: ``python -m tests.perf.bench_pm_guests_vs_qemu
[--rounds N] [--only grub,memtest,kolibri] [--limit SECONDS] [--shots DIR]``.
Needs qemu-system-i386 (qemu-system-x86) and the Debian packages of
tests/debian_images.py.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests import debian_images, kolibri
from tests.perf.bench_freedos_boot import Qmp
from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.render import render

ROOT = Path(__file__).resolve().parents[2]
GUESTS = ROOT.parent / "shared" / "guests"
Screen = np.ndarray  # (h, w, 3) uint8


@dataclass(frozen=True)
class Milestone:
    name: str
    text: str | None = None  # a regex on the text screen
    pixels: Callable[[Screen], bool] | None = None  # a check of the rendered screen


@dataclass(frozen=True)
class Case:
    name: str
    image: Callable[[], Path]
    memory_mb: int
    milestones: tuple[Milestone, ...]  # the last one is the one timed against QEMU
    target: float


@dataclass
class Outcome:
    times: dict[str, float]  # milestone -> seconds
    last_change: float  # seconds: when the screen last changed
    shot: Screen | None


def desktop_check() -> Callable[[Screen], bool]:
    reference = kolibri.load_reference(GUESTS)
    return lambda screen: kolibri.is_desktop(screen, reference)


def debian_image(name: str) -> Callable[[], Path]:
    return lambda: debian_images.image(name, GUESTS / "freedos722.img")


def cases() -> dict[str, Case]:
    return {
        "grub": Case("GRUB menu", debian_image("grub-floppy"), 64, (
            Milestone("menu", text=r"executed automatically in \d+s"),), 1.0),
        "memtest": Case("memtest86+ first pass", debian_image("memtest-floppy"), 64, (
            Milestone("frame", text=r"Memtest86\+ v6"),
            Milestone("testing", text=r"Status: Testing")), 3.0),
        "kolibri": Case("KolibriOS desktop", lambda: GUESTS / "kolibri.img", 128, (
            Milestone("desktop", pixels=desktop_check()),), 1.5),
    }


def screen_of(machine: Machine) -> Screen:
    state = machine.display()
    height = state.char_height if state.char_height in (8, 14, 16) else 16
    width, h, rgb = render(state, load_rom_font(height))
    return np.frombuffer(rgb, dtype=np.uint8).reshape(h, width, 3)


class Watch:
    """Polls a screen source until every milestone is seen or the limit passes."""

    def __init__(self, case: Case, start: float, limit: float) -> None:
        self.case, self.start, self.limit = case, start, limit
        self.times: dict[str, float] = {}
        self.last_change = 0.0
        self.shot: Screen | None = None
        self._signature: bytes | None = None
        self._next_frame = 0.0

    def done(self) -> bool:
        return len(self.times) == len(self.case.milestones) or \
            time.perf_counter() - self.start > self.limit

    def look(self, text: Callable[[], str], screen: Callable[[], Screen]) -> None:
        now = time.perf_counter() - self.start
        pending = [m for m in self.case.milestones if m.name not in self.times]
        content = text()
        for milestone in pending:
            if milestone.text is not None and re.search(milestone.text, content):
                self.times[milestone.name] = now
        if now >= self._next_frame:
            self._next_frame = now + 0.25
            shot = screen()
            signature = shot.tobytes()
            if signature != self._signature:
                self._signature, self.last_change, self.shot = signature, now, shot
            for milestone in pending:
                if milestone.pixels is not None and milestone.pixels(shot):
                    self.times[milestone.name] = now

    def outcome(self) -> Outcome:
        return Outcome(self.times, self.last_change, self.shot)


def run_vmgui(case: Case, image: Path, limit: float) -> Outcome:
    start = time.perf_counter()
    machine = Machine(MachineConfig(floppies=(image,), boot_order=("a",), read_only=True,
                                    profile="pc-pci", memory_mb=case.memory_mb))
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    watch = Watch(case, start, limit)
    try:
        while not watch.done():
            watch.look(lambda: "\n".join(machine.text_lines()), lambda: screen_of(machine))
            time.sleep(0.02)
    finally:
        machine.send(ev.PowerOff())
        thread.join(10)
    return watch.outcome()


def qemu_screen(qmp: Qmp, folder: Path) -> Screen:
    path = folder / "screen.ppm"
    qmp.call("screendump", filename=str(path))
    return np.asarray(Image.open(path).convert("RGB"))


def run_qemu(case: Case, image: Path, limit: float) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sock = folder / "qmp.sock"
        start = time.perf_counter()
        proc = subprocess.Popen(
            ["qemu-system-i386", "-M", "pc", "-cpu", "pentium3", "-m", str(case.memory_mb),
             "-accel", "tcg", "-display", "none", "-qmp", f"unix:{sock},server=on,wait=off",
             "-drive", f"file={image},if=floppy,format=raw,readonly=on"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            qmp = Qmp(str(sock))
            watch = Watch(case, start, limit)
            while not watch.done():
                watch.look(qmp.text, lambda: qemu_screen(qmp, folder))
                time.sleep(0.02)
            return watch.outcome()
        finally:
            proc.kill()
            proc.wait()


def summarize(case: Case, results: dict[str, list[Outcome]], limit: float,
              shots: Path | None) -> None:
    print(f"{case.name} ({case.memory_mb} MB), {len(results['vmgui'])} rounds:")
    medians: dict[str, dict[str, float]] = {}
    for who, outcomes in results.items():
        medians[who] = {}
        for milestone in case.milestones:
            seen = [o.times[milestone.name] for o in outcomes if milestone.name in o.times]
            if len(seen) == len(outcomes):
                medians[who][milestone.name] = statistics.median(seen)
                print(f"  {who:6s} {milestone.name:8s} median {medians[who][milestone.name]:6.2f} s"
                      f"  {[round(s, 2) for s in seen]}")
            else:
                last = max(o.last_change for o in outcomes)
                print(f"  {who:6s} {milestone.name:8s} NOT reached in {len(outcomes) - len(seen)}"
                      f" of {len(outcomes)} rounds within {limit:.0f} s (screen last changed at"
                      f" {last:.1f} s)")
        if shots is not None and outcomes[-1].shot is not None:
            shots.mkdir(parents=True, exist_ok=True)
            path = shots / f"{case.name.split()[0].lower()}-{who}-last.png"
            Image.fromarray(outcomes[-1].shot).save(path)
            print(f"  {who:6s} last screen: {path}")
    final = case.milestones[-1].name
    if final in medians["vmgui"] and final in medians["qemu"]:
        ratio = medians["vmgui"][final] / medians["qemu"][final]
        verdict = "met" if ratio <= case.target else "MISSED"
        print(f"  ratio vmgui/QEMU ({final}): {ratio:.2f} (target <= {case.target}: {verdict})")
    else:
        print(f"  ratio vmgui/QEMU ({final}): not measurable (target <= {case.target}: MISSED)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="grub,memtest,kolibri")
    parser.add_argument("--limit", type=float, default=90.0, help="seconds per guest run")
    parser.add_argument("--shots", type=Path, default=None,
                        help="save each side's last screen there")
    args = parser.parse_args()
    if shutil.which("qemu-system-i386") is None:
        raise SystemExit("needs qemu-system-i386 (Debian package qemu-system-x86)")
    table = cases()
    for key in args.only.split(","):
        case = table[key]
        image = case.image()
        results: dict[str, list[Outcome]] = {"vmgui": [], "qemu": []}
        for _ in range(args.rounds):
            results["vmgui"].append(run_vmgui(case, image, args.limit))
            results["qemu"].append(run_qemu(case, image, args.limit))
        summarize(case, results, args.limit, args.shots)


if __name__ == "__main__":
    main()
