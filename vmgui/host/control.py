"""The control socket: drive a running VM from outside its process.

Owns: :class:`ControlServer`, which a VM process (a ProcessHost child or a headless
``vmgui.host.vmprocess``) runs on threads next to its machine, listening on a unix socket
(``<vm folder>/control.sock``, mode 0600, created under a restrictive umask so it is never
reachable by other users, not even briefly; nothing listens on a network); and the client
side, :func:`request` / :func:`probe`, used by ``vmgui control``, ``vmgui start`` and
``vmgui list --running``.

Protocol: one JSON object per line each way.  A request names ``cmd`` and its arguments;
the reply is ``{"ok": true, ...}`` or ``{"ok": false, "error": "...", "reason": R}`` with R
``"usage"`` (bad request), ``"timeout"`` (a wait ran out), ``"crashed"`` (the guest
crashed) or ``"failed"``.  Commands: ``status``, ``pause``, ``resume``, ``reset``,
``poweroff``, ``screenshot {path}``, ``type {text}``, ``keys {keys}``,
``wait-text {text, timeout}``, ``text``, ``savestate {path, poweroff}``.  Paths must be absolute
(the VM process's working folder is not the client's).  After ``poweroff`` the server
answers and powers the machine off; the connection stays open until the process exits,
so a client that reads to the end knows the VM is gone.

A stale socket file (nothing answers: a crashed run) is replaced on start; a socket that
answers belongs to a running VM and is left alone (:class:`ControlError`).  The socket file
is removed at power-off, only if it is still the one this server made.

Thread rules: the machine is driven only through ``machine.send`` and read through
``display``/``text_lines``/``pending_keys`` (all any-thread); :class:`MachineHost` takes
the machine's events on the emulation thread and keeps the run state under a lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import threading
import time
from pathlib import Path

from vmgui.core import events as ev
from vmgui.host.base import EventRecord

OUTPUT_KEPT = 65536  # bytes of COM1 / debug-port output a VM process keeps

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
MAX_LINE = 1 << 20
SAVE_TIMEOUT_S = 60.0
DEFAULT_WAIT_S = 30.0
_UNIX_PATH_MAX = 107


class ControlError(Exception):
    """The control socket cannot be set up or reached; the message says why."""


class NotRunning(ControlError):
    """Nothing answers on the control socket."""


def socket_path(folder: Path) -> Path:
    return Path(folder) / SOCKET_NAME


@contextlib.contextmanager
def _addressable(path: Path):
    """``path`` as an AF_UNIX address; long paths go through /proc/self/fd/N/ (Linux)."""
    text = os.fsencode(path)
    if len(text) <= _UNIX_PATH_MAX:
        yield text
        return
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        yield os.fsencode(f"/proc/self/fd/{fd}/{path.name}")
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- the VM side

class MachineHost(EventRecord):
    """The hosting interface of :class:`vmgui.automation.session.Session` over a machine
    in this process, fed by the machine's events (install :meth:`on_event` in the event
    callback chain).  Events are applied as they come; :meth:`poll_events` returns none."""

    def __init__(self, machine=None) -> None:
        self.machine = machine
        self._init_record()
        self._saved: dict[str, str | None] = {}
        self._cond = threading.Condition()
        self.ready = threading.Event()  # set once ``machine`` is there
        if machine is not None:
            self.ready.set()

    def attach(self, machine) -> None:
        """The machine, when it is built after the server started listening."""
        self.machine = machine
        self.ready.set()

    def on_event(self, event) -> None:
        with self._cond:
            if isinstance(event, ev.StateChanged) and event.state is ev.RunState.RUNNING:
                self.crash = None  # reset (or a state load) got it going again
            self._apply(event)
            # a VM process may run for weeks: keep only the recent output
            del self.serial[:-OUTPUT_KEPT], self.debug[:-OUTPUT_KEPT], self.state_files[:-16]
            if isinstance(event, ev.StateSaved):
                self._saved[event.path] = event.error
            self._cond.notify_all()

    # the Session interface
    @staticmethod
    def now() -> float:
        return time.monotonic()

    @staticmethod
    def wait(seconds: float) -> None:
        time.sleep(seconds)

    def send(self, command) -> None:
        self.machine.send(command)

    def poll_events(self) -> list:
        return []

    def display(self):
        return self.machine.display()

    def text_lines(self) -> list[str]:
        return self.machine.text_lines()

    def pending_keys(self) -> int:
        return self.machine.pending_keys()

    @property
    def alive(self) -> bool:
        return self.state is not ev.RunState.POWERED_OFF

    def power_off(self, timeout: float = 10.0) -> None:
        self.machine.send(ev.PowerOff())
        self.wait_state(ev.RunState.POWERED_OFF, timeout)

    def wait_state(self, state: ev.RunState, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.state is state, timeout)

    def save_state(self, path: str, timeout: float = SAVE_TIMEOUT_S,
                   power_off: bool = False) -> str | None:
        """Save and wait for the machine's answer: None when saved, else the error.
        ``power_off``: the machine powers off in the same pause once saved."""
        with self._cond:
            self._saved.pop(path, None)
        self.machine.send(ev.SaveState(path, power_off=power_off))
        with self._cond:
            if not self._cond.wait_for(lambda: path in self._saved or not self.alive,
                                       timeout):
                return f"no answer from the machine within {timeout:g} s"
            if path not in self._saved:
                return "the machine powered off"
            return self._saved.pop(path)


class _Reply(Exception):
    def __init__(self, error: str, reason: str = "failed") -> None:
        super().__init__(error)
        self.reason = reason


def _claim(path: Path) -> None:
    """Make room for a new socket at ``path``: remove a stale one, refuse a live one."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlError(f"{path} exists and is not a socket; not replacing it")
    try:
        probe(path, timeout=2.0)
    except NotRunning:
        log.info("replacing the stale control socket %s", path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    raise ControlError(f"{path}: another VM process is already listening there")


class ControlServer:
    """Serves the control protocol for ``host`` (a :class:`MachineHost`) on ``path``."""

    def __init__(self, host: MachineHost, path: Path, *, name: str = "") -> None:
        self.host = host
        self.path = Path(path)
        self.name = name or self.path.parent.name
        self._sock: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._closed = False
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._accept, name="vmgui-control",
                                        daemon=True)

    def start(self) -> None:
        """Bind and listen (mode 0600 from the start); raises :class:`ControlError`."""
        _claim(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            with _addressable(self.path) as address:
                sock.bind(address)
            os.chmod(self.path, 0o600)
            st = os.stat(self.path)
            self._inode = (st.st_dev, st.st_ino)
            sock.listen(8)
        except OSError as exc:
            sock.close()
            raise ControlError(f"{self.path}: cannot listen ({exc.strerror or exc})") from exc
        finally:
            os.umask(old)
        self._sock = sock
        self._thread.start()
        # the automation verbs pull in numpy and PIL: load them now, not on the first wait
        threading.Thread(target=_preload, name="vmgui-control-preload", daemon=True).start()
        log.info("control socket %s", self.path)

    def remove_socket(self) -> None:
        """Delete the socket file if it is still ours."""
        if self._inode is None:
            return
        with contextlib.suppress(OSError):
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self._inode:
                os.unlink(self.path)
        self._inode = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.remove_socket()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()

    # ------------------------------------------------------------------ serving
    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="vmgui-control-conn",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        keep_open = False
        try:
            reader = conn.makefile("rb")
            while True:
                line = reader.readline(MAX_LINE)
                if not line:
                    return
                if not line.strip():
                    continue
                reply, after = self._handle_line(line)
                conn.sendall(json.dumps(reply).encode("utf-8") + b"\n")
                if after is not None:
                    keep_open = True  # the process's exit closes it: EOF means "gone"
                    after()
                    return
        except OSError:
            return
        finally:
            if not keep_open:
                with contextlib.suppress(OSError):
                    conn.close()

    def _handle_line(self, line: bytes):
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "not a JSON line", "reason": "usage"}, None
        try:
            if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                raise _Reply('a request is a JSON object with "cmd"', "usage")
            return self.handle(request)
        except _Reply as exc:
            return {"ok": False, "error": str(exc), "reason": exc.reason}, None
        except Exception as exc:  # noqa: BLE001 - report it, keep serving
            log.exception("control request %r", line[:200])
            return {"ok": False, "error": f"internal error: {exc}", "reason": "failed"}, None

    def handle(self, request: dict):
        """(reply, action to run after replying or None)."""
        from vmgui.automation.session import (
            AutomationError,
            AutomationTimeout,
            GuestCrashedError,
            Session,
        )

        cmd = request["cmd"]
        host = self.host
        logs = self.path.parent / "logs"
        session = Session(host, artifacts=logs if logs.is_dir() else None)
        if cmd == "status":
            return self._status(), None
        if not host.ready.wait(60.0):
            raise _Reply("the machine is still being built")
        if not host.alive:
            raise _Reply("the VM is powering off")
        try:
            if cmd == "poweroff":
                self.remove_socket()
                return {"ok": True}, host.power_off
            if cmd in ("pause", "resume", "reset"):
                host.send({"pause": ev.Pause, "resume": ev.Resume, "reset": ev.Reset}[cmd]())
                target = {"pause": ev.RunState.PAUSED, "resume": ev.RunState.RUNNING}.get(cmd)
                if target is not None and host.crash is None:
                    host.wait_state(target, 5.0)
                return {"ok": True, "state": self._state()}, None
            if cmd == "text":
                return {"ok": True, "text": session.text()}, None
            session.pump()  # a crashed guest answers every other verb with its crash
            if cmd == "screenshot":
                path = _abs_path(request)
                session.screenshot(path)
                return {"ok": True, "path": str(path)}, None
            if cmd == "type":
                session.type_text(_str_arg(request, "text"))
                return {"ok": True}, None
            if cmd == "keys":
                session.press(_str_arg(request, "keys"))
                return {"ok": True}, None
            if cmd == "wait-text":
                timeout = request.get("timeout", DEFAULT_WAIT_S)
                if not isinstance(timeout, (int, float)) or timeout < 0:
                    raise _Reply("timeout: a number of seconds >= 0", "usage")
                session.wait_for_text(_str_arg(request, "text"), float(timeout))
                return {"ok": True}, None
            if cmd == "savestate":
                path = _abs_path(request)
                power_off = request.get("poweroff") is True
                error = host.save_state(str(path), power_off=power_off)
                if error is not None:
                    raise _Reply(f"saving the state to {path}: {error}")
                if power_off:  # the machine stopped in the same pause as the save
                    self.remove_socket()
                    return {"ok": True, "path": str(path)}, host.power_off
                return {"ok": True, "path": str(path)}, None
        except GuestCrashedError as exc:
            raise _Reply(str(exc), "crashed") from None
        except AutomationTimeout as exc:
            raise _Reply(str(exc), "timeout") from None
        except (AutomationError, KeyError, ValueError) as exc:
            raise _Reply(str(exc).strip("'\""), "usage") from None
        except OSError as exc:
            raise _Reply(f"{exc.filename or ''}: {exc.strerror or exc}") from None
        raise _Reply(f"unknown command {cmd!r}", "usage")

    def _state(self) -> str:
        if self.host.crash is not None and self.host.state is not ev.RunState.POWERED_OFF:
            return ev.RunState.CRASHED.value
        return self.host.state.value

    def _status(self) -> dict:
        crash = self.host.crash
        return {"ok": True, "name": self.name, "pid": os.getpid(), "state": self._state(),
                "uptime": round(time.monotonic() - self._started, 3),
                "crash": None if crash is None else {"reason": crash.reason,
                                                     "report": crash.report}}


