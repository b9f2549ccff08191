"""VM-process hosting: each machine runs in its own operating-system process.

Owns: :class:`ProcessHost`, with the same interface as
:class:`vmgui.host.thread.ThreadHost`, and the child process's main function.  The child
runs the machine on its own emulation thread; commands and events cross a pipe as the
small frozen dataclasses of vmgui.core.events; video memory is a shared-memory block the
parent reads without copying through the pipe, and the register-derived rest of the
screen description (mode, palette, cursor) is asked for over the pipe.  A child that dies
(killed, or a crash inside the engine) takes nothing else down: the parent notices within
a poll and reports the VM as aborted with the last lines of its log.

With a ``control_socket`` the child also listens there for ``vmgui control`` (served on
threads of the child, next to the machine: :mod:`vmgui.host.control`).

Thread rules: the controlling side uses a ProcessHost from one thread; a reader thread
inside it owns the receiving end of the pipe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from collections import deque
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

from vmgui.core import events as ev
from vmgui.core.machine import MachineConfig
from vmgui.core.profiles import get_profile
from vmgui.devices.display import DisplayState, VideoSource
from vmgui.devices.render import text_lines
from vmgui.devices.video_memory import split_views, video_memory_size
from vmgui.host.base import EventRecord, NoScreenYet

log = logging.getLogger(__name__)

DriveSpec = tuple[str, str, bool]  # (path, "floppy" | "hdd" | "cdrom", read_only)
REPLY_TIMEOUT_S = 5.0
REPLY_POLL_S = 0.1  # how often a wait for an answer checks that the VM process lives
LOG_TAIL = 50


@dataclasses.dataclass(frozen=True)
class _DisplayRequest:
    pass


@dataclasses.dataclass(frozen=True)
class _LogLine:
    text: str


@dataclasses.dataclass(frozen=True)
class _Ready:
    pass


@dataclasses.dataclass(frozen=True)
class _StartFailed:
    message: str


class _SharedVram(SharedMemory):
    """Shared video memory whose mapping may outlive :meth:`close`: while a caller still
    holds an array over it, closing fails (BufferError) and the mapping goes with the
    last view instead, quietly (SharedMemory's finaliser would print the error)."""

    def __del__(self) -> None:
        with contextlib.suppress(OSError, BufferError):
            self.close()


class _PipeLogHandler(logging.Handler):
    def __init__(self, send) -> None:
        super().__init__(logging.INFO)
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self._send(_LogLine(self.format(record)))


def _child_main(conn, config: MachineConfig, drives: dict[int, DriveSpec | None],
                shm_name: str, control_socket: str | None = None) -> None:
    """Entry point of the VM process."""
    import threading as _threading

    from vmgui.host.control import MachineHost, start_server

    lock = _threading.Lock()

    def send(message) -> None:
        with lock:
            conn.send(message)

    handler = _PipeLogHandler(send)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("vmgui").addHandler(handler)
    logging.getLogger("vmgui").setLevel(logging.INFO)
    shm = SharedMemory(name=shm_name)
    control = MachineHost()

    def on_event(event) -> None:
        control.on_event(event)
        send(event)

    try:
        machine = _build(config, drives, shm.buf, on_event)
    except _StartFailure as exc:
        send(_StartFailed(str(exc)))
        conn.close()
        os._exit(0)
    control.attach(machine)
    server = start_server(control, Path(control_socket) if control_socket else None)
    thread = _threading.Thread(target=_run_machine, args=(machine, send), name="vmgui-cpu",
                               daemon=True)
    # _Ready goes first: the parent must never see RUNNING before it may ask for the
    # screen (it would find none and, under load, report that as an error)
    send(_Ready())
    thread.start()
    try:
        _serve(conn, machine, send, thread)
    finally:
        if server is not None:
            server.remove_socket()
        machine.send(ev.PowerOff())
        thread.join(10)  # run() closes the disk images (flushing them) and the engine
    # Leave without tearing down: the engine's mappings and the VGA model still export
    # the shared-memory buffer, and the OS releases everything of this process anyway.
    conn.close()
    os._exit(0)


class _StartFailure(Exception):
    """The VM process cannot build its machine; the message says why."""


def _build(config: MachineConfig, drives: dict[int, DriveSpec | None], vram, on_event):
    """The machine with its drives open; :class:`_StartFailure` for anything that stops
    it (an unexpected error is logged with its traceback, not printed on stderr)."""
    from vmgui.core.machine import Machine

    try:
        opened = {n: (_open_drive(*s) if s else None) for n, s in drives.items()}
        return Machine(config, on_event=on_event, drives=opened, vram=vram)
    except (ValueError, OSError) as exc:  # DiskImageError and its kind are ValueErrors
        raise _StartFailure(str(exc)) from exc
    except Exception as exc:
        log.exception("cannot build the machine")
        raise _StartFailure(f"cannot build the machine: {exc!r}") from exc


def _run_machine(machine, send) -> None:
    """The emulation thread: ``machine.run()``; an internal error ends it as a crash
    report to the parent (as ThreadHost reports it), not as a traceback on stderr."""
    try:
        machine.run()
    except Exception as exc:
        log.exception("the machine stopped on an internal error")
        send(ev.GuestCrashed("internal error", f"{exc!r}\n\n{traceback.format_exc()}"))


def _serve(conn, machine, send, thread) -> None:
    while thread.is_alive():
        if not conn.poll(0.2):
            continue
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away: power off
        if isinstance(message, _DisplayRequest):
            state = machine.display()
            send(dataclasses.replace(state, vram=None))
        else:
            machine.send(message)
            if isinstance(message, ev.PowerOff):
                thread.join(10)
                return


def _open_drive(path: str, kind: str, read_only: bool):
    """A raw image, or the top of a copy-on-write overlay chain (snapshots, try-out)."""
    from vmgui.storage.overlay_disk import open_disk

    return open_disk(path, kind=kind, read_only=read_only)


class ProcessHost(EventRecord):
    """A machine in its own process.  ``drives`` maps drive numbers (0, 1, 0x80, 0x81, 0xE0) to
    (path, kind, read_only); ``None`` takes them from ``config``.  With ``control_socket``
    the VM process serves the control protocol there (see :mod:`vmgui.host.control`)."""

    def __init__(self, config: MachineConfig,
                 drives: dict[int, DriveSpec | None] | None = None, *,
                 control_socket: Path | None = None) -> None:
        if drives is None:
            drives = {i: (str(p), "floppy", config.read_only) if p else None
                      for i, p in enumerate(config.floppies[:2])}
            drives.update({0x80 + i: (str(p), "hdd", config.read_only)
                           for i, p in enumerate(config.hard_disks[:2])})
            if config.cdrom is not None:
                drives[0xE0] = (str(config.cdrom), "cdrom", True)
        self._config = config
        self._drives = drives
        # the video memory of this machine kind (a PC/AT has no framebuffer to share);
        # an unknown profile fails in the VM process with the profile's own message
        try:
            vbe = get_profile(config.profile).vbe
        except ValueError:
            vbe = False
        self._shm = _SharedVram(create=True, size=video_memory_size(vbe))
        window, planes, lfb = split_views(self._shm.buf, vbe)
        self._views: dict[VideoSource, memoryview] = {VideoSource.WINDOW: window,
                                                      VideoSource.PLANES: planes}
        if lfb is not None:
            self._views[VideoSource.LFB] = lfb
        parent, child = mp.Pipe()
        self._conn = parent
        ctx = mp.get_context("spawn")
        self._process = ctx.Process(target=_child_main, name="vmgui-vm", daemon=True,
                                    args=(child, config, drives, self._shm.name,
                                          str(control_socket) if control_socket else None))
        self._events: queue.Queue[ev.Event] = queue.Queue()
        self._replies: queue.Queue[DisplayState | None] = queue.Queue()  # None: pipe ended
        self._send_lock = threading.Lock()
        self.log_tail: deque[str] = deque(maxlen=LOG_TAIL)
        self._init_record()
        self.start_error: str | None = None
        self._reader = threading.Thread(target=self._read, name="vmgui-vm-pipe", daemon=True)
        self._last_display: DisplayState | None = None
        self._closed = False
        self._ready = threading.Event()  # the VM process built its machine

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._process.start()
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def power_off(self, timeout: float = 10.0) -> None:
        if self._process.is_alive():
            self.send(ev.PowerOff())
            self._process.join(timeout)
            if self._process.is_alive():
                log.warning("VM process %s did not power off in %.0f s; killing it",
                            self._process.pid, timeout)
                self._process.kill()
                self._process.join(2)
        self.poll_events()
        self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._conn.close()
        if self._reader.ident is not None:  # never started when the VM process was not
            self._reader.join(2)
        if self._last_display is not None:  # keep the last screen readable after close
            frozen = memoryview(bytes(self._last_display.vram))
            self._last_display = dataclasses.replace(self._last_display, vram=frozen)
        with contextlib.suppress(FileNotFoundError):
            self._shm.unlink()  # the name goes now; the memory when the last view does
        try:
            for view in self._views.values():
                view.release()
            self._shm.close()
        except BufferError:  # a caller still holds an array over the live video memory
            log.debug("video memory still in use at power-off; freed when released")

    # ------------------------------------------------------------------ pipe
    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                self._replies.put(None)  # wakes a display() waiting for an answer
                return
            if isinstance(message, DisplayState):
                self._replies.put(message)
            elif isinstance(message, _LogLine):
                self.log_tail.append(message.text)
            elif isinstance(message, _StartFailed):
                self.start_error = message.message
                self._events.put(ev.GuestCrashed("the VM could not start", message.message))
            elif isinstance(message, _Ready):
                self._ready.set()
            else:
                self._events.put(message)

    def send(self, command: ev.Command) -> None:
        if self._closed:
            return
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            self._conn.send(command)

    # ------------------------------------------------------------------ events, screen
    def poll_events(self) -> list[ev.Event]:
        out: list[ev.Event] = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            self._apply(event)
            out.append(event)
        if (not self._process.is_alive() and self._process.exitcode not in (None, 0)
                and self.state is not ev.RunState.ABORTED):
            event = self._aborted()
            self._apply(event)
            out.append(event)
            out.append(ev.StateChanged(ev.RunState.ABORTED))
            self.state = ev.RunState.ABORTED
        return out

    def _aborted(self) -> ev.GuestCrashed:
        code = self._process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        tail = "\n".join(list(self.log_tail)[-10:]) or "(no log lines)"
        return ev.GuestCrashed(f"the VM process died ({how})", f"last log lines:\n{tail}")

    def display(self) -> DisplayState:
        """The screen: registers asked over the pipe, video memory from shared memory.
        After the process has gone, the last known state (memory as it was left).
        :class:`NoScreenYet` until the VM process has answered once: it is still
        starting, or (a loaded machine) did not answer within :data:`REPLY_TIMEOUT_S`."""
        if not self._closed and self._ready.is_set() and self._process.is_alive():
            with contextlib.suppress(queue.Empty):
                while True:  # drop answers to earlier requests that timed out
                    self._replies.get_nowait()
            self.send(_DisplayRequest())
            state = self._await_reply()
            if state is not None and state.source in self._views:
                self._last_display = dataclasses.replace(state,
                                                         vram=self._views[state.source])
        if self._last_display is None:
            # not started yet (a VM process takes ~0.3 s to come up): answer at once
            # instead of blocking the GUI that asks
            raise NoScreenYet()
        return self._last_display

    def _await_reply(self) -> DisplayState | None:
        """The answer to the display request just sent; None when none came within
        :data:`REPLY_TIMEOUT_S` or the VM process died meanwhile (killed between the
        liveness check and the request: the GUI asking must not freeze for the whole
        timeout waiting for an answer that cannot come)."""
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                return self._replies.get(timeout=min(left, REPLY_POLL_S))
            except queue.Empty:
                if not self._reader.is_alive() or not self._process.is_alive():
                    return None

    def text_lines(self) -> list[str]:
        """The text screen; ``[]`` while there is none yet (see :meth:`display`)."""
        try:
            return text_lines(self.display())
        except NoScreenYet:
            return []

    def pending_keys(self) -> int:
        return 0

    @staticmethod
    def image_drive_spec(path: Path, kind: str, read_only: bool = False) -> DriveSpec:
        return (str(path), kind, read_only)
