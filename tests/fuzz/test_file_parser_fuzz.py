"""Fuzz: damaged state files, overlays, scenario files and control-socket requests.

Each starts from a valid input vmgui made itself and damages it (byte edits; for state
files also headers with random JSON in place of valid fields; for scenarios random TOML
values; for requests random JSON and random bytes).  Property: a result, or vmgui's own
named exception for that input (StateFileError/RestoreError, OverlayError and the
DiskImageError family it belongs to, ScenarioError), never a KeyError, TypeError,
RecursionError, UnicodeDecodeError or any other; a control request always gets a reply
object naming its reason, never an "internal error".
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmgui.automation import scenario
from vmgui.core import snapshot
from vmgui.core import statefile as sf
from vmgui.core.machine import Machine, MachineConfig
from vmgui.host.control import ControlServer, MachineHost
from vmgui.storage.image import DiskImageError
from vmgui.storage.overlay import Overlay, is_overlay

from .budget import fuzz_settings
from .mutations import (
    byte_mutations,
    check_raises_only,
    deep_json,
    deep_toml,
    toml_mutations,
    toml_values,
)

FUZZ = fuzz_settings(150)
DISK = 256 * 1024
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10)


class Valid:
    """A saved machine state, an overlay with data over a raw base, a scenario file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        floppy = root / "a.img"
        with open(floppy, "wb") as f:
            f.write(b"\xfa\xf4" + bytes(508) + b"\x55\xaa")
            f.truncate(1474560)
        self.floppy = floppy
        machine = Machine(MachineConfig(floppies=(floppy,), memory_mb=2, native_stop=False))
        machine.power_on()
        snapshot.save(machine, root / "valid.state")
        machine.close()
        self.state = (root / "valid.state").read_bytes()
        base = root / "base.img"
        base.write_bytes(bytes(range(256)) * (DISK // 256))
        with Overlay.create(root / "valid.cow", base) as ov:
            ov.write(4096, b"layer data" * 500)
            ov.write(DISK - 700, b"end" * 200)
        self.overlay = (root / "valid.cow").read_bytes()
        self.scenario = (
            b'[vm]\nimage = "a.img"\nmemory = 16\n\n[[step]]\nwait_text = "A:"\ntimeout = 3\n'
            b'\n[[step]]\ntype = "dir\\n"\n\n[[step]]\nscreenshot = "x.png"\n'
            b'\n[[step]]\nwait_screen = "x.png"\nregion = [0, 0, 8, 8]\nthreshold = 0.5\n'
        )
        (root / "x.png").write_bytes(b"")  # a needle that exists (and is not a picture)


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Valid:
    return Valid(tmp_path_factory.mktemp("file-parsers"))


# ---------------------------------------------------------------------------- state files
@st.composite
def damaged_headers(draw, blob: bytes) -> bytes:
    """The state file with its JSON header rewritten: a field replaced by random JSON,
    or the whole header nested thousands deep; the length prefix kept consistent."""
    _, version, length = sf._PREFIX.unpack_from(blob)
    start = sf._PREFIX.size
    header = json.loads(blob[start : start + length])
    if draw(st.integers(0, 5)) == 0:
        raw = deep_json(draw(st.sampled_from([1000, 100000])))
    else:
        target = header
        if draw(st.booleans()) and header["parts"]:
            target = draw(st.sampled_from(header["parts"]))
        key = draw(st.sampled_from(sorted(target) + ["parts", "meta", "extra"]))
        target[key] = draw(json_values)
        raw = json.dumps(header).encode()
    return sf._PREFIX.pack(sf.MAGIC, version, len(raw)) + raw + blob[start + length:]


@FUZZ
@given(data=st.data())
def test_damaged_state_file(valid, tmp_path, data):
    blob = data.draw(st.one_of(byte_mutations(valid.state), damaged_headers(valid.state)))
    path = tmp_path / "damaged.state"
    path.write_bytes(blob)
    check_raises_only(lambda: sf.read_meta(path), (sf.StateFileError,), "read_meta")
    check_raises_only(lambda: sf.read_state(path, check_engine=False), (sf.StateFileError,),
                      "read_state")
    machine = Machine(MachineConfig(floppies=(valid.floppy,), memory_mb=2, native_stop=False))
    try:
        machine.power_on()
        check_raises_only(lambda: snapshot.load(machine, path),
                          (sf.StateFileError, snapshot.RestoreError), "snapshot.load")
    finally:
        machine.close()


# ---------------------------------------------------------------------------- overlays
@FUZZ
@given(data=st.data())
def test_damaged_overlay(valid, data):
    blob = data.draw(byte_mutations(valid.overlay))
    path = valid.root / "damaged.cow"  # next to base.img, which the header names
    path.write_bytes(blob)
    check_raises_only(lambda: is_overlay(path), (), "is_overlay")

    def read_all() -> None:
        with Overlay.open(path, read_only=True) as ov:
            ov.read(0, ov.size)

    check_raises_only(read_all, (DiskImageError,), "Overlay.open + read")


# ---------------------------------------------------------------------------- scenarios
@FUZZ
@given(data=st.data())
def test_damaged_scenario(valid, data):
    doc = tomllib.loads(valid.scenario.decode())
    text = data.draw(st.one_of(byte_mutations(valid.scenario), toml_mutations(doc),
                               deep_toml("step"), st.binary(max_size=100)))
    path = valid.root / "damaged.toml"
    path.write_bytes(text)
    check_raises_only(lambda: scenario.load(path), (scenario.ScenarioError,), "scenario.load")


# ---------------------------------------------------------------------------- control
REASONS = {"usage", "timeout", "crashed", "busy", "idle", "failed"}
VALID_REQUESTS = [{"cmd": "status"}, {"cmd": "type", "text": "dir\n"},
                  {"cmd": "wait-text", "text": "A:", "timeout": 5},
                  {"cmd": "screenshot", "path": "/tmp/x.png"}, {"cmd": "keys", "keys": "ctrl+c"},
                  {"cmd": "savestate", "path": "/tmp/s.state", "poweroff": True}]


@st.composite
def requests(draw) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return deep_json(draw(st.sampled_from([100, 5000, 200000])))
    request = dict(draw(st.sampled_from(VALID_REQUESTS)))
    if kind == 2:
        key = draw(st.sampled_from(sorted(request) + ["timeout", "poweroff", "x"]))
        request[key] = draw(json_values)
        line = json.dumps(request).encode()
    elif kind == 3:
        line = json.dumps(draw(json_values)).encode()
    else:
        line = draw(byte_mutations(json.dumps(request).encode()))
    return line


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server whose machine is powering off: every request is parsed and checked in
    full, and none starts a wait (a random 'wait-text' must not block the test)."""
    from vmgui.core import events as ev

    host = MachineHost()
    host.ready.set()
    host.state = ev.RunState.POWERED_OFF
    return ControlServer(host, tmp_path_factory.mktemp("ctl") / "control.sock")


@FUZZ
@given(line=requests())
def test_control_request_always_gets_a_reply(server, line):
    reply, _ = check_raises_only(lambda: server._handle_line(line), (), "_handle_line")
    assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool)
    json.dumps(reply)  # it can be sent
    if not reply["ok"]:
        assert isinstance(reply.get("error"), str) and reply.get("reason") in REASONS
        assert not reply["error"].startswith("internal error"), reply


def test_toml_values_strategy_is_serialisable():
    """Guard for the strategies above: random TOML values must survive tomli_w."""
    import tomli_w
    from hypothesis import find

    value = find(toml_values, lambda v: isinstance(v, dict) and len(v) >= 2)
    tomllib.loads(tomli_w.dumps({"x": value}))
