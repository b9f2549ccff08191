"""The client side of the control socket, and what both sides share.

Owns: :class:`Connection`, :func:`request` and :func:`probe` (used by ``vmgui control``,
``vmgui start``, ``vmgui list --running`` and the server itself, to tell a stale socket
from a live one); the socket's name and line limit; :class:`ControlError`,
:class:`NotRunning`; and :func:`addressable`, which reaches sockets whose path is longer
than AF_UNIX allows.  The protocol is described in :mod:`vmgui.host.control` (the
server), which re-exports all of these.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

SOCKET_NAME = "control.sock"
MAX_LINE = 1 << 20  # bytes in one request line (its newline not counted)
_UNIX_PATH_MAX = 107


class ControlError(Exception):
    """The control socket cannot be set up or reached; the message says why."""


class NotRunning(ControlError):
    """Nothing answers on the control socket."""


def socket_path(folder: Path) -> Path:
    return Path(folder) / SOCKET_NAME


@contextlib.contextmanager
def addressable(path: Path):
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


class Connection:
    """One connection to a VM's control socket."""

    def __init__(self, path: Path, timeout: float | None = 5.0) -> None:
        self.path = Path(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            with addressable(self.path) as address:
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
