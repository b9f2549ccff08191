"""``vmgui run``: boot an image, a set of drives, a Linux kernel or a library VM and run steps
against its screen.

Owns: the command line of the headless runner, attaching a bare image by its kind (an
ISO 9660 image is a CD) and size, the ordered steps (--wait-text, --type, --key, --sleep,
--screenshot, --dump-text), and the exit status contract: 0 all steps done, 2 bad usage
or input, 3 a wait timed out (the screen text goes to stderr), 4 the guest crashed.  For
library VMs also the saved state
(``docs/snapshots.md``): a ``saved.state`` is resumed at start (then deleted, as VirtualBox
does; kept in try-out mode), ``--save-state`` writes one and powers off; and try-out mode
(``--tryout`` or the VM's ``tryout`` flag), whose disk changes go to throw-away overlays.
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from vmgui.config.schema import MAX_MEMORY_MB, MEMORY_LIMITS, MIN_MEMORY_MB, PROFILES

log = logging.getLogger(__name__)

EXIT_OK, EXIT_USAGE, EXIT_TIMEOUT, EXIT_CRASH = 0, 2, 3, 4
FLOPPY_EXTENSIONS = {".img", ".ima", ".flp", ".vfd", ".dsk"}
MAX_SECONDS = 86400  # a --timeout or --sleep longer than a day is a typo (as Session's)


def seconds(text: str) -> float:
    """``text`` as a number of seconds for --timeout and --sleep; ValueError saying why
    ("not a finite number of seconds") unless it is a finite number at most
    :data:`MAX_SECONDS`: NaN and infinity (also ``1e400``, which float() makes infinite)
    would wait for ever, or not at all.  A negative number is returned: the callers name
    that case themselves."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number of seconds") from None
    if not math.isfinite(value):
        raise ValueError("not a finite number of seconds")
    if value > MAX_SECONDS:
        raise ValueError(f"more than {MAX_SECONDS} seconds (a day)")
    return value


class RunError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Step:
    verb: str
    value: str
    timeout: float
    key_delay: float = 0.0  # seconds between typed characters (--key-delay)


MAX_KEY_DELAY = 10.0  # a pause of more than 10 s between two typed keys is a typo


