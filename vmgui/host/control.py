"""The control socket: drive a running VM from outside its process.

Owns: :class:`ControlServer`, which a VM process (a ProcessHost child or a headless
``vmgui.host.vmprocess``) runs on threads next to its machine, listening on a unix socket
(``<vm folder>/control.sock``; nothing listens on a network), and :class:`MachineHost`.
The client side (:func:`request`, :func:`probe`) is in :mod:`vmgui.host.control_client`
and re-exported here.

Protocol: one JSON object per line each way.  A request names ``cmd`` and its arguments;
the reply is ``{"ok": true, ...}`` or ``{"ok": false, "error": "...", "reason": R}`` with R
``"usage"`` (bad request), ``"timeout"`` (a wait ran out), ``"crashed"`` (the guest
crashed), ``"busy"`` (too many connections: try again), ``"idle"`` (no request came in
time: the connection closes) or ``"failed"``.  Commands: ``status``, ``pause``, ``resume``,
``reset``, ``poweroff``, ``screenshot {path}``, ``type {text}``, ``keys {keys}``,
``wait-text {text, timeout}``, ``text``, ``savestate {path, poweroff}``, ``media {drive,
path, readonly}`` (``drive`` one of "floppy-a", "floppy-b", "cdrom"; ``path`` null ejects;
the reply names the ``path`` now in the drive, or the error: a missing file, an image
that is not an ISO 9660 CD).  Paths must be
absolute (the VM process's working folder is not the client's); ``timeout`` is a finite
number of seconds from 0 to :data:`MAX_WAIT_S`.  Every argument is checked before
anything is done.  After ``poweroff`` the server answers and powers the machine off; the
connection stays open until the process exits, so a client that reads to the end knows
the VM is gone.

Limits, so that no client can hold the server: a request line is at most
:data:`MAX_LINE` bytes (a longer one is answered and the connection closed); at most
:data:`MAX_CONNECTIONS` connections are served at once (the next is answered "busy" and
closed); a connection with no complete request for :data:`IDLE_TIMEOUT_S` is answered
"idle" and closed, and so is one that does not read its replies for as long.

A stale socket file (nothing answers: a crashed run) is replaced on start; a socket that
answers belongs to a running VM and is left alone (:class:`ControlError`), and anything
else at the path (a file, a symbolic link) is refused, never followed.  The socket is
made with mode 0600 from the start, in a folder no other user may write to (refused
otherwise: they could replace it).  The socket file is removed at power-off, only if it
is still the one this server made.

Thread rules: the machine is driven only through ``machine.send`` and read through
``display``/``text_lines``/``pending_keys`` (all any-thread); :class:`MachineHost` takes
the machine's events on the emulation thread and keeps the run state under a lock.
"""

from __future__ import annotations

import contextlib
import errno
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
from vmgui.host.control_args import COMMANDS, MAX_WAIT_S, Reply, arguments, short
from vmgui.host.control_client import (  # re-exported: the client side lives there
    MAX_LINE,
    SOCKET_NAME,
    Connection,
    ControlError,
    NotRunning,
    addressable,
    probe,
    request,
    socket_path,
)

__all__ = ["COMMANDS", "MAX_LINE", "MAX_WAIT_S", "SOCKET_NAME", "Connection", "ControlError",
           "ControlServer", "MachineHost", "NotRunning", "probe", "request", "socket_path",
           "start_server"]

OUTPUT_KEPT = 65536  # bytes of COM1 / debug-port output a VM process keeps

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16  # served at once
REPLY_DRAIN_S = 5.0  # close(): how long replies still being made may hold the exit
IDLE_TIMEOUT_S = 120.0  # for a whole request line to arrive, or a reply to be taken
SAVE_TIMEOUT_S = 60.0


# ---------------------------------------------------------------------- the VM side

