"""``python -m tools.soak``: the manager soak of issue 12 (see :mod:`tools.soak`).

Examples (from the repository root)::

    .venv/bin/python -m tools.soak --minutes 60 --out /tmp/soak     # the hour-long run
    .venv/bin/python -m tools.soak --cycles 200 --out /tmp/soak     # 200 start/stop cycles
    .venv/bin/python -m tools.soak --minutes 5 --cycles 20          # a quick trial of both

Exit status: 0 every mode run passed, 1 one failed (see OUT/MODE/summary.txt), 2 the soak
could not run here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.soak import summary, supervisor


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.soak",
        description="Soak the vmgui manager under Xvfb: --minutes N runs two VMs (one "
                    "drawing mode 13h) for N minutes; --cycles N starts and stops a VM "
                    "process N times.  Both given: the timed run first.")
    parser.add_argument("--minutes", type=float, help="timed run with two VMs (issue: 60)")
    parser.add_argument("--cycles", type=int, help="start/stop cycles (issue: 200)")
    parser.add_argument("--out", type=Path, default=Path("soak-out"),
                        help="folder for samples.csv, events.log, manager.log, summary.* "
                             "(one sub-folder per mode; default ./soak-out)")
    parser.add_argument("--interval", type=float, default=15.0,
                        help="seconds between samples in the timed run (default 15)")
    parser.add_argument("--warmup", type=float, default=120.0,
                        help="seconds of the timed run before the start figures (default 120)")
    parser.add_argument("--warmup-cycles", type=int, default=10,
                        help="cycles before the 'before' figures (default 10)")
    parser.add_argument("--second", type=Path, default=supervisor.FREEDOS,
                        help="image of VM 2 (default FreeDOS from the shared guests, else "
                             "the Demo VM's image)")
    parser.add_argument("--inject-none-leak", type=int, default=0, metavar="N",
                        help="self-check of the soak: the manager drops None's refcount N "
                             "times every 250 ms, as PySide6 6.12.0 did; the run must "
                             "then report a none_dealloc abort")
    parser.add_argument("--skip-binding-check", action="store_true",
                        help="self-check with PySide6 6.12.0 installed: start the manager "
                             "although vmgui refuses that binding at start-up, so the soak "
                             "must catch the abort itself")
    args = parser.parse_args(argv)
    if args.minutes is None and args.cycles is None:
        parser.error("give --minutes N, --cycles N or both")
    if args.minutes is not None and args.minutes * 60 <= args.warmup:
        parser.error(f"--minutes {args.minutes:g} leaves no time after the "
                     f"{args.warmup:g} s warm-up")
    if args.cycles is not None and args.cycles <= args.warmup_cycles:
        parser.error(f"--cycles {args.cycles} must be more than --warmup-cycles "
                     f"{args.warmup_cycles}")
    if not args.second.is_file() and args.second == supervisor.FREEDOS:
        args.second = supervisor.DEMO
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modes = [m for m, given in (("soak", args.minutes), ("cycles", args.cycles))
             if given is not None]
    ok = True
    for mode in modes:
        print(f"== {mode}: output in {args.out / mode}", flush=True)
        try:
            result = supervisor.run_mode(args, mode)
        except supervisor.SoakError as exc:
            print(f"soak: {exc}", file=sys.stderr)
            return 2
        print(summary.format_summary(result), flush=True)
        ok = ok and result["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