def _preload() -> None:
    with contextlib.suppress(Exception):
        import vmgui.automation.session  # noqa: F401


def _str_arg(request: dict, key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise _Reply(f'"{key}": a string is required', "usage")
    return value


def _abs_path(request: dict) -> Path:
    path = Path(_str_arg(request, "path"))
    if not path.is_absolute():
        raise _Reply(f"path {path}: must be absolute", "usage")
    return path


def start_server(host: MachineHost, path: Path | None, name: str = "") -> ControlServer | None:
    """A started server, or None (logged) when ``path`` is None or cannot be used."""
    if path is None:
        return None
    server = ControlServer(host, path, name=name)
    try:
        server.start()
    except ControlError as exc:
        log.warning("no control socket: %s", exc)
        return None
    return server


# ---------------------------------------------------------------------- the client side

class Connection:
    """One connection to a VM's control socket."""

    def __init__(self, path: Path, timeout: float | None = 5.0) -> None:
        self.path = Path(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            with _addressable(self.path) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
            sock.close()
            raise NotRunning(f"{path}: nothing listens ({exc.strerror or exc})") from exc
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self._reader = sock.makefile("rb")

    def request(self, request: dict, timeout: float | None = None) -> dict:
        self.sock.settimeout(timeout)
        self.sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
        line = self._reader.readline(MAX_LINE)
        if not line:
            raise NotRunning(f"{self.path}: the VM closed the connection")
        return json.loads(line)

    def wait_closed(self, timeout: float) -> bool:
        """Wait until the VM process closes the connection (it exits); True if it did."""
        self.sock.settimeout(timeout)
        try:
            while self._reader.read(4096):
                pass
        except TimeoutError:
            return False
        except OSError:
            pass
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._reader.close()
            self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def request(path: Path, req: dict, timeout: float | None = None) -> dict:
    """One request on a new connection (``timeout`` None: wait as long as it takes)."""
    with Connection(path) as conn:
        return conn.request(req, timeout)


def probe(path: Path, timeout: float = 2.0) -> dict:
    """The VM's status; :class:`NotRunning` when nothing answers."""
    try:
        with Connection(path, timeout) as conn:
            return conn.request({"cmd": "status"}, timeout)
    except (TimeoutError, ValueError) as exc:
        raise NotRunning(f"{path}: no answer ({exc})") from exc
    except PermissionError:
        raise
    except OSError as exc:
        raise NotRunning(f"{path}: {exc.strerror or exc}") from exc