class MachineHost(EventRecord):
    """The hosting interface of :class:`vmgui.automation.session.Session` over a machine
    in this process, fed by the machine's events (install :meth:`on_event` in the event
    callback chain).  Events are applied as they come; :meth:`poll_events` returns none."""

    def __init__(self, machine=None) -> None:
        self.machine = machine
        self._init_record()
        self._saved: dict[str, str | None] = {}
        self._media: dict[str, ev.MediaChanged] = {}
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
            del self.media_changes[:-16]
            if isinstance(event, ev.StateSaved):
                self._saved[event.path] = event.error
            elif isinstance(event, ev.MediaChanged):
                self._media[event.drive] = event
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


    def change_media(self, drive: str, path: str | None, read_only: bool = False,
                     timeout: float = SAVE_TIMEOUT_S) -> ev.MediaChanged:
        """Insert ``path`` into ``drive`` (None: eject) and wait for the machine's answer;
        a MediaChanged whose ``error`` says why nothing changed (also a time-out)."""
        with self._cond:
            self._media.pop(drive, None)
        self.machine.send(ev.ChangeMedia(drive, path, read_only))
        with self._cond:
            if not self._cond.wait_for(lambda: drive in self._media or not self.alive,
                                       timeout):
                return ev.MediaChanged(drive, path, f"no answer from the machine within "
                                                    f"{timeout:g} s")
            if drive not in self._media:
                return ev.MediaChanged(drive, path, "the machine powered off")
            return self._media.pop(drive)


def _error(message: str, reason: str) -> dict:
    return {"ok": False, "error": message, "reason": reason}


