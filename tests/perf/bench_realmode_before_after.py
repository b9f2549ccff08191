"""Real-mode figures before and after issue 10, side by side in one run: FreeDOS power-on
to ``A:\\>``, the cost of a BIOS call, and the CPU of an idle FreeDOS ("must not get
worse", issue 10 point 8).

Method: each round runs tests/perf/realmode_probe.py once per tree, alternating, in a
fresh process with that tree first on PYTHONPATH (so both trees run the same measuring
code); medians over the rounds.  The older tree is a git worktree of the commit before
issue 10's work, made once with ``git worktree add /tmp/base c1c8fb8`` (copy the built
``vmgui/core/_stophook*.so`` into it: the native stop hook is a build product) and with
``../shared`` beside it (``ln -s /work/shared /tmp/shared``); FreeDOS is read from there.

Run from the repository root: ``python -m tests.perf.bench_realmode_before_after
--base /tmp/base [--rounds 5] [--calls 100000] [--idle-seconds 10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).resolve().parent / "realmode_probe.py"


def probe(tree: Path, case: str, arg: str) -> object:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, str(PROBE), case, arg], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{case} on {tree} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the older tree")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    trees = {"before": args.base.resolve(), "after": ROOT}
    for name, tree in trees.items():
        head = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %s"],
                              capture_output=True, text=True, check=False).stdout.strip()
        print(f"{name:6s} {tree}: {head[:70]}")
    cases = (("freedos", "", "FreeDOS power-on to A:\\> (s)"),
             ("bios", str(args.calls), "BIOS call (us)"),
             ("idle", str(args.idle_seconds), "FreeDOS idle at A:\\> (% of a core)"))
    for case, arg, label in cases:
        samples: dict[str, list[object]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                samples[name].append(probe(tree, case, arg))
        print(label)
        for name in trees:
            values = samples[name]
            if isinstance(values[0], dict):
                for key in values[0]:
                    series = [v[key] for v in values]
                    print(f"  {name:6s} {key:18s} median {statistics.median(series):8.3f}  "
                          f"{[round(x, 3) for x in series]}")
            else:
                print(f"  {name:6s} median {statistics.median(values):8.3f}  "
                      f"{[round(x, 3) for x in values]}")


if __name__ == "__main__":
    main()
