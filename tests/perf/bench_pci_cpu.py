"""Cost of a PCI configuration access and of the CPUID/RDTSC hooks, end to end.

Method (side by side in one run, medians of ``rounds``):
- config access: a pc-pci guest loop doing ``out 0CF8h, eax`` (select 00:02.0 register 0)
  then ``in eax, 0CFCh``, versus the same loop with both instructions replaced by NOPs;
  the difference per iteration is one mechanism #1 roundtrip (two port accesses through
  the port hooks, the IoBus and the PCI model), timed between the guest's own 'S'/'E'
  marks on port E9h; for reference, a loop of OUT 80h (unclaimed) and IN 61h.
- CPUID / RDTSC in the machine: the same kind of loop on pc-pci (hooked) versus NOPs.
- CPUID / RDTSC on a bare engine: the loop on an Engine with the pentium3 model and no
  hook (the engine's own CPUID helper, the host TSC) versus with vmgui.core.cpuid's hooks
  installed, so the hook's own cost shows without the rest of the machine.
"""

from __future__ import annotations

import statistics
import sys
import time

from tests.perf.guestcode import call_loop
from tests.perf.timing import time_in_machine
from vmgui.bios.api import Reg
from vmgui.core.cpuid import CpuIdentity, get_model
from vmgui.core.engine import Engine
from vmgui.core.timing import HostClock

SELECT = b"\x66\xb8" + (0x80001000).to_bytes(4, "little") + b"\xba\xf8\x0c"  # mov eax; mov dx
CONFIG_ROUNDTRIP = b"\x66\xef" + b"\xb2\xfc" + b"\x66\xed"  # out dx,eax; mov dl,0FCh; in eax,dx
CONFIG_NOPS = b"\x90\x90" + b"\xb2\xfc" + b"\x90\x90"
OTHER_PORTS = b"\xe6\x80" + b"\xb2\xfc" + b"\xe4\x61"  # out 80h,al; mov dl,0FCh; in al,61h
MOV_EAX_1 = b"\x66\xb8\x01\x00\x00\x00"
CPUID, RDTSC, NOPS = b"\x0f\xa2", b"\x0f\x31", b"\x90\x90"


def per_iteration(with_op: list[float], without: list[float], n: int) -> float:
    return (statistics.median(with_op) - statistics.median(without)) / n


def machine_case(label: str, n: int, rounds: int, setup: bytes, op: bytes,
                 nops: bytes) -> None:
    with_op, without = [], []
    for _ in range(rounds):
        with_op.append(time_in_machine(call_loop(n, setup, op), profile="pc-pci"))
        without.append(time_in_machine(call_loop(n, setup, nops), profile="pc-pci"))
    cost = per_iteration(with_op, without, n)
    print(f"{label}: {n} iterations, median {statistics.median(with_op):.3f} s "
          f"(loop alone {statistics.median(without):.3f} s): {cost * 1e6:.2f} us each")


def bare_loop_seconds(n: int, op: bytes, hooked: bool) -> float:
    """``mov ecx, n; l: mov eax, 1; <op>; dec ecx; jnz l; hlt`` on a bare real-mode
    engine (pentium3 model), with or without the CPUID/RDTSC hooks."""
    engine = Engine(cpu_model="pentium3")
    ram = bytearray(0x10000)
    engine.map_buffer(0, ram, 0, len(ram))
    body = b"\x66\x51" + MOV_EAX_1 + op + b"\x66\x59\x66\x49"  # push ecx ... pop ecx; dec ecx
    code = (b"\x66\xb9" + n.to_bytes(4, "little") + body
            + b"\x75" + bytes(((-(len(body) + 2)) & 0xFF,)) + b"\xf4")
    ram[0x1000:0x1000 + len(code)] = code
    if hooked:
        CpuIdentity(engine, get_model("pentium3"), HostClock(), lambda ns: None,
                    lambda exc: None)
    engine.write(Reg.CS, 0)
    engine.write(Reg.SS, 0)
    engine.write(Reg.ESP, 0x8000)
    engine.write(Reg.EIP, 0x1000)
    start = time.perf_counter()
    engine.run()  # to the HLT
    elapsed = time.perf_counter() - start
    engine.close()
    return elapsed


def bare_case(label: str, n: int, rounds: int, op: bytes) -> None:
    runs = {(kind, hooked): [] for kind in ("op", "nop") for hooked in (False, True)}
    for _ in range(rounds):
        for (kind, hooked), times in runs.items():
            times.append(bare_loop_seconds(n, op if kind == "op" else NOPS, hooked))
    native = per_iteration(runs["op", False], runs["nop", False], n)
    hooked = per_iteration(runs["op", True], runs["nop", True], n)
    print(f"{label} on a bare engine: native {native * 1e6:.3f} us, "
          f"hooked {hooked * 1e6:.2f} us per instruction")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    machine_case("config roundtrip (OUT CF8h + IN CFCh) on pc-pci", n, rounds, SELECT,
                 CONFIG_ROUNDTRIP, CONFIG_NOPS)
    machine_case("reference: OUT 80h + IN 61h (two accesses elsewhere)", n, rounds, SELECT,
                 OTHER_PORTS, CONFIG_NOPS)
    machine_case("CPUID (EAX=1) on pc-pci", n, rounds, MOV_EAX_1, CPUID, NOPS)
    machine_case("RDTSC on pc-pci", n, rounds, b"", RDTSC, NOPS)
    bare_case("CPUID", n, rounds, CPUID)
    bare_case("RDTSC", n, rounds, RDTSC)


if __name__ == "__main__":
    main()
