"""The control socket against clients that misbehave: raw sockets send what ``vmgui
control`` never would (NaN and huge time-outs, deeply nested JSON, endless lines, no
request at all, more connections than it serves) to a real :class:`ControlServer`.  Each
gets a named error reply; none holds a server thread for ever.  Also where the socket may
be made: never through a planted symbolic link, never in a folder others may write to."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmgui.core import events as ev
from vmgui.core.machine import Machine, MachineConfig
from vmgui.host.control import (
    COMMANDS,
    MAX_CONNECTIONS,
    MAX_LINE,
    MAX_WAIT_S,
    ControlError,
    ControlServer,
    MachineHost,
)

ECHO = Path(__file__).resolve().parents[2] / "tests" / "guests" / "echo.img"
CLIENT_TIMEOUT_S = 20.0  # a client gives up on a reply after this (a hang, not a slow reply)


class Client:
    """A raw control connection: bytes out, reply lines in."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(CLIENT_TIMEOUT_S)
        self.sock.connect(str(path))
        self._buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> dict | None:
        """The next reply line, None at the end of the connection."""
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, request: dict | bytes) -> dict | None:
        raw = request if isinstance(request, bytes) else json.dumps(request).encode()
        self.send(raw + b"\n")
        return self.reply()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve(tmp_path):
    """Factory: ``serve(**options)`` -> (server, socket path) of a started server with no
    machine (every argument is checked before the machine is needed).  Closed at teardown."""
    servers: list[ControlServer] = []
    clients: list[Client] = []

    def start(host: MachineHost | None = None, **options) -> Path:
        folder = tmp_path / f"vm{len(servers)}"
        folder.mkdir()
        server = ControlServer(host or MachineHost(), folder / "control.sock", **options)
        server.start()
        servers.append(server)
        return server.path

    def client(path: Path) -> Client:
        made = Client(path)
        clients.append(made)
        return made

    start.client = client
    yield start
    for made in clients:
        made.close()
    for server in servers:
        server.close()


def usage_error(reply: dict | None, *words: str) -> str:
    assert reply is not None, "the server closed the connection without a reply"
    assert reply["ok"] is False and reply["reason"] == "usage", reply
    for word in words:
        assert word in reply["error"], reply
    return reply["error"]


# ---------------------------------------------------------------------- numbers

@pytest.mark.parametrize("raw", [
    "NaN", "Infinity", "-Infinity", "1e400", "-1", "-0.001", "3600.5", "1e308",
    "9" * 4000, "true", "null", '"10"', "[1]", "{}",
])
def test_bad_wait_timeout_is_refused_by_name(serve, raw):
    """A NaN, infinite, negative or huge time-out would make wait-text wait for ever
    (NaN compares false with every deadline): each is refused before anything waits."""
    path = serve()
    client = serve.client(path)
    line = b'{"cmd": "wait-text", "text": "x", "timeout": ' + raw.encode() + b"}"
    error = usage_error(client.ask(line), '"timeout"')
    assert "seconds" in error and len(error) < 200
    assert client.ask({"cmd": "status"})["ok"] is True  # and the connection goes on


def test_other_arguments_checked_before_anything_is_done(serve):
    path = serve()
    client = serve.client(path)
    usage_error(client.ask({"cmd": "savestate", "path": "/tmp/x.state", "poweroff": "yes"}),
                '"poweroff"')
    usage_error(client.ask({"cmd": "screenshot", "path": "relative.png"}), "absolute")
    usage_error(client.ask({"cmd": "type", "text": 5}), '"text"')
    usage_error(client.ask({"cmd": "keys"}), '"keys"')
    usage_error(client.ask({"cmd": "frobnicate"}), "unknown command")
    usage_error(client.ask({"cmd": "x" * 10000}), "unknown command")


@pytest.fixture
def live_host(tmp_path):
    """A MachineHost over the echo guest running in this process, as a VM process has."""
    floppy = tmp_path / "echo.img"
    shutil.copyfile(ECHO, floppy)
    host = MachineHost()
    machine = Machine(MachineConfig(floppies=(floppy,)), on_event=host.on_event)
    host.attach(machine)
    thread = threading.Thread(target=machine.run, daemon=True)
    thread.start()
    yield host
    machine.send(ev.PowerOff())
    thread.join(10)


