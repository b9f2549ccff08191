"""Waits and sleeps that would never end (or not sleep) are refused before anything
waits: the automation API (Session.wait_for_text(timeout=nan), sleep(inf), ...) and the
steps of scenario files (``timeout = nan``, ``sleep = inf``, a screenshot ``scale`` of
infinity); a scenario file that is a FIFO, a folder or huge, or names a needle picture
the OS cannot use, is a ScenarioError naming it (issue 12; vmgui.automation.session,
vmgui.automation.scenario)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fifo import fifo_with_writer
from vmgui.automation import scenario
from vmgui.automation.session import AutomationError, AutomationTimeout, Session

NAN, INF = float("nan"), float("inf")
MAX_WAITS = 1000  # a wait that takes more polls than this would never have ended


class _Host:
    """Just enough of a host for Session's waits: guest time advances by what is
    waited; a wait that goes on past MAX_WAITS polls fails the test instead of hanging."""

    def __init__(self) -> None:
        self.time, self.waits = 0.0, 0
        self.crash, self.serial = None, b""

    def now(self) -> float:
        return self.time

    def wait(self, seconds: float) -> None:
        self.waits += 1
        assert self.waits < MAX_WAITS, "the wait would never have ended"
        self.time += seconds

    def poll_events(self) -> list:
        return []

    def text_lines(self) -> list[str]:
        return ["nothing here"]


# ---------------------------------------------------------------------- Session API
@pytest.mark.parametrize("verb", ["wait_for_text", "sleep", "poll_until"])
@pytest.mark.parametrize("seconds", [NAN, INF, -INF, 1e400, -1, 86400.5, True, "5"],
                         ids=["nan", "inf", "-inf", "1e400", "negative", "over-a-day",
                              "true", "text"])
def test_session_refuses_seconds_that_never_end_before_waiting(verb, seconds):
    host = _Host()
    session = Session(host)
    call = {"wait_for_text": lambda: session.wait_for_text("NEVER", timeout=seconds),
            "sleep": lambda: session.sleep(seconds),
            "poll_until": lambda: session._poll_until(lambda: False, "x", seconds),
            }[verb]
    with pytest.raises(AutomationError, match="must be a number of seconds from 0 to "
                                              "86400") as info:
        call()
    assert not isinstance(info.value, AutomationTimeout)
    assert host.waits == 0 and host.time == 0  # refused before anything waited


def test_session_still_waits_and_sleeps_for_good_numbers():
    host = _Host()
    session = Session(host)
    session.sleep(0.1)
    assert host.time >= 0.1
    with pytest.raises(AutomationTimeout, match="timed out after 0.5 s"):
        session.wait_for_text("NEVER", timeout=0.5)
    session.sleep(0)


# ---------------------------------------------------------------------- scenarios
def _scenario(tmp_path: Path, step: str) -> Path:
    (tmp_path / "a.img").write_bytes(bytes(512))
    path = tmp_path / "s.toml"
    path.write_text(f'[vm]\nimage = "a.img"\n\n[[step]]\ntype = "x"\n\n[[step]]\n{step}\n')
    return path


@pytest.mark.parametrize(("step", "message"), [
    ('wait_text = "x"\ntimeout = nan', "step 2: wait_text: timeout nan: must be a number of "
                                       "seconds from 0 to 86400"),
    ('wait_text = "x"\ntimeout = inf', "step 2: wait_text: timeout inf: must be"),
    ('wait_text = "x"\ntimeout = 1e400', "step 2: wait_text: timeout inf: must be"),
    ('wait_text = "x"\ntimeout = true', "step 2: wait_text: timeout True: must be"),
    ('wait_still = 1\ntimeout = 100000', "step 2: wait_still: timeout 100000: must be"),
    ("sleep = inf", "step 2: sleep: sleep inf: must be a number of seconds"),
    ("sleep = nan", "step 2: sleep: sleep nan: must be"),
    ("wait_still = -inf", "step 2: wait_still: wait_still -inf: must be"),
    ('screenshot = "a.png"\nscale = inf', "step 2: screenshot: scale inf must be a whole "
                                          "number from 1 to 16"),
    ('screenshot = "a.png"\nscale = 1000000', "scale 1000000 must be a whole number"),
    ('screenshot = "a.png"\nscale = 2.5', "scale 2.5 must be a whole number"),
], ids=["timeout-nan", "timeout-inf", "timeout-1e400", "timeout-true", "timeout-over-a-day",
        "sleep-inf", "sleep-nan", "wait-still-minus-inf", "scale-inf", "scale-huge",
        "scale-fraction"])
def test_scenario_numbers_that_never_end_are_refused_naming_the_step(tmp_path, step,
                                                                      message):
    path = _scenario(tmp_path, step)
    with pytest.raises(scenario.ScenarioError, match=re.escape(message)) as info:
        scenario.load(path)
    assert str(info.value).startswith(f"{path}:7: step 2: ")


def test_a_scenario_file_that_is_a_fifo_or_a_folder_is_refused_without_reading(tmp_path):
    with fifo_with_writer(tmp_path / "f.toml") as fifo:
        with pytest.raises(scenario.ScenarioError,
                           match=re.escape(f"{fifo}: is a FIFO, not a scenario file")):
            scenario.load(fifo)
    with pytest.raises(scenario.ScenarioError,
                       match=re.escape(f"{tmp_path}: is a directory, not a scenario file")):
        scenario.load(tmp_path)
    with pytest.raises(scenario.ScenarioError, match="cannot read the scenario \\(No such"):
        scenario.load(tmp_path / "nope.toml")


def test_a_needle_name_the_os_cannot_use_is_refused_naming_the_step(tmp_path):
    path = _scenario(tmp_path, 'wait_screen = "' + "x" * 5000 + '"')
    with pytest.raises(scenario.ScenarioError, match=re.escape(
            f"{path}:7: step 2: wait_screen: needle picture: cannot use the path (File name "
            "too long)")):
        scenario.load(path)


def test_a_huge_scenario_file_is_refused(tmp_path):
    path = _scenario(tmp_path, "sleep = 0")
    with path.open("a") as fh:
        fh.write("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(scenario.ScenarioError, match="larger than 1048576 bytes"):
        scenario.load(path)
