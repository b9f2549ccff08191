"""The engine crash guard: a fault inside libunicorn ends the guest's run with a report,
not the host process.

unicorn 2.1.4's x87 translator leaks one TCG temporary per register-form instruction
(fxch, fcmov, fld st(i), ...) and overruns its 512-entry temporaries array on a block of
about 250 of them, then faults.  Each check runs in a child process, so a guard that
does not work fails the test instead of killing pytest.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from vmgui.core import engine

pytestmark = pytest.mark.skipif(engine._native_hooks() is None,
                                reason="needs the native extension vmgui.core._stophook")

CHILD = textwrap.dedent("""
    import sys
    from vmgui.bios.api import Reg
    from vmgui.core.engine import ENGINE_CRASHED, Engine, EngineError
    eng = Engine()
    ram = bytearray(1 << 20)
    code = bytes.fromhex(sys.argv[1]) * int(sys.argv[2]) + b"\\xf4"   # ... hlt
    ram[0x1000:0x1000 + len(code)] = code
    eng.map_buffer(0, ram, 0, len(ram))
    eng.write(Reg.EIP, 0x1000)
    eng.write(Reg.EAX, 0x1234)
    err = eng.run()
    print("result", err, eng.crash.signal_number if eng.crash else None)
    print("eax", hex(eng.read(Reg.EAX)))
    print("crash", eng.crash)
    if err == ENGINE_CRASHED:
        try:
            eng.run()
        except EngineError as exc:
            print("refused", exc)
    eng.close()
    print("closed")
""")


def _child(opcode: str, count: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, opcode, str(count)],
                          capture_output=True, text=True, timeout=60)


def test_a_fault_in_the_translator_returns_engine_crashed_with_registers_readable():
    run = _child("d9c9", 1000)  # 1000 x fxch st(1)
    assert run.returncode == 0, run.stderr
    assert "result -1 11" in run.stdout  # ENGINE_CRASHED, SIGSEGV
    assert "eax 0x1234" in run.stdout  # the CPU state is still readable
    assert "the CPU engine crashed (SIGSEGV" in run.stdout
    assert "libunicorn" in run.stdout  # where the host fault was
    assert "refused" in run.stdout  # a crashed engine never runs again
    assert "closed" in run.stdout


def test_the_same_instructions_in_short_runs_do_not_crash():
    run = _child("d9c9", 100)
    assert run.returncode == 0, run.stderr
    assert "result 0 None" in run.stdout


def test_a_fault_outside_a_guarded_run_still_ends_the_process():
    """The guard must not swallow the host's own faults (they reach the previous
    handler: here the default one, which kills the process with SIGSEGV)."""
    code = ("from vmgui.core.engine import Engine; Engine(); import ctypes; "
            "ctypes.string_at(0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert run.returncode == -11
