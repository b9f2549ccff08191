"""``vmgui start`` and ``vmgui control``: start library VMs and drive running ones.

Owns: ``vmgui start NAME [--headless]`` (headless: a detached VM process,
:mod:`vmgui.host.vmprocess`, logging to ``<vm folder>/logs/vm.log``; otherwise a console
window on a VM process, without the manager, scaled as the VM's ``display_scale`` says)
and ``vmgui control NAME VERB ...`` (``media cdrom|floppy-a|floppy-b FILE|eject``
changes removable media while the VM runs), which talks to the VM's control socket
(:mod:`vmgui.host.control`) whoever started it, the manager or ``vmgui start``.  The VM's
run lock (:mod:`vmgui.config.runlock`) is held by the process that runs the VM: the
window's process, or the headless VM process.  Exit status: 0 done, 2 bad usage,
unknown VM, VM not running (or, for start, already running or unable to start: also when
the VM process cannot be set up or started, e.g. no /dev/shm or no fork), 3 a wait timed
out, 4 the guest crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from vmgui.cli.run import unescape
from vmgui.config import tryout as tryout_mod
from vmgui.config.library import Library, LibraryError, VmEntry, check_media
from vmgui.config.runlock import RunLock, VmBusyError
from vmgui.config.snapshots import clean_leftovers, saved_state_path, settle_resume
from vmgui.core.events import MEDIA_DRIVES
from vmgui.host.control import Connection, NotRunning, probe, socket_path
from vmgui.storage.image import open_regular

log = logging.getLogger(__name__)

EXIT_OK, EXIT_USAGE, EXIT_TIMEOUT, EXIT_CRASH = 0, 2, 3, 4
START_TIMEOUT_S = 60.0
POWEROFF_TIMEOUT_S = 30.0
LOG_FILE = "vm.log"
TAIL_BYTES = 64 * 1024

VERBS = {  # verb -> (argument name or None, help)
    "status": (None, "print the run state and the VM process's pid"),
    "pause": (None, "pause the VM"),
    "resume": (None, "resume a paused VM"),
    "reset": (None, "reset the VM (like the reset button)"),
    "poweroff": (None, "power the VM off; returns when its process has ended"),
    "screenshot": ("FILE", "save the screen as a PNG at native resolution"),
    "type": ("TEXT", "type TEXT as key presses (\\n is Enter, \\t Tab)"),
    "keys": ("KEYS", "press a key or combination, e.g. enter, f1, ctrl+alt+del"),
    "wait-text": ("TEXT", "wait until TEXT appears on the text screen"),
    "text": (None, "print the text screen"),
    "savestate": ("[FILE]", "save the machine state and power off; `vmgui start` resumes "
                            "there (with FILE: write a copy of the state to FILE and keep "
                            "running)"),
    "media": (None, "insert an image into a removable drive, or eject: media cdrom|floppy-a|"
                    "floppy-b FILE|eject (a CD must be an ISO 9660 image; the VM's settings "
                    "keep their media; a VM in try-out mode gets floppies write-protected)"),
}
EJECT = "eject"


class _Usage(Exception):
    pass


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "start", help="start a library VM (headless: in the background)",
        description="Start a library VM. With --headless it runs in a background process "
                    "(output in <vm folder>/logs/vm.log) driven by `vmgui control`; "
                    "otherwise in a console window. Exit status: 0 started (headless) or "
                    "powered off (window), 2 unknown VM, already running or cannot start.")
    p.add_argument("name", help="the library VM")
    p.add_argument("--headless", action="store_true",
                   help="run in a detached background process, no window")
    p.set_defaults(handler=start_command)

    p = sub.add_parser(
        "control", help="drive a running VM through its control socket",
        description="Send a command to a running VM (started by the manager or by `vmgui "
                    "start`). Exit status: 0 done, 2 bad usage or the VM is not running, "
                    "3 a wait timed out, 4 the guest crashed.")
    p.add_argument("name", help="the running library VM")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, (arg, text) in VERBS.items():
        vp = verbs.add_parser(verb, help=text, description=text)
        if arg is not None:
            optional = arg.startswith("[")
            vp.add_argument("arg", metavar=arg.strip("[]"), nargs="?" if optional else None)
        if verb == "wait-text":
            vp.add_argument("--timeout", type=float, default=30.0, metavar="S",
                            help="give up after S seconds (default 30): exit status 3")
        if verb == "media":
            vp.add_argument("drive", choices=MEDIA_DRIVES, help="the removable drive")
            vp.add_argument("arg", metavar="FILE|eject",
                            help="the image to insert, or 'eject' to empty the drive")
            vp.add_argument("--read-only", action="store_true",
                            help="floppies: insert the disk write-protected")
    p.set_defaults(handler=control_command)


def _entry(verb: str, name: str) -> VmEntry | None:
    library = Library()
    try:
        return library.get(name)
    except KeyError:
        print(f"vmgui {verb}: no VM called {name!r} in {library.root}", file=sys.stderr)
    except LibraryError as exc:
        print(f"vmgui {verb}: {exc}", file=sys.stderr)
    return None


def running_status(entry: VmEntry) -> dict | None:
    """The VM's control status, or None when it is not running."""
    try:
        return probe(socket_path(entry.folder), timeout=2.0)
    except (NotRunning, PermissionError):
        return None


