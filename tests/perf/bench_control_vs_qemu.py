"""A 10-step FreeDOS scenario driven from outside the VM: ``vmgui control`` on a headless
VM versus QEMU's monitor (QMP), side by side.

Method: three alternating rounds on fresh copies of freedos722.img; wall time of the whole
scenario (median shown, and each step's median).  The steps: start the VM, wait for
``A:\\>``, type ``ver`` + Enter, wait for ``FreeCom version``, screenshot, type ``dir`` +
Enter, wait for ``bytes free``, screenshot, read the text screen, power off (until the VM
process has ended).

- vmgui (CLI): every step is one ``vmgui start --headless`` / ``vmgui control`` command
  (a new Python interpreter each time: what a shell script pays).
- vmgui (socket): the same requests on the control socket from this process
  (:class:`vmgui.host.control.Connection`, what a Python driver pays); the VM is still the
  headless VM process ``vmgui start`` launches.
- QEMU (qemu-system-i386 -M isapc -cpu pentium3 -m 16, TCG, no display): ``-qmp`` unix
  socket from this process; ``send-key`` per character, ``screendump`` (PPM), text read by
  polling ``xp /2000xh 0xb8000`` every 20 ms; power-off is ``quit`` until the process ends.

- vmgui script: the same steps as one scenario file (``vmgui script``), the whole command
  timed (interpreter start, boot, steps, power-off).

vmgui's waits poll inside the VM process (every 20 ms), QEMU's from here (every 20 ms).
Target: vmgui faster than QEMU.  Run: ``python tests/perf/bench_control_vs_qemu.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT.parent / "shared" / "guests" / "freedos722.img"
PROMPT = "A:\\>"
ROUNDS = 3
STEPS = ["start", "wait A:\\>", "type ver", "wait FreeCom version", "screenshot",
         "type dir", "wait bytes free", "screenshot", "text", "poweroff"]
WAIT_TIMEOUT = 60.0


def _timed(steps: list[tuple[str, Callable[[], object]]]) -> list[float]:
    times = []
    for _name, step in steps:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


# ---------------------------------------------------------------------- vmgui

def _library(tmp: Path) -> dict[str, str]:
    from vmgui.config.library import Library
    from vmgui.config.schema import Attachment, VmConfig

    home = tmp / "machines"
    image = tmp / "freedos.img"
    shutil.copyfile(IMAGE, image)
    Library(home).create(VmConfig("fd", floppy_a=Attachment(str(image))))
    return dict(os.environ, VMGUI_HOME=str(home))


def vmgui_cli(tmp: Path) -> list[float]:
    env = _library(tmp)

    def cli(*args: str) -> Callable[[], None]:
        cmd = [sys.executable, "-m", "vmgui.cli.main", *args]
        return lambda: subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True)

    shot1, shot2 = str(tmp / "1.png"), str(tmp / "2.png")
    t = str(WAIT_TIMEOUT)
    return _timed([
        ("start", cli("start", "fd", "--headless")),
        ("wait", cli("control", "fd", "wait-text", PROMPT, "--timeout", t)),
        ("type", cli("control", "fd", "type", "ver\\n")),
        ("wait", cli("control", "fd", "wait-text", "FreeCom version", "--timeout", t)),
        ("shot", cli("control", "fd", "screenshot", shot1)),
        ("type", cli("control", "fd", "type", "dir\\n")),
        ("wait", cli("control", "fd", "wait-text", "bytes free", "--timeout", t)),
        ("shot", cli("control", "fd", "screenshot", shot2)),
        ("text", cli("control", "fd", "text")),
        ("off", cli("control", "fd", "poweroff")),
    ])


def vmgui_socket(tmp: Path) -> list[float]:
    from vmgui.host.control import Connection

    env = _library(tmp)
    sock = tmp / "machines" / "fd" / "control.sock"

    def req(**request) -> Callable[[], None]:
        def call() -> None:
            with Connection(sock) as conn:
                reply = conn.request(request, None)
                assert reply["ok"], reply
                if request["cmd"] == "poweroff":
                    conn.wait_closed(30)
        return call

    def start() -> None:  # launching is the CLI's job either way
        subprocess.run([sys.executable, "-m", "vmgui.cli.main", "start", "fd", "--headless"],
                       check=True, env=env, cwd=ROOT, capture_output=True)

    return _timed([
        ("start", start),
        ("wait", req(cmd="wait-text", text=PROMPT, timeout=WAIT_TIMEOUT)),
        ("type", req(cmd="type", text="ver\n")),
        ("wait", req(cmd="wait-text", text="FreeCom version", timeout=WAIT_TIMEOUT)),
        ("shot", req(cmd="screenshot", path=str(tmp / "1.png"))),
        ("type", req(cmd="type", text="dir\n")),
        ("wait", req(cmd="wait-text", text="bytes free", timeout=WAIT_TIMEOUT)),
        ("shot", req(cmd="screenshot", path=str(tmp / "2.png"))),
        ("text", req(cmd="text")),
        ("off", req(cmd="poweroff")),
    ])


# ---------------------------------------------------------------------- QEMU

QCODES = {" ": "spc", "\n": "ret", ".": "dot", "\\": "backslash", ":": "shift-semicolon"}


class Qmp:
    def __init__(self, path: str) -> None:
        for _ in range(1000):
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                time.sleep(0.005)
        else:
            raise RuntimeError("QEMU's QMP socket never answered")
        self.file = self.sock.makefile("rwb")
        self._reply()
        self.call("qmp_capabilities")

    def _reply(self) -> dict:
        while True:
            line = self.file.readline()
            if not line:
                return {}
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def call(self, name: str, **args) -> dict:
        self.file.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.file.flush()
        return self._reply()

    def text(self) -> str:
        out = self.call("human-monitor-command", **{"command-line": "xp /2000xh 0xb8000"})
        words = [int(w, 16) for w in out.get("return", "").split()
                 if w.startswith("0x") and len(w) == 6]
        return bytes(w & 0xFF for w in words).decode("cp437")

    def wait_text(self, text: str) -> None:
        deadline = time.monotonic() + WAIT_TIMEOUT
        while text not in self.text():
            if time.monotonic() > deadline:
                raise TimeoutError(text)
            time.sleep(0.02)

    def type(self, text: str) -> None:
        for ch in text:
            code = QCODES.get(ch, ch)
            keys = [{"type": "qcode", "data": part} for part in code.split("-")]
            self.call("send-key", keys=keys)


def qemu(tmp: Path) -> list[float]:
    image = tmp / "freedos-qemu.img"
    shutil.copyfile(IMAGE, image)
    sock = str(tmp / "qmp.sock")
    state: dict = {}

    def start() -> None:
        state["proc"] = subprocess.Popen(
            ["qemu-system-i386", "-M", "isapc", "-cpu", "pentium3", "-m", "16", "-accel", "tcg",
             "-display", "none", "-qmp", f"unix:{sock},server=on,wait=off",
             "-drive", f"file={image},if=floppy,format=raw"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        state["qmp"] = Qmp(sock)

    def q():
        return state["qmp"]

    def off() -> None:
        q().call("quit")
        state["proc"].wait(30)

    try:
        return _timed([
            ("start", start),
            ("wait", lambda: q().wait_text(PROMPT)),
            ("type", lambda: q().type("ver\n")),
            ("wait", lambda: q().wait_text("FreeCom version")),
            ("shot", lambda: q().call("screendump", filename=str(tmp / "1.ppm"))),
            ("type", lambda: q().type("dir\n")),
            ("wait", lambda: q().wait_text("bytes free")),
            ("shot", lambda: q().call("screendump", filename=str(tmp / "2.ppm"))),
            ("text", lambda: q().text()),
            ("off", off),
        ])
    finally:
        proc = state.get("proc")
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------- main

SCENARIO = """
[vm]
image = "{image}"
copy = false
deterministic = false
[[step]]
wait_text = 'A:\\>'
[[step]]
type = "ver\\n"
[[step]]
wait_text = "FreeCom version"
[[step]]
screenshot = "ver.png"
[[step]]
type = "dir\\n"
[[step]]
wait_text = "bytes free"
[[step]]
screenshot = "dir.png"
[[step]]
dump_text = "screen.txt"
"""


def vmgui_script(tmp: Path) -> float:
    """The same steps as one scenario file run by ``vmgui script`` (start and power-off
    included): the whole command's wall time, interpreter start-up included."""
    image = tmp / "freedos.img"
    shutil.copyfile(IMAGE, image)
    scenario = tmp / "bench.toml"
    scenario.write_text(SCENARIO.format(image=image))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vmgui.cli.main", "script", str(scenario),
                    "--out", str(tmp / "out")], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    if not IMAGE.is_file():
        sys.exit(f"{IMAGE}: missing")
    runs: dict[str, Callable[[Path], list[float]]] = {
        "vmgui control (CLI per step)": vmgui_cli,
        "vmgui control (socket, in-process client)": vmgui_socket,
    }
    if shutil.which("qemu-system-i386"):
        runs["qemu-system-i386 (QMP)"] = qemu
    else:
        print("qemu-system-i386 not installed: no comparison (apt-get install qemu-system-x86)")
    results: dict[str, list[list[float]]] = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, run in runs.items():
            with tempfile.TemporaryDirectory(prefix="vmgui-bench-") as tmp:
                results[name].append(run(Path(tmp)))
    print(__doc__.split("\n\n")[1].replace("\n", " "))
    print(f"\nmedian of {ROUNDS} rounds, seconds per step:")
    names = list(results)
    header = f"{'step':<22}" + "".join(f"{n[:26]:>28}" for n in names)
    print(header)
    for i, step in enumerate(STEPS):
        row = f"{step:<22}"
        for name in names:
            row += f"{statistics.median(r[i] for r in results[name]):>28.3f}"
        print(row)
    totals = {name: statistics.median(sum(r) for r in rs) for name, rs in results.items()}
    print(f"{'TOTAL (median)':<22}" + "".join(f"{totals[n]:>28.3f}" for n in names))
    scripted = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix="vmgui-bench-") as tmp:
            scripted.append(vmgui_script(Path(tmp)))
    totals["vmgui script (scenario file)"] = statistics.median(scripted)
    print(f"{'vmgui script (one scenario file, whole command)':<50}"
          f"{totals['vmgui script (scenario file)']:.3f}  {[round(x, 3) for x in scripted]}")
    qemu_name = "qemu-system-i386 (QMP)"
    if qemu_name in totals:
        for name in [n for n in totals if n != qemu_name]:
            ratio = totals[name] / totals[qemu_name]
            print(f"{name} / QEMU: {ratio:.2f} ({'faster' if ratio < 1 else 'SLOWER'})")


if __name__ == "__main__":
    main()
