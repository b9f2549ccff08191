"""Saved state of a whole machine: what it consists of, how to take it and put it back.

Owns: :func:`capture` (a running machine's complete state as the named parts of a
vmgui.core.statefile file) and :func:`restore` (those parts into a freshly built and
powered-on machine of the same configuration, which then continues exactly where the
saved one was: CPU, RAM, video memory and screen, every device, the BIOS's own fields,
the run loop's wait state and typed-key queue, and guest time).

Parts: ``cpu`` (engine context blob, build-specific), ``ram`` (written from a view of
live RAM that skips the pages never touched, and put back as its used pages after the rest
is given back to the host: a 2 GB machine at a DOS prompt saves and loads like a small one),
``vram`` (raw bytes), ``planes`` (the VGA plane memory) and ``lfb`` (the VBE framebuffer,
on machines with one),
``devices`` (JSON: each device's versioned ``save_state()`` keyed by its NAME; bytes
values as ``{"$b64": ...}``), ``bios`` (JSON) and ``machine`` (JSON: memory size, A20,
guest time, run-loop fields, drives).

Thread rule: both run on the machine's emulation thread between engine runs (the engine
must not be executing guest code), e.g. from a command the run loop drains.  Disk images
are not part of the state: restore against the same, unchanged images.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

from vmgui.core import events as ev
from vmgui.core import statefile
from vmgui.core.machine import Machine, Wait
from vmgui.devices.base import Device

STATE_VERSION = 1  # of the bios and machine parts (devices version their own)
REQUIRED_PARTS = ("machine", "cpu", "ram", "vram", "devices", "bios")
# Machine attributes holding devices, in load order: the PIC goes last so that its saved
# inputs and requests win over lines the other devices re-drive while loading.
DEVICE_ATTRS = ("pit", "port61", "cmos", "kbc", "port92", "uart", "debugcon", "vga", "pci",
                "ata", "pic")
# Devices a state saved by an older vmgui may lack: they stay as powered on (the guest
# saved then had never seen them).
ADDED_LATER = frozenset({"ata"})
_B64 = "$b64"
CLOCK_TOLERANCE_NS = 100_000_000


class RestoreError(ValueError):
    """The saved state does not fit this machine (nothing has been changed yet)."""


# ---------------------------------------------------------------------- JSON helpers
def _to_json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {_B64: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | collections.deque):
        return [_to_json(v) for v in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _B64 in value:
            return base64.b64decode(value[_B64])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _dumps(obj: Any) -> bytes:
    return json.dumps(_to_json(obj), separators=(",", ":")).encode()


def _loads(data: bytes, part: str) -> Any:
    try:
        return _from_json(json.loads(data))
    except ValueError as exc:
        raise RestoreError(f"part {part!r} is not valid JSON ({exc})") from exc


# ---------------------------------------------------------------------- guest time
def set_guest_time(clock: Any, guest_ns: int) -> None:
    """Make ``clock.now_ns()`` return ``guest_ns`` now, and continue from there.

    HostClock: now = (paused_at or host monotonic) - base, so move the base.
    VirtualClock: now = blocks x ns_per_block + extra, so move the extra.
    (A ``set_now_ns`` method on the clocks would be the tidier home for this.)"""
    setter = getattr(clock, "set_now_ns", None)
    if setter is not None:
        setter(guest_ns)
    elif hasattr(clock, "_base"):
        paused_at = getattr(clock, "_paused_at", None)
        clock._base = (paused_at if paused_at is not None else time.monotonic_ns()) - guest_ns
    elif hasattr(clock, "_extra"):
        clock._extra += guest_ns - clock.now_ns()
    else:
        raise TypeError(f"do not know how to set the time of {type(clock).__name__}")
    if abs(clock.now_ns() - guest_ns) > CLOCK_TOLERANCE_NS:  # the clock changed shape?
        raise RuntimeError(f"setting guest time failed: {clock.now_ns()} != {guest_ns}")


# ---------------------------------------------------------------------- capture
def _devices(machine: Machine) -> list[Device]:
    return [getattr(machine, a) for a in DEVICE_ATTRS if getattr(machine, a, None) is not None]


def _device_states(machine: Machine) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for dev in _devices(machine):
        state = dict(dev.save_state())
        if dev is machine.vga:
            state.pop("vram", None)  # saved once, raw, as the "vram" part
            state.pop("planes", None)  # and the planes as the "planes" part
        if dev.NAME in states:
            raise RuntimeError(f"two devices are named {dev.NAME!r}")
        states[dev.NAME] = state
    return states


def _bios_state(machine: Machine) -> dict[str, Any]:
    bios = machine.bios
    return {
        "version": STATE_VERSION,
        "system": {"wait_deadline_ns": bios.system.wait_deadline_ns},
        "video": {"bell_count": bios.video.bell_count,
                  "user_font_height": bios.video.user_font_height},
        "disk": {"changed": sorted(bios.disk._changed)},
        "cdrom": bios.cdrom.save_state() if bios.cdrom is not None else None,
    }


def _drives(machine: Machine) -> dict[str, Any]:
    return {f"{number:02X}": (None if image is None else
                              {"name": os.path.basename(image.path), "bytes": image.size_bytes})
            for number, image in sorted(machine.drives.items())}


def _drive_sizes(drives: dict[str, Any]) -> dict[str, int | None]:
    return {number: None if d is None else d["bytes"] for number, d in drives.items()}


def _machine_state(machine: Machine, guest_ns: int) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "memory_mb": machine.config.memory_mb,
        "ram_bytes": len(machine.memory.ram),
        "a20": machine.memory.a20_enabled,
        "guest_ns": guest_ns,
        "clock": type(machine.clock).__name__,
        "blocks": int(machine.engine.stop_ctl.blocks),
        "wait": machine._wait.name,
        "typed": list(machine._typed),
        "reset_requested": machine._reset_requested,
        "tight_polls": machine._tight_polls,
        "last_poll_blocks": machine._last_poll_blocks,
        "drives": _drives(machine),
    }


def capture(machine: Machine) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(meta, parts)`` of a machine that is not executing guest code right now.  The
    ``ram`` part is a :class:`statefile.PageSource` over live RAM, not a copy: write it
    (:func:`statefile.write_state`) before the guest runs again."""
    guest_ns = machine.clock.now_ns()
    memory = machine.memory
    parts = {
        "machine": _dumps(_machine_state(machine, guest_ns)),
        "cpu": machine.engine.context_save(),
        "ram": statefile.PageSource(memoryview(memory.ram), memory.maybe_used_pages()),
        "vram": bytes(machine.memory.vram),
        "devices": _dumps(_device_states(machine)),
        "bios": _dumps(_bios_state(machine)),
        "planes": bytes(machine.vga.planes_view),
    }
    if machine.video.lfb is not None:
        parts["lfb"] = bytes(machine.video.lfb)
    display = machine.vga.display()
    meta = {"profile": machine.config.profile, "memory_mb": machine.config.memory_mb,
            "guest_ns": guest_ns, "state": machine.state.value,
            "display": {"kind": display.kind.value, "mode": display.mode,
                        "width": display.width, "height": display.height}}
    return meta, parts


