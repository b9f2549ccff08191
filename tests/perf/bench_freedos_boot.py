"""FreeDOS from power-on to its ``A:\\>`` prompt: vmgui versus QEMU, side by side.

Method: five alternating rounds.  vmgui: (a) the whole ``vmgui run IMAGE --wait-text
'A:\\>'`` command (interpreter start-up included) and (b) in-process, from creating the
machine to the prompt appearing in its text screen (polled every 5 ms).  QEMU
(qemu-system-i386 -M isapc -cpu pentium3 -m 16, TCG, no display): from starting the
process to the prompt appearing in video memory, read over QMP every 20 ms.
Target: vmgui / QEMU <= 0.5 (medians).
"""

from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT.parent / "shared" / "guests" / "freedos722.img"
PROMPT = "A:\\>"


def vmgui_command() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vmgui.cli.main", "run", str(IMAGE), "--headless",
                    "--read-only", "--wait-text", PROMPT], check=True, cwd=ROOT,
                   capture_output=True)
    return time.perf_counter() - start


def vmgui_in_process() -> float:
    start = time.perf_counter()
    machine = Machine(MachineConfig(floppies=(IMAGE,), read_only=True))
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    while not any(PROMPT in line for line in machine.text_lines()):
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    machine.send(ev.PowerOff())
    thread.join(5)
    return elapsed


class Qmp:
    def __init__(self, path: str) -> None:
        for _ in range(400):
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.005)
        self.file = self.sock.makefile("rwb")
        self._reply()
        self.call("qmp_capabilities")

    def _reply(self) -> dict:
        while True:
            msg = json.loads(self.file.readline())
            if "event" not in msg:
                return msg

    def call(self, name: str, **args) -> dict:
        self.file.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.file.flush()
        return self._reply()

    def text(self) -> str:
        out = self.call("human-monitor-command", **{"command-line": "xp /2000xh 0xb8000"})
        words = [int(w, 16) for w in out.get("return", "").split() if w.startswith("0x")
                 and len(w) == 6]
        return bytes(w & 0xFF for w in words).decode("cp437")


def qemu() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        sock = f"{tmp}/qmp.sock"
        start = time.perf_counter()
        proc = subprocess.Popen(
            ["qemu-system-i386", "-M", "isapc", "-cpu", "pentium3", "-m", "16", "-accel", "tcg",
             "-display", "none", "-qmp", f"unix:{sock},server=on,wait=off",
             "-drive", f"file={IMAGE},if=floppy,format=raw,readonly=on"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            qmp = Qmp(sock)
            while PROMPT not in qmp.text():
                time.sleep(0.02)
            return time.perf_counter() - start
        finally:
            proc.kill()
            proc.wait()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    have_qemu = shutil.which("qemu-system-i386") is not None
    results: dict[str, list[float]] = {"vmgui run (command)": [], "vmgui in-process": []}
    if have_qemu:
        results["qemu-system-i386"] = []
    for _ in range(rounds):
        results["vmgui run (command)"].append(vmgui_command())
        results["vmgui in-process"].append(vmgui_in_process())
        if have_qemu:
            results["qemu-system-i386"].append(qemu())
    for name, values in results.items():
        print(f"{name:22s} median {statistics.median(values):.3f} s  "
              f"{[round(v, 3) for v in values]}")
    if have_qemu:
        q = statistics.median(results["qemu-system-i386"])
        for name in ("vmgui run (command)", "vmgui in-process"):
            print(f"ratio {name} / qemu: {statistics.median(results[name]) / q:.2f} "
                  "(target <= 0.5)")
    else:
        print("qemu-system-i386 not installed: no comparison (apt-get install qemu-system-x86)")


if __name__ == "__main__":
    main()