# ---------------------------------------------------------------------- start

def start_command(args: argparse.Namespace) -> int:
    entry = _entry("start", args.name)
    if entry is None:
        return EXIT_USAGE
    if entry.config is None:
        print(f"vmgui start: VM {entry.name!r} is inaccessible: {entry.error}", file=sys.stderr)
        return EXIT_USAGE
    try:  # an image that is a FIFO or a device: refused before any process starts
        check_media(entry, "start")
    except LibraryError as exc:
        print(f"vmgui start: {exc}", file=sys.stderr)
        return EXIT_USAGE
    status = running_status(entry)
    if status is not None:
        print(f"vmgui start: {entry.name} is already running (pid {status.get('pid')})",
              file=sys.stderr)
        return EXIT_USAGE
    lock = _run_lock(entry)
    if lock is None:
        return EXIT_USAGE
    # the window runs the VM in this process, which holds the lock until it ends; a
    # headless VM process takes its own, so this one lets go before starting it
    with lock:
        clean_leftovers(entry.folder)  # of killed operations: nothing else works on it now
        try:  # what a killed try-out session of the VM left (docs/snapshots.md)
            notice = tryout_mod.recover_tryout(entry.folder)
        except tryout_mod.TryoutError as exc:
            print(f"vmgui start: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if notice:
            print(f"vmgui start: {notice}", file=sys.stderr)
        if not args.headless:
            return _start_window(entry)
    return _start_headless(entry)


def _run_lock(entry: VmEntry) -> RunLock | None:
    """The VM's run lock (:mod:`vmgui.config.runlock`); None, said on stderr, when another
    process runs the VM (the manager, ``vmgui run NAME``, another ``vmgui start``)."""
    try:
        return RunLock.acquire(entry.folder, entry.name)
    except VmBusyError as exc:
        print(f"vmgui start: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"vmgui start: {entry.folder}: cannot lock the VM ({exc.strerror or exc})",
              file=sys.stderr)
    return None


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        fd = open_regular(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), what="log")
    except OSError:
        return "(no log)"
    with os.fdopen(fd, "rb") as fh:
        fh.seek(max(0, os.fstat(fd).st_size - TAIL_BYTES))
        text = fh.read(TAIL_BYTES).decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def open_log(folder: Path) -> BinaryIO:
    """``<folder>/logs/vm.log`` for appending: the folder made (or kept) private (0700),
    the file created 0600, neither followed if it is a symbolic link (OSError naming it:
    nothing is written through a link planted there)."""
    logs = Path(folder) / "logs"
    with contextlib.suppress(FileExistsError):
        os.mkdir(logs, 0o700)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        dir_fd = os.open(logs, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | nofollow)
    except OSError as exc:
        raise _link_error(exc, logs) from None
    try:
        with contextlib.suppress(OSError):
            os.fchmod(dir_fd, 0o700)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | nofollow | os.O_NONBLOCK
        try:
            fd = os.open(LOG_FILE, flags, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            raise _link_error(exc, logs / LOG_FILE) from None
    finally:
        os.close(dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{logs / LOG_FILE} is not a regular file; remove it")
        os.set_blocking(fd, True)
        os.fchmod(fd, 0o600)  # logs of older versions were readable by everyone
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "ab")


def _link_error(exc: OSError, path: Path) -> OSError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and path.is_symlink():
        return OSError(exc.errno, f"{path} is a symbolic link, which vmgui does not "
                                  "follow; remove it")
    return OSError(exc.errno, f"{path}: {exc.strerror}")


def _start_headless(entry: VmEntry) -> int:
    log_path = entry.folder / "logs" / LOG_FILE
    cmd = [sys.executable, "-m", "vmgui.host.vmprocess", "--vm", entry.name,
           "--home", str(entry.folder.parent)]
    try:
        log_file = open_log(entry.folder)
    except OSError as exc:
        print(f"vmgui start: cannot open the VM's log: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_USAGE
    with log_file:
        log_file.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} vmgui start "
                       f"{entry.name} --headless\n".encode())
        log_file.flush()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    cwd=entry.folder, close_fds=True)
        except OSError as exc:  # no fork: out of processes or memory
            print(f"vmgui start: {entry.name}: cannot start the VM process "
                  f"({exc.strerror or exc})", file=sys.stderr)
            return EXIT_USAGE
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"vmgui start: {entry.name} did not start (exit {proc.returncode}); "
                  f"{log_path}:\n{_log_tail(log_path)}", file=sys.stderr)
            return EXIT_USAGE
        status = running_status(entry)
        if status is not None and status.get("pid") == proc.pid:
            print(f"{entry.name} started (pid {proc.pid})")
            return EXIT_OK
        time.sleep(0.01)
    proc.terminate()
    print(f"vmgui start: {entry.name}: no control socket after {START_TIMEOUT_S:g} s; "
          f"stopped it. {log_path}:\n{_log_tail(log_path)}", file=sys.stderr)
    return EXIT_USAGE