class _StepAction(argparse.Action):
    """Keeps --wait-text/--type/... in command-line order, with the --timeout in force."""

    def __call__(self, parser, namespace, values, option_string=None):
        steps = getattr(namespace, "steps", None) or []
        if self.dest == "timeout":
            try:
                namespace.current_timeout = seconds(values)
            except ValueError as exc:
                parser.error(f"--timeout: {values!r} is {exc}")
            if namespace.current_timeout <= 0:
                parser.error(f"--timeout: {values} must be more than 0 seconds")
            return
        if self.dest == "key_delay":
            try:
                namespace.current_key_delay = seconds(values)
            except ValueError as exc:
                parser.error(f"--key-delay: {values!r} is {exc}")
            if not 0 <= namespace.current_key_delay <= MAX_KEY_DELAY:
                parser.error(f"--key-delay: {values} must be 0 to {MAX_KEY_DELAY:g} seconds")
            return
        steps.append(Step(self.dest, values, getattr(namespace, "current_timeout", 30.0),
                          getattr(namespace, "current_key_delay", 0.0)))
        namespace.steps = steps


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", nargs="?", type=Path,
                   help="disk image; an ISO 9660 image goes to the CD drive, floppy sizes "
                        "(160K-2.88M, or a 512-byte boot sector) to A:, anything else to C:. "
                        "Not a file but the name of a library VM (vmgui list): boot that VM "
                        "with its drives (--memory and --boot override its settings for this "
                        "run)")
    p.add_argument("--floppy", type=Path, action="append", default=[],
                   help="floppy image for A: (given twice: A: then B:)")
    p.add_argument("--hdd", type=Path, action="append", default=[],
                   help="hard disk image for C: (given twice: C: then D:)")
    p.add_argument("--memory", type=int, metavar="MB",
                   help=f"RAM in MB, {MIN_MEMORY_MB}-{MAX_MEMORY_MB} (default 16); at most "
                        f"what the machine takes ({MEMORY_LIMITS})")
    p.add_argument("--machine", choices=PROFILES, metavar="KIND",
                   help=f"bare images: the machine kind, {' or '.join(PROFILES)} (default "
                        f"{PROFILES[0]}, or pc-pci with a CD); a library VM keeps its own "
                        "('vmgui modify --machine')")
    p.add_argument("--cdrom", type=Path, metavar="ISO",
                   help="ISO 9660 image for the CD drive (the machine becomes the pc-pci "
                        "profile, which has one)")
    p.add_argument("--kernel", type=Path, metavar="BZIMAGE",
                   help="boot this Linux kernel (bzImage) directly, as QEMU's -kernel does, "
                        "instead of a disk; no disk is needed (default memory then 128 MB)")
    p.add_argument("--initrd", type=Path, metavar="FILE",
                   help="with --kernel: the initial RAM disk (initramfs) to give it")
    p.add_argument("--append", metavar="CMDLINE", default="",
                   help="with --kernel: the kernel command line, e.g. \"console=ttyS0\"")
    p.add_argument("--boot", help="boot order of drive letters: a, b floppies, c hard disk, "
                                  "d the CD (without a CD: the second hard disk), e.g. d,c,a "
                                  "(default a,c; a,d,c with a CD)")
    p.add_argument("--headless", action="store_true",
                   help="no window: accepted for scripts; 'vmgui run' always runs without "
                        "one (for a console window: 'vmgui start NAME')")
    p.add_argument("--read-only", action="store_true", help="attach every disk read-only")
    p.add_argument("--serial", type=Path, help="log COM1 output to this file")
    p.add_argument("--deterministic", action="store_true",
                   help="reproducible run: guest time comes from executed code, not the host "
                        "clock, the RTC starts at 2000-01-01 12:00, waits and time-outs count "
                        "guest seconds; the same steps give byte-identical screenshots")
    p.add_argument("--tryout", action="store_true",
                   help="try-out mode: disk writes go to temporary overlays that are thrown "
                        "away at power-off; the images themselves are not written")
    p.add_argument("--save-state", action="store_true",
                   help="library VMs: after the steps, save the machine state to the VM's "
                        "saved.state and power off; the next start resumes from it")
    steps = p.add_argument_group("steps (run in the order given)")
    steps.add_argument("--timeout", action=_StepAction, metavar="S",
                       help="time limit in seconds for the following waits (default 30)")
    steps.add_argument("--wait-text", action=_StepAction, metavar="TEXT",
                       help="wait until TEXT appears on the text screen")
    steps.add_argument("--type", action=_StepAction, metavar="TEXT",
                       help="type TEXT as key presses (\\n is Enter, \\t Tab)")
    steps.add_argument("--key-delay", action=_StepAction, metavar="S",
                       help="pause S seconds of guest time after each character of the "
                            "following --type steps (default 0: as fast as the guest reads "
                            "them). Some guests drop keys that come quicker than they "
                            "handle them: KolibriOS's SHELL needs about 0.03")
    steps.add_argument("--key", action=_StepAction, metavar="NAME",
                       help="press a key or combination: enter, esc, f1, up, ctrl+alt+del")
    steps.add_argument("--key-down", action=_StepAction, metavar="NAME",
                       help="hold a key (or combination) down, e.g. for games: --key-down alt "
                            "--sleep 1 --key-up alt")
    steps.add_argument("--key-up", action=_StepAction, metavar="NAME", help="release held keys")
    steps.add_argument("--sleep", action=_StepAction, metavar="S", help="wait S seconds")
    steps.add_argument("--screenshot", action=_StepAction, metavar="FILE.png",
                       help="save the screen as PNG at native resolution")
    steps.add_argument("--dump-text", action=_StepAction, metavar="FILE",
                       help="save the text screen as UTF-8 lines")


def unescape(text: str) -> str:
    out, i = [], 0
    table = {"n": "\n", "t": "\t", "\\": "\\", "b": "\b", "r": "\r"}
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in table:
            out.append(table[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def run_command(args: argparse.Namespace) -> int:
    """Run ``vmgui run``.  The machine, the automation layer and numpy load only here,
    so the other sub-commands (``vmgui control`` in scripts) start quickly."""
    from vmgui.cli import run_impl

    return run_impl.run_command(args)