def test_live_machine_bad_timeout_refused_good_one_served(serve, live_host):
    path = serve(live_host)
    client = serve.client(path)
    usage_error(client.ask(b'{"cmd": "wait-text", "text": "READY", "timeout": NaN}'),
                '"timeout"')
    assert client.ask({"cmd": "wait-text", "text": "READY", "timeout": 15})["ok"] is True
    assert client.ask({"cmd": "wait-text", "text": "READY", "timeout": MAX_WAIT_S})["ok"]
    assert client.ask({"cmd": "wait-text", "text": "READY", "timeout": 0})["ok"] is True


# ---------------------------------------------------------------------- JSON and lines

@pytest.mark.parametrize("line", [
    b"[" * 100000 + b"]" * 100000,
    b'{"cmd": "status", "x": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    b'{"a":' * 50000 + b"1" + b"}" * 50000,
])
def test_deeply_nested_json_gets_a_reply(serve, line):
    path = serve()
    client = serve.client(path)
    usage_error(client.ask(line), "nested too deeply")
    assert client.ask({"cmd": "status"})["ok"] is True


@pytest.mark.parametrize(("line", "words"), [
    (b"\xff\xfe\x00garbage", ("not a JSON line",)),
    (b"{\"cmd\": \"status\"", ("not a JSON line",)),
    (b"[]", ('"cmd"',)),
    (b'{"cmd": 5}', ('"cmd"',)),
    (b"1" * 5000, ("not a JSON line",)),
])
def test_malformed_requests_get_a_reply(serve, line, words):
    path = serve()
    client = serve.client(path)
    usage_error(client.ask(line), *words)
    assert client.ask({"cmd": "status"})["ok"] is True


def test_line_longer_than_the_limit_is_refused_and_closed(serve):
    path = serve()
    client = serve.client(path)
    client.send(b"a" * (MAX_LINE + 1))  # no newline: the server must not wait for one
    usage_error(client.reply(), "limited to")
    assert client.reply() is None  # closed: nothing left of that line is read as requests


def test_line_at_the_limit_is_served(serve):
    path = serve()
    client = serve.client(path)
    head = b'{"cmd": "status", "pad": "'
    line = head + b"a" * (MAX_LINE - len(head) - 2) + b'"}'
    assert len(line) == MAX_LINE
    assert client.ask(line)["ok"] is True


# ---------------------------------------------------------------------- connections

def test_connections_beyond_the_limit_are_refused_with_a_reply(serve):
    path = serve()
    held = [serve.client(path) for _ in range(MAX_CONNECTIONS)]
    for client in held:  # each is being served (and so counted)
        assert client.ask({"cmd": "status"})["ok"] is True
    extra = serve.client(path)
    refused = extra.reply()
    assert refused is not None and refused["reason"] == "busy", refused
    assert "too many connections" in refused["error"]
    assert extra.reply() is None
    held[0].close()
    for _ in range(500):  # the server notices the close on its own thread: try again
        again = serve.client(path)
        reply = again.ask({"cmd": "status"})
        again.close()
        if reply is not None and reply["ok"]:
            break
        assert reply is None or reply["reason"] == "busy", reply
        threading.Event().wait(0.02)
    else:
        pytest.fail("a freed connection slot was never given out again")


def test_silent_client_is_told_and_closed(serve):
    path = serve(idle_timeout=0.3, max_connections=1)
    silent = serve.client(path)
    assert silent.ask({"cmd": "status"})["ok"] is True  # served, then says nothing more
    reply = silent.reply()
    assert reply is not None and reply["reason"] == "idle", reply
    assert silent.reply() is None
    assert serve.client(path).ask({"cmd": "status"})["ok"] is True  # its slot came back


def test_half_sent_line_does_not_hold_the_server(serve):
    path = serve(idle_timeout=0.3)
    slow = serve.client(path)
    slow.send(b'{"cmd": ')  # and then nothing: the whole line has a deadline
    reply = slow.reply()
    assert reply is not None and reply["reason"] == "idle", reply
    assert slow.reply() is None


# ---------------------------------------------------------------------- the socket file

def test_socket_is_private_even_with_an_open_umask(tmp_path):
    path = tmp_path / "control.sock"
    old = os.umask(0)
    try:
        server = ControlServer(MachineHost(), path)
        server.start()
    finally:
        assert os.umask(old) == 0  # the server left the process umask alone
    try:
        st = os.lstat(path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.geteuid()
    finally:
        server.close()


def test_socket_private_where_sockets_take_no_mode(tmp_path, monkeypatch):
    """Where a socket's own mode is not used for its file (not Linux) the umask is
    narrowed for the bind, and put back."""
    def no_fchmod(fd, mode):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "fchmod", no_fchmod)
    old = os.umask(0o022)
    try:
        server = ControlServer(MachineHost(), tmp_path / "control.sock")
        server.start()
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE(os.lstat(tmp_path / "control.sock").st_mode) == 0o600
    finally:
        server.close()


def test_socket_that_comes_out_open_is_not_served(tmp_path, monkeypatch):
    """The mode is checked, not trusted: a socket others could use is removed, refused."""
    monkeypatch.setattr(os, "fchmod", lambda fd, mode: None)
    old = os.umask(0)
    try:
        with pytest.raises(ControlError, match="not 600"):
            ControlServer(MachineHost(), tmp_path / "control.sock").start()
    finally:
        os.umask(old)
    assert not os.path.lexists(tmp_path / "control.sock")


@pytest.mark.parametrize("dangling", [False, True])
def test_planted_symlink_is_not_followed(tmp_path, dangling):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "victim"
    if not dangling:
        target.write_text("keep me")
        os.chmod(target, 0o644)
    folder = tmp_path / "vm"
    folder.mkdir()
    path = folder / "control.sock"
    path.symlink_to(target)
    with pytest.raises(ControlError, match="symbolic link"):
        ControlServer(MachineHost(), path).start()
    assert path.is_symlink() and os.readlink(path) == str(target)
    if dangling:
        assert not os.path.lexists(target)
    else:
        assert target.read_text() == "keep me"
        assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_world_writable_folder_is_refused(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    with pytest.raises(ControlError, match="writable by every user"):
        ControlServer(MachineHost(), folder / "control.sock").start()
    assert not (folder / "control.sock").exists()
    os.chmod(folder, 0o1777)  # sticky, as /tmp: others cannot replace what is ours
    server = ControlServer(MachineHost(), folder / "control.sock")
    server.start()
    server.close()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to give a folder to another user")
def test_folder_of_another_user_is_refused(tmp_path):
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    with pytest.raises(ControlError, match="belongs to user 65534"):
        ControlServer(MachineHost(), folder / "control.sock").start()


# ---------------------------------------------------------------------- fuzzed requests

REASONS = {"usage", "timeout", "crashed", "failed", "busy", "idle"}
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10)
_requests = st.fixed_dictionaries(
    {"cmd": st.sampled_from(sorted(COMMANDS)) | st.text(max_size=12)},
    optional={key: _json_values for key in ("text", "keys", "path", "timeout", "poweroff")})


@pytest.fixture(scope="module")
def stopped_server(tmp_path_factory):
    """A server whose VM is powering off: every request is parsed and checked, and then
    answered at once (nothing waits for a machine)."""
    host = MachineHost(machine=object())
    host.state = ev.RunState.POWERED_OFF
    server = ControlServer(host, tmp_path_factory.mktemp("fuzz") / "control.sock")
    yield server
    server.close()


def _answered(server: ControlServer, line: bytes) -> None:
    reply, after = server._handle_line(line)
    assert after is None
    json.dumps(reply)  # a reply can always be sent
    assert reply["ok"] is True or reply["reason"] in REASONS, reply


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.binary(max_size=200))
def test_random_bytes_always_get_a_reply(stopped_server, line):
    _answered(stopped_server, line)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=_requests)
