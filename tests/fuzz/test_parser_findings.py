"""Inputs the parser fuzz tests found that got a raw Python exception (RecursionError,
KeyError, TypeError, UnicodeDecodeError, OSError) instead of the module's own named
error: vmgui/core/statefile.py (state files) and vmgui/automation/scenario.py (scenario
files).  Each is pinned here as the smallest input that showed it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vmgui.automation import scenario
from vmgui.core import statefile as sf


def _state_with_header(path: Path, header: bytes, payload: bytes = b"") -> Path:
    path.write_bytes(sf._PREFIX.pack(sf.MAGIC, 1, len(header)) + header + payload)
    return path


STATE_HEADERS = {
    "nested-100000-deep": b"[" * 100000 + b"]" * 100000,
    "meta-is-a-string": json.dumps({"meta": "abcdef", "parts": []}).encode(),
    "meta-is-a-list": json.dumps({"meta": [[1, 2, 3]], "parts": []}).encode(),
    "part-without-size": json.dumps({"parts": [{"name": "cpu", "length": 0}]}).encode(),
    "part-name-is-a-table": json.dumps(
        {"parts": [{"name": {}, "size": 0, "length": 0}]}).encode(),
}


@pytest.mark.parametrize("name", sorted(STATE_HEADERS))
def test_state_file_header_read_meta(tmp_path, name):
    path = _state_with_header(tmp_path / "x.state", STATE_HEADERS[name])
    with pytest.raises(sf.StateFileError):
        sf.read_meta(path)


def test_state_file_part_without_checksum(tmp_path):
    header = json.dumps({"profile": sf.PROFILE, "unicorn": sf.engine_version(),
                         "parts": [{"name": "cpu", "size": 1, "length": 1}]}).encode()
    path = _state_with_header(tmp_path / "x.state", header, b"\x00")
    with pytest.raises(sf.StateFileError):
        sf.read_state(path)


SCENARIOS = {
    "not-utf8": b'[vm]\nimage = "a.img"\n# \xff\xfe\n',
    "nested-5000-deep": b"step = " + b"{a = " * 5000 + b"1" + b"}" * 5000 + b"\n",
    "memory-is-a-list": b'[vm]\nimage = "a.img"\nmemory = [1]\n',
    "step-is-a-date": b'step = 2001-02-03\n[vm]\nimage = "a.img"\n',
    "step-is-a-list-of-tables": b'step = [[{a = 1}]]\n[vm]\nimage = "a.img"\n',
    "image-name-too-long": b'[vm]\nimage = "' + b"x" * 5000 + b'"\n',
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_load(tmp_path, name):
    (tmp_path / "a.img").write_bytes(bytes(512))
    path = tmp_path / "s.toml"
    path.write_bytes(SCENARIOS[name])
    with pytest.raises(scenario.ScenarioError):
        scenario.load(path)


def test_scenario_needle_name_too_long(tmp_path):
    (tmp_path / "a.img").write_bytes(bytes(512))
    path = tmp_path / "s.toml"
    path.write_bytes(b'[vm]\nimage = "a.img"\n[[step]]\nwait_screen = "' + b"x" * 5000 + b'"\n')
    with pytest.raises(scenario.ScenarioError):
        scenario.load(path)