# ---------------------------------------------------------------------- restore
def _check(machine: Machine, parts: dict[str, Any]) -> tuple[dict, dict, dict]:
    """Everything that can be refused is refused here, before the machine changes."""
    missing = [name for name in REQUIRED_PARTS if name not in parts]
    if missing:
        raise RestoreError(f"saved state lacks part(s) {', '.join(missing)}")
    mstate = _loads(parts["machine"], "machine")
    bstate = _loads(parts["bios"], "bios")
    dstates = _loads(parts["devices"], "devices")
    for name, state in (("machine", mstate), ("bios", bstate)):
        if not isinstance(state.get("version"), int) or not 1 <= state["version"] <= STATE_VERSION:
            raise RestoreError(f"part {name!r} version {state.get('version')!r} is not "
                               f"supported (this build reads up to {STATE_VERSION})")
    ram, vram = machine.memory.ram, machine.memory.vram
    if len(parts["ram"]) != len(ram):
        raise RestoreError(f"saved machine has {mstate.get('memory_mb')} MB of RAM "
                           f"({len(parts['ram'])} bytes), this one {machine.config.memory_mb} "
                           f"MB ({len(ram)} bytes)")
    if len(parts["vram"]) != len(vram):
        raise RestoreError(f"saved video memory is {len(parts['vram'])} bytes, "
                           f"this machine has {len(vram)}")
    for name, buffer in (("planes", machine.vga.planes_view), ("lfb", machine.video.lfb)):
        if name in parts and (buffer is None or len(parts[name]) != len(buffer)):
            have = "none" if buffer is None else f"{len(buffer)} bytes"
            raise RestoreError(f"saved {name} memory is {len(parts[name])} bytes, "
                               f"this machine has {have}")
    if mstate["clock"] != type(machine.clock).__name__:
        raise RestoreError(f"saved with a {mstate['clock']}, this machine runs a "
                           f"{type(machine.clock).__name__} (deterministic mode differs)")
    saved, have = _drive_sizes(mstate["drives"]), _drive_sizes(_drives(machine))
    if saved != have:
        raise RestoreError(f"saved with drives {saved}, this machine has {have} "
                           "(drive number: image bytes)")
    if machine.bios.cdrom is not None:
        try:
            machine.bios.cdrom.parse_state(bstate.get("cdrom"))
        except ValueError as exc:
            raise RestoreError(str(exc)) from None
    size = machine.engine.context_size()
    if len(parts["cpu"]) != size:
        raise RestoreError(f"saved CPU state is {len(parts['cpu'])} bytes, "
                           f"this engine build uses {size}")
    for dev in _devices(machine):
        if dev.NAME not in dstates and dev.NAME in ADDED_LATER:
            continue
        if dev.NAME not in dstates:
            raise RestoreError(f"saved state has no {dev.NAME!r} device")
        try:
            dev.check_state_version(dstates[dev.NAME])
        except ValueError as exc:
            raise RestoreError(str(exc)) from exc
    return mstate, bstate, dstates


