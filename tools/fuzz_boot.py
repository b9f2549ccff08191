#!/usr/bin/env python3
"""The long boot-sector fuzz run: thousands of hostile boot sectors, each booted once.

    python tools/fuzz_boot.py --count 10000 --seconds 2 --jobs 2 --out DIR

Sector number N is ``tests.fuzz.bootsectors.from_seed(SEED + N)``: a quarter random
bytes, the rest assembled from hostile fragments (see that module), so any sector can be
made again from its seed (``--only SEED``).  Each boots in a child forked from this warm
process (``tests/fuzz/forkrun.py``): a fresh 16 MB machine runs it for ``--seconds`` on
the host clock (``--deterministic``: guest seconds, as ``vmgui run --deterministic``),
then is told to power off.  Outcomes:

  ok              ran until the time limit
  guest crash     vmgui stopped the guest with its crash report (vmgui run: exit 4)
  engine crash    the engine faulted and vmgui caught and reported it (also exit 4)
  BAD: internal error   the crash report says vmgui's own code raised an exception
  BAD: traceback        an exception escaped to the host
  BAD: host crash       the process died (a signal: an engine fault vmgui did not catch)
  BAD: hang             no result within seconds + grace
  BAD: stop hang        the machine did not power off when told

Every BAD sector is saved in OUT/bad/ (SEED-KIND.img, and .txt with the report and the
child's output); engine crashes in OUT/engine-crash/.  The totals line reads
"N run, host crashes X, hangs Y, tracebacks Z, guest crash reports W"; the exit status
is 1 when anything was BAD, 0 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz import bootsectors, forkrun  # noqa: E402 - after the path is set

PROGRESS_EVERY_S = 30.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1000, help="sectors to run (default 1000)")
    p.add_argument("--seconds", type=float, default=2.0, help="run time per sector (2)")
    p.add_argument("--jobs", type=int, default=1, help="children at a time (1)")
    p.add_argument("--out", type=Path, required=True, help="folder for BAD inputs and logs")
    p.add_argument("--seed", type=int, default=0, help="seed of sector 0 (default 0)")
    p.add_argument("--grace", type=float, default=5.0,
                   help="host seconds past --seconds before a child counts as hung (5)")
    p.add_argument("--deterministic", action="store_true",
                   help="guest time from executed code (--seconds are guest seconds)")
    p.add_argument("--only", type=int, action="append", default=[], metavar="SEED",
                   help="run just this seed (repeatable): reproduce a saved input")
    args = p.parse_args(argv)
    if args.count < 0 or args.seconds <= 0 or args.jobs < 1 or args.grace <= 0:
        p.error("--count >= 0, --seconds > 0, --jobs >= 1 and --grace > 0 please")
    return args


class Run:
    """Schedules children, collects outcomes, saves the interesting inputs."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.work = self.out / "work"
        self.totals: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()  # first line of each crash report
        self.bad: list[str] = []
        self.started = time.monotonic()
        self.last_progress = self.started

    def seeds(self) -> list[int]:
        if self.args.only:
            return list(self.args.only)
        return [self.args.seed + i for i in range(self.args.count)]

    def run(self) -> int:
        pending = self.seeds()
        pending.reverse()
        running: dict[int, tuple[forkrun.Child, str, bytes]] = {}
        while pending or running:
            while pending and len(running) < self.args.jobs:
                seed = pending.pop()
                kind, sector = bootsectors.from_seed(seed)
                child = forkrun.start(sector, self.work / str(seed), self.args.seconds,
                                      self.args.deterministic, self.args.grace)
                running[seed] = (child, kind, sector)
            for seed, (child, kind, sector) in list(running.items()):
                outcome = forkrun.poll(child, 0.02 / len(running))
                if outcome is not None:
                    del running[seed]
                    self.record(seed, kind, sector, outcome)
            self.progress(len(pending), len(running))
        print(self.summary())
        return 1 if self.bad else 0

    def record(self, seed: int, kind: str, sector: bytes, outcome: forkrun.Outcome) -> None:
        self.totals[outcome.kind] += 1
        if outcome.kind in (forkrun.GUEST_CRASH, forkrun.ENGINE_CRASH, forkrun.INTERNAL):
            self.reasons[outcome.detail.splitlines()[0][:90]] += 1
        if outcome.bad:
            self.bad.append(f"{seed} ({kind}): {outcome.kind}: "
                            f"{outcome.detail.splitlines()[0] if outcome.detail else ''}")
            self.save("bad", seed, kind, sector, outcome)
            print(f"BAD {self.bad[-1]}", file=sys.stderr, flush=True)
        elif outcome.kind == forkrun.ENGINE_CRASH:
            self.save("engine-crash", seed, kind, sector, outcome)
        shutil.rmtree(self.work / str(seed), ignore_errors=True)

    def save(self, folder: str, seed: int, kind: str, sector: bytes,
             outcome: forkrun.Outcome) -> None:
        where = self.out / folder
        where.mkdir(parents=True, exist_ok=True)
        stem = where / f"{seed}-{outcome.kind}"
        stem.with_suffix(".img").write_bytes(sector)
        mode = " --deterministic" if self.args.deterministic else ""
        stem.with_suffix(".txt").write_text(
            f"seed {seed} ({kind} sector), outcome {outcome.kind} after "
            f"{outcome.seconds:.2f} s\n"
            f"reproduce: python tools/fuzz_boot.py --only {seed} --seconds "
            f"{self.args.seconds:g}{mode} --out DIR\n"
            f"       or: vmgui run {stem.with_suffix('.img').name} --timeout "
            f"{self.args.seconds:g} --wait-text NEVER{mode}\n\n"
            f"{outcome.detail}\n\n--- child output ---\n{outcome.output}\n")

    def progress(self, pending: int, running: int) -> None:
        now = time.monotonic()
        if now - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = now
            done = sum(self.totals.values())
            print(f"[{now - self.started:6.0f} s] {done} done, {running} running, "
                  f"{pending} to go; {dict(self.totals)}", file=sys.stderr, flush=True)

    def summary(self) -> str:
        t = self.totals
        lines = [
            f"{sum(t.values())} run, host crashes {t[forkrun.HOST_CRASH]}, "
            f"hangs {t[forkrun.HANG] + t[forkrun.STOP_HANG]}, "
            f"tracebacks {t[forkrun.TRACEBACK] + t[forkrun.INTERNAL]}, "
            f"guest crash reports {t[forkrun.GUEST_CRASH] + t[forkrun.ENGINE_CRASH]}",
            f"  ok {t[forkrun.OK]}; guest crash reports: {t[forkrun.GUEST_CRASH]} guest "
            f"faults + {t[forkrun.ENGINE_CRASH]} engine crashes caught; tracebacks: "
            f"{t[forkrun.INTERNAL]} internal-error reports + {t[forkrun.TRACEBACK]} escaped; "
            f"hangs: {t[forkrun.HANG]} no result + {t[forkrun.STOP_HANG]} no power-off",
            f"  {self.args.seconds:g} s per sector "
            f"({'guest' if self.args.deterministic else 'host'} clock), "
            f"{self.args.jobs} jobs, {time.monotonic() - self.started:.0f} s in all",
        ]
        if self.reasons:
            lines.append("  most frequent crash reports:")
            lines.extend(f"    {n:6d}  {reason}" for reason, n in self.reasons.most_common(8))
        if self.bad:
            lines.append(f"BAD inputs (saved in {self.out / 'bad'}):")
            lines.extend(f"  {line}" for line in self.bad)
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return Run(args).run()


if __name__ == "__main__":
    sys.exit(main())
