"""``vmgui script FILE.toml [--out DIR]``: run a scenario file (see
vmgui.automation.scenario) and write its screenshots and manifest.

Exit status as for ``vmgui run``: 0 done, 2 bad scenario (named by file and line, found
before the VM starts), 3 a wait timed out, 4 the guest crashed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser("script", help="run a scenario file: a VM and steps in TOML",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="the scenario (.toml)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the screenshots and manifest.json "
                             "(default: out/ beside the scenario)")
    parser.set_defaults(handler=run_script)


def run_script(args: argparse.Namespace) -> int:
    from vmgui.automation import scenario  # heavy (machine, numpy): only when used
    from vmgui.automation.session import AutomationTimeout, GuestCrashedError

    try:
        loaded = scenario.load(args.file)
    except scenario.ScenarioError as exc:
        print(f"vmgui script: {exc}", file=sys.stderr)
        return 2
    out = args.out or (args.file.parent / "out")
    try:
        scenario.run(loaded, out)
    except AutomationTimeout as exc:
        print(f"vmgui script: {exc}", file=sys.stderr)
        return 3
    except GuestCrashedError as exc:
        print(f"vmgui script: {exc}", file=sys.stderr)
        return 4
    except (OSError, ValueError) as exc:
        print(f"vmgui script: {exc}", file=sys.stderr)
        return 2
    return 0