def _check_folder(folder: Path) -> None:
    """Refuse a folder in which another user could replace the socket."""
    try:
        st = os.stat(folder)
    except OSError as exc:
        raise ControlError(f"{folder}: {exc.strerror or exc}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise ControlError(f"{folder}: not a folder")
    me = os.geteuid()
    if st.st_uid not in (me, 0):
        raise ControlError(f"{folder} belongs to user {st.st_uid}, not to this user ({me}): "
                           "they could replace the control socket; not listening there")
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise ControlError(f"{folder} is writable by every user (mode "
                           f"{stat.S_IMODE(st.st_mode):o}): anyone could replace the control "
                           "socket; not listening there (chmod o-w it)")


def _claim(path: Path) -> None:
    """Make room for a new socket at ``path``: remove a stale one, refuse a live one and
    anything else (a symbolic link is never followed)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise ControlError(f"{path} is a symbolic link; not following nor replacing it")
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


def _bind_private(sock: socket.socket, path: Path) -> None:
    """Bind ``sock`` at ``path`` with mode 0600 from the first instant.  Linux makes the
    socket file with the socket's own mode (set here, for this socket only); elsewhere the
    process umask is narrowed for the moment of the bind.  bind() never follows a link:
    anything at ``path`` makes it fail."""
    try:
        os.fchmod(sock.fileno(), 0o600)
        old_umask = None
    except OSError:
        old_umask = os.umask(0o177)
    try:
        with addressable(path) as address:
            sock.bind(address)
    finally:
        if old_umask is not None:
            os.umask(old_umask)


def _check_made(path: Path) -> tuple[int, int]:
    """(device, inode) of the socket just bound at ``path``, after checking that it is a
    socket of this user's that nobody else may use (else it is removed, if it is ours)."""
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    ours = stat.S_ISSOCK(st.st_mode) and st.st_uid == os.geteuid()
    if ours and not mode & 0o077:
        return st.st_dev, st.st_ino
    if ours:
        with contextlib.suppress(OSError):
            os.unlink(path)
    raise ControlError(f"{path}: the control socket came out with mode {mode:o} "
                       f"(owner {st.st_uid}), not 600; not serving on it")


class _LineTooLong(Exception):
    pass


class _LineReader:
    """Request lines from a connection: at most ``limit`` bytes each (newline not
    counted), each to arrive whole within the time-out given to :meth:`readline`."""

    def __init__(self, conn: socket.socket, limit: int) -> None:
        self._conn = conn
        self._limit = limit
        self._buf = bytearray()
        self._eof = False

    def readline(self, timeout: float) -> bytes | None:
        """The next line (b"" ending: the last, unterminated one), None at the end;
        :class:`_LineTooLong`, TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            end = self._buf.find(b"\n")
            if end > self._limit or (end < 0 and len(self._buf) > self._limit):
                raise _LineTooLong
            if end >= 0:
                line = bytes(self._buf[:end + 1])
                del self._buf[:end + 1]
                return line
            if self._eof:
                line, self._buf = bytes(self._buf), bytearray()
                return line or None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self._conn.settimeout(left)
            chunk = self._conn.recv(65536)
            if chunk:
                self._buf += chunk
            else:
                self._eof = True


class ControlServer:
    """Serves the control protocol for ``host`` (a :class:`MachineHost`) on ``path``.
    ``max_connections`` and ``idle_timeout``: see the module's limits."""

    def __init__(self, host: MachineHost, path: Path, *, name: str = "",
                 max_connections: int = MAX_CONNECTIONS,
                 idle_timeout: float = IDLE_TIMEOUT_S) -> None:
        self.host = host
        self.path = Path(path)
        self.name = name or self.path.parent.name
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._sock: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._closed = False
        self._started = time.monotonic()
        self._open = 0  # connections being served
        self._open_lock = threading.Lock()
        # requests being handled and answered: close() waits for their replies (the
        # process exits right after it, and a savestate that powers off ends it at once)
        self._replying = 0
        self._replied = threading.Condition()
        self._thread = threading.Thread(target=self._accept, name="vmgui-control",
                                        daemon=True)

    def start(self) -> None:
        """Bind and listen (mode 0600 from the start); raises :class:`ControlError`."""
        _check_folder(self.path.parent)
        _claim(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _bind_private(sock, self.path)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise ControlError(f"{self.path}: something was put there while the "
                                   "control socket was being made; not replacing it") from exc
            raise ControlError(f"{self.path}: cannot listen ({exc.strerror or exc})") from exc
        try:
            self._inode = _check_made(self.path)
            sock.listen(self.max_connections)
        except (OSError, ControlError) as exc:
            sock.close()
            self.remove_socket()
            if isinstance(exc, ControlError):
                raise
            raise ControlError(f"{self.path}: cannot listen ({exc.strerror or exc})") from exc
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
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._inode:
                os.unlink(self.path)
        self._inode = None

    def close(self, drain_s: float = REPLY_DRAIN_S) -> None:
        """Stop listening; wait up to ``drain_s`` for the replies being made to go out
        (the VM process exits next: a client must not get EOF instead of its answer)."""
        if self._closed:
            return
        self._closed = True
        self.remove_socket()
        with self._replied:
            if not self._replied.wait_for(lambda: self._replying == 0, drain_s):
                log.warning("control socket %s: closing with %d replies unsent",
                            self.path, self._replying)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()

    # ------------------------------------------------------------------ serving
    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError as exc:
                if self._closed or exc.errno in (errno.EBADF, errno.EINVAL):
                    return
                log.warning("control socket %s: accept: %s", self.path, exc)
                time.sleep(0.1)  # out of file descriptors, say: let some close
                continue
            with self._open_lock:
                admitted = self._open < self.max_connections
                self._open += admitted
            if not admitted:
                self._refuse(conn, f"too many connections ({self.max_connections} open); "
                                   "try again when one has closed")
                continue
            try:
                threading.Thread(target=self._serve, args=(conn,), name="vmgui-control-conn",
                                 daemon=True).start()
            except RuntimeError:  # no thread to be had
                self._release()
                self._refuse(conn, "the VM process cannot start a thread for this "
                                   "connection; try again later")

    def _release(self) -> None:
        with self._open_lock:
            self._open -= 1

    @staticmethod
    def _refuse(conn: socket.socket, message: str) -> None:
        log.warning("control: refused a connection: %s", message)
        with contextlib.suppress(OSError):
            conn.settimeout(1.0)
            conn.sendall(json.dumps(_error(message, "busy")).encode("utf-8") + b"\n")
        with contextlib.suppress(OSError):
            conn.close()

    def _serve(self, conn: socket.socket) -> None:
        keep_open = False
        try:
            reader = _LineReader(conn, MAX_LINE)
            while True:
                try:
                    line = reader.readline(self.idle_timeout)
                except TimeoutError:
                    self._send(conn, _error(f"no request within {self.idle_timeout:g} s; "
                                            "closing the connection", "idle"))
                    return
                except _LineTooLong:
                    self._send(conn, _error(f"a request line is limited to {MAX_LINE} "
                                            "bytes; closing the connection", "usage"))
                    return
                if line is None:
                    return
                if not line.strip():
                    continue
                with self._replied:
                    self._replying += 1
                try:
                    reply, after = self._handle_line(line)
                    self._send(conn, reply)
                finally:
                    with self._replied:
                        self._replying -= 1
                        self._replied.notify_all()
                if after is not None:
                    keep_open = True  # the process's exit closes it: EOF means "gone"
                    after()
                    return
        except OSError:  # the client went away, or did not take its reply in time
            return
        finally:
            self._release()
            if not keep_open:
                with contextlib.suppress(OSError):
                    conn.close()

    def _send(self, conn: socket.socket, reply: dict) -> None:
        conn.settimeout(self.idle_timeout)
        conn.sendall(json.dumps(reply).encode("utf-8") + b"\n")

    def _handle_line(self, line: bytes):
        try:
            request = json.loads(line)
        except RecursionError:
            return _error("not a JSON line: nested too deeply", "usage"), None
        except ValueError as exc:
            return _error(f"not a JSON line ({short(str(exc))})", "usage"), None
        try:
            if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                raise Reply('a request is a JSON object with "cmd"', "usage")
            return self.handle(request)
        except Reply as exc:
            return _error(str(exc), exc.reason), None
        except Exception as exc:  # noqa: BLE001 - report it, keep serving
            log.exception("control request %r", line[:200])
            return _error(f"internal error: {exc}", "failed"), None

    def handle(self, request: dict):
        """(reply, action to run after replying or None).  Raises :class:`Reply`."""
        cmd = request["cmd"]
        if cmd not in COMMANDS:
            raise Reply(f"unknown command {short(repr(cmd))}", "usage")
        args = arguments(cmd, request)  # all checked before anything is done
        if cmd == "status":
            return self._status(), None
        if not self.host.ready.wait(60.0):
            raise Reply("the machine is still being built")
        if not self.host.alive:
            raise Reply("the VM is powering off")
        from vmgui.automation.session import (
            AutomationError,
            AutomationTimeout,
            GuestCrashedError,
        )

        try:
            return self._act(cmd, args)
        except GuestCrashedError as exc:
            raise Reply(str(exc), "crashed") from None
        except AutomationTimeout as exc:
            raise Reply(str(exc), "timeout") from None
        except (AutomationError, KeyError, ValueError) as exc:
            raise Reply(str(exc).strip("'\""), "usage") from None
        except OSError as exc:
            raise Reply(f"{exc.filename or ''}: {exc.strerror or exc}") from None

    def _act(self, cmd: str, args: dict):
        from vmgui.automation.session import Session

        host = self.host
        if cmd == "poweroff":
            self.remove_socket()
            return {"ok": True}, host.power_off
        if cmd in ("pause", "resume", "reset"):
            host.send({"pause": ev.Pause, "resume": ev.Resume, "reset": ev.Reset}[cmd]())
            target = {"pause": ev.RunState.PAUSED, "resume": ev.RunState.RUNNING}.get(cmd)
            if target is not None and host.crash is None:
                host.wait_state(target, 5.0)
            return {"ok": True, "state": self._state()}, None
        logs = self.path.parent / "logs"
        session = Session(host, artifacts=logs if logs.is_dir() else None)
        if cmd == "text":
            return {"ok": True, "text": session.text()}, None
        session.pump()  # a crashed guest answers every other verb with its crash
        if cmd == "screenshot":
            session.screenshot(args["path"])
            return {"ok": True, "path": str(args["path"])}, None
        if cmd == "type":
            session.type_text(args["text"])
        elif cmd == "keys":
            session.press(args["keys"])
        elif cmd == "wait-text":
            session.wait_for_text(args["text"], args["timeout"])
        elif cmd == "media":
            return self._change_media(args), None
        else:  # savestate
            return self._savestate(args["path"], args["poweroff"])
        return {"ok": True}, None

    def _change_media(self, args: dict) -> dict:
        path = None if args["path"] is None else str(args["path"])
        answer = self.host.change_media(args["drive"], path, args["readonly"])
        if answer.error is not None:
            raise Reply(answer.error)
        return {"ok": True, "drive": answer.drive, "path": answer.path}

    def _savestate(self, path: Path, power_off: bool):
        error = self.host.save_state(str(path), power_off=power_off)
        if error is not None:
            raise Reply(f"saving the state to {path}: {error}")
        if power_off:  # the machine stopped in the same pause as the save
            self.remove_socket()
            return {"ok": True, "path": str(path)}, self.host.power_off
        return {"ok": True, "path": str(path)}, None

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