def _start_window(entry: VmEntry) -> int:
    try:
        import PySide6.QtWidgets  # noqa: F401

        import vmgui.ui.console  # noqa: F401
    except ImportError as exc:
        print(f"vmgui start: no console window available ({exc}); use --headless",
              file=sys.stderr)
        return EXIT_USAGE
    config = entry.config
    tryout_dir = None
    if config.tryout:  # throw-away overlays, discarded when the window closes
        try:
            tryout_dir, _notice = tryout_mod.begin_tryout(entry.folder)
        except tryout_mod.TryoutError as exc:
            print(f"vmgui start: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        return _run_window(entry, tryout_dir)
    finally:
        if tryout_dir is not None:
            tryout_mod.end_tryout(tryout_dir)
            print(f"vmgui start: {entry.name} ran in try-out mode: the changes to its disks "
                  "were discarded", file=sys.stderr)


def _run_window(entry: VmEntry, tryout_dir: Path | None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from vmgui.core import events as ev
    from vmgui.host.process import ProcessHost
    from vmgui.storage.image import DiskImageError
    from vmgui.ui.console import ConsoleWindow, ScaleMode

    config = entry.config
    try:  # report a bad image before starting
        drives = config.open_drives(entry.folder, tryout_dir=tryout_dir)
    except (DiskImageError, OSError, ValueError) as exc:
        print(f"vmgui start: {entry.name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    specs = {n: (str(img.path), img.kind, img.read_only) if img is not None else None
             for n, img in drives.items()}
    for image in drives.values():
        if image is not None:
            image.close()
    state_file = saved_state_path(entry.folder)
    resume = state_file.is_file() and tryout_dir is None
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        host = ProcessHost(config.to_machine_config(entry.folder), specs,
                           control_socket=socket_path(entry.folder))
    except OSError as exc:  # no shared memory (/dev/shm), no pipe: out of descriptors
        print(f"vmgui start: {entry.name}: cannot set up the VM process "
              f"({exc.strerror or exc})", file=sys.stderr)
        return EXIT_USAGE
    title = f"{entry.name} (try-out)" if tryout_dir is not None else entry.name
    window = ConsoleWindow(host, title, screenshots_dir=entry.folder / "screenshots",
                           saved_state=None if tryout_dir is not None else state_file)
    window.set_scale_mode(ScaleMode(config.display_scale))  # as the manager shows it
    window.powered_off.connect(app.quit)

    resuming = [resume]  # until the machine answers the LoadState

    def tick() -> None:
        if resuming[0]:
            for result in host.state_files:
                if isinstance(result, ev.StateLoaded) and result.path == str(state_file):
                    resuming[0] = False
                    if not settle_resume(entry.name, state_file, result.error):
                        print(f"vmgui start: {entry.name}: saved state not loaded "
                              f"({result.error}); started afresh, the file is kept",
                              file=sys.stderr)
        if not host.alive:
            window.shut_down()

    watch = QTimer(window)
    watch.setInterval(250)
    watch.timeout.connect(tick)
    try:
        host.start()
    except OSError as exc:  # cannot fork or spawn the VM process
        window.shut_down()  # powers the host off: its shared memory goes
        window.deleteLater()
        print(f"vmgui start: {entry.name}: cannot start the VM process "
              f"({exc.strerror or exc})", file=sys.stderr)
        return EXIT_USAGE
    window.show()
    if resume:
        host.send(ev.LoadState(str(state_file)))
    watch.start()
    app.exec()
    window.shut_down()
    host.power_off()
    if host.start_error:
        print(f"vmgui start: {entry.name}: {host.start_error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


# ---------------------------------------------------------------------- control

def _request(args: argparse.Namespace, entry: VmEntry) -> dict:
    verb = args.verb
    req: dict = {"cmd": verb}
    if verb == "savestate" and args.arg is None:  # VirtualBox's `controlvm NAME savestate`
        if _in_tryout(entry):
            raise _Usage(f"{entry.name} is in try-out mode: its disk changes are thrown "
                         "away at power-off, so a saved state could not be resumed; power "
                         "it off instead")
        req["path"], req["poweroff"] = str(saved_state_path(entry.folder)), True
    elif verb in ("screenshot", "savestate"):
        req["path"] = os.path.abspath(args.arg)
    elif verb == "type":
        req["text"] = unescape(args.arg)
    elif verb == "keys":
        req["keys"] = args.arg
    elif verb == "wait-text":
        if args.timeout < 0:
            raise _Usage(f"--timeout {args.timeout:g}: must not be negative")
        req["text"], req["timeout"] = unescape(args.arg), args.timeout
    elif verb == "media":
        req.update(_media_request(args))
        if req.get("path") and _in_tryout(entry):
            req["readonly"] = True  # the session's changes must not reach an image
    return req


def _in_tryout(entry: VmEntry) -> bool:
    """Does the VM run in try-out mode (its setting, or a live try-out session)?"""
    return entry.config is not None and (entry.config.tryout or tryout_mod.live_owner(
        tryout_mod.session_folder(entry.folder)) is not None)


def _media_request(args: argparse.Namespace) -> dict:
    """The media request's fields; a file that is not there is refused here (the VM
    process names any other problem: not an ISO, not a floppy image)."""
    if args.arg == EJECT:
        return {"drive": args.drive, "path": None}
    path = Path(os.path.abspath(args.arg))
    if not path.exists():
        raise _Usage(f"{args.arg}: no such file (give an image to insert, or 'eject')")
    if args.read_only and args.drive == "cdrom":
        raise _Usage("--read-only is for floppies (a CD is always read-only)")
    return {"drive": args.drive, "path": str(path), "readonly": args.read_only}


def control_command(args: argparse.Namespace) -> int:
    entry = _entry("control", args.name)
    if entry is None:
        return EXIT_USAGE
    try:
        req = _request(args, entry)
    except _Usage as exc:
        print(f"vmgui control: {exc}", file=sys.stderr)
        return EXIT_USAGE
    path = socket_path(entry.folder)
    connected = False
    try:
        with Connection(path) as conn:
            connected = True
            reply = conn.request(req, None)
            if reply.get("ok") and (args.verb == "poweroff" or req.get("poweroff")):
                if not conn.wait_closed(POWEROFF_TIMEOUT_S):
                    print(f"vmgui control: {entry.name} did not end within "
                          f"{POWEROFF_TIMEOUT_S:g} s", file=sys.stderr)
    except NotRunning:
        if connected:
            print(f"vmgui control: {entry.name}: the VM process ended before it answered "
                  f"'{args.verb}'", file=sys.stderr)
        else:
            print(f"vmgui control: {entry.name} is not running (no control socket)",
                  file=sys.stderr)
        return EXIT_USAGE
    except PermissionError as exc:
        print(f"vmgui control: {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, ValueError) as exc:
        print(f"vmgui control: {entry.name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _report(entry.name, args.verb, reply)


def _report(name: str, verb: str, reply: dict) -> int:
    if not reply.get("ok"):
        reason = reply.get("reason")
        print(f"vmgui control: {name}: {reply.get('error', 'failed')}", file=sys.stderr)
        return {"timeout": EXIT_TIMEOUT, "crashed": EXIT_CRASH}.get(reason, EXIT_USAGE)
    if verb == "status":
        print(f"{name}: {reply['state']} (pid {reply['pid']}, up {reply['uptime']:.1f} s)")
        crash = reply.get("crash")
        if crash:
            print(f"guest crashed: {crash['reason']}\n{crash['report']}", file=sys.stderr)
            return EXIT_CRASH
    elif verb == "text":
        print(reply["text"])
    elif verb in ("screenshot", "savestate"):
        print(reply["path"])
    elif verb == "media":
        print(f"{name}: {reply['drive']}: {reply['path'] or 'ejected'}")
    return EXIT_OK
