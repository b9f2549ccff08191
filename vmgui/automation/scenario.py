"""Scenario files: a VM (or an image) and steps in TOML, run to produce screenshots.

Owns: parsing and validating a scenario before anything starts (every problem names the
file and the line of its step), running it through :class:`vmgui.automation.session.
Session`, and the manifest (JSON: each image, the step that made it, its sha256).
Scenarios run in deterministic mode unless they say ``deterministic = false``, so the
same scenario gives byte-identical PNGs on every run and every machine.

Format (see docs/scenarios/*.toml)::

    [vm]
    image = "../../shared/guests/freedos722.img"   # relative to the scenario file
    copy = true          # run on a temporary copy (default); false: attach read-only
    memory = 16          # MB
    [[step]]
    wait_text = 'A:\\>'
    timeout = 30         # seconds (guest seconds in deterministic mode)
    [[step]]
    type = "ver\\n"
    [[step]]
    screenshot = "ver.png"

A Linux kernel booted directly (``vmgui run --kernel``) instead of, or beside, an image;
its serial console is driven with ``serial`` (text sent to COM1) and ``wait_serial``
(text in COM1's output; see docs/scenarios/linux.toml)::

    [vm]
    kernel = "bzImage"   # relative to the scenario file, as are initrd and image
    initrd = "initramfs.cpio.gz"
    append = "console=tty0 console=ttyS0 noapic nolapic"
    machine = "pc-pci"   # the machine kind (vmgui.core.profiles); memory defaults to 128
    [[step]]
    wait_serial = "# "
    [[step]]
    serial = "ls /\n"
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmgui.automation.session import (
    AutomationError,
    Region,
    Session,
    check_seconds,
    load_picture,
)
from vmgui.config import safefile
from vmgui.core import keys
from vmgui.storage.image import file_kind

VERBS = ("wait_text", "wait_screen", "wait_still", "wait_serial", "type", "press", "key_down",
         "key_up", "serial", "sleep", "screenshot", "dump_text")
OPTIONS = {"wait_text": {"timeout", "regex"}, "wait_screen": {"timeout", "region", "threshold"},
           "wait_still": {"timeout"}, "wait_serial": {"timeout"}, "screenshot": {"crop", "scale"}}
VM_KEYS = {"image", "copy", "memory", "boot", "deterministic", "kernel", "initrd", "append",
           "machine"}
KERNEL_MEMORY_MB = 128  # [vm] memory when a kernel is given without one (as vmgui run --kernel)
LARGEST_SCREEN = (640, 480)  # no video mode vmgui shows is larger
MAX_SCENARIO_BYTES = 1 << 20  # a scenario is a few hundred bytes of TOML
MAX_SCALE = 16  # a screenshot's scale factor: 640x480 becomes at most 10240x7680


class ScenarioError(ValueError):
    """The scenario file is wrong; the message names the file and line."""


@dataclass(frozen=True)
class ScenarioStep:
    index: int  # 1-based
    line: int
    verb: str
    value: Any
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    path: Path
    image: Path | None  # None: a kernel booted directly, no disk
    copy: bool
    memory_mb: int
    boot: tuple[str, ...]
    deterministic: bool
    steps: tuple[ScenarioStep, ...]
    kernel: Path | None = None
    initrd: Path | None = None
    append: str = ""
    machine: str | None = None  # None: the default profile


def _step_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1)
            if re.match(r"\s*\[\[\s*step\s*\]\]", line)]


def load(path: Path) -> Scenario:
    """Parse and validate ``path``; raises ScenarioError before anything is started."""
    path = Path(path)
    try:
        text = _read(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a UTF-8 text file ({exc.reason} at byte "
                            f"{exc.start})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    except RecursionError as exc:
        raise ScenarioError(f"{path}: nested too deeply to be read") from exc
    vm = data.get("vm")
    if not isinstance(vm, dict):
        raise ScenarioError(f"{path}: a [vm] table with an image is required")
    unknown = set(vm) - VM_KEYS
    if unknown:
        raise ScenarioError(f"{path}: [vm]: unknown key(s) {', '.join(sorted(unknown))}")
    _check_vm_types(path, vm)
    steps_data = data.get("step", [])
    if not isinstance(steps_data, list) or not all(isinstance(s, dict) for s in steps_data):
        raise ScenarioError(f"{path}: steps must be [[step]] tables")
    lines = _step_lines(text)
    steps = tuple(_parse_step(path, i + 1, lines[i] if i < len(lines) else 0, raw)
                  for i, raw in enumerate(steps_data))
    image = _vm_file(path, vm, "image") if "image" in vm or "kernel" not in vm else None
    kernel = _vm_file(path, vm, "kernel") if "kernel" in vm else None
    initrd = _vm_file(path, vm, "initrd") if "initrd" in vm else None
    memory = vm.get("memory", 16 if kernel is None else KERNEL_MEMORY_MB)
    _check_machine(path, vm.get("machine"), memory, kernel, initrd, vm.get("append", ""))
    return Scenario(path, image, vm.get("copy", True), memory,
                    tuple(vm.get("boot", "a,c").split(",")),
                    vm.get("deterministic", True), steps, kernel, initrd,
                    vm.get("append", ""), vm.get("machine"))


def _read(path: Path) -> bytes:
    """The scenario file's bytes: only a regular file is read (a FIFO would block
    ``vmgui script`` for ever, /dev/zero never end), at most :data:`MAX_SCENARIO_BYTES`."""
    try:
        kind = os.stat(path).st_mode
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ScenarioError(f"{path}: cannot read the scenario ({why})") from exc
    if not stat.S_ISREG(kind):
        raise ScenarioError(f"{path}: is a {file_kind(kind)}, not a scenario file")
    try:  # opened regular-only, as it may have been swapped since the stat
        return safefile.read_small(path, MAX_SCENARIO_BYTES)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario "
                            f"({exc.strerror or exc})") from exc


_VM_TYPES = {"image": (str,), "copy": (bool,), "memory": (int,), "boot": (str,),
             "deterministic": (bool,), "kernel": (str,), "initrd": (str,), "append": (str,),
             "machine": (str,)}


def _check_vm_types(path: Path, vm: dict) -> None:
    for key, value in vm.items():
        kinds = _VM_TYPES.get(key)
        if kinds is None:
            continue
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise ScenarioError(f"{path}: [vm]: {key} = {value!r} is not "
                                f"{'true/false' if bool in kinds else 'a ' + kinds[0].__name__}")


def _vm_file(path: Path, vm: dict, key: str) -> Path:
    """The file [vm] names by ``key`` (image, kernel, initrd), relative to the scenario."""
    if key not in vm:
        raise ScenarioError(f"{path}: [vm]: 'image' (or 'kernel') is required")
    try:
        file = (path.parent / vm[key]).resolve()
        exists = file.is_file()
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"{path}: [vm]: cannot use the {key} path "
                            f"({getattr(exc, 'strerror', None) or exc})") from exc
    if not exists:
        raise ScenarioError(f"{path}: [vm]: {key} {file} does not exist")
    return file


def _check_machine(path: Path, machine: str | None, memory: int, kernel: Path | None,
                   initrd: Path | None, append: str) -> None:
    """The machine kind exists; a kernel, its initrd and command line fit the machine
    (read and checked now, as the machine will: nothing has started yet)."""
    from vmgui.bios.linuxboot import LinuxBootError, linux_boot
    from vmgui.bios.system import ONE_MB
    from vmgui.core.profiles import get_profile

    try:
        if machine is not None:
            get_profile(machine)
        linux_boot(kernel, initrd, append, ONE_MB + max(1, memory - 1) * ONE_MB)
    except (LinuxBootError, ValueError) as exc:
        raise ScenarioError(f"{path}: [vm]: {exc}") from exc


def _parse_step(path: Path, index: int, line: int, raw: dict) -> ScenarioStep:
    where = f"{path}:{line}: step {index}"
    verbs = [key for key in raw if key in VERBS]
    if len(verbs) != 1:
        bad = [key for key in raw if key not in VERBS and key not in _all_options()]
        if bad:
            raise ScenarioError(f"{where}: unknown verb {bad[0]!r} (use {', '.join(VERBS)})")
        raise ScenarioError(f"{where}: exactly one verb per step (found {verbs or 'none'})")
    verb = verbs[0]
    options = {k: v for k, v in raw.items() if k != verb}
    extra = set(options) - OPTIONS.get(verb, set())
    if extra:
        raise ScenarioError(f"{where}: {verb} does not take {', '.join(sorted(extra))}")
    step = ScenarioStep(index, line, verb, raw[verb], options)
    try:
        _check(path, step)
    except (ValueError, TypeError, keys.KeyError_, AutomationError) as exc:
        raise ScenarioError(f"{where}: {verb}: {exc}") from exc
    return step


def _all_options() -> set[str]:
    return set().union(*OPTIONS.values())


def _check(path: Path, step: ScenarioStep) -> None:
    check_seconds(step.options.get("timeout", 30), "timeout")  # not NaN, inf, true
    value = step.value
    if step.verb in ("sleep", "wait_still"):
        check_seconds(value, step.verb)
    elif step.verb == "type":
        keys.text(str(value))
    elif step.verb in ("serial", "wait_serial"):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{value!r:.40} is not a text")
    elif step.verb in ("press", "key_down", "key_up"):
        keys.combo(str(value))
    elif step.verb == "wait_text" and step.options.get("regex"):
        re.compile(str(value))
    elif step.verb == "wait_screen":
        _check_needle(path, step)
    elif step.verb == "screenshot":
        Region.parse(step.options.get("crop"))
        scale = step.options.get("scale", 1)
        if isinstance(scale, bool) or not isinstance(scale, int) \
                or not 1 <= scale <= MAX_SCALE:
            raise ValueError(f"scale {scale!r:.40} must be a whole number from 1 to "
                             f"{MAX_SCALE}")


def _check_needle(path: Path, step: ScenarioStep) -> None:
    try:
        needle = (path.parent / str(step.value)).resolve()
        exists = needle.is_file()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        why = getattr(exc, "strerror", None) or exc
        raise ValueError(f"needle picture: cannot use the path ({why})") from exc
    if not exists:
        raise ValueError(f"needle picture {needle} does not exist")
    picture = load_picture(needle)
    limit = Region.parse(step.options.get("region"))
    width, height = (limit.width, limit.height) if limit else LARGEST_SCREEN
    if picture.shape[1] > width or picture.shape[0] > height:
        raise ValueError(f"needle {picture.shape[1]}x{picture.shape[0]} is larger than "
                         f"{'the region' if limit else 'any screen'} ({width}x{height})")
    threshold = step.options.get("threshold", 0.98)
    if not 0 < float(threshold) <= 1:
        raise ValueError(f"threshold {threshold} must be in (0, 1]")


# ---------------------------------------------------------------------------- running
def run(scenario: Scenario, out: Path, *, log=print) -> dict:
    """Run ``scenario``, writing its files into ``out``; returns the manifest."""
    from vmgui.host.lockstep import LockstepHost
    from vmgui.host.thread import ThreadHost

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vmgui-scenario-") as tmp:
        image = scenario.image
        if scenario.copy and image is not None:
            image = Path(tmp) / scenario.image.name
            shutil.copyfile(scenario.image, image)
        config = _machine_config(scenario, image)
        host = (LockstepHost if scenario.deterministic else ThreadHost)(config)
        host.start()
        session = Session(host, artifacts=out)
        manifest = {"scenario": str(scenario.path), "deterministic": scenario.deterministic,
                    "images": []}
        try:
            for step in scenario.steps:
                made = _run_step(session, scenario, step, out)
                if made is not None:
                    manifest["images"].append({
                        "file": made.name, "step": step.index, "line": step.line,
                        "verb": step.verb, "sha256": hashlib.sha256(made.read_bytes()).hexdigest()})
                    log(f"{made}")
        finally:
            host.power_off()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _machine_config(scenario: Scenario, image: Path | None):
    from vmgui.core.machine import MachineConfig
    from vmgui.core.profiles import DEFAULT_PROFILE
    from vmgui.storage.image import FLOPPY_FORMATS

    config = MachineConfig(memory_mb=scenario.memory_mb, boot_order=scenario.boot,
                           read_only=not scenario.copy,
                           profile=scenario.machine or DEFAULT_PROFILE,
                           kernel=scenario.kernel, initrd=scenario.initrd,
                           append=scenario.append)
    if image is None:
        return config
    size = image.stat().st_size
    floppy = size in FLOPPY_FORMATS or size == 512
    if floppy:
        return dataclasses.replace(config, floppies=(image,))
    return dataclasses.replace(config, hard_disks=(image,))


def _run_step(session: Session, scenario: Scenario, step: ScenarioStep, out: Path):
    opts = step.options
    timeout = float(opts.get("timeout", 30))
    verb, value = step.verb, step.value
    try:
        if verb == "wait_text":
            session.wait_for_text(str(value), timeout, regex=bool(opts.get("regex", False)))
        elif verb == "wait_screen":
            session.wait_for_screen((scenario.path.parent / str(value)).resolve(), timeout,
                                    region=opts.get("region"),
                                    threshold=float(opts.get("threshold", 0.98)))
        elif verb == "wait_still":
            session.wait_still(float(value), timeout)
        elif verb == "wait_serial":
            session.wait_for_serial(str(value), timeout)
        elif verb == "serial":
            session.send_serial(str(value))
        elif verb == "type":
            session.type_text(str(value))
        elif verb in ("press", "key_down", "key_up"):
            {"press": session.press, "key_down": session.key_down,
             "key_up": session.key_up}[verb](str(value))
        elif verb == "sleep":
            session.sleep(float(value))
        elif verb == "screenshot":
            return session.screenshot(out / str(value), crop=opts.get("crop"),
                                      scale=int(opts.get("scale", 1)))
        elif verb == "dump_text":
            target = out / str(value)
            target.write_text(session.text() + "\n", encoding="utf-8")
            return target
    except AutomationError as exc:
        exc.args = (f"{scenario.path}:{step.line}: step {step.index} ({verb}): {exc}",)
        raise
    return None