def test_random_requests_always_get_a_reply(stopped_server, request):
    _answered(stopped_server, json.dumps(request).encode())


class SlowSaveHost(MachineHost):
    """save_state powers the machine off and takes a moment to come back, as a busy
    machine does: the VM process's main thread sees the power-off before the reply is
    sent (seen in CI: `vmgui control NAME savestate` said "not running")."""

    def __init__(self) -> None:
        super().__init__()
        self.ready.set()
        self.saved = threading.Event()

    @property
    def alive(self) -> bool:
        return True

    def save_state(self, path: str, power_off: bool = False) -> str | None:
        self.saved.set()
        threading.Event().wait(0.3)
        return None

    def power_off(self) -> None:
        pass


def test_closing_waits_for_a_reply_still_being_made(tmp_path):
    host = SlowSaveHost()
    folder = tmp_path / "vm"
    folder.mkdir()
    server = ControlServer(host, folder / "control.sock")
    server.start()
    client = Client(server.path)
    try:
        client.send(json.dumps({"cmd": "savestate", "path": str(folder / "s.state"),
                                "poweroff": True}).encode() + b"\n")
        assert host.saved.wait(CLIENT_TIMEOUT_S)
        server.close()  # what the VM process does once the machine thread has ended
        client.sock.setblocking(False)  # the reply must be there already
        reply = client.reply()
        assert reply == {"ok": True, "path": str(folder / "s.state")}
    finally:
        client.close()
        server.close()
