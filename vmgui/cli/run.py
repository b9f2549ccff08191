"""``vmgui run``: boot an image, a set of drives or a library VM and run steps against its screen.

Owns: the command line of the headless runner, attaching a bare image by its size, the
ordered steps (--wait-text, --type, --key, --sleep, --screenshot, --dump-text), and the
exit status contract: 0 all steps done, 2 bad usage or input, 3 a wait timed out (the
screen text goes to stderr), 4 the guest crashed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from vmgui.config.library import Library, LibraryError, VmEntry
from vmgui.core import events as ev
from vmgui.core import keys
from vmgui.core.machine import MachineConfig
from vmgui.core.memory import MAX_EXTENDED_MB
from vmgui.devices.fonts import load_rom_font
from vmgui.devices.render import render, save_png
from vmgui.host.lockstep import LockstepHost
from vmgui.host.thread import ThreadHost
from vmgui.storage.image import FLOPPY_FORMATS, DiskImage, DiskImageError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_USAGE, EXIT_TIMEOUT, EXIT_CRASH = 0, 2, 3, 4
POLL_S = 0.02
KEY_DRAIN_TIMEOUT_S = 30.0
FLOPPY_EXTENSIONS = {".img", ".ima", ".flp", ".vfd", ".dsk"}


class RunError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Step:
    verb: str
    value: str
    timeout: float


class _StepAction(argparse.Action):
    """Keeps --wait-text/--type/... in command-line order, with the --timeout in force."""

    def __call__(self, parser, namespace, values, option_string=None):
        steps = getattr(namespace, "steps", None) or []
        if self.dest == "timeout":
            try:
                namespace.current_timeout = float(values)
            except ValueError:
                parser.error(f"--timeout: {values!r} is not a number of seconds")
            if namespace.current_timeout <= 0:
                parser.error(f"--timeout: {values} must be more than 0 seconds")
            return
        steps.append(Step(self.dest, values, getattr(namespace, "current_timeout", 30.0)))
        namespace.steps = steps


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", nargs="?", type=Path,
                   help="disk image; floppy sizes (160K-2.88M, or a 512-byte boot sector) go "
                        "to A:, anything else to C:. Not a file but the name of a library VM "
                        "(vmgui list): boot that VM with its drives (--memory and --boot "
                        "override its settings for this run)")
    p.add_argument("--floppy", type=Path, action="append", default=[],
                   help="floppy image for A: (given twice: A: then B:)")
    p.add_argument("--hdd", type=Path, action="append", default=[],
                   help="hard disk image for C: (given twice: C: then D:)")
    p.add_argument("--memory", type=int, metavar="MB",
                   help=f"RAM in MB, 2-{MAX_EXTENDED_MB + 1} (default 16)")
    p.add_argument("--boot", help="boot order, e.g. a,c or c,a (default a,c)")
    p.add_argument("--headless", action="store_true",
                   help="no window (the only mode until the console window exists)")
    p.add_argument("--read-only", action="store_true", help="attach every disk read-only")
    p.add_argument("--serial", type=Path, help="log COM1 output to this file")
    p.add_argument("--deterministic", action="store_true",
                   help="reproducible run: guest time comes from executed code, not the host "
                        "clock, the RTC starts at 2000-01-01 12:00, waits and time-outs count "
                        "guest seconds; the same steps give byte-identical screenshots")
    steps = p.add_argument_group("steps (run in the order given)")
    steps.add_argument("--timeout", action=_StepAction, metavar="S",
                       help="time limit in seconds for the following waits (default 30)")
    steps.add_argument("--wait-text", action=_StepAction, metavar="TEXT",
                       help="wait until TEXT appears on the text screen")
    steps.add_argument("--type", action=_StepAction, metavar="TEXT",
                       help="type TEXT as key presses (\\n is Enter, \\t Tab)")
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


def _looks_like_floppy(path: Path) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size in FLOPPY_FORMATS or (size == 512)


def _memory_mb(args: argparse.Namespace, default: int) -> int:
    memory = default if args.memory is None else args.memory
    if not 2 <= memory <= MAX_EXTENDED_MB + 1:
        raise RunError(f"--memory {memory}: must be 2-{MAX_EXTENDED_MB + 1} MB", EXIT_USAGE)
    return memory


def _boot_order(args: argparse.Namespace, default: tuple[str, ...]) -> tuple[str, ...]:
    if args.boot is None:
        return default
    order = tuple(part.strip().lower() for part in args.boot.split(",") if part.strip())
    if not order or any(part not in ("a", "b", "c", "d") for part in order):
        raise RunError(f"--boot {args.boot!r}: use drive letters a-d, e.g. a,c", EXIT_USAGE)
    return order


def _library_vm(image: Path | None) -> VmEntry | None:
    """The library VM that ``image`` names, when it is not an existing file."""
    if image is None or image.is_file():
        return None
    try:
        return Library().get(str(image))
    except (KeyError, LibraryError):
        return None


def _library_config(args: argparse.Namespace,
                    entry: VmEntry) -> tuple[MachineConfig, dict[int, DiskImage | None]]:
    if entry.config is None:
        raise RunError(f"VM {entry.name!r} is inaccessible: {entry.error}", EXIT_USAGE)
    if args.floppy or args.hdd:
        raise RunError(f"--floppy/--hdd cannot be added to library VM {entry.name!r}; "
                       "change its drives with 'vmgui modify'", EXIT_USAGE)
    base = entry.config.to_machine_config(entry.folder)
    config = replace(base, memory_mb=_memory_mb(args, base.memory_mb),
                     boot_order=_boot_order(args, base.boot_order),
                     read_only=base.read_only or args.read_only)
    try:
        drives = entry.config.open_drives(entry.folder, read_only=args.read_only)
    except DiskImageError as exc:
        raise RunError(f"VM {entry.name!r}: {exc}", EXIT_USAGE) from exc
    return config, drives


def build_config(args: argparse.Namespace) -> tuple[MachineConfig, dict[int, DiskImage | None]]:
    entry = _library_vm(args.image)
    if entry is not None:
        return _library_config(args, entry)
    if args.image is not None and not args.image.exists():
        raise RunError(f"{args.image}: no such file, nor a VM in the library "
                       f"{Library().root} (see 'vmgui list')", EXIT_USAGE)
    floppies = list(args.floppy)
    hdds = list(args.hdd)
    if args.image is not None:
        (floppies if _looks_like_floppy(args.image) else hdds).insert(0, args.image)
    if not floppies and not hdds:
        raise RunError("no disk image given (IMAGE, --floppy or --hdd)", EXIT_USAGE)
    memory = _memory_mb(args, 16)
    order = _boot_order(args, ("a", "c"))
    drives: dict[int, DiskImage | None] = {}
    try:
        for i, path in enumerate(floppies[:2]):
            drives[i] = DiskImage.open(path, kind="floppy", read_only=args.read_only)
        for i, path in enumerate(hdds[:2]):
            drives[0x80 + i] = DiskImage.open(path, kind="hdd", read_only=args.read_only)
    except DiskImageError as exc:
        for image in drives.values():
            if image is not None:
                image.close()
        raise RunError(str(exc), EXIT_USAGE) from exc
    config = MachineConfig(memory_mb=memory, boot_order=order, read_only=args.read_only)
    return config, drives


class Runner:
    """Runs the steps against a started host."""

    def __init__(self, host: ThreadHost | LockstepHost, serial_path: Path | None) -> None:
        self.host = host
        self.serial_path = serial_path
        self._serial_written = 0

    def pump(self) -> None:
        self.host.poll_events()
        if self.host.crash is not None:
            raise RunError(f"guest crashed: {self.host.crash.reason}\n{self.host.crash.report}",
                           EXIT_CRASH)
        self._flush_serial()

    def _flush_serial(self) -> None:
        if self.serial_path is None or len(self.host.serial) == self._serial_written:
            return
        with open(self.serial_path, "ab") as fh:
            fh.write(self.host.serial[self._serial_written:])
        self._serial_written = len(self.host.serial)

    def screen_text(self) -> str:
        return "\n".join(self.host.text_lines())

    def run_step(self, step: Step) -> None:
        getattr(self, "_" + step.verb)(step)

    def _wait_text(self, step: Step) -> None:
        wanted = unescape(step.value)
        host = self.host
        deadline = host.now() + step.timeout
        while True:
            self.pump()
            if wanted in self.screen_text():
                return
            if host.now() > deadline:
                raise RunError(f"timed out after {step.timeout:g} s waiting for {wanted!r}; "
                               f"screen:\n{self.screen_text()}", EXIT_TIMEOUT)
            host.wait(POLL_S)

    def _send_keys(self, events: list[bytes]) -> None:
        for event in events:
            self.host.send(ev.KeyScancodes(event))
        host = self.host
        deadline = host.now() + KEY_DRAIN_TIMEOUT_S
        while host.pending_keys():
            self.pump()
            if host.now() > deadline:
                raise RunError("the guest stopped reading the keyboard: typed keys are still "
                               "queued after 30 s", EXIT_TIMEOUT)
            host.wait(POLL_S / 4)

    def _type(self, step: Step) -> None:
        self._send_keys(keys.text(unescape(step.value)))

    def _key(self, step: Step) -> None:
        self._send_keys(keys.combo(step.value))

    def _key_down(self, step: Step) -> None:
        self._send_keys(keys.press(step.value))

    def _key_up(self, step: Step) -> None:
        self._send_keys(keys.release(step.value))

    def _sleep(self, step: Step) -> None:
        try:
            seconds = float(step.value)
        except ValueError:
            raise RunError(f"--sleep {step.value!r}: not a number of seconds", EXIT_USAGE) from None
        host = self.host
        end = host.now() + seconds
        while (remaining := end - host.now()) > 1e-6:
            self.pump()
            host.wait(min(POLL_S, remaining))

    def _screenshot(self, step: Step) -> None:
        self.pump()
        state = self.host.display()
        height = state.char_height if state.char_height in (8, 14, 16) else 16
        width, h, rgb = render(state, load_rom_font(height))
        save_png(step.value, width, h, rgb)

    def _dump_text(self, step: Step) -> None:
        self.pump()
        Path(step.value).write_text(self.screen_text() + "\n", encoding="utf-8")


def validate_steps(steps: list[Step]) -> None:
    for step in steps:
        try:
            if step.verb == "type":
                keys.text(unescape(step.value))
            elif step.verb in ("key", "key_down", "key_up"):
                keys.combo(step.value)
            elif step.verb == "sleep" and float(step.value) < 0:
                raise ValueError("negative")
        except (keys.KeyError_, ValueError) as exc:
            raise RunError(f"--{step.verb.replace('_', '-')} {step.value!r}: {exc}",
                           EXIT_USAGE) from exc
        if step.verb in ("screenshot", "dump_text"):
            parent = Path(step.value).resolve().parent
            if not parent.is_dir():
                raise RunError(f"--{step.verb.replace('_', '-')} {step.value}: folder "
                               f"{parent} does not exist", EXIT_USAGE)


def run_command(args: argparse.Namespace) -> int:
    steps: list[Step] = getattr(args, "steps", None) or []
    try:
        validate_steps(steps)
        config, drives = build_config(args)
    except RunError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return exc.status
    if args.deterministic:
        config = dataclasses.replace(config, deterministic=True)
    try:
        host = LockstepHost(config, drives) if args.deterministic else ThreadHost(config, drives)
    except ValueError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.serial is not None:
        args.serial.write_bytes(b"")
    host.start()
    runner = Runner(host, args.serial)
    try:
        for step in steps:
            runner.run_step(step)
        if not steps:
            _run_until_interrupted(runner)
        runner.pump()
    except RunError as exc:
        print(f"vmgui run: {exc}", file=sys.stderr)
        return exc.status
    finally:
        host.power_off()
        runner._flush_serial()
    return EXIT_OK


def _run_until_interrupted(runner: Runner) -> None:
    print("vmgui run: no steps given; the guest runs until Ctrl+C", file=sys.stderr)
    try:
        while True:
            runner.pump()
            runner.host.wait(0.1)
    except KeyboardInterrupt:
        pass