def _sync_irq_lines(machine: Machine) -> None:
    """IrqLine.level (what each device drives) from the PIC's recorded input levels,
    without calling the PIC: the next edge a device makes is then seen correctly."""
    pic = machine.pic
    levels = pic.master.line_levels | (pic.slave.line_levels << 8)
    for n in range(16):
        bit = 9 if n == 2 else n  # ISA IRQ2 is wired to the slave's input 1 (IRQ9)
        pic.irq_line(n).level = bool(levels >> bit & 1)


def _put_ram(machine: Machine, ram: Any) -> None:
    """Guest RAM from a ``ram`` part: a statefile.PageImage (from a file: give every
    page back to the host, then write the used ones), a PageSource or bytes (all of it).
    Host buffers mapped into the engine: no engine call (restore drops translations)."""
    memory = machine.memory
    if isinstance(ram, statefile.PageImage):
        memory.discard()
        for numbers, data in ram.take_chunks():
            memory.put_pages(numbers, data)
    else:
        memory.ram[:] = ram.data if isinstance(ram, statefile.PageSource) else ram


def restore(machine: Machine, meta: dict[str, Any], parts: dict[str, Any]) -> None:
    """Put a :func:`capture` into ``machine`` (built from the same config and powered
    on, on its emulation thread, between engine runs).  Raises RestoreError, leaving
    the machine untouched, when the state does not fit."""
    mstate, bstate, dstates = _check(machine, parts)
    memory = machine.memory
    _put_ram(machine, parts["ram"])
    memory.vram[:] = parts["vram"]
    if machine.video.lfb is not None:  # a state saved before the framebuffer existed: blank
        machine.video.lfb[:] = parts.get("lfb") or bytes(len(machine.video.lfb))
    if "planes" in parts:
        dstates["vga"]["planes"] = parts["planes"]
    machine.engine.stop_ctl.blocks = mstate["blocks"]
    set_guest_time(machine.clock, mstate["guest_ns"])
    for dev in _devices(machine):
        if dev.NAME in dstates:  # else one of ADDED_LATER, left as powered on
            dev.load_state(dstates[dev.NAME])
    _sync_irq_lines(machine)
    memory.set_a20(bool(mstate["a20"]))
    bios = machine.bios
    bios.system.wait_deadline_ns = bstate["system"]["wait_deadline_ns"]
    bios.video.bell_count = bstate["video"]["bell_count"]
    bios.video.user_font_height = bstate["video"]["user_font_height"]
    if bios.cdrom is not None:  # the drives matched (_check): a disc to emulate from is there
        bios.cdrom.load_state(bstate.get("cdrom"))  # before the change lines: it renumbers
    bios.disk._changed = set(bstate["disk"]["changed"])
    machine._wait = Wait[mstate["wait"]]
    machine._typed = collections.deque(bytes(k) for k in mstate["typed"])
    machine._reset_requested = bool(mstate["reset_requested"])
    machine._tight_polls = mstate["tight_polls"]
    machine._last_poll_blocks = mstate["last_poll_blocks"]
    machine._fault = None
    # the run loop's cached device deadlines belong to the timeline left behind
    machine._touched_devices()
    # last: the CPU, then no translated code or TLB entry of the old contents survives
    machine.engine.context_restore(parts["cpu"])


# ---------------------------------------------------------------------- files
@contextlib.contextmanager
def _time_held(machine: Machine) -> Iterator[None]:
    """Guest time stands still while a running machine is being saved."""
    running = machine.state is ev.RunState.RUNNING
    if running:
        machine.clock.pause()
    try:
        yield
    finally:
        if running:
            machine.clock.resume()


def save(machine: Machine, path: str | os.PathLike[str], **extra_meta: Any) -> dict[str, Any]:
    """Capture ``machine`` and write it to ``path`` atomically; returns the meta."""
    with _time_held(machine):
        meta, parts = capture(machine)
        meta.update(extra_meta)
        statefile.write_state(path, parts, meta)
    return meta


def load(machine: Machine, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``path`` (StateFileError if unusable) and restore it into ``machine``."""
    meta, parts = statefile.read_state(path, profile=machine.config.profile,
                                       as_pages=("ram",))
    restore(machine, meta, parts)
    return meta
