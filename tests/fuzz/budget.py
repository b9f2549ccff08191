"""Settings shared by the fuzz tests: a small budget for the suite.

Shrinking is off by default: a failing example here is a whole machine per try, and
hypothesis can spend minutes shrinking one (the failure is reported unshrunk, with its
reproduction seed).  ``VMGUI_FUZZ_SHRINK=1`` turns it back on for debugging;
``VMGUI_FUZZ_EXAMPLES=N`` runs N examples per test instead of the suite's budget.
The suite draws the same examples on every run (derandomised: a failure here is never a
flake and always reproduces); ``VMGUI_FUZZ_RANDOM=1`` explores new ones each run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings


def fuzz_settings(examples: int) -> settings:
    phases = list(Phase)
    if os.environ.get("VMGUI_FUZZ_SHRINK") != "1":
        phases.remove(Phase.shrink)
    return settings(max_examples=int(os.environ.get("VMGUI_FUZZ_EXAMPLES", examples)),
                    deadline=None, phases=phases, database=None,
                    derandomize=os.environ.get("VMGUI_FUZZ_RANDOM") != "1",
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow,
                                           HealthCheck.data_too_large])
