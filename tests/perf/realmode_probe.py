"""One real-mode measurement on whichever vmgui tree is first on PYTHONPATH, printed as
JSON: the child process of bench_realmode_before_after.py (run as a script, so it imports
nothing from ``tests``: older trees have other helpers there).

Cases:
  freedos  FreeDOS (../shared/guests/freedos722.img) from creating the machine to ``A:\\>``
           on its text screen (polled every 5 ms), in this process: seconds.
  bios     int 10h AH=0Eh (teletype CR) and int 16h AH=02h, N calls each in a guest loop,
           minus the same loop with two NOPs: microseconds per call.
  idle     FreeDOS at its prompt: this process's CPU (all threads) over SECONDS of wall
           time, after 2 s of settling: percent of one core.

Usage: PYTHONPATH=TREE python tests/perf/realmode_probe.py CASE [ARG]
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig

FREEDOS = Path(__file__).resolve().parents[2].parent / "shared" / "guests" / "freedos722.img"
PROMPT = "A:\\>"
OUT_E9 = b"\xe6\xe9"


def _signal(ch: str) -> bytes:
    return b"\xb0" + ch.encode() + OUT_E9


def call_loop(iterations: int, setup: bytes, call: bytes) -> bytes:
    """sti; 'S'; mov ecx, N; l: push ecx; <setup>; <call>; pop ecx; dec ecx; jnz l; 'E';
    cli; hlt (the same guest as tests/perf/guestcode.py's call_loop)."""
    body = b"\x66\x51" + setup + call + b"\x66\x59" + b"\x66\x49"
    jnz = b"\x75" + bytes(((-(len(body) + 2)) & 0xFF,))
    code = (b"\xfb" + _signal("S") + b"\x66\xb9" + iterations.to_bytes(4, "little")
            + body + jnz + _signal("E") + b"\xfa\xf4")
    return code + bytes(510 - len(code)) + b"\x55\xaa"


def time_guest(image: bytes) -> float:
    """Seconds between the guest's 'S' and 'E' on port E9h."""
    marks: dict[int, float] = {}
    done = threading.Event()

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.DebugOutput):
            for ch in event.data:
                marks[ch] = time.perf_counter()
            if ord("E") in marks:
                done.set()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "guest.img"
        path.write_bytes(image)
        machine = Machine(MachineConfig(floppies=(path,), read_only=True), on_event=on_event)
        thread = threading.Thread(target=machine.run, daemon=True)
        thread.start()
        finished = done.wait(120)
        machine.send(ev.PowerOff())
        thread.join(10)
    if not finished:
        raise SystemExit("the guest did not finish")
    return marks[ord("E")] - marks[ord("S")]


def freedos() -> float:
    start = time.perf_counter()
    machine = Machine(MachineConfig(floppies=(FREEDOS,), read_only=True))
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    while not any(PROMPT in line for line in machine.text_lines()):
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    machine.send(ev.PowerOff())
    thread.join(5)
    return elapsed


def bios(n: int) -> dict[str, float]:
    teletype = b"\xb8\x0d\x0e\xbb\x07\x00"  # mov ax, 0E0Dh; mov bx, 7
    shift_flags = b"\xb8\x00\x02"  # mov ax, 0200h
    result = {}
    for name, setup, call in (("int10_teletype", teletype, b"\xcd\x10"),
                              ("int16_shift_flags", shift_flags, b"\xcd\x16")):
        with_call = time_guest(call_loop(n, setup, call))
        without = time_guest(call_loop(n, setup, b"\x90\x90"))
        result[name] = (with_call - without) / n * 1e6
    return result


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def idle(seconds: float) -> float:
    machine = Machine(MachineConfig(floppies=(FREEDOS,), read_only=True))
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    while not any(PROMPT in line for line in machine.text_lines()):
        time.sleep(0.05)
    time.sleep(2)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    machine.send(ev.PowerOff())
    thread.join(5)
    return 100 * cpu / wall


def main() -> None:
    case = sys.argv[1]
    arg = sys.argv[2] if len(sys.argv) > 2 else None
    if case == "freedos":
        result: object = freedos()
    elif case == "bios":
        result = bios(int(arg or 100_000))
    elif case == "idle":
        result = idle(float(arg or 10))
    else:
        raise SystemExit(f"unknown case {case!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
